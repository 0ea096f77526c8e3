//! The scheduler of pinpipe: it stands in for MWAA (Airflow) — the batch job on a cron schedule,
//! one run at a time, with retries, a run history, catch-up and backfill — and writes the Airflow
//! DAG for users who run Airflow itself.
//!
//! ```text
//!  cron ("@daily", "0 */6 * * *")  ──►  interval: [start, end) between firing times
//!                                            │ due now? (catch-up from the last success, or the latest)
//!                                            ▼
//!  Scheduler ── lock (lease row) ──► history.claim(name, interval) ──► Job::run ──► retries ──► history
//!     │            <data_dir>/scheduler.db: `leases`       `runs`          BatchJob = pinpipe batch
//!     └─ clock: SystemClock, or TestClock in tests
//!
//!  airflow: DagSpec ──► a DAG file running `pinpipe … batch` under Airflow 2.4+ / 3.x
//! ```
//!
//! - [`cron`]: five-field expressions and `@` shorthands; next and last firing times.
//! - [`interval`]: the span one run covers (Airflow's data interval); reading typed dates.
//! - [`clock`]: where schedule time comes from ([`SystemClock`], [`TestClock`]).
//! - [`history`]: the run history in SQLite; claiming an interval so it never runs twice.
//! - [`lock`]: one run at a time across processes sharing a data directory.
//! - [`job`]: the [`Job`] trait and [`BatchJob`], the batch job with the analyses and report.
//! - [`scheduler`]: [`Scheduler`]: due intervals, retries, following the schedule, trigger,
//!   backfill; every step a `pinpipe_telemetry::schedule` event.
//! - [`airflow`]: the DAG file.
//! - [`SchedulerError`] ([`error`]): what can go wrong, by what a caller can do about it.
//!   A failing job is not one: it is a failed run in the history.

pub mod airflow;
pub mod clock;
pub mod cron;
mod db;
pub mod error;
pub mod history;
pub mod interval;
pub mod job;
pub mod lock;
pub mod scheduler;

pub use airflow::{DagSpec, render_dag};
pub use clock::{Clock, SystemClock, TestClock};
pub use cron::{Cron, CronError};
pub use db::DB_FILE;
pub use error::{Result, SchedulerError};
pub use history::{History, RunCounts, RunKind, RunRecord, RunStatus};
pub use interval::{Interval, parse_time, show_time};
pub use job::{BatchJob, Job, JobOutcome};
pub use lock::LockOptions;
pub use scheduler::{DEFAULT_NAME, Handled, Schedule, Scheduler, show_versions};
