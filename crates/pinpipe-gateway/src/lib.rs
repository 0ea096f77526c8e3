//! The gateway: the HTTP API of SPEC §3 over the bus.
//!
//! ```text
//!  POST /topics/{topic}             REST Proxy v2 produce  ──► Topics  (batch path)
//!  PUT  /streams/{stream}/record(s) Kinesis proxy          ──► Streams (stream path)
//!  GET  /health, /metrics
//! ```
//!
//! A produce call is answered only after the bus says its records are durable. Bad input gets
//! the REST Proxy's (or Kinesis's) error envelope and stores nothing; the server keeps serving.
//!
//! Every request passes the same layers, outermost first:
//!
//! ```text
//!  server (connections: timeouts, cap) ─► track (metrics, log) ─► close_when_unread
//!    ─► ensure_envelope ─► require_api_key (producer / admin keys) ─► read_body (size, memory, time, in flight) ─► handler
//! ```
//!
//! All but the server's run as one axum middleware ([`layers`]), each calling the next as a
//! plain async closure.

mod body;
mod config;
mod connections;
mod consumers;
mod envelope;
mod guard;
mod kinesis;
mod kinesis_api;
mod metrics;
mod rest;
mod rest_v3;
mod server;
mod state;

use std::future::Future;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use pinpipe_bus::{BusError, Streams, Topics};
use tokio::net::TcpListener;

pub use config::{ConfigError, GatewayConfig, KinesisConfig};
pub use guard::producer_allowed;
pub use state::AppState;

/// The gateway's routes over `state`, with every layer but the server's connection bounds; the
/// process's `/metrics` shows the gateway's families from now on.
pub fn router(state: AppState) -> Router {
    pinpipe_telemetry::gateway::GatewayStarted {
        trouble_codes: envelope::TROUBLE_CODES,
    }
    .emit();
    Router::new()
        .route("/", post(kinesis_api::dispatch))
        .route("/topics", get(rest::list))
        .route("/topics/{topic}", post(rest::produce).get(rest::describe))
        .route(
            "/topics/{topic}/partitions/{partition}",
            post(rest::produce_to_partition),
        )
        .route("/streams", get(kinesis::list))
        .route(
            "/streams/{stream}",
            get(kinesis::describe)
                .post(kinesis::create)
                .delete(kinesis::delete),
        )
        .route("/streams/{stream}/record", put(kinesis::put_record))
        .route("/streams/{stream}/records", put(kinesis::put_records))
        .merge(consumers::routes())
        .nest(rest_v3::PREFIXES[0], rest_v3::routes(rest_v3::PREFIXES[0]))
        .nest(rest_v3::PREFIXES[1], rest_v3::routes(rest_v3::PREFIXES[1]))
        .route("/health", get(|| async { "ok" }))
        .merge(pinpipe_telemetry::metrics_router())
        .fallback(envelope::not_found)
        // Bodies are read by `read_body` with their own bounds and error envelope.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), layers))
        .with_state(state)
}

/// The layers of the module documentation, in order, as one middleware. An axum middleware of
/// its own costs each request a clone of the boxed service inside it and a boxed future: with
/// five of them, those allocations were a tenth of a single-record produce call's time.
async fn layers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    metrics::track(&state, request, async |request| {
        body::close_when_unread(request, async |request| {
            envelope::ensure_envelope(request, async |request| {
                guard::require_api_key(&state, request, async |request| {
                    body::read_body(&state, request, async |request| next.run(request).await).await
                })
                .await
            })
            .await
        })
        .await
    })
    .await
}

/// Creates the default topics and streams of `config` if they are missing.
pub async fn ensure_defaults(
    topics: &dyn Topics,
    streams: &dyn Streams,
    config: &GatewayConfig,
) -> Result<(), BusError> {
    for topic in config.default_topics() {
        match topics.create_topic(&topic, config.default_partitions).await {
            Ok(()) | Err(BusError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    for stream in config.default_streams() {
        match streams.create_stream(&stream, config.default_shards).await {
            Ok(()) | Err(BusError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Serves `router` (the gateway's, perhaps with more routes merged) on `listener` with the
/// connection bounds of `config` until `shutdown` completes, then finishes the requests in
/// flight. The configuration is checked first ([`GatewayConfig::validate`]); listening beyond
/// loopback without API keys is allowed, with a warning.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() && config.api_keys.is_empty() {
        tracing::warn!(
            %address,
            "listening beyond this machine without API keys: anyone who can reach it can produce \
             (set [gateway] api_keys); creating and deleting streams needs admin_api_keys"
        );
    }
    server::run(listener, router, config, Box::pin(shutdown)).await
}
