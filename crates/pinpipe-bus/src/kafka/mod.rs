//! [`Topics`] on a real Kafka cluster (rdkafka with its bundled librdkafka).
//!
//! ```text
//!  produce ──► FutureProducer (acks=all, idempotent) ──► broker ──► answers once acknowledged
//!  read    ──► a consumer assigned (never joined) at the offset, up to the partition's end
//!  consumer──► StreamConsumer in a consumer group, offsets committed only when told
//!  admin   ──► AdminClient and metadata; watermarks through a reader (blocking calls run off
//!              the async threads)
//! ```
//!
//! Keyed records get their partition from [`kafka_partition_for_key`], the Java client's murmur2
//! partitioner, so every backend puts a key in the same partition. Topic existence and partition
//! counts come from the cluster's metadata, cached and refreshed on a miss; the broker is never
//! asked to create a topic by accident. Unreachable brokers and timeouts are
//! [`BusError::Unavailable`].

mod consumer;
mod options;
mod read;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tokio::time::Instant;

use crate::{
    BusError, ConsumedRecord, PartitionInfo, ProduceRecord, Produced, RecordError, Result,
    TopicConsumer, TopicInfo, Topics, kafka_partition_for_key, validate_topic_name,
};
pub use options::KafkaOptions;

/// How long to wait before offering a record again to a full producer queue.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// Topics on a Kafka cluster. Cheap to clone; creating one does not contact the cluster.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

struct Inner {
    options: KafkaOptions,
    /// Bounds every request to the cluster.
    timeout: Duration,
    max_record_bytes: usize,
    /// Replaced when librdkafka declares it failed for good (a fenced idempotent producer).
    producer: RwLock<FutureProducer>,
    admin: AdminClient<DefaultClientContext>,
    /// Partition count per topic, as the cluster's metadata last said.
    partitions: RwLock<HashMap<String, i32>>,
}

