//! Stream administration and description: CreateStream, DeleteStream, DescribeStream,
//! DescribeStreamSummary, ListStreams, ListShards. Streams are `ACTIVE` from the moment they are
//! created (so boto3's `stream_exists` waiter succeeds at once), provisioned, unencrypted.

use pinpipe_bus::{ShardInfo, StreamInfo};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::codec::seconds;
use super::input::{Checks, StreamRef, parse};
use super::token::{self, NextToken};
use super::{Answer, now_ms};
use crate::config::KinesisConfig;
use crate::envelope::KinesisError;
use crate::kinesis::check_shard_count;
use crate::state::AppState;

/// Most shards a DescribeStream page holds, and its default.
const DESCRIBE_PAGE: i64 = 100;
/// Most stream names a ListStreams page holds, and its default.
const LIST_STREAMS_PAGE: i64 = 100;
/// Most shards a ListShards page holds, and its default.
const LIST_SHARDS_PAGE: i64 = 1000;
/// Upper bound of `Limit` and `MaxResults`.
const MAX_LIMIT: i64 = 10_000;
/// How long records are kept, as Kinesis's default retention says.
const RETENTION_HOURS: u32 = 24;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateStreamInput {
    stream_name: Option<String>,
    shard_count: Option<i64>,
}

/// CreateStream: `ShardCount` shards (the gateway's default when absent, as for on-demand
/// streams), at most `max_shards`.
pub async fn create_stream(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: CreateStreamInput = parse(input)?;
    let mut checks = Checks::default();
    if checks.required(input.stream_name.as_ref(), "streamName") {
        checks.stream_name(input.stream_name.as_deref(), "streamName");
    }
    checks.range(input.shard_count, "shardCount", 1, 100_000);
    checks.finish()?;
    let name = input.stream_name.unwrap_or_default();
    let shards = input.shard_count.map_or(state.config.default_shards, |n| {
        u32::try_from(n).unwrap_or(u32::MAX)
    });
    check_shard_count(shards, state.config.max_shards)?;
    let config = &state.config.kinesis;
    state
        .streams
        .create_stream(&name, shards)
        .await
        .map_err(|e| config.bus_error(e))?;
    Ok(Answer::empty())
}

