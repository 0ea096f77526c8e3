//! [`Topics`] on the embedded log.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::writer::{Entry, GroupedOp, Lease, WriteOp};
use super::{EmbeddedBus, LogKind};
use crate::{
    BusError, ConsumedRecord, PartitionInfo, ProduceRecord, Produced, ReadLimit, RecordError,
    Result, TopicConsumer, TopicInfo, Topics, kafka_partition_for_key, validate_topic_name,
};

/// Spreads unkeyed records without a partition over the partitions, round robin.
static ROUND_ROBIN: AtomicU32 = AtomicU32::new(0);

#[async_trait]
impl Topics for EmbeddedBus {
    async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let mut topics = Vec::new();
        for (name, meta) in self.list_logs(LogKind::Topic).await? {
            let partitions = partition_infos(self.high_watermarks(meta).await?);
            topics.push(TopicInfo { name, partitions });
        }
        Ok(topics)
    }

    async fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        validate_topic_name(name)?;
        self.create_log(LogKind::Topic, name, partitions).await
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicInfo> {
        let meta = self.fresh_meta(LogKind::Topic, name).await?;
        Ok(TopicInfo {
            name: name.to_owned(),
            partitions: partition_infos(self.high_watermarks(meta).await?),
        })
    }

    async fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
    ) -> Result<Vec<Result<Produced, RecordError>>> {
        let meta = self.meta(LogKind::Topic, topic).await?;
        let limit = self.max_record_bytes();
        let mut outcome: Vec<Result<Produced, RecordError>> = Vec::with_capacity(records.len());
        let mut entries = Vec::with_capacity(records.len());
        for record in records {
            let partition = match record.partition {
                Some(p) => p,
                None => match &record.key {
                    Some(key) => kafka_partition_for_key(key, meta.partitions),
                    None => next_round_robin(meta.partitions),
                },
            };
            // Like Kafka's `message.max.bytes`, the limit counts the key too.
            let size = record.value.len() + record.key.as_ref().map_or(0, Vec::len);
            if !(0..meta.partitions).contains(&partition) {
                outcome.push(Err(RecordError::PartitionNotFound(partition)));
            } else if size > limit {
                outcome.push(Err(RecordError::TooLarge { size, limit }));
            } else {
                outcome.push(Ok(Produced {
                    partition,
                    offset: -1,
                }));
                entries.push(Entry {
                    partition,
                    key: record.key,
                    value: record.value,
                });
            }
        }
        if entries.is_empty() {
            return Ok(outcome);
        }
        let mut offsets = self
            .append(LogKind::Topic, topic, meta, entries)
            .await?
            .into_iter();
        for produced in outcome.iter_mut().flatten() {
            produced.offset = offsets.next().unwrap_or(-1);
        }
        Ok(outcome)
    }

    async fn read(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>> {
        self.read_limited(topic, partition, offset, ReadLimit::records(max))
            .await
    }

    async fn consumer(&self, group: &str, topics: &[String]) -> Result<Box<dyn TopicConsumer>> {
        let consumer =
            super::consumer::EmbeddedConsumer::new(self.clone(), group, topics, true).await?;
        Ok(Box::new(consumer))
    }

    async fn consumer_now(&self, group: &str, topics: &[String]) -> Result<Box<dyn TopicConsumer>> {
        let consumer =
            super::consumer::EmbeddedConsumer::new(self.clone(), group, topics, false).await?;
        Ok(Box::new(consumer))
    }
}

impl EmbeddedBus {
    /// Records of one topic partition from `offset` on, within `limit`.
    pub(super) async fn read_limited(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        limit: ReadLimit,
    ) -> Result<Vec<ConsumedRecord>> {
        let meta = self.fresh_meta(LogKind::Topic, topic).await?;
        if !(0..meta.partitions).contains(&partition) {
            return Err(BusError::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
            });
        }
        let stored = self.read_partition(meta, partition, offset, limit).await?;
        Ok(stored
            .into_iter()
            .map(|r| ConsumedRecord {
                topic: topic.to_owned(),
                partition,
                offset: r.offset,
                key: r.key,
                value: r.value,
                timestamp_ms: r.timestamp_ms,
            })
            .collect())
    }

    /// Stores a consumer group's position in a topic partition if `owner` holds the group's
    /// lease; answers whether it did.
    pub(super) async fn commit_offset(
        &self,
        group: &str,
        owner: &str,
        topic: &str,
        partition: i32,
        next_offset: i64,
    ) -> Result<bool> {
        let meta = self.meta(LogKind::Topic, topic).await?;
        let (group, owner) = (group.to_owned(), owner.to_owned());
        self.inner
            .writer
            .call(|reply| {
                WriteOp::Grouped(GroupedOp::Commit {
                    group,
                    owner,
                    log_id: meta.id,
                    partition,
                    next_offset,
                    reply,
                })
            })
            .await
    }

    /// Takes or renews `group`'s lease for `owner` for `ttl`, if it is free, expired or
    /// `owner`'s already; answers who holds it then.
    pub(super) async fn lease(&self, group: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        let (group, owner) = (group.to_owned(), owner.to_owned());
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.inner
            .writer
            .call(|reply| {
                WriteOp::Grouped(GroupedOp::Lease {
                    group,
                    owner,
                    ttl_ms,
                    reply,
                })
            })
            .await
    }

    /// The member holding consumer group `group` now (a running sink), if any: its lease, renewed
    /// while it runs, has not expired.
    pub async fn group_member(&self, group: &str) -> Result<Option<String>> {
        let group = group.to_owned();
        self.with_reader(move |conn| {
            let lease = super::schema::lease(conn, &group)?;
            Ok(lease
                .filter(|lease| lease.expires_ms > super::writer::now_ms())
                .map(|lease| lease.holder))
        })
        .await
    }

    /// Where `group` will resume in each partition of `topic`.
    pub async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<i64>> {
        let meta = self.fresh_meta(LogKind::Topic, topic).await?;
        let mut offsets = Vec::with_capacity(meta.partitions as usize);
        for partition in 0..meta.partitions {
            offsets.push(
                self.committed_offset(group, meta, partition)
                    .await?
                    .unwrap_or(0),
            );
        }
        Ok(offsets)
    }

    /// Waits until something is appended in this process or `timeout` passes, whichever is
    /// first; other processes' appends are seen by polling at the configured interval.
    pub(super) async fn wait_for_appends(&self, timeout: Duration) {
        let wait = timeout.min(self.inner.options.poll_interval);
        let _ = tokio::time::timeout(wait, self.inner.appended.notified()).await;
    }
}

fn next_round_robin(partitions: i32) -> i32 {
    let n = u32::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(ROUND_ROBIN.fetch_add(1, Ordering::Relaxed) % n).unwrap_or(0)
}

fn partition_infos(high_watermarks: Vec<i64>) -> Vec<PartitionInfo> {
    high_watermarks
        .into_iter()
        .zip(0..)
        .map(|(high_watermark, partition)| PartitionInfo {
            partition,
            high_watermark,
        })
        .collect()
}
