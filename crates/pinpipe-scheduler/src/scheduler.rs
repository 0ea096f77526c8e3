//! [`Scheduler`]: runs a [`Job`] once per interval of a cron [`Schedule`], one run at a time, with
//! retries, a run history, catch-up and backfill — what Airflow (MWAA) did for the original.
//!
//! - **Due intervals** ([`Scheduler::due`]): with `catchup`, every interval that has ended since the
//!   end of the last successful scheduled or backfill run (or since `start_date`, whichever is
//!   later), oldest first; without, only the latest interval that has ended (not before
//!   `start_date`). With catch-up but neither a start date nor an earlier success, there is nothing
//!   to catch up from, so only the latest interval is due.
//! - **Each interval** is handled under the [lock](crate::lock): the history is
//!   [claimed](crate::history::History::claim) (an interval with a successful run is skipped, so no
//!   interval runs twice, whichever process gets there first), then the job runs.
//! - **Retries**: a failed attempt is retried `retries` times, `retry_delay` apart (on the
//!   [clock](crate::clock)); then the run is `failed` with the last error. The scheduler does not
//!   run a failed interval again by itself; a backfill over it does.
//! - **Following** ([`Scheduler::follow`]): run what is due, sleep until the next firing time,
//!   repeat.
//! - **Resuming**: a run left `queued` or `running` by a process that stopped (its lease expired)
//!   is run again, attempts counting on, by the next [`Scheduler::run_due`].
//!
//! Every step is an [`Event`], logged with `tracing` and passed to the handler set with
//! [`Scheduler::on_event`] (the CLI prints them).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::{Clock, SystemClock};
use crate::cron::Cron;
use crate::db::DB_FILE;
use crate::error::{Result, SchedulerError};
use crate::history::{Claim, History, RunKind, RunRecord, RunStatus};
use crate::interval::{Interval, show_time};
use crate::job::Job;
use crate::lock::{Holder, Lock, LockOptions};

/// The schedule name used when none is given (also the Airflow DAG id).
pub const DEFAULT_NAME: &str = "pinpipe_batch";

/// The lock every run takes: one batch run at a time per data directory, whatever the schedule.
pub const LOCK_NAME: &str = "batch";

/// When and how a job runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The schedule's name in the run history (Airflow's DAG id).
    pub name: String,
    /// When intervals end.
    pub cron: Cron,
    /// Whether intervals missed while no scheduler ran are run on start (Airflow's `catchup`).
    pub catchup: bool,
    /// Attempts after the first one when a run fails.
    pub retries: u32,
    /// Wait between attempts.
    pub retry_delay: Duration,
    /// No interval starting before this runs on schedule.
    pub start_date: Option<DateTime<Utc>>,
}

impl Schedule {
    /// `cron` with the defaults: name [`DEFAULT_NAME`], no catch-up, 2 retries 5 minutes apart,
    /// no start date.
    pub fn new(cron: Cron) -> Schedule {
        Schedule {
            name: DEFAULT_NAME.to_owned(),
            cron,
            catchup: false,
            retries: 2,
            retry_delay: Duration::from_secs(300),
            start_date: None,
        }
    }
}

/// Something the scheduler did or is about to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Another process holds the lock; this one waits for it.
    WaitingForLock(Holder),
    /// An attempt of a run started.
    Started {
        /// The run.
        id: i64,
        /// Its interval.
        interval: Interval,
        /// The attempt's number (over the run's life).
        attempt: u32,
    },
    /// An attempt failed and will be retried.
    Retrying {
        /// The run.
        id: i64,
        /// Its interval.
        interval: Interval,
        /// The attempt that failed.
        attempt: u32,
        /// Its error.
        error: String,
        /// When the next attempt starts.
        at: DateTime<Utc>,
    },
    /// A run succeeded or failed for good.
    Finished(RunRecord),
    /// An interval already had a run that is not repeated.
    Skipped(RunRecord),
    /// A backfill left out an interval that has not ended yet.
    NotEnded(Interval),
    /// Nothing is due before this time.
    Sleeping {
        /// When the next interval ends.
        until: DateTime<Utc>,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::WaitingForLock(holder) => write!(
                f,
                "waiting for the lock: another run holds it ({}, since {}, lease until {})",
                holder.owner,
                show_time(holder.since),
                show_time(holder.expires)
            ),
            Event::Started {
                id,
                interval,
                attempt,
            } => write!(f, "run {id} [{interval}]: attempt {attempt} started"),
            Event::Retrying {
                id,
                interval,
                attempt,
                error,
                at,
            } => write!(
                f,
                "run {id} [{interval}]: attempt {attempt} failed: {error}; retrying at {}",
                show_time(*at)
            ),
            Event::Finished(run) => match run.status {
                RunStatus::Success => write!(
                    f,
                    "run {} [{}]: success after {} attempt(s): {} raw objects, {}",
                    run.id,
                    run.interval,
                    run.attempts,
                    run.objects.unwrap_or(0),
                    show_versions(run)
                ),
                _ => write!(
                    f,
                    "run {} [{}]: {} after {} attempt(s): {}",
                    run.id,
                    run.interval,
                    run.status,
                    run.attempts,
                    run.error.as_deref().unwrap_or("no error recorded")
                ),
            },
            Event::Skipped(run) => write!(
                f,
                "run {} [{}]: already {}; not run again",
                run.id, run.interval, run.status
            ),
            Event::NotEnded(interval) => {
                write!(f, "[{interval}] has not ended yet; not run")
            }
            Event::Sleeping { until } => write!(f, "next run at {} UTC", show_time(*until)),
        }
    }
}

