//! The single writer of the embedded bus, and its group commit.
//!
//! Producers queue operations on a channel; the writer thread takes everything queued at once,
//! applies the appends and offset commits in one transaction, commits it, and only then answers
//! each producer. Under load many requests share one disk sync; with one producer a request waits
//! for nothing but its own commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};
use tokio::sync::{Notify, oneshot};

use super::{LogKind, LogMeta, schema};
use crate::{BusError, Result};

/// Most operations folded into one transaction.
const MAX_GROUP: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T>>;

/// One record to append: partition, key, value.
pub(super) struct Entry {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// What the writer can be asked to do.
pub(super) enum WriteOp {
    /// Folded with its neighbours into one transaction.
    Grouped(GroupedOp),
    /// Run in a transaction of its own.
    Admin(AdminOp),
}

/// Appends and offset commits: the hot path, group-committed.
pub(super) enum GroupedOp {
    /// Append entries to a log; answers their offsets, in order.
    Append {
        log: LogMeta,
        entries: Vec<Entry>,
        reply: Reply<Vec<i64>>,
    },
    /// Store a consumer group's position in one partition.
    Commit {
        group: String,
        log_id: i64,
        partition: i32,
        next_offset: i64,
        reply: Reply<()>,
    },
}

/// Creating and deleting topics and streams.
pub(super) enum AdminOp {
    Create {
        kind: LogKind,
        name: String,
        partitions: i32,
        reply: Reply<()>,
    },
    Delete {
        kind: LogKind,
        name: String,
        reply: Reply<()>,
    },
}

/// Handle to the writer thread; the thread ends when the last handle is dropped.
pub(super) struct Writer {
    tx: mpsc::Sender<WriteOp>,
}

impl Writer {
    pub fn start(conn: Connection, appended: Arc<Notify>) -> Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("pinpipe-bus-writer".into())
            .spawn(move || run(conn, rx, &appended))
            .map_err(|e| BusError::Unavailable(format!("cannot start the bus writer: {e}")))?;
        Ok(Self { tx })
    }

    /// Queues an operation and waits for its answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> WriteOp) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| BusError::Unavailable("the bus writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| BusError::Unavailable("the bus writer has stopped".into()))?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<WriteOp>, appended: &Notify) {
    while let Ok(first) = rx.recv() {
        let mut group = Vec::with_capacity(16);
        let mut admin = None;
        let mut next = Some(first);
        while let Some(op) = next.take() {
            match op {
                WriteOp::Grouped(op) => group.push(op),
                WriteOp::Admin(op) => {
                    admin = Some(op);
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = rx.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_group(&mut conn, group);
            appended.notify_waiters();
        }
        if let Some(op) = admin {
            run_admin(&mut conn, op);
        }
    }
}

/// Applies the group in one transaction, then answers every operation in it: all succeed or all
/// fail together, and none is answered before the commit.
fn commit_group(conn: &mut Connection, group: Vec<GroupedOp>) {
    match apply_group(conn, &group) {
        Ok(mut offsets) => {
            for op in group.into_iter().rev() {
                match op {
                    GroupedOp::Append { reply, .. } => {
                        let _ = reply.send(Ok(offsets.pop().unwrap_or_default()));
                    }
                    GroupedOp::Commit { reply, .. } => {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, "bus commit failed; nothing in this group was stored");
            let failed = || BusError::Unavailable(format!("commit failed: {error}"));
            for op in group {
                match op {
                    GroupedOp::Append { reply, .. } => {
                        let _ = reply.send(Err(failed()));
                    }
                    GroupedOp::Commit { reply, .. } => {
                        let _ = reply.send(Err(failed()));
                    }
                }
            }
        }
    }
}

/// Writes the group; returns the offsets given to each append, in the order of the appends.
fn apply_group(conn: &mut Connection, group: &[GroupedOp]) -> Result<Vec<Vec<i64>>> {
    let now = now_ms();
    // IMMEDIATE: take the write lock first, waiting for other processes (busy timeout); a deferred
    // transaction that reads and then writes fails at once if another process wrote in between.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut appended = Vec::new();
    {
        let mut next_offsets: HashMap<(i64, i32), i64> = HashMap::new();
        let mut insert = tx.prepare_cached(
            "INSERT INTO records (log_id, partition, offset, key, value, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut commit = tx.prepare_cached(
            "INSERT INTO group_offsets (grp, log_id, partition, next_offset) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (grp, log_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
        )?;
        for op in group {
            match op {
                GroupedOp::Append { log, entries, .. } => {
                    let mut offsets = Vec::with_capacity(entries.len());
                    for entry in entries {
                        let slot = (log.id, entry.partition);
                        let offset = match next_offsets.get(&slot) {
                            Some(next) => *next,
                            None => schema::next_offset(&tx, log.id, entry.partition)?,
                        };
                        insert.execute(params![
                            log.id,
                            entry.partition,
                            offset,
                            entry.key,
                            entry.value,
                            now
                        ])?;
                        next_offsets.insert(slot, offset + 1);
                        offsets.push(offset);
                    }
                    appended.push(offsets);
                }
                GroupedOp::Commit {
                    group,
                    log_id,
                    partition,
                    next_offset,
                    ..
                } => {
                    commit.execute(params![group, log_id, partition, next_offset])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(appended)
}

fn run_admin(conn: &mut Connection, op: AdminOp) {
    match op {
        AdminOp::Create {
            kind,
            name,
            partitions,
            reply,
        } => {
            let _ = reply.send(create_log(conn, kind, &name, partitions));
        }
        AdminOp::Delete { kind, name, reply } => {
            let _ = reply.send(delete_log(conn, kind, &name));
        }
    }
}

fn create_log(conn: &Connection, kind: LogKind, name: &str, partitions: i32) -> Result<()> {
    match conn.execute(
        "INSERT INTO logs (kind, name, partitions, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![kind.as_str(), name, partitions, now_ms()],
    ) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            Err(BusError::AlreadyExists(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

fn delete_log(conn: &mut Connection, kind: LogKind, name: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let meta = schema::find_log(&tx, kind, name)?.ok_or_else(|| kind.not_found(name))?;
    tx.execute("DELETE FROM records WHERE log_id = ?1", params![meta.id])?;
    tx.execute(
        "DELETE FROM group_offsets WHERE log_id = ?1",
        params![meta.id],
    )?;
    tx.execute("DELETE FROM logs WHERE id = ?1", params![meta.id])?;
    tx.commit()?;
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
