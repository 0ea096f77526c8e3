//! The single writer of the embedded bus, and its group commit.
//!
//! Producers queue operations on a channel; the writer thread takes everything queued at once,
//! applies the appends and offset commits in one transaction, commits it, and only then answers
//! each producer. Under load many requests share one disk sync; with one producer a request waits
//! for nothing but its own commit. What a group appends to a partition is stored as one record
//! batch ([`super::batch`]).

use std::collections::{HashMap, hash_map};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};
use tokio::sync::{Notify, oneshot};

use super::{LogKind, LogMeta, batch, schema};
use crate::{BusError, Result};

/// Most operations folded into one transaction.
const MAX_GROUP: usize = 4096;

/// Log size after which a commit copies the log into the database (see [`Writer::start`]).
const AUTOCHECKPOINT_BYTES: i64 = 1024 * 1024;

/// The size the log file is cut back to when it starts over: one large group (a few 1 MiB
/// records each in 100-record calls) grows it past the checkpoint interval, and SQLite keeps a
/// log file at its largest unless told.
const LOG_SIZE_LIMIT_BYTES: i64 = 4 * AUTOCHECKPOINT_BYTES;

/// Batch buffers the writer keeps between commits (see [`Appends`]).
const SPARE_BUFFERS: usize = 4;

/// The largest batch buffer kept: at most 16 MiB held in all.
const SPARE_BUFFER_BYTES: usize = 4 * batch::MAX_BATCH_BYTES;

type Reply<T> = oneshot::Sender<Result<T>>;

/// One record to append: partition, key, value.
pub(super) struct Entry {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// The answer to an append.
pub(super) enum Appended {
    /// The offsets given to the entries, in order.
    Offsets(Vec<i64>),
    /// The log was deleted (perhaps by another process); the entries were not written.
    Gone(Vec<Entry>),
}

/// What the writer can be asked to do.
pub(super) enum WriteOp {
    /// Folded with its neighbours into one transaction.
    Grouped(GroupedOp),
    /// Run in a transaction of its own.
    Admin(AdminOp),
}

/// Appends, offset commits and leases: the hot path, group-committed.
pub(super) enum GroupedOp {
    /// Append entries to a log; answers their offsets, in order, or gives the entries back if
    /// the log no longer exists (nothing is written then).
    Append {
        log: LogMeta,
        entries: Vec<Entry>,
        reply: Reply<Appended>,
    },
    /// Store a consumer group's position in one partition, if `owner` holds the group's lease;
    /// answers whether it was stored.
    Commit {
        group: String,
        owner: String,
        log_id: i64,
        partition: i32,
        next_offset: i64,
        reply: Reply<bool>,
    },
    /// Take or renew the lease of a consumer group for `ttl_ms` (release it with 0), if it is
    /// free, expired or already `owner`'s; answers who holds it then.
    Lease {
        group: String,
        owner: String,
        ttl_ms: i64,
        reply: Reply<Lease>,
    },
}

/// Who holds a consumer group's lease, and until when (milliseconds since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Lease {
    pub holder: String,
    pub expires_ms: i64,
}

/// What one grouped operation did.
enum Done {
    Appended(Option<Vec<i64>>),
    Committed(bool),
    Leased(Lease),
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

/// Handle to the writer thread. Dropping it closes the queue and waits for the thread to end,
/// its connection closed.
pub(super) struct Writer {
    tx: mpsc::Sender<WriteOp>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// The writer's connection is closed before the bus's reader connection (dropped after the
    /// writer): SQLite can deadlock when two connections of one process to the same WAL database
    /// close at the same moment (seen at exit, this thread in `sqlite3WalClose` and the reader in
    /// `unixClose`, each waiting on the other's mutex).
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    pub fn start(conn: Connection, appended: Arc<Notify>) -> Result<Self> {
        // Checkpoint every 1 MiB of log rather than SQLite's 1,000 pages: a checkpoint runs
        // inside the commit that crosses it, and smaller ones hold that commit up less.
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            (AUTOCHECKPOINT_BYTES / page_size.max(512)).max(1),
        )?;
        conn.pragma_update(None, "journal_size_limit", LOG_SIZE_LIMIT_BYTES)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pinpipe-bus-writer".into())
            .spawn(move || run(conn, rx, &appended))
            .map_err(|e| BusError::unavailable_because("cannot start the bus writer", e))?;
        Ok(Self {
            tx,
            thread: Some(thread),
        })
    }