/// `tables/pin v3, quarantine v1`, or `no table changed`.
pub fn show_versions(run: &RunRecord) -> String {
    if run.versions.is_empty() {
        return "no table changed".to_owned();
    }
    let versions: Vec<String> = run
        .versions
        .iter()
        .map(|(path, version)| format!("{path} v{version}"))
        .collect();
    versions.join(", ")
}

/// What happened to one interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// It ran (successfully or not): its record afterwards.
    Ran(RunRecord),
    /// It already had a run that is not repeated.
    Skipped(RunRecord),
}

impl Handled {
    /// The interval's run record.
    pub fn record(&self) -> &RunRecord {
        match self {
            Handled::Ran(run) | Handled::Skipped(run) => run,
        }
    }
}

type EventHandler = Arc<dyn Fn(&Event) + Send + Sync>;

/// Runs a job on a schedule over a data directory's run history (see the module documentation).
pub struct Scheduler<J> {
    schedule: Schedule,
    job: J,
    history: History,
    lock: Lock,
    clock: Arc<dyn Clock>,
    on_event: EventHandler,
}

impl<J: Job> Scheduler<J> {
    /// A scheduler for `job` on `schedule`, keeping its history and lock in
    /// `<data_dir>/scheduler.db`, on the system clock.
    pub fn new(data_dir: &Path, schedule: Schedule, job: J) -> Result<Scheduler<J>> {
        let path = data_dir.join(DB_FILE);
        Ok(Scheduler {
            history: History::open(&path)?,
            lock: Lock::open(&path, LOCK_NAME, LockOptions::default())?,
            schedule,
            job,
            clock: Arc::new(SystemClock),
            on_event: Arc::new(|_| {}),
        })
    }

    /// Uses `clock` for schedule time.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `options` for the lock.
    pub fn with_lock_options(mut self, options: LockOptions) -> Self {
        self.lock.set_options(options);
        self
    }

