//! Error envelopes: every error the gateway sends is in the envelope of the API its route belongs
//! to, whoever produced it (a handler, a guard, or axum itself for a 405 or a path it cannot parse).
//!
//! - REST Proxy routes: `{"error_code": N, "message": "..."}` ([`RestError`]).
//! - Kinesis proxy routes (`/streams…`): `{"__type": "...Exception", "message": "..."}`
//!   ([`KinesisError`]).
//! - The native Kinesis API (`POST /`): the same envelope in the request's encoding, JSON or CBOR,
//!   with the error type in `x-amzn-ErrorType` too (the Java SDKs read it from there first).
//!
//! Handlers answer with these types; [`ensure_envelope`] rewrites any other error response (those
//! not carrying [`ErrorInfo`]) into the envelope of its route's [`Family`].

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::body::media_type;
use crate::kinesis_api::Codec;

/// An error answer's code and message, carried in the response's extensions for the metrics
/// and the log (REST Proxy's `error_code`; on the Kinesis routes, the HTTP status).
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    /// The code.
    pub code: u32,
    /// The message sent.
    pub message: String,
}

/// Longest error message sent or logged: messages quote what the client sent (a stream name, a
/// value), and a client may send megabytes of it.
const MAX_MESSAGE_BYTES: usize = 1024;

/// `message`, cut to [`MAX_MESSAGE_BYTES`] on a character boundary and marked `…`, when longer.
fn bounded(message: impl Into<String>) -> String {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE_BYTES {
        let end = (0..=MAX_MESSAGE_BYTES)
            .rev()
            .find(|&at| message.is_char_boundary(at))
            .unwrap_or(0);
        message.truncate(end);
        message.push('…');
    }
    message
}

/// The error codes that say the gateway or its backend is in trouble, not that a request is
/// wrong: too busy (42901), a record the backend failed or refused (50002, 50003), the backend
/// unavailable (50302), and on the Kinesis routes, which count HTTP statuses, 500 and 503.
/// `/metrics` lists them at zero from the start, for alerts on their increase.
pub const TROUBLE_CODES: &[u32] = &[42901, 50002, 50003, 50302, 500, 503];

/// An error in the REST Proxy's envelope: `{"error_code": N, "message": "..."}`.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl RestError {
    /// An error answered with `status` and REST Proxy error code `code`.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: bounded(message),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error_code": self.code, "message": self.message });
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorInfo {
            code: self.code,
            message: self.message,
        });
        response
    }
}

/// An error in Kinesis's envelope: `{"__type": "...", "message": "..."}`.
#[derive(Debug)]
pub struct KinesisError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl KinesisError {
    /// An error answered with `status` and Kinesis error type `kind`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: bounded(message),
        }
    }

    /// A `ValidationException` (400).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    /// An `InvalidArgumentException` (400).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgumentException", message)
    }

    /// A `SerializationException` (400): the body is not the document the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "SerializationException", message)
    }

    /// The error's Kinesis type.
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The answer in the native API's `codec`, with `x-amzn-ErrorType`.
    pub fn respond(self, codec: Codec) -> Response {
        let body = codec.encode(&self.body());
        let headers = [
            (header::CONTENT_TYPE, codec.content_type()),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                self.kind,
            ),
        ];
        self.answer((headers, body).into_response())
    }

    fn body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.kind, "message": self.message })
    }

    fn answer(self, mut response: Response) -> Response {
        *response.status_mut() = self.status;
        response.extensions_mut().insert(ErrorInfo {
            code: u32::from(self.status.as_u16()),
            message: self.message,
        });
        response
    }
}

impl IntoResponse for KinesisError {
    fn into_response(self) -> Response {
        let body = Json(self.body()).into_response();
        self.answer(body)
    }
}

/// REST Proxy's error code for an answer with `status`: its own where it has one, else the HTTP
/// status (as its Jersey layer answers `HTTP 405 Method Not Allowed` with `error_code` 405).
fn rest_code(status: StatusCode) -> u32 {
    match status {
        StatusCode::FORBIDDEN => 40301,
        StatusCode::TOO_MANY_REQUESTS => 42901,
        other => u32::from(other.as_u16()),
    }
}

/// Kinesis's error type for an answer with `status`.
fn kinesis_kind(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "AccessDeniedException",
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "UnknownOperationException",
        StatusCode::REQUEST_TIMEOUT => "RequestTimeoutException",
        StatusCode::TOO_MANY_REQUESTS => "LimitExceededException",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        s if s.is_server_error() => "InternalFailure",
        _ => "ValidationException",
    }
}

/// Which API a route belongs to, and so which envelope its errors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// The Confluent REST Proxy routes (and anything not matched).
    RestProxy,
    /// The Kinesis proxy routes of the original API Gateway, `/streams…`.
    KinesisProxy,
    /// The native Kinesis API, `POST /`, answered in the request's encoding.
    KinesisApi(Codec),
}

impl Family {
    /// The family of the route at `path`, for a request with `headers`.
    pub fn of(path: &str, headers: &HeaderMap) -> Family {
        if path == "/" {
            Family::KinesisApi(Codec::of_media_type(media_type(headers).as_deref()))
        } else if path == "/streams" || path.starts_with("/streams/") {
            Family::KinesisProxy
        } else {
            Family::RestProxy
        }
    }

    /// An error answered with `status`, in this family's envelope.
    pub fn error(self, status: StatusCode, message: impl Into<String>) -> Response {
        match self {
            Family::RestProxy => RestError::new(status, rest_code(status), message).into_response(),
            Family::KinesisProxy => {
                KinesisError::new(status, kinesis_kind(status), message).into_response()
            }
            Family::KinesisApi(codec) => {
                KinesisError::new(status, kinesis_kind(status), message).respond(codec)
            }
        }
    }
}

/// Layer: an error response that is not in an envelope (axum's 405, its answer to a path
/// it cannot parse, any other) is rewritten into the envelope of its route's family, keeping its
/// status and its text as the message.
pub async fn ensure_envelope(
    request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let family = Family::of(request.uri().path(), request.headers());
    let response = next(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<ErrorInfo>().is_some()
    {
        return response;
    }
    let text = match response.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        )
    } else {
        text
    };
    family.error(status, message)
}

/// Any route the gateway does not have: 404 in the envelope of the family the path looks like.
pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    Family::of(uri.path(), &headers).error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}
