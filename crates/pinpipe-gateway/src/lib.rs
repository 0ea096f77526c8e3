//! The gateway: the HTTP API of SPEC §3 over the bus.
//!
//! ```text
//!  POST /topics/{topic}            REST Proxy v2 produce  ──► Topics  (batch path)
//!  PUT  /streams/{stream}/record(s) Kinesis proxy          ──► Streams (stream path)
//!  GET  /health, /metrics
//! ```
//!
//! A produce call is answered only after the bus says its records are durable. Bad input gets
//! the REST Proxy's (or Kinesis's) error envelope and stores nothing; the server keeps serving.

mod body;
mod config;
mod guard;
mod kinesis;
mod metrics;
mod rest;
mod state;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post, put};
use pinpipe_bus::{BusError, Streams, Topics};
use tokio::net::TcpListener;

pub use config::GatewayConfig;
pub use metrics::Metrics;
pub use state::AppState;

/// The gateway's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
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
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics::render))
        .fallback(rest::not_found)
        // Bodies are read by the handlers with their own limit and error envelope.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_api_key,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::limit_in_flight,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
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

/// Serves the gateway on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
