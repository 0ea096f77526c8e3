//! The SQLite schema of the embedded bus and the statements that read it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{LogKind, LogMeta, SyncMode};
use crate::Result;

/// One stored record: offset, key, value, append time in ms.
pub(super) struct StoredRecord {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
}

/// Opens a connection in WAL mode with the requested sync level; waits for other processes'
/// locks rather than failing at once.
pub(super) fn connect(path: &Path, sync: SyncMode) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let level = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    Ok(conn)
}

/// Creates the tables if they are not there.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS logs (
             id INTEGER PRIMARY KEY,
             kind TEXT NOT NULL,
             name TEXT NOT NULL,
             partitions INTEGER NOT NULL,
             created_ms INTEGER NOT NULL,
             UNIQUE (kind, name)
         );
         CREATE TABLE IF NOT EXISTS records (
             log_id INTEGER NOT NULL,
             partition INTEGER NOT NULL,
             offset INTEGER NOT NULL,
             key BLOB,
             value BLOB NOT NULL,
             ts_ms INTEGER NOT NULL,
             PRIMARY KEY (log_id, partition, offset)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS group_offsets (
             grp TEXT NOT NULL,
             log_id INTEGER NOT NULL,
             partition INTEGER NOT NULL,
             next_offset INTEGER NOT NULL,
             PRIMARY KEY (grp, log_id, partition)
         ) WITHOUT ROWID;",
    )?;
    Ok(())
}

pub(super) fn find_log(conn: &Connection, kind: LogKind, name: &str) -> Result<Option<LogMeta>> {
    Ok(conn
        .query_row(
            "SELECT id, partitions FROM logs WHERE kind = ?1 AND name = ?2",
            params![kind.as_str(), name],
            |row| {
                Ok(LogMeta {
                    id: row.get(0)?,
                    partitions: row.get(1)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn list_logs(conn: &Connection, kind: LogKind) -> Result<Vec<(String, LogMeta)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, id, partitions FROM logs WHERE kind = ?1 ORDER BY name")?;
    let rows = stmt.query_map(params![kind.as_str()], |row| {
        Ok((
            row.get(0)?,
            LogMeta {
                id: row.get(1)?,
                partitions: row.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The offset the next record of `partition` will get.
pub(super) fn next_offset(conn: &Connection, log_id: i64, partition: i32) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(MAX(offset) + 1, 0) FROM records WHERE log_id = ?1 AND partition = ?2",
        )?
        .query_row(params![log_id, partition], |row| row.get(0))?)
}

pub(super) fn high_watermarks(conn: &Connection, meta: LogMeta) -> Result<Vec<i64>> {
    (0..meta.partitions)
        .map(|p| next_offset(conn, meta.id, p))
        .collect()
}

pub(super) fn read(
    conn: &Connection,
    log_id: i64,
    partition: i32,
    from: i64,
    max: usize,
) -> Result<Vec<StoredRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT offset, key, value, ts_ms FROM records
         WHERE log_id = ?1 AND partition = ?2 AND offset >= ?3
         ORDER BY offset LIMIT ?4",
    )?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![log_id, partition, from, limit], |row| {
        Ok(StoredRecord {
            offset: row.get(0)?,
            key: row.get(1)?,
            value: row.get(2)?,
            timestamp_ms: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
