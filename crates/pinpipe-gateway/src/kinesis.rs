//! The stream path: the Kinesis proxy routes the original API Gateway exposed (SPEC §3).
//! Errors use Kinesis's envelope, `{"__type": "...", "message": "..."}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pinpipe_bus::{
    BusError, PutRecord, RecordError, StreamInfo, validate_stream_name, with_causes,
};
use pinpipe_telemetry::BackendUnavailable;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::body::{MAX_NESTING, nests_deeper_than};
use crate::envelope::KinesisError;
use crate::metrics::RecordsAccepted;
use crate::rest::compact_json;
use crate::state::AppState;

/// Longest partition key.
const MAX_PARTITION_KEY: usize = 256;

impl From<BusError> for KinesisError {
    fn from(e: BusError) -> Self {
        let message = with_causes(&e);
        let (status, kind) = match &e {
            BusError::StreamNotFound(_) | BusError::ShardNotFound { .. } => {
                (StatusCode::BAD_REQUEST, "ResourceNotFoundException")
            }
            BusError::AlreadyExists(_) => (StatusCode::BAD_REQUEST, "ResourceInUseException"),
            BusError::InvalidName { .. } | BusError::InvalidRequest(_) => {
                (StatusCode::BAD_REQUEST, "ValidationException")
            }
            _ if e.is_transient() => {
                BackendUnavailable {
                    component: "gateway",
                    backend: "bus",
                    error: message.clone(),
                }
                .emit();
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
        };
        Self::new(status, kind, message)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordIn<'a> {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    partition_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsIn<'a> {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(borrow)]
    records: Option<Vec<EntryIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EntryIn<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    partition_key: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordOut {
    sequence_number: String,
    shard_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOut {
    failed_record_count: u64,
    records: Vec<EntryOut>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EntryOut {
    #[serde(rename_all = "PascalCase")]
    Ok {
        sequence_number: String,
        shard_id: String,
    },
    #[serde(rename_all = "PascalCase")]
    Failed {
        error_code: &'static str,
        error_message: String,
    },
}

/// `PUT /streams/{stream}/record`.
pub async fn put_record(
    State(state): State<AppState>,
    Path(stream): Path<String>,
    body: Bytes,
) -> Result<Response, KinesisError> {
    validate_stream_name(&stream)?;
    let request: PutRecordIn<'_> = parse(&body)?;
    check_stream_name(&stream, request.stream_name.as_deref())?;
    let record = to_put_record(
        request.data,
        request.partition_key,
        state.config.kinesis.max_record_bytes,
    )?;
    let mut results = state.streams.put_records(&stream, vec![record]).await?;
    let result = results
        .pop()
        .ok_or_else(|| KinesisError::validation("no result for the record"))?
        .map_err(record_error)?;
    let mut response = Json(PutRecordOut {
        sequence_number: result.sequence_number,
        shard_id: result.shard_id,
    })
    .into_response();
    response
        .extensions_mut()
        .insert(RecordsAccepted::one(stream, body.len() as u64));
    Ok(response)
}

/// `PUT /streams/{stream}/records`.
pub async fn put_records(
    State(state): State<AppState>,
    Path(stream): Path<String>,
    body: Bytes,
) -> Result<Response, KinesisError> {
    validate_stream_name(&stream)?;
    let request: PutRecordsIn<'_> = parse(&body)?;
    check_stream_name(&stream, request.stream_name.as_deref())?;
    let entries = request
        .records
        .ok_or_else(|| KinesisError::validation("Records is required"))?;
    let limits = &state.config.kinesis;
    if entries.is_empty() || entries.len() > limits.max_records_per_call {
        return Err(KinesisError::validation(format!(
            "Records must hold 1 to {} records, got {}",
            limits.max_records_per_call,
            entries.len()
        )));
    }
    let records = entries
        .into_iter()
        .map(|e| to_put_record(e.data, e.partition_key, limits.max_record_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let total: usize = records
        .iter()
        .map(|r| r.data.len() + r.partition_key.len())
        .sum();
    if total > limits.max_call_bytes {
        return Err(KinesisError::validation(format!(
            "the records total {total} bytes, over the {} bytes a call may carry",
            limits.max_call_bytes
        )));
    }
    let results = state.streams.put_records(&stream, records).await?;
    let accepted = RecordsAccepted::of(stream, body.len() as u64, &results);
    let out = PutRecordsOut {
        failed_record_count: accepted.refused,
        records: results
            .into_iter()
            .map(|r| match r {
                Ok(p) => EntryOut::Ok {
                    sequence_number: p.sequence_number,
                    shard_id: p.shard_id,
                },
                Err(e) => EntryOut::Failed {
                    error_code: entry_error_code(&e).1,
                    error_message: e.to_string(),
                },
            })
            .collect(),
    };
    let mut response = Json(out).into_response();
    response.extensions_mut().insert(accepted);
    Ok(response)
}

/// `GET /streams`.
pub async fn list(State(state): State<AppState>) -> Result<Response, KinesisError> {
    let names = state.streams.list_streams().await?;
    Ok(Json(serde_json::json!({ "StreamNames": names, "HasMoreStreams": false })).into_response())
}

/// `GET /streams/{stream}`.
pub async fn describe(
    State(state): State<AppState>,
    Path(stream): Path<String>,
) -> Result<Response, KinesisError> {
    let info: StreamInfo = state.streams.describe_stream(&stream).await?;
    let shards: Vec<_> = info
        .shards
        .iter()
        .map(|s| {
            serde_json::json!({
                "ShardId": s.shard_id,
                "HashKeyRange": {
                    "StartingHashKey": s.starting_hash_key,
                    "EndingHashKey": s.ending_hash_key,
                },
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "StreamDescription": {
            "StreamName": info.name,
            "StreamStatus": "ACTIVE",
            "Shards": shards,
            "HasMoreShards": false,
        }
    }))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CreateIn {
    shard_count: Option<u32>,
}

/// A stream's shard count must be at least one and at most `max` (Kinesis's shard quota).
pub fn check_shard_count(shards: u32, max: u32) -> Result<(), KinesisError> {
    if shards == 0 {
        return Err(KinesisError::validation("ShardCount must be at least 1"));
    }
    if shards > max {
        return Err(KinesisError::new(
            StatusCode::BAD_REQUEST,
            "LimitExceededException",
            format!(
                "ShardCount {shards} is over the limit of {max} shards per stream ([gateway] max_shards)"
            ),
        ));
    }
    Ok(())
}

/// `POST /streams/{stream}`: creates the stream (`{"ShardCount": n}` optional, at most
/// `max_shards`). An admin operation (see [`crate::guard`]).
pub async fn create(
    State(state): State<AppState>,
    Path(stream): Path<String>,
    body: Bytes,
) -> Result<Response, KinesisError> {
    let request: CreateIn = if body.iter().all(u8::is_ascii_whitespace) {
        CreateIn::default()
    } else {
        parse(&body)?
    };
    let shards = request.shard_count.unwrap_or(state.config.default_shards);
    check_shard_count(shards, state.config.max_shards)?;
    state.streams.create_stream(&stream, shards).await?;
    Ok(Json(serde_json::json!({})).into_response())
}

/// `DELETE /streams/{stream}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(stream): Path<String>,
) -> Result<Response, KinesisError> {
    state.streams.delete_stream(&stream).await?;
    Ok(Json(serde_json::json!({})).into_response())
}

fn check_stream_name(path: &str, body: Option<&str>) -> Result<(), KinesisError> {
    match body {
        Some(name) if name != path => Err(KinesisError::validation(format!(
            "StreamName {name:?} does not match the stream in the path {path:?}"
        ))),
        _ => Ok(()),
    }
}

fn to_put_record(
    data: Option<&RawValue>,
    partition_key: Option<String>,
    max_record_bytes: usize,
) -> Result<PutRecord, KinesisError> {
    let data = data.ok_or_else(|| KinesisError::validation("Data is required"))?;
    let partition_key =
        partition_key.ok_or_else(|| KinesisError::validation("PartitionKey is required"))?;
    if partition_key.is_empty() || partition_key.chars().count() > MAX_PARTITION_KEY {
        return Err(KinesisError::validation(format!(
            "PartitionKey must be 1 to {MAX_PARTITION_KEY} characters"
        )));
    }
    let data = compact_json(data);
    let size = data.len() + partition_key.len();
    if size > max_record_bytes {
        return Err(KinesisError::validation(format!(
            "a record of {size} bytes exceeds the limit of {max_record_bytes} bytes"
        )));
    }
    Ok(PutRecord::new(data, partition_key))
}

/// A single record that failed: a bad record is the caller's error (400); a record Kinesis did
/// not take this time (throttled: 400 as Kinesis answers it; an internal failure: 500) may be
/// sent again.
pub fn record_error(e: RecordError) -> KinesisError {
    match &e {
        RecordError::Rejected { .. } => {
            let (status, kind) = entry_error_code(&e);
            KinesisError::new(status, kind, e.to_string())
        }
        RecordError::TooLarge { .. } | RecordError::PartitionNotFound(_) => {
            KinesisError::validation(e.to_string())
        }
    }
}

/// The Kinesis error code (and HTTP status, for a single record) of a failed record.
pub fn entry_error_code(e: &RecordError) -> (StatusCode, &'static str) {
    match e {
        // Kinesis answers throttling with 400, which every SDK retries by its `__type`.
        RecordError::Rejected { code, .. } if code == THROTTLED => {
            (StatusCode::BAD_REQUEST, THROTTLED)
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
    }
}

/// Kinesis's code for a record refused because the shard is over its throughput.
const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// Parses a request body, refusing hostile nesting before the parser sees it.
fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, KinesisError> {
    if nests_deeper_than(body, MAX_NESTING) {
        return Err(KinesisError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("nested deeper than {MAX_NESTING} levels"),
        ));
    }
    serde_json::from_slice(body).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> KinesisError {
    KinesisError::new(
        StatusCode::BAD_REQUEST,
        "SerializationException",
        e.to_string(),
    )
}
