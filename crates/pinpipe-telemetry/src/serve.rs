//! `/metrics` for processes that have no HTTP server of their own (`pinpipe sink`, `stream`,
//! `schedule`); the gateway mounts [`metrics_router`] beside its own routes.
//!
//! A scraper that asks for OpenMetrics (`Accept: application/openmetrics-text`, as Prometheus
//! does) gets it; any other gets Prometheus's older text format (0.0.4), which tools that predate
//! OpenMetrics parse: the same samples, with a counter's `HELP` and `TYPE` named as its `_total`
//! samples and no `# EOF`.

use std::future::Future;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

/// The content type of the OpenMetrics text format, which [`crate::render`] writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of Prometheus's text format 0.0.4 ([`prometheus_text`]).
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`: every metric of the process, for a router of any state.
pub fn metrics_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(
        "/metrics",
        get(|headers: HeaderMap| async move {
            let openmetrics = headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("application/openmetrics-text"));
            let text = crate::render();
            if openmetrics {
                ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response()
            } else {
                (
                    [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                    prometheus_text(&text),
                )
                    .into_response()
            }
        }),
    )
}

/// `openmetrics`, [`crate::render`]'s text, in Prometheus's text format 0.0.4: a counter family's
/// `HELP` and `TYPE` lines take its samples' `_total` name, and the `# EOF` and `# UNIT` lines,
/// which that format does not have, go.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(described.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Serves [`metrics_router`] (and `/health`) on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = metrics_router().route("/health", get(|| async { "ok" }));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn prometheus_text_names_counters_by_their_samples() {
        let openmetrics = "# HELP pinpipe_x Records.\n# TYPE pinpipe_x counter\n\
                           pinpipe_x_total{topic=\"t\"} 5\n# HELP pinpipe_g Open.\n\
                           # TYPE pinpipe_g gauge\n# UNIT pinpipe_g bytes\npinpipe_g 2\n# EOF\n";
        assert_eq!(
            super::prometheus_text(openmetrics),
            "# HELP pinpipe_x_total Records.\n# TYPE pinpipe_x_total counter\n\
             pinpipe_x_total{topic=\"t\"} 5\n# HELP pinpipe_g Open.\n# TYPE pinpipe_g gauge\n\
             pinpipe_g 2\n"
        );
    }
}
