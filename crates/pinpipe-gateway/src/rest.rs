//! The batch path: the Confluent REST Proxy v2 produce call (SPEC §3), as API Gateway proxied it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pinpipe_bus::{BusError, ProduceRecord, Produced, RecordError, TopicInfo, with_causes};
use pinpipe_telemetry::BackendUnavailable;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::GatewayConfig;
use crate::body::{MAX_NESTING, media_type, nests_deeper_than};
use crate::envelope::RestError;
use crate::metrics::RecordsAccepted;
use crate::state::AppState;

/// Content types the produce call accepts.
const PRODUCE_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.kafka.json.v2+json",
    "application/vnd.kafka.v2+json",
    "application/json",
];

impl From<BusError> for RestError {
    fn from(e: BusError) -> Self {
        let message = with_causes(&e);
        match &e {
            BusError::TopicNotFound(_) => Self::new(StatusCode::NOT_FOUND, 40401, message),
            BusError::PartitionNotFound { .. } => Self::new(StatusCode::NOT_FOUND, 40402, message),
            BusError::InvalidName { .. } | BusError::InvalidRequest(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, 422, message)
            }
            BusError::AlreadyExists(_) => Self::new(StatusCode::CONFLICT, 40902, message),
            _ if e.is_transient() => {
                BackendUnavailable {
                    component: "gateway",
                    backend: "bus",
                    error: message.clone(),
                }
                .emit();
                Self::new(StatusCode::SERVICE_UNAVAILABLE, 50302, message)
            }
            // REST Proxy's "Kafka error": the backend refused, a retry will not help.
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50002, message),
        }
    }
}

/// The produce request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceRequest<'a> {
    #[serde(borrow)]
    records: Option<Vec<RecordIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn<'a> {
    #[serde(default, borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    partition: Option<i32>,
}

#[derive(Serialize)]
struct ProduceResponse {
    key_schema_id: Option<i64>,
    value_schema_id: Option<i64>,
    offsets: Vec<OffsetOut>,
}

#[derive(Serialize)]
struct OffsetOut {
    partition: Option<i32>,
    offset: Option<i64>,
    error_code: Option<u32>,
    error: Option<String>,
}

impl From<Result<Produced, RecordError>> for OffsetOut {
    fn from(result: Result<Produced, RecordError>) -> Self {
        match result {
            Ok(p) => Self {
                partition: Some(p.partition),
                offset: Some(p.offset),
                error_code: None,
                error: None,
            },
            Err(e) => Self {
                partition: None,
                offset: None,
                error_code: Some(match e {
                    RecordError::PartitionNotFound(_) => 40402,
                    // REST Proxy's "Kafka error" and "retriable Kafka error".
                    RecordError::TooLarge { .. } => 50002,
                    RecordError::Rejected { .. } => 50003,
                }),
                error: Some(e.to_string()),
            },
        }
    }
}

/// `POST /topics/{topic}`.
pub async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    produce_to(state, topic, None, &headers, body).await
}

/// `POST /topics/{topic}/partitions/{partition}`.
pub async fn produce_to_partition(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let partition = partition.parse::<i32>().map_err(|_| {
        RestError::new(
            StatusCode::NOT_FOUND,
            40402,
            format!("partition {partition:?} not found in topic {topic}"),
        )
    })?;
    produce_to(state, topic, Some(partition), &headers, body).await
}