    /// Passes every [`Event`] to `handler`.
    pub fn on_event(mut self, handler: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Arc::new(handler);
        self
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The run history.
    pub fn history(&self) -> &History {
        &self.history
    }

    fn emit(&self, event: Event) {
        match &event {
            Event::Retrying { .. } | Event::WaitingForLock(_) => tracing::warn!("{event}"),
            Event::Finished(run) if run.status == RunStatus::Failed => tracing::error!("{event}"),
            _ => tracing::info!("{event}"),
        }
        (self.on_event)(&event);
    }

    /// The intervals due now, oldest first (see the module documentation).
    pub fn due(&self) -> Result<Vec<Interval>> {
        let now = self.clock.now();
        let schedule = &self.schedule;
        let Some(latest) = schedule.cron.latest_complete(now) else {
            return Ok(Vec::new());
        };
        if !schedule.catchup {
            let started = schedule.start_date.is_none_or(|s| latest.start >= s);
            return Ok(if started { vec![latest] } else { Vec::new() });
        }
        let since = match (
            self.history.last_success_end(&schedule.name)?,
            schedule.start_date,
        ) {
            (Some(end), Some(start)) => end.max(start),
            (Some(end), None) => end,
            (None, Some(start)) => start,
            (None, None) => latest.start,
        };
        Ok(schedule
            .cron
            .intervals_from(since)
            .take_while(|i| i.end <= now)
            .collect())
    }

    /// Resumes the runs a stopped process left unfinished, then runs every interval due now,
    /// oldest first.
    pub async fn run_due(&self) -> Result<Vec<Handled>> {
        let mut todo: Vec<(Interval, RunKind)> = self
            .history
            .unfinished(&self.schedule.name)?
            .into_iter()
            .map(|run| (run.interval, run.kind))
            .collect();
        for interval in self.due()? {
            if !todo.iter().any(|(i, _)| *i == interval) {
                todo.push((interval, RunKind::Scheduled));
            }
        }
        let mut handled = Vec::new();
        for (interval, kind) in todo {
            handled.push(self.handle(interval, kind, false).await?);
        }
        Ok(handled)
    }

    /// Runs what is due, then each interval as it ends, until the schedule never fires again
    /// (practically: until the caller drops the future, e.g. on Ctrl-C; a run cut short is resumed
    /// by the next scheduler).
    pub async fn follow(&self) -> Result<()> {
        loop {
            self.run_due().await?;
            let Some(next) = self.schedule.cron.next_after(self.clock.now()) else {
                return Ok(());
            };
            self.emit(Event::Sleeping { until: next });
            self.clock.sleep_until(next).await;
        }
    }

    /// Runs the job now, as a manual run covering the current instant.
    pub async fn trigger(&self) -> Result<RunRecord> {
        let interval = Interval::at(self.clock.now());
        let handled = self.handle(interval, RunKind::Manual, false).await?;
        Ok(handled.record().clone())
    }

    /// Runs every interval of the schedule starting between `from` and `to` (both included) that
    /// has ended: intervals with a successful run are skipped, failed ones run again.
    pub async fn backfill(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Handled>> {
        if to < from {
            return Err(SchedulerError::InvalidRequest(format!(
                "backfill: the end {} is before the start {}",
                show_time(to),
                show_time(from)
            )));
        }
        let now = self.clock.now();
        let mut handled = Vec::new();
        for interval in self
            .schedule
            .cron
            .intervals_from(from)
            .take_while(|i| i.start <= to)
        {
            if interval.end > now {
                self.emit(Event::NotEnded(interval));
                break;
            }
            handled.push(self.handle(interval, RunKind::Backfill, true).await?);
        }
        Ok(handled)
    }

    /// Claims `interval` under the lock and runs it unless it is done.
    async fn handle(
        &self,
        interval: Interval,
        kind: RunKind,
        rerun_failed: bool,
    ) -> Result<Handled> {
        let on_wait = |holder: &Holder| self.emit(Event::WaitingForLock(holder.clone()));
        let _lease = self.lock.acquire(&on_wait).await?;
        let claim = self.history.claim(
            &self.schedule.name,
            interval,
            kind,
            rerun_failed,
            self.clock.now(),
        )?;
        match claim {
            Claim::Done(run) => {
                self.emit(Event::Skipped(run.clone()));
                Ok(Handled::Skipped(run))
            }
            Claim::Run(run) => Ok(Handled::Ran(self.execute(run).await?)),
        }
    }

    /// Runs a claimed run with its retries and records how it ended.
    async fn execute(&self, run: RunRecord) -> Result<RunRecord> {
        let tries = self.schedule.retries.saturating_add(1);
        let delay = TimeDelta::from_std(self.schedule.retry_delay).unwrap_or(TimeDelta::MAX);
        let mut tried = 0;
        loop {
            tried += 1;
            let attempt = self.history.start_attempt(run.id, self.clock.now())?;
            self.emit(Event::Started {
                id: run.id,
                interval: run.interval,
                attempt,
            });
            let error = match self.job.run(&run.interval).await {
                Ok(outcome) => {
                    let done = self.history.succeed(run.id, self.clock.now(), &outcome)?;
                    self.emit(Event::Finished(done.clone()));
                    return Ok(done);
                }
                Err(error) => error,
            };
            if tried >= tries {
                let done = self.history.fail(run.id, self.clock.now(), &error)?;
                self.emit(Event::Finished(done.clone()));
                return Ok(done);
            }
            self.history.note_error(run.id, &error)?;
            let at = self
                .clock
                .now()
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            self.emit(Event::Retrying {
                id: run.id,
                interval: run.interval,
                attempt,
                error,
                at,
            });
            self.clock.sleep_until(at).await;
        }
    }
}
