//! Reading partitions directly, outside any group membership: a consumer assigned at an offset
//! reads until `max` records or the partition's end. The end is where a fetch finds it, not only
//! what `ListOffsets` answers: tansu 0.6 answers a high watermark behind the records it stores
//! (the base offset of the last batch + 1, or a stale one with its S3 engine).

use std::time::Instant;

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::{Inner, consumed};
use crate::{BusError, ConsumedRecord, Result};

/// A consumer for direct reads; every call blocks up to the bus's timeout.
pub(super) struct Reader<'a> {
    inner: &'a Inner,
    consumer: BaseConsumer<ReaderContext>,
}

/// Reaching a partition's end is how a direct read finds where to stop, not an error to log
/// (librdkafka also reports it as a "global error"); every other error is logged as usual.
struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!(%reason, "partition end reached");
        } else {
            tracing::error!(%error, %reason, "librdkafka");
        }
    }
}

impl ConsumerContext for ReaderContext {}

impl<'a> Reader<'a> {
    pub fn new(inner: &'a Inner) -> Result<Self> {
        let consumer = inner
            .options
            .reader_config()
            .create_with_context(ReaderContext)
            .map_err(|e| inner.error(e))?;
        Ok(Self { inner, consumer })
    }

    /// Up to `max` records from `offset` on (or from the earliest record still kept).
    pub fn read(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>> {
        let (low, listed) = self.listed_watermarks(topic, partition)?;
        let start = offset.max(low);
        // A fetch past the end gets no answer at all from tansu: find the end first.
        if start >= listed && start >= self.end_from(topic, partition, listed)? {
            return Ok(Vec::new());
        }
        self.read_from(topic, partition, start, max)
    }

    /// The offset the partition's next record will get.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Result<i64> {
        let (_, listed) = self.listed_watermarks(topic, partition)?;
        self.end_from(topic, partition, listed)
    }

    /// The partition's end, reading on from the high watermark the broker listed.
    fn end_from(&self, topic: &str, partition: i32, listed: i64) -> Result<i64> {
        let beyond = self.read_from(topic, partition, listed, usize::MAX)?;
        Ok(beyond.last().map_or(listed, |record| record.offset + 1))
    }

    fn listed_watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        self.consumer
            .fetch_watermarks(topic, partition, self.inner.timeout)
            .map_err(|e| self.inner.topic_error(topic, e))
    }

    /// Records from `start` until `max` of them or the partition's end.
    fn read_from(
        &self,
        topic: &str,
        partition: i32,
        start: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>> {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(start))
            .and_then(|()| self.consumer.assign(&assignment))
            .map_err(|e| self.inner.error(e))?;
        let deadline = Instant::now() + self.inner.timeout;
        let mut records = Vec::new();
        while records.len() < max {
            let left = deadline.checked_duration_since(Instant::now());
            match left.and_then(|left| self.consumer.poll(left)) {
                Some(Ok(message)) if message.partition() == partition => {
                    records.push(consumed(&message));
                }
                // Left over from an earlier assignment of this consumer.
                Some(Ok(_)) => {}
                Some(Err(KafkaError::PartitionEOF(p))) if p == partition => break,
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) if past_the_end(&e) => break,
                Some(Err(e)) => return Err(self.inner.topic_error(topic, e)),
                None if records.is_empty() => {
                    return Err(BusError::unavailable(format!(
                        "Kafka at {} did not return {topic}[{partition}] from offset {start} \
                         within {:?}",
                        self.inner.options.bootstrap_servers, self.inner.timeout
                    )));
                }
                // What arrived in time is a valid answer.
                None => break,
            }
        }
        Ok(records)
    }
}

/// The offset asked for is beyond the partition's last record.
fn past_the_end(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange)
    )
}