impl KafkaBus {
    /// Creates the clients; they connect on first use.
    pub fn connect(options: KafkaOptions) -> Result<Self> {
        options.check_build()?;
        let timeout = options.timeout()?;
        let max_record_bytes = options.max_record_bytes()?;
        let producer = create_producer(&options)?;
        let admin = options
            .admin_config()
            .create()
            .map_err(|e| config_error(&options, &e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                timeout,
                max_record_bytes,
                producer: RwLock::new(producer),
                admin,
                partitions: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// Runs a blocking librdkafka call off the async threads.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| BusError::unavailable_because("the Kafka client task failed", e))?
    }

    /// Asks the cluster for every topic and its partition count, and caches the answer.
    async fn refresh_metadata(&self) -> Result<HashMap<String, i32>> {
        let topics = self
            .blocking(|inner| {
                let metadata = inner
                    .admin
                    .inner()
                    .fetch_metadata(None, inner.timeout)
                    .map_err(|e| inner.error(e))?;
                Ok(metadata
                    .topics()
                    .iter()
                    .filter(|t| t.error().is_none() && !t.name().starts_with("__"))
                    .filter_map(|t| {
                        Some((
                            t.name().to_owned(),
                            i32::try_from(t.partitions().len()).ok()?,
                        ))
                    })
                    .collect::<HashMap<_, _>>())
            })
            .await?;
        if let Ok(mut cache) = self.inner.partitions.write() {
            cache.clone_from(&topics);
        }
        Ok(topics)
    }

    /// A topic's partition count, from the cache or, on a miss, from the cluster.
    async fn partition_count(&self, topic: &str) -> Result<i32> {
        let cached = self
            .inner
            .partitions
            .read()
            .ok()
            .and_then(|cache| cache.get(topic).copied());
        match cached {
            Some(count) => Ok(count),
            None => self.fresh_partition_count(topic).await,
        }
    }

    /// A topic's partition count as the cluster says now.
    async fn fresh_partition_count(&self, topic: &str) -> Result<i32> {
        self.refresh_metadata()
            .await?
            .get(topic)
            .copied()
            .ok_or_else(|| BusError::TopicNotFound(topic.to_owned()))
    }

    /// The partition count, refreshed once if `partition` is beyond what the cache knows.
    async fn partition_count_covering(&self, topic: &str, partition: i32) -> Result<i32> {
        let count = self.partition_count(topic).await?;
        if partition < count {
            return Ok(count);
        }
        self.fresh_partition_count(topic).await
    }

    /// Topics with the high watermarks of their partitions `0..count`, read through one reader
    /// (a librdkafka consumer is costly to create: threads and broker connections).
    async fn describe(&self, topics: Vec<(String, i32)>) -> Result<Vec<TopicInfo>> {
        self.blocking(move |inner| {
            let reader = read::Reader::new(inner)?;
            topics
                .into_iter()
                .map(|(name, count)| {
                    let partitions = (0..count)
                        .map(|partition| {
                            Ok(PartitionInfo {
                                partition,
                                high_watermark: reader.high_watermark(&name, partition)?,
                            })
                        })
                        .collect::<Result<_>>()?;
                    Ok(TopicInfo { name, partitions })
                })
                .collect()
        })
        .await
    }

    /// Hands one record to the producer, waiting while its queue is full, until `deadline`.
    /// `Ok(Err(_))` is a record the producer refused on its own.
    async fn enqueue(
        &self,
        producer: &FutureProducer,
        topic: &str,
        record: &ProduceRecord,
        partition: Option<i32>,
        deadline: Instant,
    ) -> Result<Result<DeliveryFuture, RecordError>> {
        loop {
            let mut future_record = FutureRecord::<[u8], [u8]>::to(topic).payload(&record.value);
            if let Some(key) = &record.key {
                future_record = future_record.key(key);
            }
            if let Some(partition) = partition {
                future_record = future_record.partition(partition);
            }
            match producer.send_result(future_record) {
                Ok(delivery) => return Ok(Ok(delivery)),
                Err((e, _)) => match e.rdkafka_error_code() {
                    Some(RDKafkaErrorCode::QueueFull) if Instant::now() < deadline => {
                        tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                    }
                    _ => return self.inner.record_error(topic, record, partition, e),
                },
            }
        }
    }
}

impl Inner {
    /// Sorts a librdkafka error into what a caller can act on.
    fn error(&self, e: KafkaError) -> BusError {
        kafka_error(&self.options.bootstrap_servers, e)
    }

    /// The producer to hand records to.
    fn producer(&self) -> Result<FutureProducer> {
        self.producer
            .read()
            .map(|producer| producer.clone())
            .map_err(|_| poisoned())
    }

    /// Replaces `producer` if `e` says it cannot write any more: librdkafka declared it failed
    /// for good, or the cluster fenced its producer id (as tansu does after an epoch bump that
    /// librdkafka makes when records time out). The records it held were not written.
    fn renew_failed_producer(&self, producer: &FutureProducer, e: &KafkaError) -> Result<()> {
        let fenced = matches!(
            e.rdkafka_error_code(),
            Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
        );
        let Some(reason) = producer
            .client()
            .fatal_error()
            .map(|(code, reason)| format!("{code}: {reason}"))
            .or_else(|| fenced.then(|| e.to_string()))
        else {
            return Ok(());
        };
        let mut current = self.producer.write().map_err(|_| poisoned())?;
        if std::ptr::eq(current.client(), producer.client()) {
            tracing::warn!(%reason, "the Kafka producer failed; creating a new one");
            *current = create_producer(&self.options)?;
        }
        Err(BusError::unavailable(format!(
            "the Kafka producer for {} failed ({reason}); a new one takes the next request",
            self.options.bootstrap_servers
        )))
    }

    /// No acknowledgement within the message timeout.
    fn unacknowledged(&self) -> BusError {
        BusError::unavailable(format!(
            "Kafka at {} did not acknowledge the records within {:?}",
            self.options.bootstrap_servers, self.timeout
        ))
    }

    /// As [`Inner::error`], for a call about one topic.
    fn topic_error(&self, topic: &str, e: KafkaError) -> BusError {
        match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                if let Ok(mut cache) = self.partitions.write() {
                    cache.remove(topic);
                }
                BusError::TopicNotFound(topic.to_owned())
            }
            _ => self.error(e),
        }
    }

