//! The message bus between the gateway and everything downstream.
//!
//! Two shapes of log stand in for the two AWS services of the original pipeline:
//!
//! ```text
//!  gateway ──produce──► Topics  (Kafka-style: partitions, integer offsets, consumer groups) ──► sink
//!  gateway ──put──────► Streams (Kinesis-style: shards by MD5 of the partition key,          ──► stream job
//!                                sequence numbers)
//! ```
//!
//! Both are traits, so the embedded backend in [`embedded`] (a SQLite log in WAL mode, durable
//! before it acknowledges, group-committing concurrent producers) can be swapped for Kafka or
//! Kinesis by configuration.
//! With the `kafka` feature, `kafka::KafkaBus` is [`Topics`] on a real Kafka cluster.
//! With the `kinesis` feature, `kinesis::KinesisBus` is [`Streams`] on Amazon Kinesis.

pub mod embedded;
mod error;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "kinesis")]
pub mod kinesis;
mod names;
mod partitioner;
mod streams;
mod topics;

pub use embedded::{
    EmbeddedBus, EmbeddedOptions, SyncMode, sequence_offset, shard_sequence_number,
};
pub use error::{BoxError, BusError, RecordError, Result, with_causes};
pub use names::{validate_stream_name, validate_topic_name};
pub use partitioner::{
    kafka_partition_for_key, shard_for_hash, shard_for_partition_key, shard_hash_range, shard_id,
};
pub use streams::{
    PutRecord, PutResult, ReadFrom, ReadLimit, ShardInfo, StreamInfo, StreamRecord, Streams,
};
pub use topics::{
    ConsumedRecord, PartitionInfo, ProduceRecord, Produced, TopicConsumer, TopicInfo, Topics,
};
