//! `/api/runs`: the batch run history, newest first, as `pinpipe runs list` shows it.

use std::path::Path;

use chrono::{DateTime, Utc};
use pinpipe_scheduler::{History, RunRecord};
use serde::Serialize;

/// Runs shown at most.
const LIMIT: usize = 200;

/// The runs view.
#[derive(Serialize)]
pub struct RunsView {
    runs: Vec<RunView>,
}

#[derive(Serialize)]
struct RunView {
    id: i64,
    schedule: String,
    kind: String,
    interval_start: DateTime<Utc>,
    interval_end: DateTime<Utc>,
    state: String,
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
            state: run.status.to_string(),
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
        return Ok(RunsView { runs: Vec::new() });
    }
    let runs = History::open(path)?.list(None, LIMIT)?;
    Ok(RunsView {
        runs: runs.into_iter().map(RunView::from).collect(),
    })
}
