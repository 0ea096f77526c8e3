//! The JSON API under `/api/`: one handler per view, behind the API key check.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::UiConfig;
use crate::cache::Cached;
use crate::error::UiError;
use crate::overview::{self, LakeState};
use crate::quarantine::{self, QuarantineView};
use crate::results::{self, ResultsView};
use crate::runs;

/// How long what is costly to read is reused (see [`crate::cache`]).
const TTL: Duration = Duration::from_secs(5);
/// How long the source database's count is reused: it changes only when a user loads it.
const SOURCE_TTL: Duration = Duration::from_secs(30);
/// How long the streams' descriptions are reused (see [`overview::stream_infos`]).
const STREAMS_TTL: Duration = Duration::from_secs(1);

/// The API's state: where to read, and the cached reads.
pub struct Api {
    pub config: UiConfig,
    /// The lake's figures for the overview, or why they could not be read.
    pub lake_state: Cached<Result<LakeState, String>>,
    pub source_rows: Cached<Option<u64>>,
    pub stream_infos: Cached<Vec<pinpipe_bus::StreamInfo>>,
    pub quarantine: Cached<QuarantineView>,
    pub results: Cached<ResultsView>,
}

pub fn router(config: UiConfig) -> Router {
    let api = Arc::new(Api {
        config,
        lake_state: Cached::new(TTL),
        source_rows: Cached::new(SOURCE_TTL),
        stream_infos: Cached::new(STREAMS_TTL),
        quarantine: Cached::new(TTL),
        results: Cached::new(TTL),
    });
    Router::new()
        .route("/api/overview", get(overview))
        .route("/api/runs", get(runs))
        .route("/api/quarantine", get(quarantine))
        .route("/api/results", get(results))
        .layer(middleware::from_fn_with_state(api.clone(), require_key))
        .layer(middleware::from_fn(method_not_allowed_in_envelope))
        .with_state(api)
}

/// axum's 405 (a `POST /api/overview`, say), which has no body, in the JSON envelope of the
/// API's other errors, its `Allow` header kept.
async fn method_not_allowed_in_envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let body = json!({ "error_code": 405, "message": "HTTP 405 Method Not Allowed" });
    let mut answer = (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// 403 without a key that may read.
async fn require_key(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    if (api.config.authorize)(request.headers()) {
        next.run(request).await
    } else {
        UiError::Forbidden.into_response()
    }
}

async fn overview(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, UiError> {
    Ok(Json(overview::read(&api).await?))
}

async fn runs(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, UiError> {
    let path = api.config.history.clone();
    let runs = tokio::task::spawn_blocking(move || runs::read(&path)).await??;
    Ok(Json(runs))
}

async fn quarantine(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, UiError> {
    let view = api
        .quarantine
        .get_or_try(|| quarantine::read(&api.config.lake))
        .await?;
    Ok(Json(view))
}

async fn results(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, UiError> {
    let view = api
        .results
        .get_or_try(|| results::read(&api.config.lake))
        .await?;
    Ok(Json(view))
}
