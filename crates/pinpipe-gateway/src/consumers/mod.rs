//! REST Proxy v2 consumers, as Confluent documents them: create an instance in a group,
//! subscribe it, read records, commit and read offsets, move its positions, delete it.
//!
//! ```text
//!  POST   /consumers/{group}                                  create an instance
//!  DELETE /consumers/{group}/instances/{i}                    delete it
//!  POST | GET | DELETE  …/instances/{i}/subscription          topics it reads
//!  GET    …/instances/{i}/records?timeout=&max_bytes=         records (binary or json format)
//!  POST | GET           …/instances/{i}/offsets               commit / read committed offsets
//!  POST   …/instances/{i}/positions[/beginning|/end]          seek
//! ```
//!
//! Offsets are committed in the bus's consumer groups, the ones the sink uses; the sink's own
//! group ([`crate::GatewayConfig::reserved_groups`]), and a group another member holds on the
//! embedded bus, are refused with 409 `40903`. Errors use the
//! REST Proxy envelope (`40403` unknown instance, `40601` wrong `Accept`, `40902` name taken).

mod registry;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use pinpipe_bus::{BusError, ConsumedRecord, ReadLimit, TopicConsumer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use registry::Registry;
use registry::{AddError, Format, Instance, Reset};

use tokio::sync::OwnedSemaphorePermit;

use crate::envelope::RestError;
use crate::rest::json_error;
use crate::state::AppState;

/// The media type of v2 answers.
const V2: &str = "application/vnd.kafka.v2+json";
/// Most records one read hands out.
const MAX_RECORDS_PER_READ: usize = 10_000;

/// The consumer routes.
pub fn routes() -> Router<AppState> {
    let instance = "/consumers/{group}/instances/{instance}";
    Router::new()
        .route("/consumers/{group}", post(create))
        .route(instance, delete(remove))
        .route(
            &format!("{instance}/subscription"),
            post(subscribe).get(subscription).delete(unsubscribe),
        )
        .route(&format!("{instance}/records"), get(records))
        .route(&format!("{instance}/offsets"), post(commit).get(committed))
        .route(&format!("{instance}/positions"), post(seek))
        .route(
            &format!("{instance}/positions/beginning"),
            post(seek_beginning),
        )
        .route(&format!("{instance}/positions/end"), post(seek_end))
}

/// A v2 answer: `application/vnd.kafka.v2+json`.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, V2)], Json(body)).into_response()
}

/// The request body, or `None` when there is none.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, RestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(json_error)
}

fn instance_not_found() -> RestError {
    RestError::new(StatusCode::NOT_FOUND, 40403, "Consumer instance not found.")
}

fn illegal_state(message: impl std::fmt::Display) -> RestError {
    RestError::new(
        StatusCode::CONFLICT,
        40903,
        format!("Illegal state: {message}"),
    )
}

/// A bus error on a consumer route: a group held by another member is an illegal state.
fn bus_error(e: BusError) -> RestError {
    match e {
        BusError::GroupBusy { .. } | BusError::InvalidRequest(_) => illegal_state(e),
        BusError::Refused { .. } if e.to_string().contains("lost its lease") => illegal_state(e),
        other => RestError::from(other),
    }
}

#[derive(Deserialize, Default)]
struct CreateIn {
    name: Option<String>,
    id: Option<String>,
    format: Option<String>,
    #[serde(rename = "auto.offset.reset")]
    auto_offset_reset: Option<String>,
    #[serde(rename = "auto.commit.enable")]
    auto_commit_enable: Option<Value>,
}

