//! The SQLite schema of the embedded bus and the statements that read it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::writer::Lease;
use super::{LogKind, LogMeta, SyncMode};
use crate::{ReadLimit, Result};

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

/// The schema version this code writes (`PRAGMA user_version`). Version 1 numbers logs with
/// `AUTOINCREMENT`, so a deleted log's id is never given to a new one: a process still holding
/// the old id can then never write into (or read) a re-created stream or topic by mistake.
const SCHEMA_VERSION: i64 = 1;

/// Creates the tables if they are not there, and brings an older database to
/// [`SCHEMA_VERSION`]. Safe when several processes open the same file at once.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version < SCHEMA_VERSION {
        let has_logs: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs')",
            [],
            |row| row.get(0),
        )?;
        tx.execute_batch(
            "CREATE TABLE logs_v1 (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 kind TEXT NOT NULL,
                 name TEXT NOT NULL,
                 partitions INTEGER NOT NULL,
                 created_ms INTEGER NOT NULL,
                 UNIQUE (kind, name)
             );",
        )?;
        if has_logs {
            tx.execute_batch(
                "INSERT INTO logs_v1 (id, kind, name, partitions, created_ms)
                     SELECT id, kind, name, partitions, created_ms FROM logs;
                 DROP TABLE logs;",
            )?;
        }
        tx.execute_batch("ALTER TABLE logs_v1 RENAME TO logs;")?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS records (
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
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS group_leases (
             grp TEXT NOT NULL PRIMARY KEY,
             owner TEXT NOT NULL,
             expires_ms INTEGER NOT NULL
         );",
    )?;
    tx.commit()?;
    Ok(())
}

/// Whether the log with row id `id` still exists.
pub(super) fn log_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM logs WHERE id = ?1)")?
        .query_row(params![id], |row| row.get(0))?)
}

pub(super) fn find_log(conn: &Connection, kind: LogKind, name: &str) -> Result<Option<LogMeta>> {
    Ok(conn
        .query_row(
            "SELECT id, partitions, created_ms FROM logs WHERE kind = ?1 AND name = ?2",
            params![kind.as_str(), name],
            |row| {
                Ok(LogMeta {
                    id: row.get(0)?,
                    partitions: row.get(1)?,
                    created_ms: row.get(2)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn list_logs(conn: &Connection, kind: LogKind) -> Result<Vec<(String, LogMeta)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, id, partitions, created_ms FROM logs WHERE kind = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map(params![kind.as_str()], |row| {
        Ok((
            row.get(0)?,
            LogMeta {
                id: row.get(1)?,
                partitions: row.get(2)?,
                created_ms: row.get(3)?,
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

/// Records of one partition from offset `from` on, in offset order, within `limit` (at least
/// one record when there is one).
pub(super) fn read(
    conn: &Connection,
    log_id: i64,
    partition: i32,
    from: i64,
    limit: ReadLimit,
) -> Result<Vec<StoredRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT offset, key, value, ts_ms FROM records
         WHERE log_id = ?1 AND partition = ?2 AND offset >= ?3
         ORDER BY offset LIMIT ?4",
    )?;
    let max = i64::try_from(limit.records).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![log_id, partition, from, max])?;
    let mut records = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let record = StoredRecord {
            offset: row.get(0)?,
            key: row.get(1)?,
            value: row.get(2)?,
            timestamp_ms: row.get(3)?,
        };
        bytes = bytes
            .saturating_add(record.value.len())
            .saturating_add(record.key.as_ref().map_or(0, Vec::len));
        records.push(record);
        if bytes >= limit.bytes {
            break;
        }
    }
    Ok(records)
}

/// The offset of the first record of a partition appended at or after `since_ms`; the
/// partition's end when there is none.
pub(super) fn offset_since(
    conn: &Connection,
    log_id: i64,
    partition: i32,
    since_ms: i64,
) -> Result<i64> {
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT offset FROM records WHERE log_id = ?1 AND partition = ?2 AND ts_ms >= ?3
             ORDER BY offset LIMIT 1",
        )?
        .query_row(params![log_id, partition, since_ms], |row| row.get(0))
        .optional()?;
    match found {
        Some(offset) => Ok(offset),
        None => next_offset(conn, log_id, partition),
    }
}

/// The lease of consumer group `group`, if one was ever taken.
pub(super) fn lease(conn: &Connection, group: &str) -> Result<Option<Lease>> {
    Ok(conn
        .prepare_cached("SELECT owner, expires_ms FROM group_leases WHERE grp = ?1")?
        .query_row(params![group], |row| {
            Ok(Lease {
                holder: row.get(0)?,
                expires_ms: row.get(1)?,
            })
        })
        .optional()?)
}

/// Sets the lease of consumer group `group`.
pub(super) fn set_lease(conn: &Connection, group: &str, lease: &Lease) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_leases (grp, owner, expires_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (grp) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms",
    )?
    .execute(params![group, lease.holder, lease.expires_ms])?;
    Ok(())
}

/// Stores consumer group `group`'s position in a partition.
pub(super) fn commit_offset(
    conn: &Connection,
    group: &str,
    log_id: i64,
    partition: i32,
    next_offset: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_offsets (grp, log_id, partition, next_offset) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (grp, log_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
    )?
    .execute(params![group, log_id, partition, next_offset])?;
    Ok(())
}
