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
}

/// A stream and its shards.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StreamInfo {
    pub name: String,
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
    /// Up to `max` records of one shard after `after` (a sequence number), or from the start.
    async fn read_shard(
        &self,
        stream: &str,
        shard_id: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<StreamRecord>>;
}
