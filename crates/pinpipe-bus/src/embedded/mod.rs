//! The embedded bus: topics and streams in one SQLite database in WAL mode.
//!
//! Every append goes through one writer thread ([`writer`]) that group-commits whatever
//! producers have queued, so a record is acknowledged only after the transaction holding it is
//! committed (and, with [`SyncMode::Full`], synced to disk). Reads use their own connection and
//! never block the writer. Several processes may open the same database: the gateway appends,
//! the sink reads and commits group offsets.

mod batch;
mod consumer;
mod schema;
mod streams;
mod topics;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Notify;

use crate::{BusError, ReadLimit, Result};
pub use streams::{sequence_offset, shard_sequence_number};
use writer::{AdminOp, Appended, Entry, GroupedOp, WriteOp, Writer};

/// How hard a commit presses data to disk before the bus acknowledges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Sync the write-ahead log on every commit: acknowledged records survive a power cut.
    #[default]
    Full,
    /// Sync at checkpoints only: acknowledged records survive a crash of the process, not of the
    /// machine. Faster on slow disks.
    Normal,
}

/// Settings of the embedded bus.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    pub sync: SyncMode,
    /// Largest record accepted, key and value together (Kafka's `message.max.bytes`, Kinesis's
    /// 1 MiB).
    pub max_record_bytes: usize,
    /// How often a waiting consumer looks for records appended by another process.
    pub poll_interval: Duration,
    /// How long a consumer group stays with a member that stopped without leaving (killed, or its
    /// machine lost) before another member takes it over: the lease on the group, renewed every
    /// third of it. The embedded log's `session.timeout.ms`.
    pub session_timeout: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            sync: SyncMode::Full,
            max_record_bytes: 1024 * 1024,
            poll_interval: Duration::from_millis(100),
            session_timeout: Duration::from_secs(15),
        }
    }
}

/// Which of the two shapes of log a name belongs to; topics and streams have separate names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LogKind {
    Topic,
    Stream,
}

impl LogKind {
    fn as_str(self) -> &'static str {
        match self {
            LogKind::Topic => "topic",
            LogKind::Stream => "stream",
        }
    }

    fn not_found(self, name: &str) -> BusError {
        match self {
            LogKind::Topic => BusError::TopicNotFound(name.to_owned()),
            LogKind::Stream => BusError::StreamNotFound(name.to_owned()),
        }
    }
}

/// Most partitions (shards) a log may have, whatever a caller allows: a bound on what one
/// request can make every reader allocate.
pub const MAX_PARTITIONS: i32 = 10_000;

/// A topic or stream as stored: its row id (never reused) and how many partitions (shards) it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LogMeta {
    id: i64,
    partitions: i32,
    created_ms: i64,
}

/// Topics and streams stored in one SQLite file. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    options: EmbeddedOptions,
    writer: Writer,
    reader: Mutex<Connection>,
    meta: RwLock<HashMap<(LogKind, String), LogMeta>>,
    appended: Arc<Notify>,
}

