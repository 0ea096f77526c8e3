//! A consumer-group member on Kafka: the group's coordinator spreads the topics' partitions over
//! its members, so several sinks share a topic. Offsets are committed only when the caller says,
//! synchronously, so a commit that returns is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::time::Instant;

use super::{KafkaOptions, config_error, consumed, kafka_error};
use crate::{BusError, ConsumedRecord, ReadLimit, Result, TopicConsumer};

/// How often a consumer that has not joined its group yet looks whether it has.
const JOIN_CHECK: Duration = Duration::from_millis(50);

/// Remembers whether the group has assigned this member its partitions (maybe none) yet.
#[derive(Default)]
struct GroupContext {
    joined: AtomicBool,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = rebalance {
            self.joined.store(true, Ordering::Release);
        }
    }
}

type GroupConsumer = StreamConsumer<GroupContext>;

pub(super) struct KafkaConsumer {
    /// `None` only while being dropped: leaving the group blocks, so it happens off the async
    /// threads.
    consumer: Option<Arc<GroupConsumer>>,
    servers: String,
    group: String,
    /// How long a poll may wait for the group to assign partitions.
    join_timeout: Duration,
}

impl KafkaConsumer {
    pub fn new(
        options: &KafkaOptions,
        join_timeout: Duration,
        group: &str,
        topics: &[String],
    ) -> Result<Self> {
        let servers = options.bootstrap_servers.clone();
        let consumer: GroupConsumer = options
            .group_config(group)
            .create_with_context(GroupContext::default())
            .map_err(|e| config_error(options, &e))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| kafka_error(&servers, e))?;
        Ok(Self {
            consumer: Some(Arc::new(consumer)),
            servers,
            group: group.to_owned(),
            join_timeout,
        })
    }

    fn consumer(&self) -> Result<&Arc<GroupConsumer>> {
        self.consumer
            .as_ref()
            .ok_or_else(|| BusError::unavailable("the Kafka consumer is closed"))
    }

    fn joined(&self) -> Result<bool> {
        Ok(self.consumer()?.context().joined.load(Ordering::Acquire))
    }

    /// The next record, or `None` when none arrived by `until`.
    async fn next(&self, until: Instant) -> Result<Option<ConsumedRecord>> {
        match tokio::time::timeout_at(until, self.consumer()?.recv()).await {
            Err(_) => Ok(None),
            Ok(Ok(message)) => Ok(Some(consumed(&message))),
            Ok(Err(e)) => Err(kafka_error(&self.servers, e)),
        }
    }

    /// Serves the group protocol until this member has its partitions; no record can arrive
    /// before, so this wait does not count against a poll's timeout.
    async fn wait_for_assignment(&self) -> Result<Option<ConsumedRecord>> {
        let deadline = Instant::now() + self.join_timeout;
        while !self.joined()? {
            if Instant::now() >= deadline {
                return Err(BusError::unavailable(format!(
                    "Kafka at {}: consumer group {} assigned no partitions within {:?}",
                    self.servers, self.group, self.join_timeout
                )));
            }
            if let Some(record) = self
                .next((Instant::now() + JOIN_CHECK).min(deadline))
                .await?
            {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl TopicConsumer for KafkaConsumer {
    async fn poll(&mut self, limit: ReadLimit, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let mut records: Vec<ConsumedRecord> = Vec::new();
        if limit.records == 0 {
            return Ok(records);
        }
        records.extend(self.wait_for_assignment().await?);
        let deadline = Instant::now() + timeout;
        let mut bytes: usize = records.iter().map(|r| r.value.len()).sum();
        while records.len() < limit.records && bytes < limit.bytes {
            // Wait for a first record; after it, take only what has already arrived.
            let until = if records.is_empty() {
                deadline
            } else {
                Instant::now()
            };
            match self.next(until).await {
                Ok(Some(record)) => {
                    bytes = bytes.saturating_add(record.value.len());
                    records.push(record);
                }
                Ok(None) => break,
                Err(e) if records.is_empty() => return Err(e),
                Err(e) => {
                    // The records are already past this member's position: hand them out first.
                    tracing::warn!(group = %self.group, error = %e, "Kafka consumer error");
                    break;
                }
            }
        }
        Ok(records)
    }

    async fn still_owns(&mut self, topic: &str, partition: i32) -> Result<bool> {
        let assignment = self
            .consumer()?
            .assignment()
            .map_err(|e| kafka_error(&self.servers, e))?;
        Ok(assignment.find_partition(topic, partition).is_some())
    }

    async fn assignment(&mut self) -> Result<Vec<(String, i32)>> {
        let list = self
            .consumer()?
            .assignment()
            .map_err(|e| kafka_error(&self.servers, e))?;
        Ok(list
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    async fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        let consumer = Arc::clone(self.consumer()?);
        let (servers, topic, timeout) = (self.servers.clone(), topic.to_owned(), self.join_timeout);
        tokio::task::spawn_blocking(move || {
            consumer.seek(&topic, partition, Offset::Offset(offset), timeout)
        })
        .await
        .map_err(|e| BusError::unavailable_because("the Kafka seek task failed", e))?
        .map_err(|e| kafka_error(&servers, e))
    }

    async fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>> {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(topic, partition);
        let consumer = Arc::clone(self.consumer()?);
        let (servers, timeout) = (self.servers.clone(), self.join_timeout);
        let list = tokio::task::spawn_blocking(move || consumer.committed_offsets(wanted, timeout))
            .await
            .map_err(|e| BusError::unavailable_because("the Kafka offsets task failed", e))?
            .map_err(|e| kafka_error(&servers, e))?;
        Ok(list
            .find_partition(topic, partition)
            .and_then(|e| match e.offset() {
                Offset::Offset(n) => Some(n),
                _ => None,
            }))
    }

    async fn commit(&mut self, topic: &str, partition: i32, next_offset: i64) -> Result<()> {
        if !self.still_owns(topic, partition).await? {
            return Err(BusError::Refused {
                context: format!(
                    "{topic}[{partition}] was given to another member of group {} in a rebalance; \
                     its offset is not committed",
                    self.group
                ),
                source: None,
            });
        }
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(topic, partition, Offset::Offset(next_offset))
            .map_err(|e| kafka_error(&self.servers, e))?;
        let consumer = Arc::clone(self.consumer()?);
        let servers = self.servers.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
            .await
            .map_err(|e| BusError::unavailable_because("the Kafka commit task failed", e))?
            .map_err(|e| kafka_error(&servers, e))
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // Closing waits for the coordinator to let the member leave the group.
        if let (Some(consumer), Ok(runtime)) =
            (self.consumer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn_blocking(move || drop(consumer));
        }
    }
}
