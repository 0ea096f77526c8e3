//! Prometheus metrics on `/metrics`: requests, records, bytes, errors by code, and latency.
//!
//! Handlers say what they did by putting [`RecordsAccepted`] or [`ErrorCode`] in the response's
//! extensions; one middleware turns that into counts, so the numbers cannot drift from the
//! responses.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// Records a handler accepted, and the request body's size.
#[derive(Clone, Copy, Debug)]
pub struct RecordsAccepted {
    pub records: u64,
    pub bytes: u64,
}

/// The REST Proxy error code (or HTTP status, on the Kinesis routes) a response carries.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub u32);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: u32,
}

/// The gateway's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    records: Family<PathLabels, Counter>,
    bytes: Family<PathLabels, Counter>,
    errors: Family<CodeLabels, Counter>,
    latency: Family<PathLabels, Histogram>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pinpipe_gateway");
        let requests = Family::<RouteLabels, Counter>::default();
        let records = Family::<PathLabels, Counter>::default();
        let bytes = Family::<PathLabels, Counter>::default();
        let errors = Family::<CodeLabels, Counter>::default();
        let latency = Family::<PathLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register("records", "Records accepted, by route", records.clone());
        registry.register(
            "request_bytes",
            "Request body bytes accepted, by route",
            bytes.clone(),
        );
        registry.register(
            "errors",
            "Error responses by REST Proxy error code",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            records,
            bytes,
            errors,
            latency,
        }
    }

    /// The metrics in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: times the request and counts what the response says.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    let path = PathLabels {
        route: route.clone(),
    };
    metrics
        .latency
        .get_or_create(&path)
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RouteLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    if let Some(accepted) = response.extensions().get::<RecordsAccepted>() {
        metrics
            .records
            .get_or_create(&path)
            .inc_by(accepted.records);
        metrics.bytes.get_or_create(&path).inc_by(accepted.bytes);
    }
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics
            .errors
            .get_or_create(&CodeLabels { code: *code })
            .inc();
    }
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
