//! `/api/runs`: the batch run history, the runs most recently claimed first, as `pinpipe runs
//! list` shows it, and how many there are in all.

use std::path::Path;

use chrono::{DateTime, Utc};
use pinpipe_scheduler::{History, RunCounts, RunRecord, RunStatus};
use serde::Serialize;

/// Runs shown at most.
const LIMIT: usize = 200;

/// The runs view.
#[derive(Serialize)]
pub struct RunsView {
    runs: Vec<RunView>,
    /// Runs in the history, of which `runs` are the latest [`LIMIT`].
    total: u64,
    /// Failed runs in the history.
    failed: u64,
}

#[derive(Serialize)]
struct RunView {
    id: i64,
    schedule: String,
    kind: String,
    interval_start: DateTime<Utc>,
    interval_end: DateTime<Utc>,
    /// The run's status; `retrying` while a run that failed an attempt waits for the next.
    state: String,
    /// When the next attempt starts, while it is `retrying`.
    retry_at: Option<DateTime<Utc>>,
    attempts: u32,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_s: Option<f64>,
    objects: Option<u64>,
    rows: Option<u64>,
    rejected: Option<u64>,
    error: Option<String>,
}

impl From<RunRecord> for RunView {
    fn from(run: RunRecord) -> Self {
        let duration_s = match (run.started_at, run.ended_at) {
            (Some(start), Some(end)) => Some((end - start).as_seconds_f64()),
            _ => None,
        };
        RunView {
            id: run.id,
            schedule: run.name,
            kind: run.kind.to_string(),
            interval_start: run.interval.start,
            interval_end: run.interval.end,
            state: match (run.status, run.retry_at) {
                (RunStatus::Running, Some(_)) => "retrying".to_owned(),
                (status, _) => status.to_string(),
            },
            retry_at: run.retry_at,
            attempts: run.attempts,
            started_at: run.started_at,
            finished_at: run.ended_at,
            duration_s,
            objects: run.objects,
            rows: run.rows,
            rejected: run.rejected,
            error: run.error,
        }
    }
}

/// The newest runs of every schedule in the history at `path`; none before the first run (the
/// history is not created by reading it).
pub fn read(path: &Path) -> Result<RunsView, pinpipe_scheduler::SchedulerError> {
    if !path.exists() {
        return Ok(RunsView {
            runs: Vec::new(),
            total: 0,
            failed: 0,
        });
    }
    let history = History::open(path)?;
    let runs = history.list(None, LIMIT)?;
    let RunCounts { total, failed } = history.counts(None)?;
    Ok(RunsView {
        runs: runs.into_iter().map(RunView::from).collect(),
        total,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use pinpipe_scheduler::{History, Interval, RunKind};

    #[test]
    fn the_latest_runs_come_with_the_history_s_counts_and_retries()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("scheduler.db");
        let history = History::open(&path)?;
        let hour = |h: i64| Utc.timestamp_opt(h * 3600, 0).single().unwrap_or_default();
        for h in 0..=i64::try_from(super::LIMIT)? {
            let interval = Interval {
                start: hour(h),
                end: hour(h + 1),
            };
            let claimed = history.claim("dag", interval, RunKind::Backfill, false, hour(h + 1))?;
            if let pinpipe_scheduler::history::Claim::Run(run) = claimed
                && h == 0
            {
                history.fail(run.id, hour(h + 1), "broken")?;
            }
        }
        let last = history.list(None, 1)?.remove(0);
        history.start_attempt(last.id, hour(202))?;
        history.note_retry(last.id, "broken", hour(203))?;
        let view = super::read(&path)?;
        assert_eq!(
            view.runs[0].state, "retrying",
            "a run waiting to retry says so"
        );
        assert_eq!(view.runs[0].retry_at, Some(hour(203)));
        assert_eq!(view.runs.len(), super::LIMIT);
        assert_eq!((view.total, view.failed), (201, 1));
        assert_eq!(
            view.runs[0].interval_start,
            hour(200),
            "the last claimed first"
        );
        Ok(())
    }
}