    /// Queues an operation and waits for its answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> WriteOp) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| BusError::unavailable("the bus writer has stopped"))?;
        answer
            .await
            .map_err(|_| BusError::unavailable("the bus writer has stopped"))?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<WriteOp>, appended: &Notify) {
    let mut spare = Vec::new();
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
            commit_group(&mut conn, group, &mut spare);
            appended.notify_waiters();
        }
        if let Some(op) = admin {
            run_admin(&mut conn, op);
        }
    }
}

/// Applies the group in one transaction, then answers every operation in it: all succeed or all
/// fail together, and none is answered before the commit.
fn commit_group(conn: &mut Connection, group: Vec<GroupedOp>, spare: &mut Vec<Vec<u8>>) {
    match apply_group(conn, &group, spare) {
        Ok(done) => {
            for (op, done) in group.into_iter().zip(done) {
                match (op, done) {
                    (GroupedOp::Append { reply, entries, .. }, Done::Appended(offsets)) => {
                        let appended = match offsets {
                            Some(offsets) => Appended::Offsets(offsets),
                            None => Appended::Gone(entries),
                        };
                        let _ = reply.send(Ok(appended));
                    }
                    (GroupedOp::Commit { reply, .. }, Done::Committed(stored)) => {
                        let _ = reply.send(Ok(stored));
                    }
                    (GroupedOp::Lease { reply, .. }, Done::Leased(lease)) => {
                        let _ = reply.send(Ok(lease));
                    }
                    // `apply_group` answers each operation with its own kind, in order.
                    _ => {}
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, "bus commit failed; nothing in this group was stored");
            let shared = SharedError(Arc::new(error));
            for op in group {
                let failed = shared.to_bus_error();
                match op {
                    GroupedOp::Append { reply, .. } => {
                        let _ = reply.send(Err(failed));
                    }
                    GroupedOp::Commit { reply, .. } => {
                        let _ = reply.send(Err(failed));
                    }
                    GroupedOp::Lease { reply, .. } => {
                        let _ = reply.send(Err(failed));
                    }
                }
            }
        }
    }
}

/// Writes the group, its batches built in `spare` buffers; returns what each operation did, in
/// order.
fn apply_group(
    conn: &mut Connection,
    group: &[GroupedOp],
    spare: &mut Vec<Vec<u8>>,
) -> Result<Vec<Done>> {
    let now = now_ms();
    // IMMEDIATE: take the write lock first, waiting for other processes (busy timeout); a deferred
    // transaction that reads and then writes fails at once if another process wrote in between.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut done = Vec::with_capacity(group.len());
    let mut appends = Appends {
        open: HashMap::new(),
        spare,
    };
    {
        let mut exists: HashMap<i64, bool> = HashMap::new();
        for op in group {
            match op {
                GroupedOp::Append { log, entries, .. } => {
                    let live = match exists.get(&log.id) {
                        Some(live) => *live,
                        None => {
                            let live = schema::log_exists(&tx, log.id)?;
                            exists.insert(log.id, live);
                            live
                        }
                    };
                    if !live {
                        done.push(Done::Appended(None));
                        continue;
                    }
                    let offsets = entries
                        .iter()
                        .map(|entry| appends.add(&tx, log.id, entry, now))
                        .collect::<Result<_>>()?;
                    done.push(Done::Appended(Some(offsets)));
                }
                GroupedOp::Commit {
                    group,
                    owner,
                    log_id,
                    partition,
                    next_offset,
                    ..
                } => {
                    // Still the holder, even if the lease ran out while no one else took it
                    // (a long write): the commit renews it.
                    let held = schema::lease(&tx, group)?.is_some_and(|l| l.holder == *owner);
                    if held {
                        schema::commit_offset(&tx, group, *log_id, *partition, *next_offset)?;
                    }
                    done.push(Done::Committed(held));
                }
                GroupedOp::Lease {
                    group,
                    owner,
                    ttl_ms,
                    ..
                } => {
                    let current = schema::lease(&tx, group)?;
                    let free = current
                        .as_ref()
                        .is_none_or(|lease| lease.holder == *owner || lease.expires_ms <= now);
                    let lease = if free {
                        let lease = Lease {
                            holder: owner.clone(),
                            expires_ms: now + ttl_ms,
                        };
                        schema::set_lease(&tx, group, &lease)?;
                        lease
                    } else {
                        current.unwrap_or(Lease {
                            holder: String::new(),
                            expires_ms: 0,
                        })
                    };
                    done.push(Done::Leased(lease));
                }
            }
        }
    }
    appends.finish(&tx, now)?;
    tx.commit()?;
    Ok(done)
}

/// The records a group appends, gathered into one batch per partition.
///
/// The batches' buffers are kept from one commit to the next ([`SPARE_BUFFERS`] of them): under
/// 100-record produce calls a batch is about 2 MB, and growing a new one every commit copied it
/// again as it grew.
struct Appends<'a> {
    open: HashMap<(i64, i32), OpenBatch>,
    spare: &'a mut Vec<Vec<u8>>,
}

