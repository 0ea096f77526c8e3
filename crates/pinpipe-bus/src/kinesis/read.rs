//! Reading a shard of a Kinesis stream: a fresh shard iterator per read (TRIM_HORIZON, or
//! AFTER_SEQUENCE_NUMBER to resume), then GetRecords until `max` records or the shard is caught up.

use aws_sdk_kinesis::types::{Record, ShardIteratorType};

use super::KinesisBus;
use crate::{BusError, Result, StreamRecord};

/// Most records one GetRecords call returns.
const GET_RECORDS_LIMIT: usize = 10_000;
/// Most GetRecords calls per read: Kinesis may answer a few empty pages before records further
/// on, and a read returns what it has after this many.
const MAX_PAGES: usize = 100;

impl KinesisBus {
    /// Up to `max` records of `shard` after the sequence number `after`, or from the oldest.
    pub(super) async fn read(
        &self,
        stream: &str,
        shard: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<StreamRecord>> {
        let mut records = Vec::new();
        if max == 0 {
            return Ok(records);
        }
        let mut iterator = self.shard_iterator(stream, shard, after).await?;
        for _ in 0..MAX_PAGES {
            let Some(current) = iterator else {
                // A closed shard read to its end.
                break;
            };
            let limit = (max - records.len()).min(GET_RECORDS_LIMIT);
            let page = self
                .client
                .get_records()
                .shard_iterator(current)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| self.error(Some(stream), e))?;
            let got = page.records.len();
            records.extend(page.records.into_iter().map(stream_record));
            iterator = page.next_shard_iterator;
            let caught_up = got < limit && page.millis_behind_latest.unwrap_or(0) == 0;
            if caught_up || records.len() >= max {
                break;
            }
        }
        Ok(records)
    }

    /// A shard iterator at the start of the shard or just after `after`.
    async fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        after: Option<&str>,
    ) -> Result<Option<String>> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard);
        let request = match after {
            Some(sequence_number) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence_number),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        match request.send().await {
            Ok(output) => Ok(output.shard_iterator),
            // Kinesis says ResourceNotFoundException for a missing stream and a missing shard
            // alike (kinesalite even names the shard for a missing stream): ask which.
            Err(e) => match self.error(Some(stream), e) {
                BusError::StreamNotFound(_) if self.status(stream).await?.is_some() => {
                    Err(BusError::ShardNotFound {
                        stream: stream.to_owned(),
                        shard: shard.to_owned(),
                    })
                }
                other => Err(other),
            },
        }
    }
}

fn stream_record(record: Record) -> StreamRecord {
    StreamRecord {
        sequence_number: record.sequence_number,
        partition_key: record.partition_key.unwrap_or_default(),
        data: record.data.into_inner(),
        arrival_ms: record
            .approximate_arrival_timestamp
            .and_then(|at| at.to_millis().ok())
            .unwrap_or_default(),
    }
}
