//! What a gateway answer means for a record: [`Verdict`], from the status and body (SPEC §3).
//!
//! - batch path: 2xx whose `offsets[0].error_code` is null is acknowledged; a record error 50003
//!   (Kafka retriable) is retried, any other record error fails;
//! - stream path: 2xx with a `SequenceNumber` is acknowledged;
//! - what may pass is retried: 408, 429, 502, 503, 504 and Kinesis throttling
//!   (`ProvisionedThroughputExceededException`, `LimitExceededException`); other 4xx, and 500
//!   (the backend refused: REST Proxy's 50002, Kinesis's `InternalFailure`), fail at once;
//! - connection errors and timeouts are retried.
//!
//! Failure reasons are short and stable, so a summary can count them: `HTTP 404 (40401)`,
//! `HTTP 400 ResourceNotFoundException`, `HTTP 503`, `record error 50002`, `connection failed`,
//! `timeout`, `response without offsets`, `response without SequenceNumber`, `unreadable response`.

use serde_json::Value;

use super::request::PathKind;

/// What to do with a record after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The gateway holds the record durably.
    Acknowledged,
    /// Try again later; the reason is kept if no retry is left.
    Retry(String),
    /// The record failed for good.
    Failed(String),
}

/// Why an attempt got no HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection could not be made or broke.
    Connect,
    /// The request took longer than the timeout.
    Timeout,
    /// The request could not even be built (a bad URL or header): retrying cannot help.
    Invalid(String),
    /// Anything else on the way (reading the body, a protocol error).
    Other,
}

/// The [`Verdict`] of an attempt that got no answer.
pub fn classify_transport(failure: &TransportFailure) -> Verdict {
    match failure {
        TransportFailure::Connect => Verdict::Retry("connection failed".into()),
        TransportFailure::Timeout => Verdict::Retry("timeout".into()),
        TransportFailure::Other => Verdict::Retry("request failed".into()),
        TransportFailure::Invalid(why) => Verdict::Failed(format!("invalid request: {why}")),
    }
}

/// Kinesis error types that mean "slow down", answered with 400 like the errors that are final.
const THROTTLED: [&str; 2] = [
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
];

/// REST Proxy's record error code that asks for a retry (`KAFKA_RETRIABLE_ERROR`).
const RETRIABLE_RECORD_ERROR: i64 = 50003;

/// The [`Verdict`] of an answer with `status` and `body` to a request on `path`.
pub fn classify_response(path: PathKind, status: u16, body: &[u8]) -> Verdict {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if !(200..300).contains(&status) {
        return error_status(status, json.as_ref());
    }
    let Some(json) = json else {
        return Verdict::Failed("unreadable response".into());
    };
    match path {
        PathKind::Batch => batch_ack(&json),
        PathKind::Stream => match json.get("SequenceNumber") {
            Some(Value::String(s)) if !s.is_empty() => Verdict::Acknowledged,
            _ => Verdict::Failed("response without SequenceNumber".into()),
        },
    }
}

/// A REST Proxy produce answer: the first (only) offset's error decides.
fn batch_ack(json: &Value) -> Verdict {
    let Some(first) = json
        .get("offsets")
        .and_then(Value::as_array)
        .and_then(|o| o.first())
    else {
        return Verdict::Failed("response without offsets".into());
    };
    match first.get("error_code") {
        None | Some(Value::Null) => Verdict::Acknowledged,
        Some(code) => {
            let reason = format!("record error {code}");
            if code.as_i64() == Some(RETRIABLE_RECORD_ERROR) {
                Verdict::Retry(reason)
            } else {
                Verdict::Failed(reason)
            }
        }
    }
}

