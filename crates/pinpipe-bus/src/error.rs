//! Errors of the bus, sorted into what a caller can act on.

/// Result of a bus operation.
pub type Result<T, E = BusError> = std::result::Result<T, E>;

/// Why a bus operation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The topic does not exist (REST Proxy 40401).
    #[error("topic not found: {0}")]
    TopicNotFound(String),
    /// The stream does not exist (Kinesis `ResourceNotFoundException`).
    #[error("stream not found: {0}")]
    StreamNotFound(String),
    /// The topic exists but has no such partition (REST Proxy 40402).
    #[error("partition {partition} not found in topic {topic}")]
    PartitionNotFound { topic: String, partition: i32 },
    /// The shard does not exist in the stream.
    #[error("shard {shard} not found in stream {stream}")]
    ShardNotFound { stream: String, shard: String },
    /// Another member holds the consumer group, and the backend lets only one read it (the
    /// embedded log's lease): the caller chose not to wait for it.
    #[error(
        "consumer group {group} is held by another member ({holder}), such as a running \
         `pinpipe sink`; use another group, or stop that member"
    )]
    GroupBusy { group: String, holder: String },
    /// A topic or stream of that name already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A name that Kafka or Kinesis would refuse.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// A request the bus cannot satisfy, such as zero partitions.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The backend cannot be reached, did not answer in time, is overloaded or out of space:
    /// the same call may succeed later (REST Proxy 50302, HTTP 503).
    #[error("backend unavailable: {context}")]
    Unavailable {
        /// What could not be done, and where.
        context: String,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The embedded log's storage failed; [`BusError::is_transient`] tells whether it may pass
    /// (a full disk, a lock held too long) or not (a corrupt file).
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The backend refused for a reason a retry will not fix: authorization, an unsupported
    /// request, a setting the cluster rejects, a configuration that cannot work.
    #[error("{context}")]
    Refused {
        /// What was refused, and where.
        context: String,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// A backend's own error, kept as the source of a [`BusError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl BusError {
    /// [`BusError::Unavailable`] with no source error.
    pub fn unavailable(context: impl Into<String>) -> Self {
        BusError::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// [`BusError::Unavailable`] caused by `source`.
    pub fn unavailable_because(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BusError::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// [`BusError::Refused`] with no source error.
    pub fn refused(context: impl Into<String>) -> Self {
        BusError::Refused {
            context: context.into(),
            source: None,
        }
    }

    /// [`BusError::Refused`] caused by `source`.
    pub fn refused_because(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BusError::Refused {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// Whether the same call may succeed if made again later: the backend was unavailable, or
    /// the embedded log's storage was full, busy or failed to read or write.
    pub fn is_transient(&self) -> bool {
        match self {
            BusError::Unavailable { .. } => true,
            BusError::Storage(e) => sqlite_is_transient(e),
            _ => false,
        }
    }

    /// Whether the error comes from a full disk, anywhere in its chain of causes.
    pub fn is_disk_full(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = cause {
            if let Some(e) = error.downcast_ref::<rusqlite::Error>()
                && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            {
                return true;
            }
            if let Some(e) = error.downcast_ref::<std::io::Error>()
                && e.kind() == std::io::ErrorKind::StorageFull
            {
                return true;
            }
            cause = error.source();
        }
        false
    }
}

/// SQLite failures that may pass: a full disk or a lock held by another process (space freed,
/// lock released), an I/O error, memory.
pub(crate) fn sqlite_is_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as Code;
    matches!(
        e.sqlite_error_code(),
        Some(
            Code::DiskFull
                | Code::DatabaseBusy
                | Code::DatabaseLocked
                | Code::SystemIoFailure
                | Code::OutOfMemory
        )
    )
}

/// Why one record inside an accepted batch failed; the rest of the batch may still succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is larger than the backend accepts (Kafka `message.max.bytes`, Kinesis 1 MiB).
    #[error("record of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The record names a partition the topic does not have.
    #[error("partition {0} not found")]
    PartitionNotFound(i32),
    /// The backend did not take this record this time but may on a retry: Kinesis's per-record
    /// `ErrorCode` (`ProvisionedThroughputExceededException`, `InternalFailure`) and message.
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
}

/// `error` and its causes on one line, each once (`dispatch failure: io error: … Connection
/// refused`): the clients' own messages often leave out why a request failed.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}