/// `POST /consumers/{group}`.
async fn create(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, RestError> {
    if state.config.reserved_groups.contains(&group) {
        return Err(illegal_state(format!(
            "group {group} is the sink's consumer group; a REST Proxy consumer would take \
             partitions from the sink: use another group"
        )));
    }
    let request: CreateIn = body(&bytes)?.unwrap_or_default();
    let invalid = |message: String| {
        RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
            format!("Invalid consumer configuration: {message}"),
        )
    };
    let format = match request
        .format
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("binary") => Format::Binary,
        Some("json") => Format::Json,
        Some(schema @ ("avro" | "jsonschema" | "protobuf")) => {
            return Err(invalid(format!(
                "format {schema} needs a Schema Registry, which pinpipe does not have; use binary or json"
            )));
        }
        Some(_) => {
            return Err(RestError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                422,
                "Invalid format type.",
            ));
        }
    };
    let reset = match request.auto_offset_reset.as_deref() {
        None | Some("latest") => Reset::Latest,
        Some("earliest") => Reset::Earliest,
        Some("none") => Reset::None,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value {other} for configuration auto.offset.reset: String must be one of: latest, earliest, none"
            )));
        }
    };
    let auto_commit = match &request.auto_commit_enable {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value {other} for configuration enable.auto.commit: Expected value to be either true or false"
            )));
        }
    };
    let name = request
        .id
        .or(request.name)
        .unwrap_or_else(|| format!("rest-consumer-{}", uuid::Uuid::new_v4()));
    pinpipe_bus::validate_topic_name(&name).map_err(|e| invalid(format!("instance name: {e}")))?;
    match state
        .consumers
        .add(&group, &name, Instance::new(format, reset, auto_commit))
    {
        Ok(()) => {}
        Err(AddError::Exists) => {
            return Err(RestError::new(
                StatusCode::CONFLICT,
                40902,
                "Consumer with specified consumer ID already exists in the specified consumer group.",
            ));
        }
        Err(AddError::Full) => {
            return Err(RestError::new(
                StatusCode::TOO_MANY_REQUESTS,
                42901,
                format!(
                    "Too many consumer instances: at most {} are open at once ([gateway] max_consumer_instances)",
                    state.config.max_consumer_instances
                ),
            ));
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Ok(answer(
        StatusCode::OK,
        json!({
            "instance_id": name,
            "base_uri": format!("http://{host}/consumers/{group}/instances/{name}"),
        }),
    ))
}

/// `DELETE …/instances/{instance}`.
async fn remove(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<StatusCode, RestError> {
    if state.consumers.remove(&group, &name).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(instance_not_found())
    }
}

#[derive(Deserialize)]
struct SubscribeIn {
    topics: Option<Vec<String>>,
    topic_pattern: Option<String>,
}

/// `POST …/subscription`: joins the group for these topics, replacing any subscription.
async fn subscribe(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<StatusCode, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    let request: Option<SubscribeIn> = body(&bytes)?;
    let topics = match request {
        Some(SubscribeIn {
            topics: Some(topics),
            ..
        }) if !topics.is_empty() => topics,
        Some(SubscribeIn {
            topic_pattern: Some(_),
            ..
        }) => {
            return Err(RestError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                42206,
                "Payload error. topic_pattern is not supported by pinpipe: list the topics",
            ));
        }
        _ => {
            return Err(RestError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                42206,
                "Payload error. topics may not be empty",
            ));
        }
    };
    for topic in &topics {
        state.topics.describe_topic(topic).await?;
    }
    let mut instance = shared.lock().await;
    instance.unsubscribe().await;
    let mut consumer = state
        .topics
        .consumer_now(&group, &topics)
        .await
        .map_err(bus_error)?;
    let mut undefined = Vec::new();
    for (topic, partition) in consumer.assignment().await.map_err(bus_error)? {
        if consumer
            .committed(&topic, partition)
            .await
            .map_err(bus_error)?
            .is_some()
        {
            continue;
        }
        let start = match instance.reset {
            Reset::Earliest => 0,
            Reset::Latest => high_watermark(&state, &topic, partition).await?,
            Reset::None => {
                undefined.push(format!("{topic}-{partition}"));
                continue;
            }
        };
        consumer
            .seek(&topic, partition, start)
            .await
            .map_err(bus_error)?;
    }
    if !undefined.is_empty() {
        let _ = consumer.close().await;
        return Err(illegal_state(format!(
            "Undefined offset with no reset policy for partitions: [{}]",
            undefined.join(", ")
        )));
    }
    instance.topics = topics;
    instance.consumer = Some(consumer);
    Ok(StatusCode::NO_CONTENT)
}

