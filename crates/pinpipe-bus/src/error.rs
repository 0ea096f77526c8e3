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
    /// A topic or stream of that name already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A name that Kafka or Kinesis would refuse.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// A request the bus cannot satisfy, such as zero partitions.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The backend cannot be reached or has shut down (REST Proxy 50302).
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The embedded log's storage failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Kafka refused a request for a reason other than the ones above (authorization, an
    /// unsupported request, a setting the cluster rejects).
    #[error("Kafka error: {0}")]
    Kafka(String),
    /// Kinesis refused a request for a reason other than the ones above (access denied, a KMS
    /// key it cannot use, an error code the bus does not know); retrying will not help.
    #[error("Kinesis error: {0}")]
    Kinesis(String),
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
