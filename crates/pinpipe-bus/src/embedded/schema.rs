//! The SQLite schema of the embedded bus and the statements that read it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::batch;
use super::writer::Lease;
use super::{LogKind, LogMeta, SyncMode};
use crate::{BusError, ReadLimit, Result};

/// One stored record: offset, key, value, append time in ms.
pub(super) struct StoredRecord {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
}

/// The page size of a new bus database (an existing one keeps its own).
///
/// 16 KiB rather than SQLite's 4 KiB: a commit writes each page it changes to the log, then a
/// checkpoint copies it into the database, one system call or two per page each time. Under
/// `scripts/bench_gateway.sh`'s 100-record produce calls (about 170 KB each) the writer spent
/// 144 µs of CPU per call with 16 KiB pages against 190 µs with 4 KiB, and the gateway answered
/// 3,284–3,320 calls a second against 2,780–2,789; single-record calls were no slower (28.0k–29.6k
/// against 27.1k–28.5k). With 64 KiB pages the writer was no faster and the p99 rose by half.
const PAGE_SIZE: i64 = 16 * 1024;

/// Opens a connection in WAL mode with the requested sync level; waits for other processes'
/// locks rather than failing at once.
pub(super) fn connect(path: &Path, sync: SyncMode) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let level = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    Ok(conn)
}

/// The schema version this code writes (`PRAGMA user_version`).
///
/// - Version 1 numbers logs with `AUTOINCREMENT`, so a deleted log's id is never given to a new
///   one: a process still holding the old id can then never write into (or read) a re-created
///   stream or topic by mistake.
/// - Version 2 stores records in batches ([`super::batch`]): one row per partition and group
///   commit, in a rowid table (rows of kilobytes to a megabyte) with a unique index on each
///   batch's first offset. Version 1 had a row per record, in a table `records` that builds of
///   version 1 create if it is missing: a table of that name stays, refusing every insert, so
///   that such a build sharing the file fails its appends loudly instead of storing records no
///   reader of version 2 looks at.
/// - Version 3 adds the batches' `codec` ([`super::batch::encode`]): batches are stored
///   compressed when that pays; those of version 2 are read as they are (codec 0).
///
/// A database of a later version than this is refused: this build cannot know where it writes.
const SCHEMA_VERSION: i64 = 3;

/// Creates the tables if they are not there, and brings an older database to
/// [`SCHEMA_VERSION`]. Safe when several processes open the same file at once.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(BusError::refused(format!(
            "the bus database has schema version {version}, newer than this pinpipe's \
             {SCHEMA_VERSION}: open it with the newer pinpipe that wrote it"
        )));
    }
    let exists = |table: &str| -> rusqlite::Result<bool> {
        tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            params![table],
            |row| row.get(0),
        )
    };
    if version < 1 {
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
        if exists("logs")? {
            tx.execute_batch(
                "INSERT INTO logs_v1 (id, kind, name, partitions, created_ms)
                     SELECT id, kind, name, partitions, created_ms FROM logs;
                 DROP TABLE logs;",
            )?;
        }
        tx.execute_batch("ALTER TABLE logs_v1 RENAME TO logs;")?;
    }
    if version < 2 {
        tx.execute_batch(
            "CREATE TABLE batches (
                 id INTEGER PRIMARY KEY,
                 log_id INTEGER NOT NULL,
                 partition INTEGER NOT NULL,
                 base_offset INTEGER NOT NULL,
                 count INTEGER NOT NULL,
                 ts_ms INTEGER NOT NULL,
                 records BLOB NOT NULL
             );
             CREATE UNIQUE INDEX batches_position ON batches (log_id, partition, base_offset);",
        )?;
        if exists("records")? {
            batch_version_1_records(&tx)?;
            tx.execute_batch("DROP TABLE records;")?;
        }
    }
    if version < 3 {
        tx.execute_batch("ALTER TABLE batches ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;")?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS group_offsets (
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
         CREATE TRIGGER IF NOT EXISTS records_are_batches BEFORE INSERT ON records
         BEGIN
             SELECT RAISE(ABORT, 'this bus database has schema version 2 (records in batches): \
this pinpipe is too old to write to it');
         END;",
    )?;
    // Records a build of version 1 stored here before the trap above existed: no reader of
    // version 2 sees them, and they cannot join the batches (their offsets overlap). Say so.
    let stranded: i64 = tx.query_row("SELECT count(*) FROM records", [], |row| row.get(0))?;
    if stranded > 0 {
        tracing::warn!(
            records = stranded,
            "the bus database holds records an older pinpipe appended after it was upgraded to \
             schema version 2; they are not read (table `records`)"
        );
    }
    tx.commit()?;
    Ok(())
}