    /// A record's own failure, or the failure of the whole call. `partition` is where the
    /// record was sent, if the bus chose.
    fn record_error<T>(
        &self,
        topic: &str,
        record: &ProduceRecord,
        partition: Option<i32>,
        e: KafkaError,
    ) -> Result<Result<T, RecordError>> {
        match (e.rdkafka_error_code(), partition) {
            (
                Some(
                    RDKafkaErrorCode::MessageSizeTooLarge
                    | RDKafkaErrorCode::InvalidMessageSize
                    | RDKafkaErrorCode::MessageBatchTooLarge,
                ),
                _,
            ) => Ok(Err(RecordError::TooLarge {
                size: record_size(record),
                limit: self.max_record_bytes,
            })),
            (Some(RDKafkaErrorCode::UnknownPartition), Some(partition)) => {
                Ok(Err(RecordError::PartitionNotFound(partition)))
            }
            _ => Err(self.topic_error(topic, e)),
        }
    }
}

#[async_trait]
impl Topics for KafkaBus {
    async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let mut names: Vec<(String, i32)> = self.refresh_metadata().await?.into_iter().collect();
        names.sort();
        self.describe(names).await
    }

    async fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(BusError::InvalidRequest(format!(
                "{name} needs at least one partition, got {partitions}"
            )));
        }
        // Replication -1: the cluster's default replication factor.
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        let options = AdminOptions::new()
            .request_timeout(Some(self.inner.timeout))
            .operation_timeout(Some(self.inner.timeout));
        let results = self
            .inner
            .admin
            .create_topics([&topic], &options)
            .await
            .map_err(|e| self.inner.error(e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    return Err(BusError::AlreadyExists(name.to_owned()));
                }
                Err((_, code)) => {
                    return Err(self.inner.error(KafkaError::AdminOp(code)));
                }
            }
        }
        if let Ok(mut cache) = self.inner.partitions.write() {
            cache.insert(name.to_owned(), partitions);
        }
        Ok(())
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicInfo> {
        let count = self.fresh_partition_count(name).await?;
        let mut described = self.describe(vec![(name.to_owned(), count)]).await?;
        described
            .pop()
            .ok_or_else(|| BusError::TopicNotFound(name.to_owned()))
    }

    async fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
    ) -> Result<Vec<Result<Produced, RecordError>>> {
        let highest = records
            .iter()
            .filter_map(|r| r.partition)
            .max()
            .unwrap_or(0);
        let count = self.partition_count_covering(topic, highest).await?;
        let limit = self.inner.max_record_bytes;
        let deadline = Instant::now() + self.inner.timeout;
        let producer = self.inner.producer()?;
        // Everything is handed to the producer first, in order, so the records travel together.
        let mut pending = Vec::with_capacity(records.len());
        for record in &records {
            let partition = record.partition.or_else(|| {
                record
                    .key
                    .as_ref()
                    .map(|key| kafka_partition_for_key(key, count))
            });
            let queued = match partition {
                Some(p) if !(0..count).contains(&p) => Err(RecordError::PartitionNotFound(p)),
                _ if record_size(record) > limit => Err(RecordError::TooLarge {
                    size: record_size(record),
                    limit,
                }),
                _ => {
                    self.enqueue(&producer, topic, record, partition, deadline)
                        .await?
                }
            };
            pending.push((queued, partition));
        }
        let mut outcome = Vec::with_capacity(records.len());
        for ((queued, partition), record) in pending.into_iter().zip(&records) {
            let delivered = match queued {
                Err(e) => Err(e),
                Ok(delivery) => match tokio::time::timeout_at(deadline, delivery).await {
                    // librdkafka notices a message timeout only on its next scan, seconds late.
                    Err(_) => return Err(self.inner.unacknowledged()),
                    Ok(Ok(Ok(delivery))) => Ok(Produced {
                        partition: delivery.partition,
                        offset: delivery.offset,
                    }),
                    Ok(Ok(Err((e, _)))) => {
                        self.inner.renew_failed_producer(&producer, &e)?;
                        self.inner.record_error(topic, record, partition, e)?
                    }
                    Ok(Err(_)) => {
                        return Err(BusError::unavailable(
                            "the Kafka producer shut down before the broker answered",
                        ));
                    }
                },
            };
            outcome.push(delivered);
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
        let count = self.partition_count_covering(topic, partition).await?;
        if !(0..count).contains(&partition) {
            return Err(BusError::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
            });
        }
        if max == 0 {
            return Ok(Vec::new());
        }
        let topic = topic.to_owned();
        self.blocking(move |inner| read::Reader::new(inner)?.read(&topic, partition, offset, max))
            .await
    }

    async fn consumer(&self, group: &str, topics: &[String]) -> Result<Box<dyn TopicConsumer>> {
        for topic in topics {
            self.partition_count(topic).await?;
        }
        let consumer =
            consumer::KafkaConsumer::new(&self.inner.options, self.inner.timeout, group, topics)?;
        Ok(Box::new(consumer))
    }
}