/// The offset the next record of a partition will get.
async fn high_watermark(state: &AppState, topic: &str, partition: i32) -> Result<i64, RestError> {
    let info = state.topics.describe_topic(topic).await?;
    Ok(info
        .partitions
        .iter()
        .find(|p| p.partition == partition)
        .map_or(0, |p| p.high_watermark))
}

/// `GET …/subscription`.
async fn subscription(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    let topics = shared.lock().await.topics.clone();
    Ok(answer(StatusCode::OK, json!({ "topics": topics })))
}

/// `DELETE …/subscription`.
async fn unsubscribe(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<StatusCode, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    shared.lock().await.unsubscribe().await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct RecordsQuery {
    timeout: Option<i64>,
    max_bytes: Option<i64>,
}

/// The format an `Accept` header asks for; `None` for any.
fn accepted_format(headers: &HeaderMap) -> Option<Format> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    if accept.contains("application/vnd.kafka.json.v2+json") {
        Some(Format::Json)
    } else if accept.contains("application/vnd.kafka.binary.v2+json") {
        Some(Format::Binary)
    } else {
        None
    }
}

/// `GET …/records?timeout=&max_bytes=`.
async fn records(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Query(query): Query<RecordsQuery>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    let mut instance = shared.lock().await;
    if accepted_format(&headers).is_some_and(|f| f != instance.format) {
        return Err(RestError::new(
            StatusCode::NOT_ACCEPTABLE,
            40601,
            "The requested embedded data format does not match the deserializer for this consumer instance",
        ));
    }
    let config = &state.config;
    let wait = query
        .timeout
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|ms| *ms > 0)
        .map_or(config.consumer_request_timeout, Duration::from_millis)
        .min(config.consumer_request_timeout);
    let max_bytes = query
        .max_bytes
        .and_then(|n| usize::try_from(n).ok())
        .map_or(config.consumer_max_bytes, |n| {
            n.min(config.consumer_max_bytes)
        });
    let (_memory, max_bytes) = poll_memory(&state, max_bytes)?;
    let format = instance.format;
    let auto_commit = instance.auto_commit;
    let Some(consumer) = instance.consumer.as_mut() else {
        return Err(illegal_state(
            "Consumer is not subscribed to any topics or assigned any partitions",
        ));
    };
    let limit = ReadLimit {
        records: MAX_RECORDS_PER_READ,
        bytes: max_bytes,
    };
    let records = consumer.poll(limit, wait).await.map_err(bus_error)?;
    let (out, undeliverable) = deliverable(&records, format);
    if let Some(error) = undeliverable {
        // As Kafka's consumer does: the records before the one that cannot be read are handed
        // out, and every later poll answers the error until the client seeks past it.
        if let Err(e) = rewind(consumer.as_mut(), &records[out.len()..]).await {
            // Nothing is handed out then: back to the start of the poll, as far as possible.
            let _ = rewind(consumer.as_mut(), &records[..out.len()]).await;
            return Err(bus_error(e));
        }
        if out.is_empty() {
            return Err(error);
        }
    }
    let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for record in &records[..out.len()] {
        next.insert((record.topic.clone(), record.partition), record.offset + 1);
    }
    if auto_commit {
        for ((topic, partition), offset) in &next {
            consumer
                .commit(topic, *partition, *offset)
                .await
                .map_err(bus_error)?;
        }
    }
    instance.consumed.extend(next);
    let media = match format {
        Format::Binary => "application/vnd.kafka.binary.v2+json",
        Format::Json => "application/vnd.kafka.json.v2+json",
    };
    Ok(([(header::CONTENT_TYPE, media)], Json(Value::Array(out))).into_response())
}

/// The least a poll reserves of the gateway's in-flight memory (or its `max_bytes`, when
/// smaller): one large record.
const MIN_POLL_BYTES: usize = 1024 * 1024;

