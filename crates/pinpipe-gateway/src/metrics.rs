//! Counting and logging every answer: one [`RequestServed`] event per request.
//!
//! Handlers say what they acknowledged by putting [`RecordsAccepted`] in the response's
//! extensions, and error answers carry their [`ErrorInfo`]; this middleware turns both into the
//! event, so the numbers cannot drift from the responses. An answer that streams (REST Proxy v3
//! produce) carries [`StreamedRecords`] instead, counted as records are acknowledged; its event
//! is emitted when its body ends.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use pinpipe_telemetry::gateway::RequestServed;

use crate::envelope::ErrorInfo;
use crate::state::AppState;

/// Records a handler acknowledged, where to, and the request body's size; and those of the call
/// refused one by one, which the answer reports record by record.
#[derive(Clone, Debug)]
pub struct RecordsAccepted {
    /// The topic or stream.
    pub target: String,
    /// Records acknowledged.
    pub records: u64,
    /// The request body's size.
    pub bytes: u64,
    /// Records refused one by one.
    pub refused: u64,
    /// Why the first refused record was.
    pub refusal: Option<String>,
}

impl RecordsAccepted {
    /// One record acknowledged (a call of one record answers its refusal as an error instead).
    pub fn one(target: String, bytes: u64) -> Self {
        Self {
            target,
            records: 1,
            bytes,
            refused: 0,
            refusal: None,
        }
    }

    /// What the per-record `results` of a call acknowledged and refused.
    pub fn of<T, E: std::fmt::Display>(
        target: String,
        bytes: u64,
        results: &[Result<T, E>],
    ) -> Self {
        let refused = results.iter().filter(|r| r.is_err()).count();
        Self {
            target,
            records: (results.len() - refused) as u64,
            bytes,
            refused: refused as u64,
            refusal: results
                .iter()
                .find_map(|r| r.as_ref().err().map(ToString::to_string)),
        }
    }
}

/// Records acknowledged, and refused one by one, so far by an answer that is still streaming.
#[derive(Clone, Debug)]
pub struct StreamedRecords {
    /// The topic.
    pub target: String,
    /// Records acknowledged so far.
    pub records: Arc<AtomicU64>,
    /// Records refused one by one so far (each answered with its own error).
    pub refused: Arc<AtomicU64>,
}

impl StreamedRecords {
    /// None acknowledged yet, to `target`.
    pub fn new(target: String) -> Self {
        Self {
            target,
            records: Arc::new(AtomicU64::new(0)),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Layer: times the request and emits what the response says.
pub async fn track(
    state: &AppState,
    request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next(request).await;
    if let Some(streamed) = response.extensions().get::<StreamedRecords>().cloned() {
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let pending = Pending {
            event: RequestServed {
                route,
                target: Some(streamed.target.clone()),
                status,
                error_code: None,
                message: None,
                records: 0,
                records_refused: 0,
                refusal: None,
                bytes: 0,
                duration: std::time::Duration::ZERO,
                slow_after: std::time::Duration::MAX,
            },
            streamed,
            started,
        };
        let body = EmitWhenDone {
            inner: body,
            pending: Some(pending),
        };
        return Response::from_parts(parts, Body::new(body));
    }
    let accepted = response.extensions().get::<RecordsAccepted>();
    let error = response.extensions().get::<ErrorInfo>();
    RequestServed {
        route,
        target: accepted.map(|a| a.target.clone()),
        status: response.status().as_u16(),
        error_code: error.map(|e| e.code),
        message: error.map(|e| e.message.clone()),
        records: accepted.map_or(0, |a| a.records),
        records_refused: accepted.map_or(0, |a| a.refused),
        refusal: accepted.and_then(|a| a.refusal.clone()),
        bytes: accepted.map_or(0, |a| a.bytes),
        duration: started.elapsed(),
        slow_after: state.config.slow_request,
    }
    .emit();
    response
}

/// The event of a streaming answer, completed when its body ends.
struct Pending {
    event: RequestServed,
    streamed: StreamedRecords,
    started: Instant,
}

/// A streaming answer's body that emits its [`RequestServed`] once, when it is dropped (sent to
/// its end, or abandoned by the client).
struct EmitWhenDone {
    inner: Body,
    pending: Option<Pending>,
}

impl hyper::body::Body for EmitWhenDone {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for EmitWhenDone {
    fn drop(&mut self) {
        if let Some(Pending {
            mut event,
            streamed,
            started,
        }) = self.pending.take()
        {
            event.records = streamed.records.load(Ordering::Relaxed);
            event.records_refused = streamed.refused.load(Ordering::Relaxed);
            event.duration = started.elapsed();
            event.emit();
        }
    }
}
