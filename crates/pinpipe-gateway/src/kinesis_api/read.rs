//! GetShardIterator and GetRecords over the bus's shard reads, with self-describing iterators
//! ([`super::token`]): LATEST is pinned when the iterator is made, every GetRecords answers a
//! fresh iterator after its last record, and an iterator older than `iterator_ttl` is refused
//! with `ExpiredIteratorException`.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pinpipe_bus::ReadLimit;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::admin::describe;
use super::codec::seconds;
use super::input::{Checks, StreamRef, parse, timestamp_ms};
use super::token::{self, MAX_TOKEN, Position, ShardIterator};
use super::{Answer, now_ms};
use crate::envelope::KinesisError;
use crate::state::AppState;

/// Iterator types, as Kinesis lists them in its messages.
const ITERATOR_TYPES: [&str; 5] = [
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetShardIteratorInput {
    #[serde(flatten)]
    stream: StreamRef,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<f64>,
}

/// GetShardIterator.
pub async fn get_shard_iterator(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: GetShardIteratorInput = parse(input)?;
    let mut checks = Checks::default();
    checks.required(input.shard_id.as_ref(), "shardId");
    checks.length(input.shard_id.as_deref(), "shardId", 1, 128);
    checks.required(input.shard_iterator_type.as_ref(), "shardIteratorType");
    checks.one_of(
        input.shard_iterator_type.as_deref(),
        "shardIteratorType",
        &ITERATOR_TYPES,
    );
    checks.decimal(
        input.starting_sequence_number.as_deref(),
        "startingSequenceNumber",
        129,
    );
    checks.finish()?;
    let config = &state.config.kinesis;
    let stream = input.stream.resolve(config)?;
    let kind = input.shard_iterator_type.unwrap_or_default();
    let shard_id = input.shard_id.unwrap_or_default();
    let sequence = input.starting_sequence_number;
    let needs_sequence = kind.ends_with("_SEQUENCE_NUMBER");
    if needs_sequence != sequence.is_some() {
        let given = if sequence.is_some() {
            "and also a StartingSequenceNumber"
        } else {
            "and no StartingSequenceNumber"
        };
        return Err(KinesisError::invalid_argument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
             StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. \
             Request specified {kind} {given}."
        )));
    }
    let info = describe(state, stream.clone()).await?;
    let shard = info
        .shards
        .iter()
        .find(|s| s.shard_id == shard_id)
        .ok_or_else(|| config.shard_not_found(&stream, &shard_id))?;
    let now = now_ms();
    let position = match (kind.as_str(), sequence) {
        ("AT_SEQUENCE_NUMBER", Some(seq)) => Position::At(seq),
        ("AFTER_SEQUENCE_NUMBER", Some(seq)) => Position::After(seq),
        ("LATEST", _) => shard
            .next_sequence_number
            .clone()
            .map_or(Position::Since(now), Position::At),
        ("AT_TIMESTAMP", _) => {
            let at = input.timestamp.map(timestamp_ms).ok_or_else(|| {
                KinesisError::invalid_argument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. \
                     Current request has no timestamp parameter.",
                )
            })?;
            if at > now {
                return Err(KinesisError::invalid_argument(format!(
                    "The timestampInMillis parameter cannot be greater than the \
                     currentTimestampInMillis. timestampInMillis: {at}, currentTimestampInMillis: {now}"
                )));
            }
            Position::Since(at)
        }
        _ => Position::Oldest,
    };
    // A sequence number before the shard's first or after its next one is not the shard's: it
    // is another shard's (or made up), and reading from its offset would read the wrong records.
    if let Position::At(seq) | Position::After(seq) = &position
        && (!at_or_after(seq, &shard.starting_sequence_number)
            || (shard.next_sequence_number.as_deref()).is_some_and(|next| !at_or_after(next, seq)))
    {
        return Err(KinesisError::invalid_argument(format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard {shard_id} in stream \
             {stream} under account {} is invalid.",
            config.account_id
        )));
    }
    let iterator = ShardIterator {
        stream,
        incarnation: info.incarnation,
        shard: shard_id,
        position,
        created_ms: now,
    };
    Ok(Answer::json(
        json!({ "ShardIterator": token::encode(&iterator) }),
    ))
}

