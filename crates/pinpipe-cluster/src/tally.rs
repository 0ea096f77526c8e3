//! [`Tally`]: the tasks each executor and each job finished, counted by the scheduler from the
//! status reports executors send it — Ballista itself keeps no count per executor.
//!
//! Counts live in the scheduler's memory: a restarted scheduler starts from zero. An executor
//! that re-sends a report (its first send failed) is counted once: the tally keeps the finished
//! tasks it has seen, a few dozen bytes each.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ballista_core::serde::protobuf::TaskStatus;
use ballista_core::serde::protobuf::task_status::Status;
use pinpipe_telemetry::cluster::TaskFinished;

/// Tasks finished, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks that succeeded.
    pub completed: u64,
    /// Tasks that failed.
    pub failed: u64,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<Tallies>,
}

#[derive(Debug, Default)]
struct Tallies {
    executors: HashMap<String, Counts>,
    jobs: HashMap<String, Counts>,
    /// Finished tasks counted: job, stage, stage attempt, task.
    seen: HashSet<(String, u32, u32, u32)>,
}

impl Tally {
    /// Counts the finished tasks among `statuses`, reported by executor `executor`, and emits a
    /// [`TaskFinished`] for each.
    pub fn record(&self, executor: &str, statuses: &[TaskStatus]) {
        for status in statuses {
            let outcome = match status.status {
                Some(Status::Successful(_)) => "succeeded",
                Some(Status::Failed(_)) => "failed",
                Some(Status::Running(_)) | None => continue,
            };
            {
                let mut guard = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
                let counts = &mut *guard;
                let task = (
                    status.job_id.clone(),
                    status.stage_id,
                    status.stage_attempt_num,
                    status.task_id,
                );
                if !counts.seen.insert(task) {
                    continue;
                }
                for entry in [
                    counts.executors.entry(executor.to_owned()).or_default(),
                    counts.jobs.entry(status.job_id.clone()).or_default(),
                ] {
                    if outcome == "succeeded" {
                        entry.completed += 1;
                    } else {
                        entry.failed += 1;
                    }
                }
            }
            let millis = |from: u64, to: u64| Duration::from_millis(to.saturating_sub(from));
            TaskFinished {
                executor: executor.to_owned(),
                job: status.job_id.clone(),
                stage: status.stage_id,
                outcome,
                setup: millis(status.launch_time, status.start_exec_time),
                work: millis(status.start_exec_time, status.end_exec_time),
            }
            .emit();
        }
    }

    /// The counts of every executor that has reported a task.
    pub fn executors(&self) -> HashMap<String, Counts> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.executors.clone()
    }

    /// The counts of job `job`.
    pub fn job(&self, job: &str) -> Counts {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.jobs.get(job).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::serde::protobuf::{FailedTask, RunningTask, SuccessfulTask};

    fn status(job: &str, task_id: u32, status: Status) -> TaskStatus {
        TaskStatus {
            job_id: job.into(),
            task_id,
            status: Some(status),
            ..TaskStatus::default()
        }
    }

    #[test]
    fn counts_finished_tasks_per_executor_and_job() {
        let tally = Tally::default();
        let done = || Status::Successful(SuccessfulTask::default());
        tally.record("e1", &[status("j1", 0, done()), status("j2", 0, done())]);
        let report = [
            status("j1", 1, done()),
            status("j1", 2, Status::Failed(FailedTask::default())),
            status("j1", 3, Status::Running(RunningTask::default())),
        ];
        tally.record("e2", &report);
        // A report sent again (the first send failed on the way) counts once.
        tally.record("e2", &report);
        let executors = tally.executors();
        assert_eq!(
            executors["e1"],
            Counts {
                completed: 2,
                failed: 0
            }
        );
        assert_eq!(
            executors["e2"],
            Counts {
                completed: 1,
                failed: 1
            }
        );
        assert_eq!(
            tally.job("j1"),
            Counts {
                completed: 2,
                failed: 1
            }
        );
        assert_eq!(tally.job("nope"), Counts::default());
    }
}
