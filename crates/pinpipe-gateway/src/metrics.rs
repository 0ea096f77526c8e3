//! Counting and logging every answer: one [`RequestServed`] event per request.
//!
//! Handlers say what they acknowledged by putting [`RecordsAccepted`] in the response's
//! extensions, and error answers carry their [`ErrorInfo`]; this middleware turns both into the
//! event, so the numbers cannot drift from the responses.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use pinpipe_telemetry::gateway::RequestServed;

use crate::envelope::ErrorInfo;
use crate::state::AppState;

/// Records a handler acknowledged, where to, and the request body's size.
#[derive(Clone, Debug)]
pub struct RecordsAccepted {
    /// The topic or stream.
    pub target: String,
    /// Records acknowledged.
    pub records: u64,
    /// The request body's size.
    pub bytes: u64,
}

/// Middleware: times the request and emits what the response says.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let accepted = response.extensions().get::<RecordsAccepted>();
    let error = response.extensions().get::<ErrorInfo>();
    RequestServed {
        route,
        target: accepted.map(|a| a.target.clone()),
        status: response.status().as_u16(),
        error_code: error.map(|e| e.code),
        message: error.map(|e| e.message.clone()),
        records: accepted.map_or(0, |a| a.records),
        bytes: accepted.map_or(0, |a| a.bytes),
        duration: started.elapsed(),
        slow_after: state.config.slow_request,
    }
    .emit();
    response
}
