//! Reading a shard of a Kinesis stream: a fresh shard iterator per read (TRIM_HORIZON,
//! AT/AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP), then GetRecords until the limit or the shard is
//! caught up.

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};

use super::KinesisBus;
use crate::{BusError, ReadFrom, ReadLimit, Result, StreamRecord};

/// Most records one GetRecords call returns.
const GET_RECORDS_LIMIT: usize = 10_000;
/// Most GetRecords calls per read: Kinesis may answer a few empty pages before records further
/// on, and a read returns what it has after this many.
const MAX_PAGES: usize = 100;

impl KinesisBus {
    /// Records of `shard` from `from`, within `limit` (the last page is cut at the byte limit,
    /// so the next read starts after the last record returned).
    pub(super) async fn read(
        &self,
        stream: &str,
        shard: &str,
        from: ReadFrom<'_>,
        limit: ReadLimit,
    ) -> Result<Vec<StreamRecord>> {
        let mut records = Vec::new();
        let max = limit.records;
        if max == 0 {
            return Ok(records);
        }
        let mut bytes = 0usize;
        let mut iterator = self.shard_iterator(stream, shard, from).await?;
        for _ in 0..MAX_PAGES {
            let Some(current) = iterator else {
                // A closed shard read to its end.
                break;
            };
            let page_limit = (max - records.len()).min(GET_RECORDS_LIMIT);
            let page = self
                .client
                .get_records()
                .shard_iterator(current)
                .limit(i32::try_from(page_limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| self.error(Some(stream), e))?;
            let got = page.records.len();
            for record in page.records {
                if !records.is_empty() && bytes >= limit.bytes {
                    return Ok(records);
                }
                bytes = bytes.saturating_add(record.data.as_ref().len());
                records.push(stream_record(record));
            }
            iterator = page.next_shard_iterator;
            let caught_up = got < page_limit && page.millis_behind_latest.unwrap_or(0) == 0;
            if caught_up || records.len() >= max || bytes >= limit.bytes {
                break;
            }
        }
        Ok(records)
    }

    /// A shard iterator at `from`.
    async fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        from: ReadFrom<'_>,
    ) -> Result<Option<String>> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard);
        let request = match from {
            ReadFrom::Oldest => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            ReadFrom::At(sequence_number) => request
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(sequence_number),
            ReadFrom::After(sequence_number) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence_number),
            ReadFrom::Since(ms) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(ms)),
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
