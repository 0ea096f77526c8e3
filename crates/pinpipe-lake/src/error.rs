//! [`LakeError`]: everything that can go wrong in the lake, grouped by what a caller can do about it.

use deltalake::DeltaTableError;
use deltalake::arrow::error::ArrowError;
use deltalake::datafusion::error::DataFusionError;
use deltalake::kernel::transaction::TransactionError;
use pinpipe_bus::BusError;

/// The result type of this crate.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// An error of the lake. Each variant is one category a caller can act on:
///
/// | variant | what to do |
/// |---|---|
/// | [`Location`](LakeError::Location) | fix the configuration (lake location, bucket, credentials) |
/// | [`Unavailable`](LakeError::Unavailable) | the lake's storage does not answer: retry later |
/// | [`InvalidOptions`](LakeError::InvalidOptions) | fix the job's options (topic prefix, tables folder) |
/// | [`TableMissing`](LakeError::TableMissing) | run the batch (or stream) job first |
/// | [`Storage`](LakeError::Storage), [`Io`](LakeError::Io) | check the disk or object store; retrying may help, not if access was refused |
/// | [`Delta`](LakeError::Delta) | a Delta read or commit failed (e.g. a concurrent writer); retrying may help |
/// | [`Bus`](LakeError::Bus) | the stream job could not read the bus; retrying may help if it is unavailable |
/// | [`Query`](LakeError::Query) | fix the SQL (ad-hoc query), or report a bug (analyses) |
/// | [`Corrupt`](LakeError::Corrupt) | a pinpipe bookkeeping object is unreadable: inspect or delete it |
/// | [`Internal`](LakeError::Internal), [`Task`](LakeError::Task) | a bug: report it |
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The lake location or its storage options cannot be used.
    #[error("lake location {location:?}: {reason}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The lake's storage does not answer (an object store endpoint that cannot be reached).
    #[error("lake location {location:?} cannot be reached: {reason}")]
    Unavailable {
        /// The location as given.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// The options of a job cannot be used.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A Delta table that the operation reads does not exist yet.
    #[error(
        "Delta table {path:?} does not exist in the lake yet (run {} first)",
        if path.starts_with("stream/") { "the stream job" } else { "the batch job" }
    )]
    TableMissing {
        /// The table's path inside the lake, e.g. `tables/pin`.
        path: String,
    },
    /// Reading or writing an object failed.
    #[error("object store: {0}")]
    Storage(#[from] object_store::Error),
    /// A local file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading, creating or committing to a Delta table failed.
    #[error("Delta table: {0}")]
    Delta(#[from] DeltaTableError),
    /// A Delta table could not be loaded (its log unreadable, say): names the table.
    #[error("Delta table {path:?} cannot be read: {source}")]
    TableUnreadable {
        /// The table's path inside the lake, e.g. `tables/pin`.
        path: String,
        /// Why (boxed: delta-rs's errors are large, and every result of the lake carries this).
        source: Box<DeltaTableError>,
    },
    /// Reading the message bus failed (the stream job).
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// Planning or running a query failed.
    #[error("query: {0}")]
    Query(#[from] DataFusionError),
    /// An object pinpipe keeps for itself (e.g. the batch manifest) cannot be read.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The object's path inside the lake.
        path: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A bug: an invariant of this crate did not hold.
    #[error("internal error: {0}")]
    Internal(String),
    /// A bug: a task doing part of the work panicked (or was cancelled); its panic is the source.
    #[error("internal error: a worker task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<ArrowError> for LakeError {
    fn from(e: ArrowError) -> Self {
        LakeError::Internal(format!("arrow: {e}"))
    }
}

impl From<deltalake::parquet::errors::ParquetError> for LakeError {
    fn from(e: deltalake::parquet::errors::ParquetError) -> Self {
        LakeError::Internal(format!("parquet: {e}"))
    }
}

impl LakeError {
    /// Whether the same call may succeed if tried again unchanged: storage hiccups and outages,
    /// Delta commit conflicts with a concurrent writer. Not when the object store refused access
    /// or the request cannot work (bad path, unsupported operation, bad configuration), nor when
    /// the disk is full: that waits for someone to free space, not for a few retries.
    pub fn is_retryable(&self) -> bool {
        if self.is_disk_full() {
            return false;
        }
        match self {
            LakeError::Storage(e)
            | LakeError::Delta(DeltaTableError::ObjectStore { source: e }) => is_transient(e),
            LakeError::TableUnreadable { source, .. } => match source.as_ref() {
                DeltaTableError::ObjectStore { source: e } => is_transient(e),
                _ => true,
            },
            LakeError::Query(e) => match e.find_root() {
                DataFusionError::ObjectStore(e) => is_transient(e),
                DataFusionError::IoError(_) => true,
                _ => false,
            },
            LakeError::Unavailable { .. } | LakeError::Io { .. } | LakeError::Delta(_) => true,
            LakeError::Bus(e) => e.is_transient(),
            LakeError::Location { .. }
            | LakeError::InvalidOptions(_)
            | LakeError::TableMissing { .. }
            | LakeError::Corrupt { .. }
            | LakeError::Internal(_)
            | LakeError::Task(_) => false,
        }
    }

    /// Whether the lake's disk (or the bus's) is full, anywhere in the error's causes: the job
    /// stopped with nothing lost, and runs again once space is freed.
    pub fn is_disk_full(&self) -> bool {
        match self {
            LakeError::Bus(e) => e.is_disk_full(),
            other => is_disk_full(other),
        }
    }

    /// Whether a Delta commit failed because another writer committed to the table first: the
    /// table has to be reloaded, and the write planned again on the new version.
    pub fn is_commit_conflict(&self) -> bool {
        matches!(
            self,
            LakeError::Delta(
                DeltaTableError::VersionAlreadyExists(_)
                    | DeltaTableError::Transaction {
                        source: TransactionError::CommitConflict(_)
                            | TransactionError::MaxCommitAttempts(_)
                            | TransactionError::VersionAlreadyExists(_),
                    }
            )
        )
    }
}

/// Whether `error` comes from a full disk, anywhere in its chain of causes.
pub(crate) fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Whether an object store error may go away by itself: not refused access, nor a request that
/// cannot work whatever the store's state.
pub(crate) fn is_transient(error: &object_store::Error) -> bool {
    !matches!(
        error,
        object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::InvalidPath { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::UnknownConfigurationKey { .. }
    )
}