/// The batch being gathered for one partition.
struct OpenBatch {
    /// The offset of its first record.
    base_offset: i64,
    /// How many records it has.
    count: i64,
    /// Its records, as stored ([`batch::push`]).
    records: Vec<u8>,
}

impl Appends<'_> {
    /// Adds `entry` to its partition's batch; answers the record's offset.
    fn add(&mut self, tx: &Connection, log_id: i64, entry: &Entry, now: i64) -> Result<i64> {
        let open = match self.open.entry((log_id, entry.partition)) {
            hash_map::Entry::Occupied(open) => open.into_mut(),
            hash_map::Entry::Vacant(vacant) => vacant.insert(OpenBatch {
                base_offset: schema::next_offset(tx, log_id, entry.partition)?,
                count: 0,
                records: self.spare.pop().unwrap_or_default(),
            }),
        };
        if open.records.len() >= batch::MAX_BATCH_BYTES {
            store(tx, log_id, entry.partition, open, now)?;
        }
        batch::push(&mut open.records, entry.key.as_deref(), &entry.value);
        open.count += 1;
        Ok(open.base_offset + open.count - 1)
    }

    /// Stores every batch still open, and keeps their buffers for the next commit.
    fn finish(self, tx: &Connection, now: i64) -> Result<()> {
        for ((log_id, partition), mut open) in self.open {
            store(tx, log_id, partition, &mut open, now)?;
            if self.spare.len() < SPARE_BUFFERS && open.records.capacity() <= SPARE_BUFFER_BYTES {
                self.spare.push(open.records);
            }
        }
        Ok(())
    }
}

/// Stores the open batch of a partition, and opens the next one after it.
fn store(
    tx: &Connection,
    log_id: i64,
    partition: i32,
    open: &mut OpenBatch,
    now: i64,
) -> Result<()> {
    if open.count == 0 {
        return Ok(());
    }
    let (codec, stored) = batch::encode(&open.records);
    tx.prepare_cached(
        "INSERT INTO batches (log_id, partition, base_offset, count, ts_ms, records, codec)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        log_id,
        partition,
        open.base_offset,
        open.count,
        now,
        stored.as_ref(),
        codec
    ])?;
    open.base_offset += open.count;
    open.count = 0;
    open.records.clear();
    Ok(())
}

/// The error of a failed group commit, shared by every operation of the group.
#[derive(Clone, Debug)]
struct SharedError(Arc<BusError>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.0.as_ref())
    }
}

impl SharedError {
    /// The error one operation of the group is answered with: unavailable when the storage
    /// failure may pass (a full disk), refused otherwise; the storage error is its source.
    fn to_bus_error(&self) -> BusError {
        let context = "the bus could not store the records";
        if self.0.is_transient() {
            BusError::unavailable_because(context, self.clone())
        } else {
            BusError::refused_because(context, self.clone())
        }
    }
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
    tx.execute("DELETE FROM batches WHERE log_id = ?1", params![meta.id])?;
    tx.execute(
        "DELETE FROM group_offsets WHERE log_id = ?1",
        params![meta.id],
    )?;
    tx.execute("DELETE FROM logs WHERE id = ?1", params![meta.id])?;
    tx.commit()?;
    Ok(())
}

/// Milliseconds since the Unix epoch, as leases and appends are timed.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
