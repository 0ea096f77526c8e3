//! Events of the gateway (`pinpipe serve`).

use std::time::Duration;

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Code, Reason, Route, RouteStatus, RouteTarget};

/// The gateway's routes were built: it is about to serve.
#[derive(Clone, Debug)]
pub struct GatewayStarted {
    /// The error codes that say the gateway or its backend is in trouble rather than a
    /// client's request is wrong (`42901`, `50302`, …), put on `/metrics` at zero.
    pub trouble_codes: &'static [u32],
}

impl GatewayStarted {
    /// Logs at debug, shows the gateway's families on `/metrics` and puts
    /// `pinpipe_gateway_errors_total` at zero for each trouble code, so that an alert on its
    /// `increase()` fires on the first (see [`crate::started`]).
    pub fn emit(self) {
        tracing::debug!(trouble_codes = ?self.trouble_codes, "gateway started");
        metrics::runs(metrics::Part::Gateway);
        for code in self.trouble_codes {
            metrics::zero(&metrics::get().request_errors, &Code { code: *code });
        }
        dispatch(Event::GatewayStarted(self));
    }
}

/// A request was answered.
#[derive(Clone, Debug)]
pub struct RequestServed {
    /// The route template (`/topics/{topic}`), or `unmatched`.
    pub route: String,
    /// The topic or stream written to, when records were acknowledged.
    pub target: Option<String>,
    /// The HTTP status.
    pub status: u16,
    /// The error code of an error answer (REST Proxy's `error_code`, else the HTTP status).
    pub error_code: Option<u32>,
    /// The error message of an error answer.
    pub message: Option<String>,
    /// Records acknowledged.
    pub records: u64,
    /// Records of the call refused one by one (the call itself answered), and why the first was.
    pub records_refused: u64,
    /// Why the first refused record was.
    pub refusal: Option<String>,
    /// Body bytes of the acknowledged request.
    pub bytes: u64,
    /// Time to answer.
    pub duration: Duration,
    /// Answers slower than this are logged as slow.
    pub slow_after: Duration,
}

impl RequestServed {
    /// Counts the request (`pinpipe_gateway_requests_total`, `_records_total`,
    /// `_records_refused_total`, `_request_bytes_total`, `_errors_total`,
    /// `_request_duration_seconds`) and logs server errors (warn), client errors, records refused
    /// inside an answered call and slow requests (info), the rest at debug.
    pub fn emit(self) {
        let m = metrics::get();
        let route = Route {
            route: self.route.clone(),
        };
        m.requests
            .get_or_create(&RouteStatus {
                route: self.route.clone(),
                status: self.status,
            })
            .inc();
        m.gateway_requests.inc();
        m.request_duration
            .get_or_create(&route)
            .observe(self.duration.as_secs_f64());
        if let Some(target) = &self.target {
            m.request_records
                .get_or_create(&RouteTarget {
                    route: self.route.clone(),
                    target: target.clone(),
                })
                .inc_by(self.records);
            m.gateway_records.inc_by(self.records);
            m.request_bytes.get_or_create(&route).inc_by(self.bytes);
            if self.records_refused > 0 {
                m.request_records_refused
                    .get_or_create(&RouteTarget {
                        route: self.route.clone(),
                        target: target.clone(),
                    })
                    .inc_by(self.records_refused);
            }
        }
        if let Some(code) = self.error_code {
            m.request_errors.get_or_create(&Code { code }).inc();
            m.gateway_errors.inc();
        }
        let millis = crate::millis(self.duration);
        let message = self.message.as_deref().unwrap_or_default();
        match self.status {
            500.. => tracing::warn!(
                route = %self.route, status = self.status, error_code = self.error_code,
                message, duration_ms = millis, "request failed"
            ),
            400.. => tracing::info!(
                route = %self.route, status = self.status, error_code = self.error_code,
                message, duration_ms = millis, "request refused"
            ),
            _ if self.records_refused > 0 => tracing::info!(
                route = %self.route, target = self.target.as_deref().unwrap_or_default(),
                records = self.records, refused = self.records_refused,
                first = self.refusal.as_deref().unwrap_or_default(), duration_ms = millis,
                "records refused"
            ),
            _ if self.duration >= self.slow_after => tracing::info!(
                route = %self.route, status = self.status, records = self.records,
                duration_ms = millis, "slow request"
            ),
            _ => tracing::debug!(
                route = %self.route, status = self.status, records = self.records,
                duration_ms = millis, "request served"
            ),
        }
        dispatch(Event::RequestServed(self));
    }
}

/// A client connection was accepted.
#[derive(Clone, Debug)]
pub struct ConnectionOpened;

impl ConnectionOpened {
    /// Counts the connection in `pinpipe_gateway_connections`.
    pub fn emit(self) {
        metrics::get().connections.inc();
    }
}

/// Why the gateway closed a connection itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// No request came within the keep-alive (or, on a new connection, header) timeout.
    Idle,
    /// The request's headers did not arrive within the header timeout.
    SlowHeaders,
    /// The request's body did not arrive within the body timeout.
    SlowBody,
    /// The connection cap was reached and this connection had waited longest on its client.
    Evicted,
}

impl CloseReason {
    /// The reason as a label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Idle => "idle",
            CloseReason::SlowHeaders => "slow_headers",
            CloseReason::SlowBody => "slow_body",
            CloseReason::Evicted => "evicted",
        }
    }
}

/// A client connection ended.
#[derive(Clone, Debug)]
pub struct ConnectionClosed {
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// Why the gateway closed it, or `None` when the client (or a shutdown) did.
    pub reason: Option<CloseReason>,
}

impl ConnectionClosed {
    /// Updates `pinpipe_gateway_connections`, counts closes by the gateway in
    /// `pinpipe_gateway_connections_closed_total{reason}` and logs them at debug.
    pub fn emit(self) {
        let m = metrics::get();
        m.connections.dec();
        if let Some(reason) = self.reason {
            m.connections_closed
                .get_or_create(&Reason {
                    reason: reason.as_str(),
                })
                .inc();
            tracing::debug!(peer = %self.peer, reason = reason.as_str(), "connection closed by the gateway");
        }
        dispatch(Event::ConnectionClosed(self));
    }
}