/// What Kafka counts against `message.max.bytes` that the caller controls: key and value.
fn record_size(record: &ProduceRecord) -> usize {
    record.value.len() + record.key.as_ref().map_or(0, Vec::len)
}

/// A record as the bus hands it out.
fn consumed(message: &impl Message) -> ConsumedRecord {
    ConsumedRecord {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        timestamp_ms: message.timestamp().to_millis().unwrap_or(-1),
    }
}

/// Sorts a librdkafka error: a cluster that cannot be reached or answers too late is
/// [`BusError::Unavailable`]; anything else is [`BusError::Refused`]. Both keep the error.
fn kafka_error(servers: &str, e: KafkaError) -> BusError {
    use RDKafkaErrorCode as Code;
    match e.rdkafka_error_code() {
        Some(
            Code::MessageTimedOut
            | Code::OperationTimedOut
            | Code::RequestTimedOut
            | Code::TimedOutQueue
            | Code::BrokerTransportFailure
            | Code::AllBrokersDown
            | Code::Resolve
            | Code::BrokerNotAvailable
            | Code::LeaderNotAvailable
            | Code::NotLeaderForPartition
            | Code::NetworkException
            | Code::CoordinatorLoadInProgress
            | Code::CoordinatorNotAvailable
            | Code::NotCoordinator
            | Code::NotEnoughReplicas
            | Code::NotEnoughReplicasAfterAppend
            | Code::KafkaStorageError
            | Code::QueueFull
            | Code::PurgeQueue
            | Code::PurgeInflight
            | Code::BrokerDestroy,
        ) => BusError::unavailable_because(
            format!("Kafka at {servers} is unreachable or did not answer in time"),
            e,
        ),
        _ => BusError::refused_because(format!("Kafka at {servers}"), e),
    }
}

fn poisoned() -> BusError {
    BusError::unavailable("the Kafka producer lock is poisoned")
}

fn create_producer(options: &KafkaOptions) -> Result<FutureProducer> {
    options
        .producer_config()
        .create()
        .map_err(|e| config_error(options, &e))
}

fn config_error(options: &KafkaOptions, e: &KafkaError) -> BusError {
    BusError::InvalidRequest(format!(
        "cannot configure a Kafka client for {}: {e}",
        options.bootstrap_servers
    ))
}