/// DeleteStream.
pub async fn delete_stream(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let config = &state.config.kinesis;
    let stream = parse::<StreamRef>(input)?.resolve(config)?;
    state
        .streams
        .delete_stream(&stream)
        .await
        .map_err(|e| config.bus_error(e))?;
    Ok(Answer::empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeStreamInput {
    #[serde(flatten)]
    stream: StreamRef,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

/// DescribeStream: a page of shards after `ExclusiveStartShardId`.
pub async fn describe_stream(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: DescribeStreamInput = parse(input)?;
    let mut checks = Checks::default();
    checks.range(input.limit, "limit", 1, MAX_LIMIT);
    checks.finish()?;
    let config = &state.config.kinesis;
    let info = describe(state, input.stream.resolve(config)?).await?;
    let limit = input.limit.unwrap_or(DESCRIBE_PAGE).min(DESCRIBE_PAGE);
    let (shards, more) = page(
        &info.shards,
        input.exclusive_start_shard_id.as_deref(),
        limit,
    );
    let mut description = summary(config, &info);
    description.insert("Shards".into(), shards.into_iter().map(shard).collect());
    description.insert("HasMoreShards".into(), Value::Bool(more));
    Ok(Answer::json(
        json!({ "StreamDescription": Value::Object(description) }),
    ))
}

/// DescribeStreamSummary.
pub async fn describe_stream_summary(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let config = &state.config.kinesis;
    let info = describe(state, parse::<StreamRef>(input)?.resolve(config)?).await?;
    let mut description = summary(config, &info);
    description.insert("OpenShardCount".into(), info.shards.len().into());
    description.insert("ConsumerCount".into(), 0.into());
    Ok(Answer::json(
        json!({ "StreamDescriptionSummary": Value::Object(description) }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListStreamsInput {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

/// ListStreams: names in order, with summaries, `NextToken` when more remain.
pub async fn list_streams(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: ListStreamsInput = parse(input)?;
    let mut checks = Checks::default();
    checks.range(input.limit, "limit", 1, MAX_LIMIT);
    checks.stream_name(
        input.exclusive_start_stream_name.as_deref(),
        "exclusiveStartStreamName",
    );
    checks.finish()?;
    let config = &state.config.kinesis;
    let after = match input.next_token {
        Some(token) => Some(next_token(config, &token, "")?.after),
        None => input.exclusive_start_stream_name,
    };
    let mut names = state
        .streams
        .list_streams()
        .await
        .map_err(|e| config.bus_error(e))?;
    names.sort();
    let limit = usize::try_from(
        input
            .limit
            .unwrap_or(LIST_STREAMS_PAGE)
            .min(LIST_STREAMS_PAGE),
    )
    .unwrap_or(1);
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .collect();
    let more = rest.len() > limit;
    let page = &rest[..rest.len().min(limit)];
    let summaries: Vec<Value> = page
        .iter()
        .map(|name| {
            json!({
                "StreamName": name,
                "StreamARN": config.arn(name),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            })
        })
        .collect();
    let mut out = json!({
        "StreamNames": page,
        "HasMoreStreams": more,
        "StreamSummaries": summaries,
    });
    if let (true, Some(last)) = (more, page.last()) {
        out["NextToken"] = Value::String(token::encode(&NextToken {
            stream: String::new(),
            after: last.clone(),
            created_ms: now_ms(),
        }));
    }
    Ok(Answer::json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListShardsInput {
    #[serde(flatten)]
    stream: StreamRef,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
    shard_filter: Option<ShardFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardFilter {
    r#type: Option<String>,
    shard_id: Option<String>,
}

/// Filter types of ListShards; without resharding, every one but `AFTER_SHARD_ID` is all shards.
const FILTER_TYPES: [&str; 6] = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

/// ListShards: by stream or by `NextToken` (never both), a page after `ExclusiveStartShardId`.
pub async fn list_shards(
    state: &AppState,
    input: Map<String, Value>,
) -> Result<Answer, KinesisError> {
    let input: ListShardsInput = parse(input)?;
    let mut checks = Checks::default();
    checks.range(input.max_results, "maxResults", 1, MAX_LIMIT);
    if let Some(filter) = &input.shard_filter {
        checks.required(filter.r#type.as_ref(), "shardFilter.type");
        checks.one_of(filter.r#type.as_deref(), "shardFilter.type", &FILTER_TYPES);
    }
    checks.finish()?;
    if let Some(ShardFilter {
        r#type: Some(kind),
        shard_id: None,
    }) = &input.shard_filter
        && kind == "AFTER_SHARD_ID"
    {
        return Err(KinesisError::invalid_argument(
            "ShardId must be specified when the ShardFilter type is AFTER_SHARD_ID.",
        ));
    }
    let config = &state.config.kinesis;
    let named = input.stream.name.is_some() || input.stream.arn.is_some();
    let (stream, after) = match input.next_token {
        Some(token) => {
            let conflict = if input.stream.name.is_some() {
                Some("StreamName")
            } else if input.stream.arn.is_some() {
                Some("StreamARN")
            } else if input.exclusive_start_shard_id.is_some() {
                Some("ExclusiveStartShardId")
            } else if input.shard_filter.is_some() {
                Some("ShardFilter")
            } else {
                None
            };
            if let Some(member) = conflict {
                return Err(KinesisError::invalid_argument(format!(
                    "NextToken and {member} cannot be provided together."
                )));
            }
            let token = next_token(config, &token, "shards")?;
            (token.stream, Some(token.after))
        }
        None if !named => {
            return Err(KinesisError::invalid_argument(
                "Either NextToken or StreamName should be provided.",
            ));
        }
        None => {
            let after_filter = input
                .shard_filter
                .filter(|f| f.r#type.as_deref() == Some("AFTER_SHARD_ID"))
                .and_then(|f| f.shard_id);
            (
                input.stream.resolve(config)?,
                input.exclusive_start_shard_id.or(after_filter),
            )
        }
    };
    let info = describe(state, stream).await?;
    let limit = input
        .max_results
        .unwrap_or(LIST_SHARDS_PAGE)
        .min(LIST_SHARDS_PAGE);
    let (shards, more) = page(&info.shards, after.as_deref(), limit);
    let mut out = json!({ "Shards": shards.iter().copied().map(shard).collect::<Vec<_>>() });
    if let (true, Some(last)) = (more, shards.last()) {
        out["NextToken"] = Value::String(token::encode(&NextToken {
            stream: info.name.clone(),
            after: last.shard_id.clone(),
            created_ms: now_ms(),
        }));
    }
    Ok(Answer::json(out))
}

/// A `NextToken` of ours that has not expired; `kind` tells stream tokens (non-empty stream)
/// from `ListStreams` ones.
fn next_token(config: &KinesisConfig, text: &str, kind: &str) -> Result<NextToken, KinesisError> {
    let token: NextToken = token::decode(text)
        .filter(|t: &NextToken| t.stream.is_empty() == kind.is_empty())
        .ok_or_else(|| KinesisError::invalid_argument("Invalid NextToken."))?;
    let ttl = i64::try_from(config.iterator_ttl.as_millis()).unwrap_or(i64::MAX);
    if now_ms().saturating_sub(token.created_ms) > ttl {
        return Err(KinesisError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "ExpiredNextTokenException",
            "The NextToken has expired.",
        ));
    }
    Ok(token)
}

/// The stream from the bus, in Kinesis's words when it fails.
pub async fn describe(state: &AppState, stream: String) -> Result<StreamInfo, KinesisError> {
    state
        .streams
        .describe_stream(&stream)
        .await
        .map_err(|e| state.config.kinesis.bus_error(e))
}

/// Up to `limit` shards after `after`, and whether more follow.
fn page<'a>(
    shards: &'a [ShardInfo],
    after: Option<&str>,
    limit: i64,
) -> (Vec<&'a ShardInfo>, bool) {
    let limit = usize::try_from(limit).unwrap_or(1);
    let rest: Vec<&ShardInfo> = shards
        .iter()
        .filter(|s| after.is_none_or(|a| s.shard_id.as_str() > a))
        .collect();
    let more = rest.len() > limit;
    (rest.into_iter().take(limit).collect(), more)
}

/// The members DescribeStream and DescribeStreamSummary share.
fn summary(config: &KinesisConfig, info: &StreamInfo) -> Map<String, Value> {
    let value = json!({
        "StreamName": info.name,
        "StreamARN": config.arn(&info.name),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": RETENTION_HOURS,
        "StreamCreationTimestamp": seconds(info.created_ms),
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A shard as Kinesis describes it.
fn shard(info: &ShardInfo) -> Value {
    json!({
        "ShardId": info.shard_id,
        "HashKeyRange": {
            "StartingHashKey": info.starting_hash_key,
            "EndingHashKey": info.ending_hash_key,
        },
        "SequenceNumberRange": {"StartingSequenceNumber": info.starting_sequence_number},
    })
}
