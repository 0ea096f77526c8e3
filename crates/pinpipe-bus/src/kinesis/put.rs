//! Putting records to Kinesis: records over 1 MiB fail alone without being sent, the rest go in
//! order in PutRecords calls of at most 500 records and 5 MiB, and every record gets its own
//! result, Kinesis's per-record failures included.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, PutRecordsResultEntry};

use super::KinesisBus;
use crate::{BusError, PutRecord, PutResult, RecordError, Result};

/// Kinesis's largest record: data and partition key together, as the embedded log counts them.
const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Most records in one PutRecords call.
const MAX_CALL_RECORDS: usize = 500;
/// Most bytes (data and partition keys) in one PutRecords call.
const MAX_CALL_BYTES: usize = 5 * 1024 * 1024;

/// The per-record error code Kinesis uses for a failure on its side.
const INTERNAL_FAILURE: &str = "InternalFailure";

fn record_size(record: &PutRecord) -> usize {
    record.data.len() + record.partition_key.len()
}

impl KinesisBus {
    /// Puts `records`, one result per record in order. A failure of the first call is the
    /// failure of the whole put (nothing was stored); a later call's failure fails only its own
    /// records, since the earlier ones are already stored.
    pub(super) async fn put(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<Result<PutResult, RecordError>>> {
        let mut checked = Vec::with_capacity(records.len());
        let mut sendable = Vec::with_capacity(records.len());
        for record in records {
            let size = record_size(&record);
            if size > MAX_RECORD_BYTES {
                checked.push(Err(RecordError::TooLarge {
                    size,
                    limit: MAX_RECORD_BYTES,
                }));
            } else {
                checked.push(Ok(()));
                sendable.push(record);
            }
        }
        let mut sent = Vec::with_capacity(sendable.len());
        for call in calls(sendable) {
            let count = call.len();
            match self.put_call(stream, call).await {
                Ok(results) => sent.extend(results),
                Err(e) if sent.is_empty() => return Err(e),
                Err(e) => sent.extend((0..count).map(|_| Err(rejected(e.to_string())))),
            }
        }
        let mut sent = sent.into_iter();
        Ok(checked
            .into_iter()
            .map(|check| check.and_then(|()| sent.next().unwrap_or_else(|| Err(no_result()))))
            .collect())
    }

    /// One PutRecords call; exactly one result per record.
    async fn put_call(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<Result<PutResult, RecordError>>> {
        let count = records.len();
        let entries = records
            .into_iter()
            .map(|record| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(record.data))
                    .partition_key(record.partition_key)
                    .set_explicit_hash_key(record.explicit_hash_key.map(|h| h.to_string()))
                    .build()
                    .map_err(|e| BusError::InvalidRequest(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let output = self
            .client
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| self.error(Some(stream), e))?;
        let mut results: Vec<_> = output.records.into_iter().map(entry_result).collect();
        results.resize_with(count, || Err(no_result()));
        Ok(results)
    }
}

/// Splits records, in order, into PutRecords calls within Kinesis's limits; every record is at
/// most [`MAX_RECORD_BYTES`], so each fits in a call of its own.
fn calls(records: Vec<PutRecord>) -> Vec<Vec<PutRecord>> {
    let mut calls: Vec<Vec<PutRecord>> = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = record_size(&record);
        match calls.last_mut() {
            Some(call) if call.len() < MAX_CALL_RECORDS && bytes + size <= MAX_CALL_BYTES => {
                bytes += size;
                call.push(record);
            }
            _ => {
                bytes = size;
                calls.push(vec![record]);
            }
        }
    }
    calls
}

/// The result of one record from its PutRecords result entry.
fn entry_result(entry: PutRecordsResultEntry) -> Result<PutResult, RecordError> {
    match entry {
        PutRecordsResultEntry {
            error_code: Some(code),
            error_message,
            ..
        } => Err(RecordError::Rejected {
            code,
            message: error_message.unwrap_or_default(),
        }),
        PutRecordsResultEntry {
            shard_id: Some(shard_id),
            sequence_number: Some(sequence_number),
            ..
        } => Ok(PutResult {
            shard_id,
            sequence_number,
        }),
        _ => Err(no_result()),
    }
}

fn rejected(message: String) -> RecordError {
    RecordError::Rejected {
        code: INTERNAL_FAILURE.to_owned(),
        message,
    }
}

/// For a record Kinesis's answer says nothing about.
fn no_result() -> RecordError {
    rejected("Kinesis returned no result for this record".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bytes: usize) -> PutRecord {
        PutRecord::new(vec![b'x'; bytes], "k")
    }

    #[test]
    fn calls_keep_order_within_the_limits() {
        let records: Vec<_> = (0..1001).map(|_| record(9)).collect();
        let sizes: Vec<_> = calls(records).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![500, 500, 1]);

        // Six records of (1 MiB - 1 byte of key): five fill 5 MiB, the sixth starts a new call.
        let records: Vec<_> = (0..6).map(|_| record(MAX_RECORD_BYTES - 1)).collect();
        let sizes: Vec<_> = calls(records).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 1]);
        assert!(calls(Vec::new()).is_empty());
    }

    #[test]
    fn per_record_failures_keep_kinesis_error_codes() {
        let throttled = PutRecordsResultEntry::builder()
            .error_code("ProvisionedThroughputExceededException")
            .error_message("Rate exceeded for shard shardId-000000000001")
            .build();
        assert_eq!(
            entry_result(throttled),
            Err(RecordError::Rejected {
                code: "ProvisionedThroughputExceededException".to_owned(),
                message: "Rate exceeded for shard shardId-000000000001".to_owned(),
            })
        );
        let stored = PutRecordsResultEntry::builder()
            .shard_id("shardId-000000000001")
            .sequence_number("4960")
            .build();
        assert_eq!(
            entry_result(stored),
            Ok(PutResult {
                shard_id: "shardId-000000000001".to_owned(),
                sequence_number: "4960".to_owned(),
            })
        );
        assert_eq!(
            entry_result(PutRecordsResultEntry::builder().build()),
            Err(no_result())
        );
    }
}