impl EmbeddedBus {
    /// Opens (creating if needed) the bus database at `path`.
    pub fn open(path: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                BusError::unavailable_because(format!("cannot create {}", parent.display()), e)
            })?;
        }
        let mut conn = schema::connect(&path, options.sync)?;
        schema::migrate(&mut conn)?;
        let appended = Arc::new(Notify::new());
        let writer = Writer::start(conn, Arc::clone(&appended))?;
        let reader = schema::connect(&path, options.sync)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                options,
                writer,
                reader: Mutex::new(reader),
                meta: RwLock::new(HashMap::new()),
                appended,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The largest record accepted, key and value together: the configured limit, within what
    /// the batch format can hold.
    fn max_record_bytes(&self) -> usize {
        self.inner
            .options
            .max_record_bytes
            .min(batch::MAX_RECORD_BYTES)
    }

    /// Runs `f` on the read connection off the async runtime.
    async fn with_reader<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .reader
                .lock()
                .map_err(|_| BusError::unavailable("the bus reader is poisoned"))?;
            f(&conn)
        })
        .await
        .map_err(|e| BusError::unavailable_because("the bus reader task failed", e))?
    }

    /// Looks a log up, from the cache or the database: for appends, which the writer checks
    /// against the database anyway (see [`EmbeddedBus::append`]).
    async fn meta(&self, kind: LogKind, name: &str) -> Result<LogMeta> {
        match self.cached_meta(&(kind, name.to_owned())) {
            Some(meta) => Ok(meta),
            None => self.fresh_meta(kind, name).await,
        }
    }

    /// Looks a log up in the database (another process may have deleted or re-created it), and
    /// caches the answer.
    async fn fresh_meta(&self, kind: LogKind, name: &str) -> Result<LogMeta> {
        let key = (kind, name.to_owned());
        let owned = name.to_owned();
        let found = self
            .with_reader(move |conn| schema::find_log(conn, kind, &owned))
            .await?;
        let Some(meta) = found else {
            self.forget_meta(kind, name);
            return Err(kind.not_found(name));
        };
        if let Ok(mut cache) = self.inner.meta.write() {
            cache.insert(key, meta);
        }
        Ok(meta)
    }

    fn cached_meta(&self, key: &(LogKind, String)) -> Option<LogMeta> {
        self.inner.meta.read().ok()?.get(key).copied()
    }

    fn forget_meta(&self, kind: LogKind, name: &str) {
        if let Ok(mut cache) = self.inner.meta.write() {
            cache.remove(&(kind, name.to_owned()));
        }
    }

    async fn list_logs(&self, kind: LogKind) -> Result<Vec<(String, LogMeta)>> {
        self.with_reader(move |conn| schema::list_logs(conn, kind))
            .await
    }

    async fn create_log(&self, kind: LogKind, name: &str, partitions: i32) -> Result<()> {
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(BusError::InvalidRequest(format!(
                "{name} needs 1 to {MAX_PARTITIONS} partitions, got {partitions}"
            )));
        }
        let name = name.to_owned();
        self.inner
            .writer
            .call(|reply| {
                WriteOp::Admin(AdminOp::Create {
                    kind,
                    name,
                    partitions,
                    reply,
                })
            })
            .await
    }

    /// High watermarks of every partition of a log.
    async fn high_watermarks(&self, meta: LogMeta) -> Result<Vec<i64>> {
        self.with_reader(move |conn| schema::high_watermarks(conn, meta))
            .await
    }

    /// Records of one partition from `offset` on, within `limit`.
    async fn read_partition(
        &self,
        meta: LogMeta,
        partition: i32,
        offset: i64,
        limit: ReadLimit,
    ) -> Result<Vec<schema::StoredRecord>> {
        self.with_reader(move |conn| schema::read(conn, meta.id, partition, offset, limit))
            .await
    }

    /// Appends entries to the log `name`, answering once they are durable with their offsets.
    ///
    /// The writer checks in the same transaction that the log still exists, so a record is never
    /// acknowledged into a log that was deleted meanwhile (by this process or another). If it was,
    /// the log is looked up again: when it was re-created with as many partitions, the entries go
    /// to the new log; otherwise the log is not found.
    async fn append(
        &self,
        kind: LogKind,
        name: &str,
        log: LogMeta,
        entries: Vec<Entry>,
    ) -> Result<Vec<i64>> {
        let entries = match self.append_to(log, entries).await? {
            Appended::Offsets(offsets) => return Ok(offsets),
            Appended::Gone(entries) => entries,
        };
        let fresh = self.fresh_meta(kind, name).await?;
        if fresh.partitions != log.partitions {
            self.forget_meta(kind, name);
            return Err(kind.not_found(name));
        }
        match self.append_to(fresh, entries).await? {
            Appended::Offsets(offsets) => Ok(offsets),
            Appended::Gone(_) => {
                self.forget_meta(kind, name);
                Err(kind.not_found(name))
            }
        }
    }

    async fn append_to(&self, log: LogMeta, entries: Vec<Entry>) -> Result<Appended> {
        self.inner
            .writer
            .call(|reply| {
                WriteOp::Grouped(GroupedOp::Append {
                    log,
                    entries,
                    reply,
                })
            })
            .await
    }

    async fn committed_offset(
        &self,
        group: &str,
        meta: LogMeta,
        partition: i32,
    ) -> Result<Option<i64>> {
        let group = group.to_owned();
        self.with_reader(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT next_offset FROM group_offsets WHERE grp = ?1 AND log_id = ?2 AND partition = ?3",
                    rusqlite::params![group, meta.id, partition],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }
}
