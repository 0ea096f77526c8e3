//! Request guards: the optional API key and the in-flight limit.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::rest::RestError;
use crate::state::AppState;

/// Routes open without a key, so health checks and scrapers need no secret.
const OPEN_ROUTES: [&str; 2] = ["/health", "/metrics"];

/// Middleware: when API keys are configured, a request needs a valid `x-api-key` (403 without).
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let keys = &state.config.api_keys;
    if keys.is_empty() || OPEN_ROUTES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if key_matches(keys, given) {
        next.run(request).await
    } else {
        RestError::new(
            StatusCode::FORBIDDEN,
            40301,
            "Forbidden: missing or invalid x-api-key",
        )
        .into_response()
    }
}

/// Compares against every key without stopping early, each comparison in constant time.
fn key_matches(keys: &[String], given: &[u8]) -> bool {
    keys.iter()
        .fold(subtle::Choice::from(0), |found, key| {
            found | key.as_bytes().ct_eq(given)
        })
        .into()
}

/// Middleware: answers 429 (42901) when too many requests are already being handled.
pub async fn limit_in_flight(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => RestError::new(
            StatusCode::TOO_MANY_REQUESTS,
            42901,
            "Too many requests: try again shortly",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        let keys = vec!["secret-one".to_owned(), "secret-two".to_owned()];
        assert!(key_matches(&keys, b"secret-two"));
        assert!(!key_matches(&keys, b"secret"));
        assert!(!key_matches(&keys, b"secret-one "));
        assert!(!key_matches(&keys, b""));
    }
}