/// Takes the bytes a poll may read from the polls' memory (as large as
/// `max_in_flight_body_bytes`, apart from the request bodies' so that idle long polls cannot lock
/// producers out), held until its answer is built: `max_bytes`, but no more than a quarter of
/// what is free (a smaller poll rather than an error, and room left for the others). Without
/// it, a few hundred concurrent polls of 64 MiB each (their records, their JSON, their answer:
/// about 150 MB a poll) ran the gateway out of memory. When not even [`MIN_POLL_BYTES`] is free
/// (or the whole budget, when smaller), 429 (42901): try again shortly.
fn poll_memory(
    state: &AppState,
    max_bytes: usize,
) -> Result<(OwnedSemaphorePermit, usize), RestError> {
    let budget = state.config.max_in_flight_body_bytes;
    let free = state.poll_memory.available_permits();
    let least = max_bytes.clamp(1, MIN_POLL_BYTES).min(budget.max(1));
    let take = max_bytes.min(free / 4).max(least);
    let permits = u32::try_from(take).unwrap_or(u32::MAX);
    let permit = state
        .poll_memory
        .clone()
        .try_acquire_many_owned(permits)
        .map_err(|_| {
            RestError::new(
                StatusCode::TOO_MANY_REQUESTS,
                42901,
                "Too many requests: too much consumer data in flight; try again shortly",
            )
        })?;
    Ok((permit, take))
}

/// Moves each partition of `records` back to its first record there, so that the next poll
/// starts with it. Every partition is tried even if one fails (the first error is answered):
/// none may stay past records never handed out, or a later auto-commit would commit past them.
async fn rewind(
    consumer: &mut dyn TopicConsumer,
    records: &[ConsumedRecord],
) -> Result<(), BusError> {
    let mut first: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for record in records {
        first
            .entry((record.topic.as_str(), record.partition))
            .or_insert(record.offset);
    }
    let mut failed = None;
    for ((topic, partition), offset) in first {
        if let Err(e) = consumer.seek(topic, partition, offset).await {
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// The records as v2 hands them out, up to the first that cannot be (a json consumer's record
/// that is not JSON), with that one's error.
fn deliverable(records: &[ConsumedRecord], format: Format) -> (Vec<Value>, Option<RestError>) {
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        match record_json(record, format) {
            Ok(json) => out.push(json),
            Err(error) => return (out, Some(error)),
        }
    }
    (out, None)
}

/// A record as v2 hands it out: binary keys and values in base64, json ones parsed.
fn record_json(record: &ConsumedRecord, format: Format) -> Result<Value, RestError> {
    let decode = |bytes: &[u8]| -> Result<Value, RestError> {
        match format {
            Format::Binary => Ok(Value::String(STANDARD.encode(bytes))),
            Format::Json => serde_json::from_slice(bytes).map_err(|e| {
                RestError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    40801,
                    format!(
                        "Error deserializing message at {}-{} offset {} as JSON: {e}",
                        record.topic, record.partition, record.offset
                    ),
                )
            }),
        }
    };
    let key = match &record.key {
        Some(key) => decode(key)?,
        None => Value::Null,
    };
    Ok(json!({
        "topic": record.topic,
        "key": key,
        "value": decode(&record.value)?,
        "partition": record.partition,
        "offset": record.offset,
    }))
}

#[derive(Deserialize)]
struct OffsetIn {
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Deserialize)]
struct OffsetsIn {
    offsets: Vec<OffsetIn>,
}

#[derive(Deserialize)]
struct PartitionIn {
    topic: String,
    partition: i32,
}

#[derive(Deserialize)]
struct PartitionsIn {
    partitions: Vec<PartitionIn>,
}

/// `POST …/offsets`: commits `offset + 1` for each entry (the last record consumed), or, with
/// no body, everything handed out so far.
async fn commit(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    let request: Option<OffsetsIn> = body(&bytes)?;
    let mut instance = shared.lock().await;
    let offsets: Vec<(String, i32, i64)> = match request {
        Some(request) => request
            .offsets
            .into_iter()
            .map(|o| match o.offset.checked_add(1) {
                Some(next) if o.offset >= 0 => Ok((o.topic, o.partition, next)),
                _ => Err(RestError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42200,
                    format!("Offset {} is not a record's offset.", o.offset),
                )),
            })
            .collect::<Result<_, _>>()?,
        None => instance
            .consumed
            .iter()
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect(),
    };
    let consumer = instance
        .consumer
        .as_mut()
        .ok_or_else(|| illegal_state("Consumer is not subscribed to any topics"))?;
    for (topic, partition, offset) in offsets {
        consumer
            .commit(&topic, partition, offset)
            .await
            .map_err(bus_error)?;
    }
    Ok(answer(StatusCode::OK, json!([])))
}

