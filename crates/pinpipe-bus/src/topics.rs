//! Kafka-style topics: what the gateway's batch path produces to and the sink consumes from.

use std::time::Duration;

use async_trait::async_trait;

use crate::{ReadLimit, RecordError, Result};

/// A record to produce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    /// Optional key; keyed records without a partition go where Kafka's partitioner puts them.
    pub key: Option<Vec<u8>>,
    /// The value, the bytes of a JSON document for the REST Proxy's JSON format.
    pub value: Vec<u8>,
    /// An explicit partition, or `None` to let the partitioner choose.
    pub partition: Option<i32>,
}

/// Where a produced record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Produced {
    pub partition: i32,
    pub offset: i64,
}

/// A record read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// When the record was appended, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// A partition and the offset its next record will get (Kafka's high watermark).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartitionInfo {
    pub partition: i32,
    pub high_watermark: i64,
}

/// A topic and its partitions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

/// Kafka-style topics: partitions, integer offsets, consumer groups.
#[async_trait]
pub trait Topics: Send + Sync {
    /// Every topic, by name.
    async fn list_topics(&self) -> Result<Vec<TopicInfo>>;
    /// Creates a topic; [`crate::BusError::AlreadyExists`] if it exists.
    async fn create_topic(&self, name: &str, partitions: i32) -> Result<()>;
    /// One topic with its partitions' high watermarks.
    async fn describe_topic(&self, name: &str) -> Result<TopicInfo>;
    /// Appends records, returning once they are durable. One result per record, in order: a
    /// record can fail alone (too large, unknown partition) while the rest are written.
    async fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
    ) -> Result<Vec<Result<Produced, RecordError>>>;
    /// Up to `max` records of one partition from `offset` on.
    async fn read(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>>;
    /// A consumer in `group` for `topics`, starting from the group's committed offsets (or the
    /// earliest record where none is committed).
    async fn consumer(&self, group: &str, topics: &[String]) -> Result<Box<dyn TopicConsumer>>;
    /// A consumer in `group` like [`Topics::consumer`], but one that never waits for another
    /// member to leave: where the backend lets one member hold a group (the embedded log's
    /// lease), a group held by someone else fails at once with [`crate::BusError::GroupBusy`].
    /// On Kafka, members share a group's partitions, so this is [`Topics::consumer`].
    async fn consumer_now(&self, group: &str, topics: &[String]) -> Result<Box<dyn TopicConsumer>> {
        self.consumer(group, topics).await
    }
}

/// A consumer-group member: reads its partitions and commits how far it has safely got.
#[async_trait]
pub trait TopicConsumer: Send {
    /// The next records of any assigned partition, within `limit`, waiting up to `timeout` when
    /// none are there. An empty result means nothing arrived in time.
    async fn poll(&mut self, limit: ReadLimit, timeout: Duration) -> Result<Vec<ConsumedRecord>>;
    /// Whether this member still owns the partition: it may have been given to another member
    /// (a Kafka rebalance, an embedded lease taken over). Asked before writing what was read
    /// from it.
    async fn still_owns(&mut self, topic: &str, partition: i32) -> Result<bool>;
    /// Records that the group has everything before `next_offset` of this partition; fails if
    /// this member no longer owns it.
    async fn commit(&mut self, topic: &str, partition: i32, next_offset: i64) -> Result<()>;
    /// Leaves the group, so that another member takes over at once.
    async fn close(&mut self) -> Result<()> {
        Ok(())
    }
    /// The partitions this member reads now, as `(topic, partition)`.
    async fn assignment(&mut self) -> Result<Vec<(String, i32)>>;
    /// Moves this member's position in a partition it reads: the next poll reads it from
    /// `offset`.
    async fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<()>;
    /// The group's committed position in a partition (the next offset to read), `None` when the
    /// group has committed none there.
    async fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>>;
}
