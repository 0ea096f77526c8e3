//! [`SchedulerError`]: what can go wrong in the scheduler itself, by what a caller can do about it.
//!
//! A failing job is not an error of the scheduler: it is recorded in the run history as a failed
//! run, with its error text.

use std::path::PathBuf;

use crate::cron::CronError;

/// The result type of this crate.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

/// An error of the scheduler.
///
/// | variant | what to do |
/// |---|---|
/// | [`Cron`](SchedulerError::Cron), [`InvalidTime`](SchedulerError::InvalidTime), [`InvalidRequest`](SchedulerError::InvalidRequest) | fix the schedule or the dates given |
/// | [`RunNotFound`](SchedulerError::RunNotFound) | use an id from the run list |
/// | [`CreateDir`](SchedulerError::CreateDir), [`Open`](SchedulerError::Open), [`Database`](SchedulerError::Database) | check the data directory (permissions, disk space) |
/// | [`Corrupt`](SchedulerError::Corrupt) | the history database holds something pinpipe did not write: inspect or delete it |
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The cron expression cannot be used.
    #[error(transparent)]
    Cron(#[from] CronError),
    /// A date or time cannot be read.
    #[error("invalid date or time {0}")]
    InvalidTime(String),
    /// A request that cannot be carried out as asked, e.g. a backfill whose end is before its start.
    #[error("{0}")]
    InvalidRequest(String),
    /// No run has this id.
    #[error("no run with id {0}")]
    RunNotFound(i64),
    /// The folder of the scheduler database cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scheduler database cannot be opened or set up.
    #[error("cannot open the scheduler database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// Reading or writing the scheduler database failed.
    #[error("scheduler database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A row of the scheduler database cannot be read back.
    #[error("scheduler database: {0}")]
    Corrupt(String),
}
