//! PutRecord and PutRecords: blobs decoded, every constraint checked before anything is stored,
//! `ExplicitHashKey` honoured, one result per record (per-record `ErrorCode` and
//! `FailedRecordCount` for PutRecords), answered once the records are durable.

use pinpipe_bus::PutRecord;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Answer;
use super::input::{Checks, StreamRef, blob, parse};
use crate::config::KinesisConfig;
use crate::envelope::KinesisError;
use crate::kinesis::{entry_error_code, record_error};
use crate::metrics::RecordsAccepted;
use crate::state::AppState;

/// Digits of the largest hash key, 2^128 - 1.
const HASH_KEY_DIGITS: usize = 39;
/// Digits of the longest sequence number Kinesis takes.
const SEQUENCE_DIGITS: usize = 129;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(flatten)]
    entry: Entry,
    sequence_number_for_ordering: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    data: Option<String>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

impl Entry {
    /// The record, or `None` after noting what is wrong with it in `checks`; `member` prefixes
    /// the members' paths (`records.3.member.`).
    fn record(
        self,
        member: &str,
        checks: &mut Checks,
        config: &KinesisConfig,
    ) -> Result<Option<PutRecord>, KinesisError> {
        let data = match &self.data {
            Some(text) => Some(blob(text, &format!("{member}data"))?),
            None => None,
        };
        let has_data = checks.required(data.as_ref(), &format!("{member}data"));
        let has_key = checks.required(
            self.partition_key.as_ref(),
            &format!("{member}partitionKey"),
        );
        checks.blob(
            data.as_deref(),
            &format!("{member}data"),
            config.max_record_bytes,
        );
        checks.partition_key(
            self.partition_key.as_deref(),
            &format!("{member}partitionKey"),
        );
        checks.decimal(
            self.explicit_hash_key.as_deref(),
            &format!("{member}explicitHashKey"),
            HASH_KEY_DIGITS,
        );
        // Kinesis's record limit counts the partition key too: a record over it refuses the
        // call, as a bad member does, rather than failing alone as if a retry could store it.
        checks.record_size(
            data.as_deref(),
            self.partition_key.as_deref(),
            &format!("{member}data"),
            config.max_record_bytes,
        );
        let explicit_hash_key = match self.explicit_hash_key.as_deref() {
            Some(text) if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() => {
                Some(text.parse::<u128>().map_err(|_| {
                    KinesisError::invalid_argument(format!(
                        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: \
                         [0, 2^128-1]. Specified value was {text}"
                    ))
                })?)
            }
            _ => None,
        };
        Ok((has_data && has_key).then(|| PutRecord {
            data: data.unwrap_or_default(),
            partition_key: self.partition_key.unwrap_or_default(),
            explicit_hash_key,
        }))
    }
}

/// PutRecord.
pub async fn put_record(
    state: &AppState,
    input: Map<String, Value>,
    body_bytes: u64,
) -> Result<Answer, KinesisError> {
    let input: PutRecordInput = parse(input)?;
    let config = &state.config.kinesis;
    let mut checks = Checks::default();
    let record = input.entry.record("", &mut checks, config)?;
    checks.decimal(
        input.sequence_number_for_ordering.as_deref(),
        "sequenceNumberForOrdering",
        SEQUENCE_DIGITS,
    );
    checks.finish()?;
    let stream = input.stream.resolve(config)?;
    let record = record.ok_or_else(|| KinesisError::validation("no record"))?;
    let mut results = state
        .streams
        .put_records(&stream, vec![record])
        .await
        .map_err(|e| config.bus_error(e))?;
    let put = results
        .pop()
        .ok_or_else(|| KinesisError::validation("no result for the record"))?
        .map_err(record_error)?;
    Ok(Answer::json(json!({
        "ShardId": put.shard_id,
        "SequenceNumber": put.sequence_number,
        "EncryptionType": "NONE",
    }))
    .accepted(RecordsAccepted::one(stream, body_bytes)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsInput {
    #[serde(flatten)]
    stream: StreamRef,
    records: Option<Vec<Entry>>,
}

/// PutRecords: all records checked first (one bad record refuses the call, as Kinesis does);
/// each stored record gets its sequence number, each failed one its `ErrorCode`.
pub async fn put_records(
    state: &AppState,
    input: Map<String, Value>,
    body_bytes: u64,
) -> Result<Answer, KinesisError> {
    let input: PutRecordsInput = parse(input)?;
    let config = &state.config.kinesis;
    let mut checks = Checks::default();
    checks.required(input.records.as_ref(), "records");
    checks.list_length(
        input.records.as_ref().map(Vec::len),
        "records",
        1,
        config.max_records_per_call,
    );
    let mut records = Vec::new();
    for (i, entry) in input.records.into_iter().flatten().enumerate() {
        let member = format!("records.{}.member.", i + 1);
        records.extend(entry.record(&member, &mut checks, config)?);
    }
    checks.finish()?;
    let stream = input.stream.resolve(config)?;
    let total: usize = records
        .iter()
        .map(|r| r.data.len() + r.partition_key.len())
        .sum();
    if total > config.max_call_bytes {
        return Err(KinesisError::invalid_argument(format!(
            "Records size exceeds {} MB limit",
            config.max_call_bytes / (1024 * 1024)
        )));
    }
    let results = state
        .streams
        .put_records(&stream, records)
        .await
        .map_err(|e| config.bus_error(e))?;
    let accepted = RecordsAccepted::of(stream, body_bytes, &results);
    let entries: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(put) => json!({"SequenceNumber": put.sequence_number, "ShardId": put.shard_id}),
            Err(e) => json!({"ErrorCode": entry_error_code(e).1, "ErrorMessage": e.to_string()}),
        })
        .collect();
    Ok(Answer::json(json!({
        "FailedRecordCount": accepted.refused,
        "Records": entries,
        "EncryptionType": "NONE",
    }))
    .accepted(accepted))
}