/// A non-2xx answer: its reason names the status and the error the body names, if any.
fn error_status(status: u16, json: Option<&Value>) -> Verdict {
    let rest_proxy_code = json
        .and_then(|j| j.get("error_code"))
        .and_then(Value::as_i64);
    let kinesis_type = json
        .and_then(|j| j.get("__type"))
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t));
    let reason = match (rest_proxy_code, kinesis_type) {
        (Some(code), _) => format!("HTTP {status} ({code})"),
        (None, Some(kind)) => format!("HTTP {status} {kind}"),
        (None, None) => format!("HTTP {status}"),
    };
    let throttled = kinesis_type.is_some_and(|t| THROTTLED.contains(&t));
    let transient = matches!(status, 408 | 429 | 502 | 503 | 504);
    if transient || throttled {
        Verdict::Retry(reason)
    } else {
        Verdict::Failed(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(status: u16, body: &str) -> Verdict {
        classify_response(PathKind::Batch, status, body.as_bytes())
    }

    fn stream(status: u16, body: &str) -> Verdict {
        classify_response(PathKind::Stream, status, body.as_bytes())
    }

    #[test]
    fn batch_answers() {
        let ok = r#"{"key_schema_id":null,"value_schema_id":null,"offsets":[{"partition":0,"offset":7,"error_code":null,"error":null}]}"#;
        assert_eq!(batch(200, ok), Verdict::Acknowledged);
        let failed = r#"{"offsets":[{"partition":null,"offset":null,"error_code":50002,"error":"too big"}]}"#;
        assert_eq!(
            batch(200, failed),
            Verdict::Failed("record error 50002".into())
        );
        let retriable = r#"{"offsets":[{"error_code":50003,"error":"x"}]}"#;
        assert_eq!(
            batch(200, retriable),
            Verdict::Retry("record error 50003".into())
        );
        assert_eq!(
            batch(200, "{}"),
            Verdict::Failed("response without offsets".into())
        );
        assert_eq!(
            batch(200, "<html>"),
            Verdict::Failed("unreadable response".into())
        );
        let missing = r#"{"error_code":40401,"message":"Topic not found."}"#;
        assert_eq!(
            batch(404, missing),
            Verdict::Failed("HTTP 404 (40401)".into())
        );
        assert_eq!(batch(415, ""), Verdict::Failed("HTTP 415".into()));
        let busy = r#"{"error_code":50302,"message":"backend unavailable"}"#;
        assert_eq!(batch(503, busy), Verdict::Retry("HTTP 503 (50302)".into()));
        let slow = r#"{"error_code":42901,"message":"too many requests"}"#;
        assert_eq!(batch(429, slow), Verdict::Retry("HTTP 429 (42901)".into()));
    }

    #[test]
    fn stream_answers() {
        let ok = r#"{"SequenceNumber":"4959","ShardId":"shardId-000000000000"}"#;
        assert_eq!(stream(200, ok), Verdict::Acknowledged);
        assert_eq!(
            stream(200, r#"{"ShardId":"x"}"#),
            Verdict::Failed("response without SequenceNumber".into())
        );
        let missing = r#"{"__type":"ResourceNotFoundException","message":"no stream"}"#;
        assert_eq!(
            stream(400, missing),
            Verdict::Failed("HTTP 400 ResourceNotFoundException".into())
        );
        let throttled = r#"{"__type":"com.amazonaws#ProvisionedThroughputExceededException"}"#;
        assert_eq!(
            stream(400, throttled),
            Verdict::Retry("HTTP 400 ProvisionedThroughputExceededException".into())
        );
        assert_eq!(stream(500, ""), Verdict::Failed("HTTP 500".into()));
        assert_eq!(stream(504, ""), Verdict::Retry("HTTP 504".into()));
        let refused = r#"{"error_code":50002,"message":"Kafka refused"}"#;
        assert_eq!(
            batch(500, refused),
            Verdict::Failed("HTTP 500 (50002)".into())
        );
    }

    #[test]
    fn transport_failures() {
        assert_eq!(
            classify_transport(&TransportFailure::Connect),
            Verdict::Retry("connection failed".into())
        );
        assert_eq!(
            classify_transport(&TransportFailure::Timeout),
            Verdict::Retry("timeout".into())
        );
        assert!(matches!(
            classify_transport(&TransportFailure::Invalid("bad url".into())),
            Verdict::Failed(_)
        ));
    }
}
