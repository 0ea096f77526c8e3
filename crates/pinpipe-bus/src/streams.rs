//! Kinesis-style streams: what the gateway's stream path puts to and the stream job follows.

use async_trait::async_trait;

use crate::{RecordError, Result};

/// A record to put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutRecord {
    /// The record's data (the bytes of a JSON document on the Kinesis proxy).
    pub data: Vec<u8>,
    /// The key whose MD5 picks the shard.
    pub partition_key: String,
    /// A 128-bit hash key that picks the shard instead of the key's MD5 (Kinesis's
    /// `ExplicitHashKey`).
    pub explicit_hash_key: Option<u128>,
}

impl PutRecord {
    /// A record placed by the MD5 of its partition key.
    pub fn new(data: Vec<u8>, partition_key: impl Into<String>) -> Self {
        Self {
            data,
            partition_key: partition_key.into(),
            explicit_hash_key: None,
        }
    }
}

/// A record read back from a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// When the record was accepted, in milliseconds since the Unix epoch.
    pub arrival_ms: i64,
}

/// Where a read of a shard starts, as Kinesis's shard iterator types say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom<'a> {
    /// The oldest record kept (`TRIM_HORIZON`).
    Oldest,
    /// The record with this sequence number (`AT_SEQUENCE_NUMBER`).
    At(&'a str),
    /// The record after this sequence number (`AFTER_SEQUENCE_NUMBER`).
    After(&'a str),
    /// The first record that arrived at or after this time, in milliseconds since the Unix epoch
    /// (`AT_TIMESTAMP`).
    Since(i64),
}

impl<'a> ReadFrom<'a> {
    /// After `position` when there is one, else from the oldest record.
    pub fn after(position: Option<&'a str>) -> Self {
        position.map_or(ReadFrom::Oldest, ReadFrom::After)
    }
}

/// How much one read returns at most: a count of records and their bytes. A read returns at least
/// one record when there is one, however large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimit {
    /// Records at most.
    pub records: usize,
    /// Bytes of record data (and keys) at most, give or take the last record.
    pub bytes: usize,
}

impl ReadLimit {
    /// At most `records` records, of any size.
    pub fn records(records: usize) -> Self {
        Self {
            records,
            bytes: usize::MAX,
        }
    }
}

/// A shard of a stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShardInfo {
    pub shard_id: String,
    /// Inclusive MD5 hash-key range, as decimal strings like Kinesis's `HashKeyRange`.
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    /// Records in the shard so far, where the backend knows (the embedded log does; Kinesis
    /// does not say).
    pub records: Option<i64>,
    /// The sequence number of the shard's first record (Kinesis's `StartingSequenceNumber`).
    pub starting_sequence_number: String,
    /// The sequence number the shard's next record will get, where the backend knows (the
    /// embedded log does): reading at it returns only records put from now on.
    pub next_sequence_number: Option<String>,
}

/// A stream and its shards.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StreamInfo {
    pub name: String,
    /// Which life of the stream this is: different after the stream is deleted and created again
    /// (the embedded log's id for it, Kinesis's creation time), so that a reader can tell a
    /// re-created stream's shards, numbered from the start again, from the old ones.
    pub incarnation: String,
    /// When the stream was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub shards: Vec<ShardInfo>,
}

/// The result of putting one record: where it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub shard_id: String,
    pub sequence_number: String,
}

/// Kinesis-style streams: shards by MD5 of the partition key, sequence numbers.
#[async_trait]
pub trait Streams: Send + Sync {
    /// Every stream name.
    async fn list_streams(&self) -> Result<Vec<String>>;
    /// Creates a stream; [`crate::BusError::AlreadyExists`] if it exists.
    async fn create_stream(&self, name: &str, shards: u32) -> Result<()>;
    /// Deletes a stream and its records.
    async fn delete_stream(&self, name: &str) -> Result<()>;
    /// One stream with its shards.
    async fn describe_stream(&self, name: &str) -> Result<StreamInfo>;
    /// Appends records, returning once they are durable; one result per record, in order.
    async fn put_records(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<Result<PutResult, RecordError>>>;
    /// Records of one shard from `from`, within `limit`, in sequence order.
    async fn read_shard(
        &self,
        stream: &str,
        shard_id: &str,
        from: ReadFrom<'_>,
        limit: ReadLimit,
    ) -> Result<Vec<StreamRecord>>;
}
