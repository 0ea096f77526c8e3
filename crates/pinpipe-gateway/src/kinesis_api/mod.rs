//! The native Kinesis API on the gateway's port, for the AWS SDKs, the AWS CLI and the KCL:
//! `POST /` with `X-Amz-Target: Kinesis_20131202.<Operation>`, in JSON 1.1 or CBOR 1.1.
//!
//! ```text
//!  POST /  X-Amz-Target ─► Operation ─► codec.decode ─► admin | put | read ─► Streams (the bus)
//!                                                         └─ answer / error, in the request's codec
//! ```
//!
//! Operations: CreateStream, DeleteStream (admin keys, see [`crate::guard`]), DescribeStream,
//! DescribeStreamSummary, ListStreams, ListShards, PutRecord, PutRecords, GetShardIterator,
//! GetRecords. `StreamARN` is taken wherever `StreamName` is. SigV4 headers are accepted and not
//! verified (an access key id may serve as the API key, see [`crate::guard`]). Every answer carries
//! `x-amzn-RequestId`; errors are `{"__type", "message"}` with `x-amzn-ErrorType`.

mod admin;
mod codec;
mod input;
mod put;
mod read;
mod token;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

pub use codec::Codec;

use crate::body::media_type;
use crate::envelope::KinesisError;
use crate::metrics::RecordsAccepted;
use crate::state::AppState;

/// The service part of `X-Amz-Target`.
const TARGET_PREFIX: &str = "Kinesis_20131202.";
/// Content types of the JSON form (`application/json` as kinesalite also takes it).
const JSON_TYPES: [&str; 2] = ["application/x-amz-json-1.1", "application/json"];

/// An operation of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateStream,
    DeleteStream,
    DescribeStream,
    DescribeStreamSummary,
    ListStreams,
    ListShards,
    PutRecord,
    PutRecords,
    GetShardIterator,
    GetRecords,
}

impl Operation {
    /// The operation a request's `X-Amz-Target` names, if it is one served.
    pub fn of(headers: &HeaderMap) -> Option<Operation> {
        let target = headers.get("x-amz-target")?.to_str().ok()?;
        Some(match target.strip_prefix(TARGET_PREFIX)? {
            "CreateStream" => Operation::CreateStream,
            "DeleteStream" => Operation::DeleteStream,
            "DescribeStream" => Operation::DescribeStream,
            "DescribeStreamSummary" => Operation::DescribeStreamSummary,
            "ListStreams" => Operation::ListStreams,
            "ListShards" => Operation::ListShards,
            "PutRecord" => Operation::PutRecord,
            "PutRecords" => Operation::PutRecords,
            "GetShardIterator" => Operation::GetShardIterator,
            "GetRecords" => Operation::GetRecords,
            _ => return None,
        })
    }

    /// Whether it creates or deletes a stream (an admin operation).
    pub fn is_admin(self) -> bool {
        matches!(self, Operation::CreateStream | Operation::DeleteStream)
    }
}

/// A successful answer: its body (none for CreateStream and DeleteStream, as Kinesis answers
/// them) and what it acknowledged.
pub struct Answer {
    body: Option<Value>,
    accepted: Option<RecordsAccepted>,
}

impl Answer {
    fn empty() -> Self {
        Self {
            body: None,
            accepted: None,
        }
    }

    fn json(body: Value) -> Self {
        Self {
            body: Some(body),
            accepted: None,
        }
    }

    fn accepted(mut self, accepted: RecordsAccepted) -> Self {
        self.accepted = Some(accepted);
        self
    }
}

/// `POST /`: runs the operation of `X-Amz-Target` and answers in the request's codec.
pub async fn dispatch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let media = media_type(&headers);
    let codec = Codec::of_media_type(media.as_deref());
    let mut response = match handle(&state, &headers, media.as_deref(), codec, &body).await {
        Ok(answer) => {
            let mut response = (
                [(header::CONTENT_TYPE, codec.content_type())],
                answer.body.map(|b| codec.encode(&b)).unwrap_or_default(),
            )
                .into_response();
            if let Some(accepted) = answer.accepted {
                response.extensions_mut().insert(accepted);
            }
            response
        }
        Err(error) => error.respond(codec),
    };
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    media: Option<&str>,
    codec: Codec,
    body: &[u8],
) -> Result<Answer, KinesisError> {
    let unknown = || {
        KinesisError::new(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "X-Amz-Target names no operation of Kinesis_20131202 that pinpipe serves",
        )
    };
    let operation = Operation::of(headers).ok_or_else(unknown)?;
    if codec == Codec::Json && !media.is_some_and(|m| JSON_TYPES.contains(&m)) {
        return Err(KinesisError::serialization(
            "Content-Type must be application/x-amz-json-1.1 or application/x-amz-cbor-1.1",
        ));
    }
    let input = codec.decode(body).ok_or_else(|| {
        KinesisError::serialization("the request body is not a JSON or CBOR object")
    })?;
    let bytes = body.len() as u64;
    match operation {
        Operation::CreateStream => admin::create_stream(state, input).await,
        Operation::DeleteStream => admin::delete_stream(state, input).await,
        Operation::DescribeStream => admin::describe_stream(state, input).await,
        Operation::DescribeStreamSummary => admin::describe_stream_summary(state, input).await,
        Operation::ListStreams => admin::list_streams(state, input).await,
        Operation::ListShards => admin::list_shards(state, input).await,
        Operation::PutRecord => put::put_record(state, input, bytes).await,
        Operation::PutRecords => put::put_records(state, input, bytes).await,
        Operation::GetShardIterator => read::get_shard_iterator(state, input).await,
        Operation::GetRecords => read::get_records(state, input).await,
    }
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
