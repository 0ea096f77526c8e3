//! Reading request bodies within their bounds, before any handler runs.
//!
//! [`read_body`] takes the whole body of a data-plane request, bounded four ways, and only then
//! lets the request count as in flight:
//!
//! 1. size: over `max_body_bytes` is 413, refused by `Content-Length` before anything is read;
//! 2. memory: the bodies held at once, over every connection, stay under
//!    `max_in_flight_body_bytes`, or the request gets 429;
//! 3. time: a body that has not arrived `body_read_timeout` after the headers gets 408;
//! 4. then the in-flight cap (`max_in_flight`, 429), which so counts only requests the gateway is
//!    working on: clients that send slowly cannot take the permits of those that do not.
//!
//! `/health` and `/metrics` skip all of it, and so does REST Proxy v3 produce, which reads its
//! body record by record within bounds of its own. Handlers get the body as [`Bytes`].
//!
//! A request refused before its body was read to the end ([`close_when_unread`]) is answered with
//! `Connection: close`: what is left of its body would otherwise be read as the next request, or
//! cut off by hyper without a word to a client that reuses the connection. A refusal that does not
//! depend on the body ([`discard`]) reads and drops a body within the size and time bounds first,
//! so the client gets its answer rather than a reset while still sending.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;

use crate::connections::Connection;
use crate::envelope::Family;
use crate::state::AppState;

/// Routes never held back by the body and in-flight bounds, so health checks and scrapers always
/// get an answer.
pub const UNBOUNDED_ROUTES: [&str; 2] = ["/health", "/metrics"];

/// Layer: reads the body within its bounds (see the module documentation), then runs the
/// request holding an in-flight permit and the body's share of the memory bound.
pub async fn read_body(
    state: &AppState,
    request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if UNBOUNDED_ROUTES.contains(&request.uri().path()) || streams_its_body(&request) {
        return next(request).await;
    }
    let family = Family::of(request.uri().path(), request.headers());
    let config = &state.config;
    let (parts, body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|len| len > config.max_body_bytes as u64) {
        return too_large(family, config.max_body_bytes);
    }
    let read = tokio::time::timeout(
        config.body_read_timeout,
        collect(state, body, declared, config.max_body_bytes),
    )
    .await;
    let (bytes, _memory) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(refusal)) => return refusal.answer(family, config.max_body_bytes),
        Err(_) => {
            return family.error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(config.body_read_timeout)
                ),
            );
        }
    };
    if let Some(connection) = parts.extensions.get::<std::sync::Arc<Connection>>() {
        connection.busy();
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return family.error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests: try again shortly",
        );
    };
    next(Request::from_parts(parts, Body::from(bytes))).await
}

/// Whether the request goes to a route that reads its body as it arrives, within bounds of its
/// own (REST Proxy v3 produce).
fn streams_its_body(request: &Request) -> bool {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|route| crate::rest_v3::is_produce_route(route.as_str()))
}

/// Layer: answers with `Connection: close` when the request's body was not read to its end
/// (see the module documentation). A route that streams its body reads (or drops) it to its end
/// itself, after its answer has started.
pub async fn close_when_unread(
    request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if hyper::body::Body::is_end_stream(request.body()) || streams_its_body(&request) {
        return next(request).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(Watched {
            inner,
            ended: ended.clone(),
        })
    });
    let mut response = next(request).await;
    if !ended.load(Ordering::Acquire) {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    response
}

/// A request body that notes when it has been read to its end.
struct Watched {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Reads and drops `body`, giving up past `limit` bytes or after `timeout`, so that a refusal
/// reaches a client still sending (see the module documentation).
pub async fn discard(mut body: Body, limit: usize, timeout: Duration) {
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, Bytes::len);
            if read > limit {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, drain).await;
}

/// Why a body could not be read.
enum Refused {
    TooLarge,
    NoMemory,
    Unreadable(String),
}

impl Refused {
    fn answer(self, family: Family, limit: usize) -> Response {
        match self {
            Refused::TooLarge => too_large(family, limit),
            Refused::NoMemory => family.error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests: too much request data in flight; try again shortly",
            ),
            Refused::Unreadable(e) => family.error(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body: {e}"),
            ),
        }
    }
}

fn too_large(family: Family, limit: usize) -> Response {
    family.error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

/// The declared `Content-Length`, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads the body, taking its size from the memory bound as it arrives (all at once when the
/// length is declared); returns the body and the permits that hold its share.
async fn collect(
    state: &AppState,
    mut body: Body,
    declared: Option<u64>,
    limit: usize,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Refused> {
    let mut memory: Option<OwnedSemaphorePermit> = None;
    let mut reserved = 0usize;
    let mut reserve = |wanted: usize, memory: &mut Option<OwnedSemaphorePermit>| {
        if wanted <= reserved {
            return Ok(());
        }
        let more = u32::try_from(wanted - reserved).map_err(|_| Refused::TooLarge)?;
        let permit = state
            .body_memory
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| Refused::NoMemory)?;
        match memory {
            Some(held) => held.merge(permit),
            None => *memory = Some(permit),
        }
        reserved = wanted;
        Ok(())
    };
    if let Some(len) = declared {
        reserve(usize::try_from(len).unwrap_or(usize::MAX), &mut memory)?;
    }
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refused::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > limit {
            return Err(Refused::TooLarge);
        }
        reserve(buffer.len() + data.len(), &mut memory)?;
        buffer.extend_from_slice(&data);
    }
    Ok((buffer.freeze(), memory))
}

/// The media type of the request without parameters, lower-cased (`application/json`).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim();
    Some(essence.to_ascii_lowercase())
}

/// Deepest nesting of arrays and objects a request may have (serde_json's own limit).
pub const MAX_NESTING: usize = 128;

/// Whether the JSON text nests arrays and objects deeper than `max`. A linear scan that skips
/// strings, run before parsing so a hostile body cannot make anyone recurse deeply later.
pub fn nests_deeper_than(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = json.get(at) {
        at += 1;
        match byte {
            b'"' => at = string_end(json, at),
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Where the string whose text starts at `at` ends (just past its closing quote, or the end of
/// `json` when it never closes). Jumps from quote or backslash to the next with `memchr`: most
/// of a produce call's bytes are inside strings.
fn string_end(json: &[u8], mut at: usize) -> usize {
    while let Some(found) = json
        .get(at..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        let i = at + found;
        if json[i] == b'"' {
            return i + 1;
        }
        // A backslash escapes the byte after it.
        at = i + 2;
    }
    json.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(!nests_deeper_than(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(nests_deeper_than(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!nests_deeper_than(br#"{"a":"[[[[[[\"[[["}"#, 1));
        assert!(nests_deeper_than(&[b'['; 200], MAX_NESTING));
        assert!(
            nests_deeper_than(br#"{"a\\":[[1]]}"#, 2),
            "an escaped backslash ends"
        );
        assert!(
            !nests_deeper_than(br#"{"a\"[[":1}"#, 1),
            "an escaped quote does not"
        );
        assert!(!nests_deeper_than(br#"{"a\"#, 1), "a body cut in an escape");
    }
}
