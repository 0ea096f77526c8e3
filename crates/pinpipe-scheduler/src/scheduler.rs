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
//! - **Following** ([`Scheduler::follow`]): run what is due, sleep until the next interval that
//!   will be due ends (before the start date, the first one from it), repeat.
//! - **Resuming**: a run left `queued` or `running` by a process that stopped (its lease expired)
//!   is run again, attempts counting on, by the next [`Scheduler::run_due`].
//!
//! Every step is a [`pinpipe_telemetry::schedule`] event: logged, counted on `/metrics`, and
//! passed to listeners (the CLI prints them).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pinpipe_telemetry::schedule::{
    IntervalNotEnded, RunAbandoned, RunFailed, RunFinished, RunRetrying, RunSkipped, RunStarted,
    SchedulerStarted, Sleeping, WaitingForLock,
};

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

/// Runs a job on a schedule over a data directory's run history (see the module documentation).
pub struct Scheduler<J> {
    schedule: Schedule,
    job: J,
    history: History,
    lock: Lock,
    clock: Arc<dyn Clock>,
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

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The run history.
    pub fn history(&self) -> &History {
        &self.history
    }

    fn name(&self) -> String {
        self.schedule.name.clone()
    }

    /// Marks the manual runs a killed `runs trigger` left running as failed, under the lock (no
    /// live process runs them then). Only a trigger does: `pinpipe schedule` resumes them instead
    /// ([`Scheduler::run_due`]), but a user who only ever triggers would see them running for good.
    fn abandon_interrupted_manual_runs(&self) -> Result<()> {
        let abandoned = self.history.fail_unfinished_manual(
            &self.schedule.name,
            self.clock.now(),
            "interrupted: the process running it stopped (trigger it again)",
        )?;
        for run in abandoned {
            RunAbandoned {
                schedule: self.name(),
                run_id: run.id,
                interval: run.interval.to_string(),
            }
            .emit();
        }
        Ok(())
    }

    /// Emits how a run ended: [`RunFinished`] or [`RunFailed`].
    fn emit_finished(&self, run: &RunRecord) {
        let duration = match (run.started_at, run.ended_at) {
            (Some(start), Some(end)) => (end - start).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        if run.status == RunStatus::Success {
            RunFinished {
                schedule: self.name(),
                run_id: run.id,
                interval: run.interval.to_string(),
                attempts: run.attempts,
                objects: run.objects.unwrap_or(0),
                rows: run.rows.unwrap_or(0),
                rejected: run.rejected.unwrap_or(0),
                versions: show_versions(run),
                duration,
            }
            .emit();
        } else {
            RunFailed {
                schedule: self.name(),
                run_id: run.id,
                interval: run.interval.to_string(),
                attempts: run.attempts,
                error: run
                    .error
                    .clone()
                    .unwrap_or_else(|| "no error recorded".to_owned()),
                duration,
            }
            .emit();
        }
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

    /// When the next interval ends that will be due: the schedule's next firing time, or, before
    /// the start date, the end of the first interval from the start date (none before it runs).
    fn next_run_time(&self) -> Option<DateTime<Utc>> {
        let next = self.schedule.cron.next_after(self.clock.now())?;
        let first = match self.schedule.start_date {
            Some(start) => self.schedule.cron.intervals_from(start).next()?.end,
            None => next,
        };
        Some(next.max(first))
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
            handled.push(self.handle(interval, kind, false, false).await?);
        }
        Ok(handled)
    }

    /// Runs what is due, then each interval as it ends, until the caller drops the future (e.g.
    /// on Ctrl-C; a run cut short is resumed by the next scheduler). A schedule that will never
    /// run again (a start date past the last time cron's calendar reaches) is an error: a
    /// scheduler that stopped without a word would look like one that ran.
    pub async fn follow(&self) -> Result<()> {
        SchedulerStarted {
            schedule: self.name(),
            cron: self.schedule.cron.to_string(),
        }
        .emit();
        loop {
            self.run_due().await?;
            let Some(next) = self.next_run_time() else {
                let after = self
                    .schedule
                    .start_date
                    .map_or_else(|| self.clock.now(), |start| start.max(self.clock.now()));
                return Err(SchedulerError::InvalidRequest(format!(
                    "schedule {} has no interval to run after {}: check its start date",
                    self.name(),
                    show_time(after)
                )));
            };
            Sleeping {
                schedule: self.name(),
                until: show_time(next),
            }
            .emit();
            self.clock.sleep_until(next).await;
        }
    }

    /// Runs the job now, as a manual run covering the current instant.
    pub async fn trigger(&self) -> Result<RunRecord> {
        let interval = Interval::at(self.clock.now());
        let handled = self.handle(interval, RunKind::Manual, false, true).await?;
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
                IntervalNotEnded {
                    schedule: self.name(),
                    interval: interval.to_string(),
                }
                .emit();
                break;
            }
            handled.push(
                self.handle(interval, RunKind::Backfill, true, false)
                    .await?,
            );
        }
        Ok(handled)
    }

    /// Claims `interval` under the lock and runs it unless it is done; `triggered` by `runs
    /// trigger`, it first marks the manual runs a killed trigger left running as failed.
    async fn handle(
        &self,
        interval: Interval,
        kind: RunKind,
        rerun_failed: bool,
        triggered: bool,
    ) -> Result<Handled> {
        let on_wait = |holder: &Holder| {
            WaitingForLock {
                schedule: self.name(),
                owner: holder.owner.clone(),
                since: show_time(holder.since),
                expires: show_time(holder.expires),
            }
            .emit();
        };
        let _lease = self.lock.acquire(&on_wait).await?;
        if triggered {
            self.abandon_interrupted_manual_runs()?;
        }
        let claim = self.history.claim(
            &self.schedule.name,
            interval,
            kind,
            rerun_failed,
            self.clock.now(),
        )?;
        match claim {
            Claim::Done(run) => {
                RunSkipped {
                    schedule: self.name(),
                    run_id: run.id,
                    interval: run.interval.to_string(),
                    status: run.status.to_string(),
                }
                .emit();
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
            RunStarted {
                schedule: self.name(),
                run_id: run.id,
                interval: run.interval.to_string(),
                attempt,
            }
            .emit();
            let error = match self.job.run(&run.interval).await {
                Ok(outcome) => {
                    let done = self.history.succeed(run.id, self.clock.now(), &outcome)?;
                    self.emit_finished(&done);
                    return Ok(done);
                }
                Err(error) => error,
            };
            if tried >= tries {
                let done = self.history.fail(run.id, self.clock.now(), &error)?;
                self.emit_finished(&done);
                return Ok(done);
            }
            let at = self
                .clock
                .now()
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            self.history.note_retry(run.id, &error, at)?;
            RunRetrying {
                schedule: self.name(),
                run_id: run.id,
                interval: run.interval.to_string(),
                attempt,
                error,
                at: show_time(at),
            }
            .emit();
            self.clock.sleep_until(at).await;
        }
    }
}
