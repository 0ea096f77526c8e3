//! [`Streams`] on the embedded log: a stream is a log whose partitions are shards, chosen by the
//! MD5 of the partition key, and whose offsets are shown as Kinesis-style sequence numbers.

use async_trait::async_trait;

use super::writer::{AdminOp, Entry, WriteOp};
use super::{EmbeddedBus, LogKind, schema};
use crate::{
    BusError, PutRecord, PutResult, ReadFrom, ReadLimit, RecordError, Result, ShardInfo,
    StreamInfo, StreamRecord, Streams, shard_for_hash, shard_for_partition_key, shard_hash_range,
    shard_id, validate_stream_name,
};

/// Digits of the offset at the end of a sequence number.
const OFFSET_DIGITS: usize = 20;

/// A Kinesis-looking sequence number that sorts like the offset it encodes within a shard.
fn sequence_number(shard: i32, offset: i64) -> String {
    format!("49{shard:012}{offset:0width$}", width = OFFSET_DIGITS)
}

/// The offset inside a sequence number of the embedded log: records of a shard are numbered
/// 0, 1, 2, … and the sequence number ends in that offset. The stream job keeps this offset as its
/// position in a shard.
pub fn sequence_offset(sequence_number: &str) -> Option<i64> {
    let start = sequence_number.len().checked_sub(OFFSET_DIGITS)?;
    sequence_number.get(start..)?.parse().ok()
}

/// The sequence number of the record at `offset` of shard `shard_id` in the embedded log (the
/// inverse of [`sequence_offset`]), or `None` if `shard_id` is not a `shardId-<n>` name.
pub fn shard_sequence_number(shard_id: &str, offset: i64) -> Option<String> {
    Some(sequence_number(shard_index(shard_id)?, offset))
}

/// The shard index of `shardId-000000000003`.
fn shard_index(shard_id: &str) -> Option<i32> {
    shard_id.strip_prefix("shardId-")?.parse().ok()
}

#[async_trait]
impl Streams for EmbeddedBus {
    async fn list_streams(&self) -> Result<Vec<String>> {
        Ok(self
            .list_logs(LogKind::Stream)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    async fn create_stream(&self, name: &str, shards: u32) -> Result<()> {
        validate_stream_name(name)?;
        let shards = i32::try_from(shards).unwrap_or(i32::MAX);
        self.create_log(LogKind::Stream, name, shards).await
    }

    async fn delete_stream(&self, name: &str) -> Result<()> {
        let owned = name.to_owned();
        let outcome = self
            .inner
            .writer
            .call(|reply| {
                WriteOp::Admin(AdminOp::Delete {
                    kind: LogKind::Stream,
                    name: owned,
                    reply,
                })
            })
            .await;
        self.forget_meta(LogKind::Stream, name);
        outcome
    }

    async fn describe_stream(&self, name: &str) -> Result<StreamInfo> {
        let meta = self.fresh_meta(LogKind::Stream, name).await?;
        let counts = self.high_watermarks(meta).await?;
        let shards = u32::try_from(meta.partitions).unwrap_or(1);
        let shards = counts
            .into_iter()
            .zip(0..)
            .map(|(records, index)| {
                let (start, end) = shard_hash_range(index, shards);
                let shard = i32::try_from(index).unwrap_or(i32::MAX);
                ShardInfo {
                    shard_id: shard_id(index),
                    starting_hash_key: start.to_string(),
                    ending_hash_key: end.to_string(),
                    records: Some(records),
                    starting_sequence_number: sequence_number(shard, 0),
                    next_sequence_number: Some(sequence_number(shard, records)),
                }
            })
            .collect();
        Ok(StreamInfo {
            name: name.to_owned(),
            incarnation: meta.id.to_string(),
            created_ms: meta.created_ms,
            shards,
        })
    }

    async fn put_records(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<Result<PutResult, RecordError>>> {
        let meta = self.meta(LogKind::Stream, stream).await?;
        let shards = u32::try_from(meta.partitions).unwrap_or(1);
        let limit = self.max_record_bytes();
        let mut outcome = Vec::with_capacity(records.len());
        let mut entries = Vec::with_capacity(records.len());
        for record in records {
            let size = record.data.len() + record.partition_key.len();
            if size > limit {
                outcome.push(Err(RecordError::TooLarge { size, limit }));
                continue;
            }
            let shard = record.explicit_hash_key.map_or_else(
                || shard_for_partition_key(&record.partition_key, shards),
                |hash| shard_for_hash(hash, shards),
            );
            outcome.push(Ok(shard));
            entries.push(Entry {
                partition: i32::try_from(shard).unwrap_or(0),
                key: Some(record.partition_key.into_bytes()),
                value: record.data,
            });
        }
        let mut offsets = if entries.is_empty() {
            Vec::new().into_iter()
        } else {
            self.append(LogKind::Stream, stream, meta, entries)
                .await?
                .into_iter()
        };
        Ok(outcome
            .into_iter()
            .map(|r| {
                r.map(|shard| {
                    let index = i32::try_from(shard).unwrap_or(0);
                    PutResult {
                        shard_id: shard_id(shard),
                        sequence_number: sequence_number(index, offsets.next().unwrap_or(-1)),
                    }
                })
            })
            .collect())
    }

    async fn read_shard(
        &self,
        stream: &str,
        shard: &str,
        from: ReadFrom<'_>,
        limit: ReadLimit,
    ) -> Result<Vec<StreamRecord>> {
        let meta = self.fresh_meta(LogKind::Stream, stream).await?;
        let not_found = || BusError::ShardNotFound {
            stream: stream.to_owned(),
            shard: shard.to_owned(),
        };
        let index = shard_index(shard)
            .filter(|i| (0..meta.partitions).contains(i))
            .ok_or_else(not_found)?;
        let offset_of = |seq: &str| {
            sequence_offset(seq)
                .ok_or_else(|| BusError::InvalidRequest(format!("not a sequence number: {seq}")))
        };
        let start = match from {
            ReadFrom::Oldest => 0,
            ReadFrom::At(seq) => offset_of(seq)?,
            ReadFrom::After(seq) => offset_of(seq)?.checked_add(1).ok_or_else(|| {
                BusError::InvalidRequest(format!("no record follows sequence number {seq}"))
            })?,
            ReadFrom::Since(ms) => {
                self.with_reader(move |conn| schema::offset_since(conn, meta.id, index, ms))
                    .await?
            }
        };
        let stored = self.read_partition(meta, index, start, limit).await?;
        Ok(stored
            .into_iter()
            .map(|r| StreamRecord {
                sequence_number: sequence_number(index, r.offset),
                partition_key: r
                    .key
                    .map(|k| String::from_utf8_lossy(&k).into_owned())
                    .unwrap_or_default(),
                data: r.value,
                arrival_ms: r.timestamp_ms,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip_and_sort_by_offset() {
        let a = sequence_number(3, 9);
        let b = sequence_number(3, 10);
        assert!(a < b);
        assert_eq!(sequence_offset(&a), Some(9));
        assert_eq!(sequence_offset(&b), Some(10));
        assert_eq!(sequence_offset("12"), None);
        assert_eq!(shard_sequence_number("shardId-000000000003", 9), Some(a));
        assert_eq!(shard_sequence_number("shard-3", 9), None);
    }

    #[test]
    fn shard_ids_parse() {
        assert_eq!(shard_index("shardId-000000000002"), Some(2));
        assert_eq!(shard_index("shard-2"), None);
    }
}
