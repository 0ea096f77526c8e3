//! API keys: who may produce, and who may create and delete streams.
//!
//! - With `api_keys` set, every request but `/health` and `/metrics` needs one of them (or an
//!   admin key) in `x-api-key`: 403 (REST Proxy 40301, Kinesis `AccessDeniedException`) without.
//! - Admin operations (creating and deleting streams) need a key of `admin_api_keys`,
//!   unless no key is configured at all and the gateway listens on a loopback address, as a local
//!   REST Proxy or kinesalite would be (SPEC §3).
//!
//! - The native Kinesis API's admin operations are CreateStream and DeleteStream (by
//!   `X-Amz-Target`), under the same rule.
//! - A key goes in `x-api-key`, or, for AWS SDKs and the AWS CLI that sign requests with SigV4
//!   and cannot easily add a header, as the access key id of the signature (`Authorization:
//!   AWS4-HMAC-SHA256 Credential=<key>/…`). The signature itself is not checked: the key is a
//!   bearer secret either way, so use TLS in front of the gateway beyond one machine.
//!
//! Keys are compared in constant time, against every key, without stopping at the first match.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::body::{self, UNBOUNDED_ROUTES};
use crate::config::GatewayConfig;
use crate::envelope::Family;
use crate::kinesis_api::Operation;
use crate::state::AppState;

/// Routes (with their methods) that create or delete streams or topics.
/// How long the body of a refused request is read and dropped at most, so the refusal reaches a
/// client still sending it.
const DISCARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

const ADMIN_ROUTES: [(Method, &str); 2] = [
    (Method::POST, "/streams/{stream}"),
    (Method::DELETE, "/streams/{stream}"),
];

/// Layer: refuses a request whose key (or lack of one) does not allow its route.
pub async fn require_api_key(
    state: &AppState,
    request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let path = request.uri().path();
    if UNBOUNDED_ROUTES.contains(&path) {
        return next(request).await;
    }
    let family = Family::of(path, request.headers());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let admin = ADMIN_ROUTES
        .iter()
        .any(|(method, admin)| request.method() == method && route == Some(*admin))
        || (route == Some("/")
            && Operation::of(request.headers()).is_some_and(Operation::is_admin));
    let allowed = if admin {
        admin_allowed(state, request.headers())
    } else {
        producer_allowed(&state.config, request.headers())
    };
    match allowed {
        Ok(()) => next(request).await,
        Err(message) => {
            let config = &state.config;
            let too_large = body::declared_length(request.headers())
                .is_some_and(|len| len > config.max_body_bytes as u64);
            if !too_large {
                body::discard(
                    request.into_body(),
                    config.max_body_bytes,
                    config.body_read_timeout.min(DISCARD_TIMEOUT),
                )
                .await;
            }
            family.error(StatusCode::FORBIDDEN, message)
        }
    }
}

/// Whether the request's key may produce and read: always when no keys are configured. (The web
/// UI's API asks the same.)
pub fn producer_allowed(config: &GatewayConfig, headers: &HeaderMap) -> Result<(), &'static str> {
    if config.api_keys.is_empty() && config.admin_api_keys.is_empty() {
        return Ok(());
    }
    let given = given_key(headers);
    if key_matches(&config.api_keys, given) || key_matches(&config.admin_api_keys, given) {
        Ok(())
    } else {
        Err("Forbidden: missing or invalid x-api-key")
    }
}

/// Whether the request may create or delete streams (see the module documentation).
pub fn admin_allowed(state: &AppState, headers: &HeaderMap) -> Result<(), &'static str> {
    let config = &state.config;
    if config.admin_is_open() {
        return Ok(());
    }
    if config.admin_api_keys.is_empty() {
        return Err(
            "Forbidden: creating and deleting streams needs a key of [gateway] admin_api_keys, \
             and none is configured",
        );
    }
    if key_matches(&config.admin_api_keys, given_key(headers)) {
        Ok(())
    } else {
        Err("Forbidden: creating and deleting streams needs an admin x-api-key")
    }
}

/// The key a request gives: `x-api-key`, else the access key id of a SigV4 `Authorization`.
fn given_key(headers: &HeaderMap) -> &[u8] {
    if let Some(key) = headers.get("x-api-key") {
        return key.as_bytes();
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(sigv4_access_key)
        .map(str::as_bytes)
        .unwrap_or_default()
}

/// The access key id of `AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request, …`.
fn sigv4_access_key(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest.split_once("Credential=")?.1;
    credential.split_once('/').map(|(id, _)| id)
}

/// Compares against every key without stopping early, each comparison in constant time. An
/// empty key never matches (and is refused when the gateway starts).
fn key_matches(keys: &[String], given: &[u8]) -> bool {
    !given.is_empty()
        && keys
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.as_bytes().ct_eq(given)
            })
            .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_access_key_ids_are_keys() {
        let signed = "AWS4-HMAC-SHA256 Credential=my-key/20261205/us-east-1/kinesis/aws4_request, \
                      SignedHeaders=content-type;host, Signature=60e4";
        assert_eq!(sigv4_access_key(signed), Some("my-key"));
        assert_eq!(sigv4_access_key("Bearer x"), None);
        let mut headers = HeaderMap::new();
        headers.insert("authorization", signed.parse().unwrap());
        assert_eq!(given_key(&headers), b"my-key");
        headers.insert("x-api-key", "other".parse().unwrap());
        assert_eq!(given_key(&headers), b"other");
    }

    #[test]
    fn keys_match_exactly() {
        let keys = vec!["secret-one".to_owned(), "secret-two".to_owned()];
        assert!(key_matches(&keys, b"secret-two"));
        assert!(!key_matches(&keys, b"secret"));
        assert!(!key_matches(&keys, b"secret-one "));
        assert!(!key_matches(&keys, b""));
        assert!(!key_matches(&[String::new()], b""));
    }
}
