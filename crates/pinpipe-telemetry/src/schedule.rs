//! Events of the scheduler (`pinpipe schedule`, `pinpipe runs trigger|backfill`).
//!
//! Intervals and times are carried as the scheduler shows them (`2024-01-01 00:00 → 2024-01-02
//! 00:00`, `2024-01-02 00:00`), and each event has the [`line`](RunStarted::line) `pinpipe
//! schedule` prints for it.

use std::time::Duration;

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Schedule, ScheduleState};

/// Another process holds the scheduler's lock; this one waits for it.
#[derive(Clone, Debug)]
pub struct WaitingForLock {
    /// The schedule's name.
    pub schedule: String,
    /// Who holds the lock.
    pub owner: String,
    /// Since when.
    pub since: String,
    /// Until when its lease runs, unless renewed.
    pub expires: String,
}

impl WaitingForLock {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "waiting for the lock: another run holds it ({}, since {}, lease until {})",
            self.owner, self.since, self.expires
        )
    }

    /// Logs a warning.
    pub fn emit(self) {
        tracing::warn!(schedule = %self.schedule, owner = %self.owner, "{}", self.line());
        dispatch(Event::WaitingForLock(self));
    }
}

/// An attempt of a run started.
#[derive(Clone, Debug)]
pub struct RunStarted {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id in the history.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// The attempt, from 1.
    pub attempt: u32,
}

impl RunStarted {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: attempt {} started",
            self.run_id, self.interval, self.attempt
        )
    }

    /// Logs at info and counts `pinpipe_schedule_runs_total{state="started"}`.
    pub fn emit(self) {
        tracing::info!(schedule = %self.schedule, run_id = self.run_id, "{}", self.line());
        count(&self.schedule, "started");
        dispatch(Event::RunStarted(self));
    }
}

/// An attempt failed; the run is tried again later.
#[derive(Clone, Debug)]
pub struct RunRetrying {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// The attempt that failed.
    pub attempt: u32,
    /// Its error.
    pub error: String,
    /// When the next attempt starts.
    pub at: String,
}

impl RunRetrying {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: attempt {} failed: {}; retrying at {}",
            self.run_id, self.interval, self.attempt, self.error, self.at
        )
    }

    /// Logs a warning and counts `pinpipe_retries_total{component="schedule"}`.
    pub fn emit(self) {
        tracing::warn!(schedule = %self.schedule, run_id = self.run_id, "{}", self.line());
        metrics::get()
            .retries
            .get_or_create(&metrics::Component {
                component: "schedule",
            })
            .inc();
        dispatch(Event::RunRetrying(self));
    }
}

/// A run succeeded.
#[derive(Clone, Debug)]
pub struct RunFinished {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// Attempts it took.
    pub attempts: u32,
    /// Raw objects it read.
    pub objects: u64,
    /// Rows it wrote.
    pub rows: u64,
    /// Records it quarantined.
    pub rejected: u64,
    /// The table versions it wrote (`tables/pin v3, quarantine v1`).
    pub versions: String,
    /// Its wall time, retries included.
    pub duration: Duration,
}

impl RunFinished {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: success after {} attempt(s): {} raw objects, {}",
            self.run_id, self.interval, self.attempts, self.objects, self.versions
        )
    }

    /// Logs at info, counts `pinpipe_schedule_runs_total{state="succeeded"}`, observes
    /// `pinpipe_schedule_run_duration_seconds` and sets
    /// `pinpipe_schedule_last_success_timestamp_seconds`.
    pub fn emit(self) {
        tracing::info!(
            schedule = %self.schedule, run_id = self.run_id, rows = self.rows,
            rejected = self.rejected, duration_s = self.duration.as_secs_f64(), "{}", self.line()
        );
        count(&self.schedule, "succeeded");
        let m = metrics::get();
        let schedule = Schedule {
            schedule: self.schedule.clone(),
        };
        m.run_duration
            .get_or_create(&schedule)
            .observe(self.duration.as_secs_f64());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        m.last_success.get_or_create(&schedule).set(now);
        dispatch(Event::RunFinished(self));
    }
}

/// A run failed for good (its last attempt failed).
#[derive(Clone, Debug)]
pub struct RunFailed {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// Attempts it took.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: String,
    /// Its wall time, retries included.
    pub duration: Duration,
}

