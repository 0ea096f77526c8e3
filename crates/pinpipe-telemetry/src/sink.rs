//! Events of the sink (`pinpipe sink`).

use std::time::Duration;

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Topic, TopicPartition};

/// A raw object was written to the lake.
#[derive(Clone, Debug)]
pub struct ObjectWritten {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The object's path in the lake.
    pub path: String,
    /// Records in it.
    pub records: u64,
    /// Its size.
    pub bytes: u64,
    /// Time to write it, retries included.
    pub duration: Duration,
}

impl ObjectWritten {
    /// Logs at info and counts `pinpipe_sink_records_total`, `_bytes_total`,
    /// `_objects_written_total` and `_write_duration_seconds`.
    pub fn emit(self) {
        tracing::info!(
            topic = %self.topic,
            partition = self.partition,
            path = %self.path,
            records = self.records,
            bytes = self.bytes,
            duration_ms = crate::millis(self.duration),
            "raw object written"
        );
        let m = metrics::get();
        let topic = Topic {
            topic: self.topic.clone(),
        };
        m.sink_records.get_or_create(&topic).inc_by(self.records);
        m.sink_bytes.get_or_create(&topic).inc_by(self.bytes);
        m.sink_objects.get_or_create(&topic).inc();
        m.sink_write_duration.observe(self.duration.as_secs_f64());
        dispatch(Event::ObjectWritten(self));
    }
}

/// The sink's consumer group committed its position in a partition.
#[derive(Clone, Debug)]
pub struct OffsetsCommitted {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset the group resumes from.
    pub next_offset: i64,
}

impl OffsetsCommitted {
    /// Logs at debug and counts `pinpipe_sink_offset_commits_total`.
    pub fn emit(self) {
        tracing::debug!(
            group = %self.group,
            topic = %self.topic,
            partition = self.partition,
            next_offset = self.next_offset,
            "offsets committed"
        );
        metrics::get()
            .sink_commits
            .get_or_create(&Topic {
                topic: self.topic.clone(),
            })
            .inc();
        dispatch(Event::OffsetsCommitted(self));
    }
}

/// How far the sink is behind a topic partition.
#[derive(Clone, Debug)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records in the partition not yet written.
    pub lag: i64,
}

impl PartitionLag {
    /// Sets `pinpipe_sink_lag_records{topic, partition}`.
    pub fn emit(self) {
        metrics::get()
            .sink_lag
            .get_or_create(&TopicPartition {
                topic: self.topic.clone(),
                partition: self.partition,
            })
            .set(self.lag);
        dispatch(Event::PartitionLag(self));
    }
}
