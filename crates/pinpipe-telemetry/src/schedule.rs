//! Events of the scheduler (`pinpipe schedule`, `pinpipe runs trigger|backfill`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Schedule, ScheduleState};

/// A run (an attempt at one interval) started.
#[derive(Clone, Debug)]
pub struct RunStarted {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id in the history.
    pub run_id: i64,
    /// The interval, as text (`2024-01-01T00:00:00Z/2024-01-02T00:00:00Z`).
    pub interval: String,
    /// The attempt, from 1.
    pub attempt: u32,
}

impl RunStarted {
    /// Logs at info and counts `pinpipe_schedule_runs_total{state="started"}`.
    pub fn emit(self) {
        tracing::info!(
            schedule = %self.schedule, run_id = self.run_id, interval = %self.interval,
            attempt = self.attempt, "run started"
        );
        count(&self.schedule, "started");
        dispatch(Event::RunStarted(self));
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
    /// Raw objects it read.
    pub objects: usize,
    /// Rows it wrote.
    pub rows: usize,
    /// Records it quarantined.
    pub rejected: usize,
    /// Its wall time, retries included.
    pub duration: Duration,
}

impl RunFinished {
    /// Logs at info, counts `pinpipe_schedule_runs_total{state="succeeded"}`, observes
    /// `pinpipe_schedule_run_duration_seconds` and sets
    /// `pinpipe_schedule_last_success_timestamp_seconds`.
    pub fn emit(self) {
        tracing::info!(
            schedule = %self.schedule, run_id = self.run_id, interval = %self.interval,
            objects = self.objects, rows = self.rows, rejected = self.rejected,
            duration_s = self.duration.as_secs_f64(), "run succeeded"
        );
        count(&self.schedule, "succeeded");
        let m = metrics::get();
        let schedule = Schedule {
            schedule: self.schedule.clone(),
        };
        m.run_duration
            .get_or_create(&schedule)
            .observe(self.duration.as_secs_f64());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        m.last_success.get_or_create(&schedule).set(now);
        dispatch(Event::RunFinished(self));
    }
}

/// An attempt of a run failed.
#[derive(Clone, Debug)]
pub struct RunFailed {
    /// The schedule's name.
    pub schedule: String,
    /// The run's id.
    pub run_id: i64,
    /// The interval.
    pub interval: String,
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// The error.
    pub error: String,
    /// Whether it will be tried again.
    pub will_retry: bool,
}

impl RunFailed {
    /// Logs a warning (an error when it will not be retried) and counts
    /// `pinpipe_schedule_runs_total{state="failed"}` for the last attempt.
    pub fn emit(self) {
        if self.will_retry {
            tracing::warn!(
                schedule = %self.schedule, run_id = self.run_id, interval = %self.interval,
                attempt = self.attempt, error = %self.error, "run attempt failed; retrying"
            );
        } else {
            tracing::error!(
                schedule = %self.schedule, run_id = self.run_id, interval = %self.interval,
                attempt = self.attempt, error = %self.error, "run failed"
            );
            count(&self.schedule, "failed");
        }
        dispatch(Event::RunFailed(self));
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