impl RunFailed {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: failed after {} attempt(s): {}",
            self.run_id, self.interval, self.attempts, self.error
        )
    }

    /// Logs an error, counts `pinpipe_schedule_runs_total{state="failed"}` and observes
    /// `pinpipe_schedule_run_duration_seconds`.
    pub fn emit(self) {
        tracing::error!(schedule = %self.schedule, run_id = self.run_id, "{}", self.line());
        count(&self.schedule, "failed");
        metrics::get()
            .run_duration
            .get_or_create(&Schedule {
                schedule: self.schedule.clone(),
            })
            .observe(self.duration.as_secs_f64());
        dispatch(Event::RunFailed(self));
    }
}

/// A manual run whose process stopped mid-run (killed) was marked failed by the next trigger:
/// nothing else would finish it. Its duration is unknown, so none is observed.
#[derive(Clone, Debug)]
pub struct RunAbandoned {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
}

impl RunAbandoned {
    /// What `pinpipe runs trigger` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: marked failed: the process running it stopped",
            self.run_id, self.interval
        )
    }

    /// Logs a warning and counts `pinpipe_schedule_runs_total{state="failed"}`.
    pub fn emit(self) {
        tracing::warn!(schedule = %self.schedule, run_id = self.run_id, "{}", self.line());
        count(&self.schedule, "failed");
        dispatch(Event::RunAbandoned(self));
    }
}

/// An interval already had a run that is not repeated.
#[derive(Clone, Debug)]
pub struct RunSkipped {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// How that run stands (`success`, `failed`).
    pub status: String,
}

impl RunSkipped {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!(
            "run {} [{}]: already {}; not run again",
            self.run_id, self.interval, self.status
        )
    }

    /// Logs at info.
    pub fn emit(self) {
        tracing::info!(schedule = %self.schedule, run_id = self.run_id, "{}", self.line());
        dispatch(Event::RunSkipped(self));
    }
}

/// A backfill left out an interval that has not ended yet.
#[derive(Clone, Debug)]
pub struct IntervalNotEnded {
    /// The schedule's name.
    pub schedule: String,
    /// The interval.
    pub interval: String,
}

impl IntervalNotEnded {
    /// What `pinpipe runs backfill` prints.
    pub fn line(&self) -> String {
        format!("[{}] has not ended yet; not run", self.interval)
    }

    /// Logs at info.
    pub fn emit(self) {
        tracing::info!(schedule = %self.schedule, "{}", self.line());
        dispatch(Event::IntervalNotEnded(self));
    }
}

/// A scheduler started following its schedule (`pinpipe schedule`).
#[derive(Clone, Debug)]
pub struct SchedulerStarted {
    /// The schedule's name.
    pub schedule: String,
    /// Its cron expression.
    pub cron: String,
}

impl SchedulerStarted {
    /// Logs at info, shows the scheduler's and the batch job's families on `/metrics` (it runs
    /// the batch job) and puts
    /// `pinpipe_schedule_runs_total` at zero for each state, so that the first failed run is an
    /// increase (see [`crate::started`]).
    pub fn emit(self) {
        tracing::info!(schedule = %self.schedule, cron = %self.cron, "scheduler started");
        metrics::runs(metrics::Part::Schedule);
        metrics::runs(metrics::Part::Batch);
        for state in ["started", "succeeded", "failed"] {
            metrics::zero(
                &metrics::get().runs,
                &ScheduleState {
                    schedule: self.schedule.clone(),
                    state,
                },
            );
        }
        dispatch(Event::SchedulerStarted(self));
    }
}

/// Nothing is due before the next interval ends.
#[derive(Clone, Debug)]
pub struct Sleeping {
    /// The schedule's name.
    pub schedule: String,
    /// When the next interval ends.
    pub until: String,
}

impl Sleeping {
    /// What `pinpipe schedule` prints.
    pub fn line(&self) -> String {
        format!("next run at {} UTC", self.until)
    }

    /// Logs at info.
    pub fn emit(self) {
        tracing::info!(schedule = %self.schedule, "{}", self.line());
        dispatch(Event::Sleeping(self));
    }
}

fn count(schedule: &str, state: &'static str) {
    metrics::get()
        .runs
        .get_or_create(&ScheduleState {
            schedule: schedule.to_owned(),
            state,
        })
        .inc();
}

#[cfg(test)]
mod tests {
    use super::SchedulerStarted;

    #[test]
    fn a_started_scheduler_shows_its_runs_at_zero() {
        SchedulerStarted {
            schedule: "nightly".into(),
            cron: "@daily".into(),
        }
        .emit();
        let text = crate::render();
        for state in ["started", "succeeded", "failed"] {
            let series =
                format!(r#"pinpipe_schedule_runs_total{{schedule="nightly",state="{state}"}} 0"#);
            assert!(text.lines().any(|l| l == series), "{series} in:\n{text}");
        }
    }
}