async fn produce_to(
    state: AppState,
    topic: String,
    forced_partition: Option<i32>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    pinpipe_bus::validate_topic_name(&topic).map_err(|e| {
        RestError::new(
            StatusCode::NOT_FOUND,
            40401,
            format!("topic not found: {e}"),
        )
    })?;
    check_media_type(headers)?;
    let records = parse_records(&body, forced_partition, &state.config)?;
    // Only auto-creation may need the records a second time.
    let retry = state.config.auto_create_topics.then(|| records.clone());
    let results = match (state.topics.produce(&topic, records).await, retry) {
        (Err(BusError::TopicNotFound(_)), Some(records)) => {
            create_topic(&state, &topic).await?;
            state.topics.produce(&topic, records).await?
        }
        (outcome, _) => outcome?,
    };
    // The partition of the path is the call's, as REST Proxy checks it before producing: 404.
    if let Some(partition) = forced_partition
        && results
            .iter()
            .all(|r| matches!(r, Err(RecordError::PartitionNotFound(_))))
    {
        return Err(RestError::new(
            StatusCode::NOT_FOUND,
            40402,
            format!("partition {partition} not found in topic {topic}"),
        ));
    }
    let accepted = RecordsAccepted::of(topic, body.len() as u64, &results);
    let response = ProduceResponse {
        key_schema_id: None,
        value_schema_id: None,
        offsets: results.into_iter().map(OffsetOut::from).collect(),
    };
    let mut response = Json(response).into_response();
    response.extensions_mut().insert(accepted);
    Ok(response)
}

async fn create_topic(state: &AppState, topic: &str) -> Result<(), RestError> {
    match state
        .topics
        .create_topic(topic, state.config.default_partitions)
        .await
    {
        Ok(()) | Err(BusError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn check_media_type(headers: &HeaderMap) -> Result<(), RestError> {
    match media_type(headers) {
        Some(m) if PRODUCE_MEDIA_TYPES.contains(&m.as_str()) => Ok(()),
        other => Err(RestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            format!(
                "HTTP 415 Unsupported Media Type: {} (use application/vnd.kafka.json.v2+json)",
                other.as_deref().unwrap_or("no Content-Type")
            ),
        )),
    }
}

/// Parses the body into records whose values are compact JSON bytes, one line each, within the
/// limits of `config` (records per call, key size).
fn parse_records(
    body: &[u8],
    forced_partition: Option<i32>,
    config: &GatewayConfig,
) -> Result<Vec<ProduceRecord>, RestError> {
    if nests_deeper_than(body, MAX_NESTING) {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            400,
            format!("malformed JSON: nested deeper than {MAX_NESTING} levels"),
        ));
    }
    let request: ProduceRequest<'_> = serde_json::from_slice(body).map_err(json_error)?;
    let records = request.records.ok_or_else(|| {
        RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "records may not be null",
        )
    })?;
    if records.is_empty() {
        return Err(RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "records may not be empty",
        ));
    }
    if records.len() > config.max_records_per_request {
        return Err(RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            format!(
                "a produce call may carry {} records at most, got {}",
                config.max_records_per_request,
                records.len()
            ),
        ));
    }
    records
        .into_iter()
        .map(|r| {
            let key = r
                .key
                .map(|key| stored_json(key, false))
                .transpose()
                .map_err(json_error)?;
            if let Some(key) = key.as_ref().filter(|k| k.len() > config.max_key_bytes) {
                return Err(RestError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    422,
                    format!(
                        "a record key of {} bytes is over the limit of {} bytes",
                        key.len(),
                        config.max_key_bytes
                    ),
                ));
            }
            Ok(ProduceRecord {
                key,
                value: match r.value {
                    Some(value) => stored_json(value, false).map_err(json_error)?,
                    None => b"null".to_vec(),
                },
                partition: forced_partition.or(r.partition),
            })
        })
        .collect()
}

