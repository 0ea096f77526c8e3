//! The scheduler database, `<data_dir>/scheduler.db`: opening it the same way for the run history
//! and the lock, and how times are stored in it.
//!
//! Several processes use the file at once (a scheduler, `runs trigger`, `runs list`): WAL mode lets
//! readers go on while one writes, and a busy timeout makes writers queue instead of failing.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;

use crate::error::{Result, SchedulerError};

/// The file name of the scheduler database inside the data directory.
pub const DB_FILE: &str = "scheduler.db";

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating it and its folder if needed) the scheduler database at `path` and creates
/// the tables of `schema` that are missing.
pub(crate) fn open(path: &Path, schema: &str) -> Result<Connection> {
    let open_error = |source| SchedulerError::Open {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| SchedulerError::CreateDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    conn.pragma_update(None, "journal_mode", "wal")
        .map_err(open_error)?;
    conn.pragma_update(None, "synchronous", "normal")
        .map_err(open_error)?;
    conn.execute_batch(schema).map_err(open_error)?;
    Ok(conn)
}

/// A time as stored: RFC 3339 in UTC with microseconds, fixed width, so text order is time order.
pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored time read back.
pub(crate) fn parse_time_text(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| SchedulerError::Corrupt(format!("time {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_order() {
        let a = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap_or_default();
        let b = DateTime::from_timestamp(1_700_000_001, 0).unwrap_or_default();
        assert_eq!(time_text(a), "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_time_text(&time_text(a)).ok(), Some(a));
        assert!(time_text(a) < time_text(b));
        assert!(parse_time_text("yesterday").is_err());
    }
}