/// Column `index` of `row`, a blob, borrowed.
fn blob<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> rusqlite::Result<&'r [u8]> {
    row.get_ref(index)?.as_blob().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// Copies the records of a version 1 database into batches of one record each.
fn batch_version_1_records(conn: &Connection) -> Result<()> {
    let mut old = conn.prepare(
        "SELECT log_id, partition, offset, key, value, ts_ms FROM records
         ORDER BY log_id, partition, offset",
    )?;
    let mut rows = old.query([])?;
    let mut insert = conn.prepare(
        "INSERT INTO batches (log_id, partition, base_offset, count, ts_ms, records)
         VALUES (?1, ?2, ?3, 1, ?4, ?5)",
    )?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.clear();
        let key: Option<Vec<u8>> = row.get(3)?;
        batch::push(&mut records, key.as_deref(), blob(row, 4)?);
        let (log_id, partition, offset, ts_ms): (i64, i32, i64, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(5)?);
        insert.execute(params![log_id, partition, offset, ts_ms, records])?;
    }
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
            "SELECT base_offset + count FROM batches WHERE log_id = ?1 AND partition = ?2
             ORDER BY base_offset DESC LIMIT 1",
        )?
        .query_row(params![log_id, partition], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
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
    if limit.records == 0 {
        return Ok(Vec::new());
    }
    // From the batch holding `from` (the last one starting at or before it) on.
    let mut stmt = conn.prepare_cached(
        "SELECT base_offset, ts_ms, records, count, codec FROM batches
         WHERE log_id = ?1 AND partition = ?2 AND base_offset >= COALESCE(
             (SELECT base_offset FROM batches
              WHERE log_id = ?1 AND partition = ?2 AND base_offset <= ?3
              ORDER BY base_offset DESC LIMIT 1),
             ?3)
         ORDER BY base_offset",
    )?;
    let mut rows = stmt.query(params![log_id, partition, from])?;
    let mut records = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let base_offset: i64 = row.get(0)?;
        let timestamp_ms: i64 = row.get(1)?;
        let count: i64 = row.get(3)?;
        let damaged = |what: String| {
            BusError::refused(format!(
                "the bus database is damaged: the batch at offset {base_offset} of partition \
                 {partition} (log {log_id}) {what}"
            ))
        };
        let codec: i64 = row.get(4)?;
        let decoded = batch::decode(codec, blob(row, 2)?).map_err(damaged)?;
        let mut batch = batch::Records::new(&decoded);
        let mut seen = 0i64;
        for (offset, record) in (base_offset..).zip(batch.by_ref()) {
            seen += 1;
            if seen > count {
                // Checked before the record is read out: its offset belongs to the next batch.
                return Err(damaged(format!(
                    "holds more records than its row's {count}"
                )));
            }
            if offset < from {
                continue;
            }
            bytes = bytes
                .saturating_add(record.value.len())
                .saturating_add(record.key.map_or(0, <[u8]>::len));
            records.push(StoredRecord {
                offset,
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.to_vec(),
                timestamp_ms,
            });
            if records.len() >= limit.records || bytes >= limit.bytes {
                return Ok(records);
            }
        }
        if batch.damaged() {
            return Err(damaged("ends inside a record".to_owned()));
        }
        if seen < count {
            return Err(damaged(format!(
                "holds {seen} records where its row says {count}"
            )));
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
            "SELECT base_offset FROM batches WHERE log_id = ?1 AND partition = ?2 AND ts_ms >= ?3
             ORDER BY base_offset LIMIT 1",
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