/// A key or value as the bus stores it: [`compact_json`]'s one line (with `minified`, without
/// any white space between tokens, as REST Proxy v3 stores JSON), or a refusal when it
/// holds a lone UTF-16 surrogate escape (`"\ud800"`). serde_json takes such a raw value without
/// decoding it, but every reader that decodes the JSON (a v2 consumer, serde_json itself) refuses
/// it, so once acknowledged it would block its consumers. One pass finds both what needs
/// rewriting (a line break) and what needs decoding to check (a surrogate escape, rare).
pub(crate) fn stored_json(raw: &RawValue, minified: bool) -> Result<Vec<u8>, serde_json::Error> {
    let text = raw.get();
    let bytes = text.as_bytes();
    let (mut line_break, mut surrogate) = (false, false);
    for at in memchr::memchr3_iter(b'\n', b'\r', b'\\', bytes) {
        if bytes[at] == b'\\' {
            surrogate |= matches!(
                bytes.get(at + 1..at + 4),
                Some([b'u', b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'])
            );
        } else {
            line_break = true;
        }
    }
    if surrogate {
        serde_json::from_str::<serde_json::Value>(text)?;
    }
    Ok(if line_break || minified {
        minify(text)
    } else {
        bytes.to_vec()
    })
}

/// The JSON text as one line: a value without line breaks is used as sent.
pub fn compact_json(raw: &RawValue) -> Vec<u8> {
    let text = raw.get();
    if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
        return text.as_bytes().to_vec();
    }
    minify(text)
}

/// `text`, valid JSON, without the white space between its tokens, and so on one line (JSON holds
/// a line break only there, never inside a string). Nothing else changes: not the order of the
/// keys, nor a number too large for a 64-bit integer or a double.
fn minify(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text.as_bytes() {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = byte == b'"';
            out.push(byte);
        }
    }
    out
}

/// Maps a body that is not the expected JSON to REST Proxy's answer: unknown fields are 422
/// `Unrecognized field: <name>`, anything else malformed is 400.
pub fn json_error(e: serde_json::Error) -> RestError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            format!("Unrecognized field: {field}"),
        );
    }
    match e.classify() {
        serde_json::error::Category::Data => {
            RestError::new(StatusCode::UNPROCESSABLE_ENTITY, 422, text)
        }
        _ => RestError::new(
            StatusCode::BAD_REQUEST,
            400,
            format!("malformed JSON: {text}"),
        ),
    }
}

/// `GET /topics`: topic names, as REST Proxy lists them.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<String>>, RestError> {
    let topics = state.topics.list_topics().await?;
    Ok(Json(topics.into_iter().map(|t| t.name).collect()))
}

/// A topic as REST Proxy v2 describes it, one broker (1, as v3 names it) leading every
/// partition, and each partition's high watermark besides.
#[derive(Serialize)]
pub struct TopicOut {
    name: String,
    configs: serde_json::Map<String, serde_json::Value>,
    partitions: Vec<PartitionOut>,
}

#[derive(Serialize)]
struct PartitionOut {
    partition: i32,
    leader: i32,
    replicas: [ReplicaOut; 1],
    high_watermark: i64,
}

#[derive(Serialize)]
struct ReplicaOut {
    broker: i32,
    leader: bool,
    in_sync: bool,
}

/// The one broker of the embedded bus.
const BROKER: i32 = 1;

impl From<TopicInfo> for TopicOut {
    fn from(topic: TopicInfo) -> Self {
        Self {
            name: topic.name,
            configs: serde_json::Map::new(),
            partitions: topic
                .partitions
                .into_iter()
                .map(|p| PartitionOut {
                    partition: p.partition,
                    leader: BROKER,
                    replicas: [ReplicaOut {
                        broker: BROKER,
                        leader: true,
                        in_sync: true,
                    }],
                    high_watermark: p.high_watermark,
                })
                .collect(),
        }
    }
}

/// `GET /topics/{topic}`: the topic as REST Proxy describes it, with its partitions' high
/// watermarks.
pub async fn describe(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<TopicOut>, RestError> {
    Ok(Json(state.topics.describe_topic(&topic).await?.into()))
}

#[cfg(test)]
mod tests {
    use super::minify;

    #[test]
    fn minified_json_keeps_strings_and_numbers_as_written() {
        let text = "{ \"a\" : \"x \\\" y  \\\\\",\n\t\"b\": [1.50, 2e3 ,\r\n 123456789012345678901234567890] }";
        assert_eq!(
            String::from_utf8(minify(text)).expect("utf-8"),
            r#"{"a":"x \" y  \\","b":[1.50,2e3,123456789012345678901234567890]}"#
        );
    }
}