/// `GET …/offsets` (with a body naming the partitions): the group's committed offsets.
async fn committed(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, RestError> {
    let shared = state
        .consumers
        .get(&group, &name)
        .await
        .ok_or_else(instance_not_found)?;
    let request: PartitionsIn = body(&bytes)?
        .ok_or_else(|| RestError::new(StatusCode::NOT_FOUND, 40402, "Partition not found."))?;
    let mut instance = shared.lock().await;
    let consumer = instance
        .consumer
        .as_mut()
        .ok_or_else(|| illegal_state("Consumer is not subscribed to any topics"))?;
    let mut out = Vec::new();
    for p in request.partitions {
        if let Some(offset) = consumer
            .committed(&p.topic, p.partition)
            .await
            .map_err(bus_error)?
        {
            out.push(json!({"topic": p.topic, "partition": p.partition, "offset": offset, "metadata": ""}));
        }
    }
    Ok(answer(StatusCode::OK, json!({ "offsets": out })))
}

/// Where a seek goes.
#[derive(Clone, Copy)]
enum Target {
    Offset(i64),
    Beginning,
    End,
}

/// Moves the instance's positions; each partition must be one it reads.
async fn seek_to(
    state: &AppState,
    group: &str,
    name: &str,
    targets: Vec<(String, i32, Target)>,
) -> Result<StatusCode, RestError> {
    let shared = state
        .consumers
        .get(group, name)
        .await
        .ok_or_else(instance_not_found)?;
    let mut instance = shared.lock().await;
    let consumer = instance
        .consumer
        .as_mut()
        .ok_or_else(|| illegal_state("Consumer is not subscribed to any topics"))?;
    let assigned = consumer.assignment().await.map_err(bus_error)?;
    for (topic, partition, target) in targets {
        if !assigned.iter().any(|(t, p)| *t == topic && *p == partition) {
            return Err(illegal_state(format!(
                "No current assignment for partition {topic}-{partition}"
            )));
        }
        let offset = match target {
            Target::Offset(offset) => offset,
            Target::Beginning => 0,
            Target::End => high_watermark(state, &topic, partition).await?,
        };
        consumer
            .seek(&topic, partition, offset)
            .await
            .map_err(bus_error)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn required<T>(value: Option<T>) -> Result<T, RestError> {
    value.ok_or_else(|| {
        RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "Request body may not be null",
        )
    })
}

/// `POST …/positions`: the next read of each partition starts at `offset`.
async fn seek(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<StatusCode, RestError> {
    let request: OffsetsIn = required(body(&bytes)?)?;
    let targets = request
        .offsets
        .into_iter()
        .map(|o| (o.topic, o.partition, Target::Offset(o.offset)))
        .collect();
    seek_to(&state, &group, &name, targets).await
}

/// `POST …/positions/beginning`.
async fn seek_beginning(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<StatusCode, RestError> {
    seek_partitions(&state, &group, &name, &bytes, Target::Beginning).await
}

/// `POST …/positions/end`.
async fn seek_end(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<StatusCode, RestError> {
    seek_partitions(&state, &group, &name, &bytes, Target::End).await
}

/// Seeks every partition a `{"partitions": [...]}` body lists to `target`.
async fn seek_partitions(
    state: &AppState,
    group: &str,
    name: &str,
    bytes: &[u8],
    target: Target,
) -> Result<StatusCode, RestError> {
    let request: PartitionsIn = required(body(bytes)?)?;
    let targets = request
        .partitions
        .into_iter()
        .map(|p| (p.topic, p.partition, target))
        .collect();
    seek_to(state, group, name, targets).await
}