/// Whether decimal sequence number `seq` is at or after `start` (no leading zeros in either).
fn at_or_after(seq: &str, start: &str) -> bool {
    (seq.len(), seq) >= (start.len(), start)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsInput {
    shard_iterator: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// GetRecords.
pub async fn get_records(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: GetRecordsInput = parse(input)?;
    let config = &state.config.kinesis;
    let mut checks = Checks::default();
    checks.required(input.shard_iterator.as_ref(), "shardIterator");
    checks.length(
        input.shard_iterator.as_deref(),
        "shardIterator",
        1,
        MAX_TOKEN,
    );
    checks.range(input.limit, "limit", 1, 10_000);
    checks.finish()?;
    let invalid = || KinesisError::invalid_argument("Invalid ShardIterator.");
    let iterator: ShardIterator =
        token::decode(input.shard_iterator.as_deref().unwrap_or_default()).ok_or_else(invalid)?;
    if let Some(arn) = input.stream_arn
        && config.stream(None, Some(arn))? != iterator.stream
    {
        return Err(KinesisError::invalid_argument(
            "The ShardIterator does not belong to the stream of StreamARN.",
        ));
    }
    let now = now_ms();
    let ttl = i64::try_from(config.iterator_ttl.as_millis()).unwrap_or(i64::MAX);
    if now.saturating_sub(iterator.created_ms) > ttl {
        return Err(KinesisError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredIteratorException",
            format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} \
                 which is further in the future than the tolerated delay of {ttl} milliseconds.",
                java_date(iterator.created_ms),
                java_date(now)
            ),
        ));
    }
    let info = describe(state, iterator.stream.clone()).await?;
    if info.incarnation != iterator.incarnation
        || !info.shards.iter().any(|s| s.shard_id == iterator.shard)
    {
        return Err(config.shard_not_found(&iterator.stream, &iterator.shard));
    }
    let max = config.max_get_records;
    let limit = input
        .limit
        .map_or(max, |l| usize::try_from(l).unwrap_or(max).min(max));
    let read_limit = ReadLimit {
        records: limit,
        bytes: config.max_get_records_bytes,
    };
    let records = state
        .streams
        .read_shard(
            &iterator.stream,
            &iterator.shard,
            iterator.position.read_from(),
            read_limit,
        )
        .await
        .map_err(|e| config.bus_error(e))?;
    let bytes: usize = records.iter().map(|r| r.data.len()).sum();
    let behind = match records.last() {
        Some(last) if records.len() >= limit || bytes >= read_limit.bytes => {
            now.saturating_sub(last.arrival_ms).max(0)
        }
        _ => 0,
    };
    let position = records.last().map_or(iterator.position.clone(), |last| {
        Position::After(last.sequence_number.clone())
    });
    let next = ShardIterator {
        position,
        created_ms: now,
        ..iterator
    };
    let out: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "SequenceNumber": r.sequence_number,
                "ApproximateArrivalTimestamp": seconds(r.arrival_ms),
                "Data": STANDARD.encode(&r.data),
                "PartitionKey": r.partition_key,
            })
        })
        .collect();
    Ok(Answer::json(json!({
        "Records": out,
        "NextShardIterator": token::encode(&next),
        "MillisBehindLatest": behind,
    })))
}

/// A time as Java's `Date.toString()` in UTC, as Kinesis's expiry message shows it.
fn java_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |at| {
        at.format("%a %b %d %H:%M:%S UTC %Y").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(at_or_after("10", "9"));
        assert!(at_or_after("49000", "49000"));
        assert!(!at_or_after("48999", "49000"));
    }

    #[test]
    fn dates_read_like_java() {
        assert_eq!(java_date(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
    }
}
