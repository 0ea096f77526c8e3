//! [`Job`]: what a run does, and [`BatchJob`], the one pinpipe schedules — the batch job, the nine
//! analyses and the report, as `pinpipe batch` runs them.

use std::collections::BTreeMap;
use std::future::Future;

use pinpipe_lake::{BatchOptions, Commit, Lake, run_analyses, run_batch, write_report};
use serde::Serialize;

use crate::interval::Interval;

/// What a successful run did, for the run history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobOutcome {
    /// Raw objects processed.
    pub objects: u64,
    /// Rows written to the tables.
    pub rows: u64,
    /// Records quarantined.
    pub rejected: u64,
    /// The last Delta table version written per table path (`tables/pin` → 3); empty when the run
    /// wrote nothing.
    pub versions: BTreeMap<String, u64>,
}

impl JobOutcome {
    /// The outcome of a run that read `objects` raw objects, wrote `rows` rows, quarantined
    /// `rejected` records and made `commits`.
    pub fn from_report(
        objects: usize,
        rows: usize,
        rejected: usize,
        commits: &[Commit],
    ) -> JobOutcome {
        let mut versions = BTreeMap::new();
        for commit in commits {
            let version = versions
                .entry(commit.path.clone())
                .or_insert(commit.version);
            *version = (*version).max(commit.version);
        }
        JobOutcome {
            objects: objects as u64,
            rows: rows as u64,
            rejected: rejected as u64,
            versions,
        }
    }
}

/// Work the scheduler runs once per interval. An error is the text recorded in the run history;
/// the scheduler retries it as the schedule says.
///
/// The future need not be `Send` (the batch job's is not provably so): a scheduler runs on the
/// task that awaits it.
pub trait Job: Sync {
    /// Runs the job for `interval`.
    fn run(&self, interval: &Interval) -> impl Future<Output = Result<JobOutcome, String>>;
}

/// The batch job of `pinpipe batch`: raw → Delta tables → the nine analyses → results and report.
///
/// It is incremental and ignores the interval: each run processes the raw objects that arrived
/// since the last one, as the original's daily Databricks notebook did.
#[derive(Clone, Debug)]
pub struct BatchJob {
    lake: Lake,
    options: BatchOptions,
}

impl BatchJob {
    /// The batch job on `lake` with `options`.
    pub fn new(lake: Lake, options: BatchOptions) -> BatchJob {
        BatchJob { lake, options }
    }
}

impl Job for BatchJob {
    async fn run(&self, interval: &Interval) -> Result<JobOutcome, String> {
        tracing::info!(%interval, lake = %self.lake.location(), "batch job starting");
        let report = run_batch(&self.lake, &self.options)
            .await
            .map_err(|e| format!("batch job: {e}"))?;
        let tables = &self.options.tables_dir;
        let results = run_analyses(&self.lake, tables)
            .await
            .map_err(|e| format!("analyses: {e}"))?;
        write_report(&self.lake, tables, &results)
            .await
            .map_err(|e| format!("report: {e}"))?;
        Ok(JobOutcome::from_report(
            report.objects_read,
            report.rows_written(),
            report.rejected(),
            &report.commits,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_version_of_each_table_is_kept() {
        let commit = |path: &str, version| Commit {
            path: path.to_owned(),
            version,
        };
        let outcome = JobOutcome::from_report(
            5,
            120,
            3,
            &[
                commit("quarantine", 0),
                commit("tables/pin", 0),
                commit("tables/pin", 1),
                commit("quarantine", 1),
                commit("tables/pin", 2),
            ],
        );
        assert_eq!(
            (outcome.objects, outcome.rows, outcome.rejected),
            (5, 120, 3)
        );
        assert_eq!(
            serde_json::to_string(&outcome.versions).unwrap_or_default(),
            r#"{"quarantine":1,"tables/pin":2}"#
        );
        assert_eq!(JobOutcome::from_report(0, 0, 0, &[]), JobOutcome::default());
    }
}
