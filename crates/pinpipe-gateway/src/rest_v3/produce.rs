//! `POST …/clusters/{cluster_id}/topics/{topic_name}/records`: REST Proxy v3 produce, one record
//! or a stream of them.
//!
//! The request body is a sequence of JSON records (concatenated, or separated by white space),
//! read as it arrives rather than whole, so a client may keep one chunked request open and send
//! records for as long as it likes. The answer is `200` with a chunked body of delivery reports,
//! one per record, in order, each followed by `\r\n`, each sent once its record is durable
//! (`error_code` 200) or refused (its own `error_code`). Records that have arrived together are
//! produced in one bus call.
//!
//! Bounds: at most `max_body_bytes` of a record buffered at once (and the buffer's share of
//! `max_in_flight_body_bytes`), one in-flight permit for the whole stream, and a stream that sends
//! nothing for `keep_alive_timeout` is ended. Malformed JSON ends the stream with a 400 report,
//! as REST Proxy does; the rest of the body is read and dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use pinpipe_bus::{BusError, Produced, with_causes};
use serde_json::value::RawValue;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::record::{self, Mapped, Refusal};
use super::{check_cluster, topic};
use crate::body::{self, declared_length, media_type};
use crate::connections::Connection;
use crate::envelope::RestError;
use crate::metrics::StreamedRecords;
use crate::state::AppState;

/// Reports waiting to be sent before the reader waits for the client to take them.
const REPORTS_QUEUED: usize = 16;
/// How long the body of a refused request is read and dropped at most.
const DISCARD_TIMEOUT: Duration = Duration::from_secs(1);

/// The produce handler (see the module documentation).
pub async fn produce(
    State(state): State<AppState>,
    Path((cluster, topic_name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let started = start(&state, &parts.headers, &cluster, &topic_name).await;
    let permit = match started {
        Ok(permit) => permit,
        Err(refusal) => {
            let config = &state.config;
            if declared_length(&parts.headers).is_none_or(|n| n <= config.max_body_bytes as u64) {
                body::discard(body, config.max_body_bytes, DISCARD_TIMEOUT).await;
            }
            return refusal.into_response();
        }
    };
    let streamed = StreamedRecords::new(topic_name.clone());
    let (reports, receiver) = mpsc::channel::<Bytes>(REPORTS_QUEUED);
    let stream = Stream {
        state,
        cluster,
        topic: topic_name,
        reports,
        streamed: streamed.clone(),
        connection: parts.extensions.get::<Arc<Connection>>().cloned(),
        memory: None,
        reserved: 0,
        _permit: permit,
    };
    tokio::spawn(stream.run(body));
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response();
    response.extensions_mut().insert(streamed);
    response
}

/// Checks made before the stream starts; the in-flight permit the stream holds.
async fn start(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    cluster: &str,
    topic_name: &str,
) -> Result<OwnedSemaphorePermit, RestError> {
    if media_type(headers).as_deref() != Some("application/json") {
        return Err(RestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            "HTTP 415 Unsupported Media Type",
        ));
    }
    check_cluster(state, cluster)?;
    topic(state, topic_name).await?;
    if declared_length(headers) == Some(0) {
        return Err(RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "Payload error. Request body is empty. Data is required.",
        ));
    }
    state.in_flight.clone().try_acquire_owned().map_err(|_| {
        RestError::new(
            StatusCode::TOO_MANY_REQUESTS,
            42901,
            "Too many requests: try again shortly",
        )
    })
}

/// One produce stream: where it goes, where its reports go, what it holds.
struct Stream {
    state: AppState,
    cluster: String,
    topic: String,
    reports: mpsc::Sender<Bytes>,
    streamed: StreamedRecords,
    /// The client's connection, kept out of the janitor's idle timeout while records arrive.
    connection: Option<Arc<Connection>>,
    /// The buffer's share of the memory bound.
    memory: Option<OwnedSemaphorePermit>,
    reserved: usize,
    _permit: OwnedSemaphorePermit,
}

impl Stream {
    async fn run(mut self, body: Body) {
        self.read(body).await;
        if let Some(connection) = &self.connection {
            connection.request_finished();
        }
    }

    async fn read(&mut self, mut body: Body) {
        let config = Arc::clone(&self.state.config);
        let mut buffer = BytesMut::new();
        loop {
            if let Some(connection) = &self.connection {
                connection.busy();
            }
            let frame = tokio::time::timeout(config.keep_alive_timeout, body.frame()).await;
            let ended = match frame {
                Err(_) => {
                    let idle = humantime::format_duration(config.keep_alive_timeout);
                    self.send_refusal(&Refusal {
                        code: 408,
                        message: format!("no record arrived within {idle}: the stream is closed"),
                    })
                    .await;
                    return;
                }
                Ok(None) => true,
                Ok(Some(Err(_))) => return,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data()
                        && let Err(refusal) = self.hold(&mut buffer, &data, config.max_body_bytes)
                    {
                        self.send_refusal(&refusal).await;
                        body::discard(body, config.max_body_bytes, DISCARD_TIMEOUT).await;
                        return;
                    }
                    false
                }
            };
            let (records, fatal) = split(&mut buffer, ended);
            if !records.is_empty() && !self.produce(records).await {
                return;
            }
            if let Some(refusal) = fatal {
                self.send_refusal(&refusal).await;
                body::discard(body, config.max_body_bytes, DISCARD_TIMEOUT).await;
                return;
            }
            if ended {
                return;
            }
        }
    }

    /// Adds `data` to the buffer within the size and memory bounds.
    fn hold(&mut self, buffer: &mut BytesMut, data: &[u8], limit: usize) -> Result<(), Refusal> {
        let wanted = buffer.len() + data.len();
        if wanted > limit {
            return Err(Refusal {
                code: 413,
                message: "The request included a message larger than the maximum message size \
                          the server can accept."
                    .into(),
            });
        }
        if wanted > self.reserved {
            let more = u32::try_from(wanted - self.reserved).unwrap_or(u32::MAX);
            let permit = self
                .state
                .body_memory
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| Refusal {
                    code: 42901,
                    message: "Too many requests: too much request data in flight".into(),
                })?;
            match &mut self.memory {
                Some(held) => held.merge(permit),
                None => self.memory = Some(permit),
            }
            self.reserved = wanted;
        }
        buffer.extend_from_slice(data);
        Ok(())
    }

    /// Produces the records in one bus call and sends their reports in order; `false` once the
    /// client is gone.
    async fn produce(&self, records: Vec<Box<RawValue>>) -> bool {
        let config = &self.state.config;
        let mapped: Vec<Result<Mapped, Refusal>> = records
            .into_iter()
            .map(|r| record::map(&r, config.max_key_bytes))
            .collect();
        let batch: Vec<_> = mapped
            .iter()
            .filter_map(|m| m.as_ref().ok().map(|m| m.record.clone()))
            .collect();
        let produced = if batch.is_empty() {
            Ok(Vec::new())
        } else {
            self.state.topics.produce(&self.topic, batch).await
        };
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let results: Vec<Result<Produced, Refusal>> = match produced {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map_err(Refusal::from))
                .collect(),
            Err(e) => vec![Err(bus_refusal(&e)); mapped.len()],
        };
        let mut results = results.into_iter();
        let mut out = Vec::new();
        let mut accepted = 0;
        for item in &mapped {
            let report = match item {
                Err(refusal) => refusal.report(),
                Ok(mapped) => match results.next() {
                    Some(Ok(produced)) => {
                        accepted += 1;
                        mapped.report(&self.cluster, &self.topic, produced, &at)
                    }
                    Some(Err(refusal)) => refusal.report(),
                    None => bus_refusal(&BusError::unavailable("no result")).report(),
                },
            };
            out.extend(serde_json::to_vec(&report).unwrap_or_default());
            out.extend_from_slice(b"\r\n");
        }
        self.streamed.records.fetch_add(accepted, Ordering::Relaxed);
        self.streamed
            .refused
            .fetch_add(mapped.len() as u64 - accepted, Ordering::Relaxed);
        self.reports.send(Bytes::from(out)).await.is_ok()
    }

    async fn send_refusal(&self, refusal: &Refusal) {
        let mut line = serde_json::to_vec(&refusal.report()).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        let _ = self.reports.send(Bytes::from(line)).await;
    }
}

/// A failed bus call, as each of its records' reports says it.
fn bus_refusal(e: &BusError) -> Refusal {
    let code = match e {
        BusError::TopicNotFound(_) => 40403,
        _ if e.is_transient() => 50302,
        _ => 50002,
    };
    Refusal {
        code,
        message: with_causes(e),
    }
}

/// Takes the complete records off the front of `buffer`; the error that ends the stream when
/// the JSON is malformed (or cut off at the end of the body).
fn split(buffer: &mut BytesMut, ended: bool) -> (Vec<Box<RawValue>>, Option<Refusal>) {
    let mut records = Vec::new();
    let mut fatal = None;
    let mut consumed = 0;
    let mut values = serde_json::Deserializer::from_slice(buffer).into_iter::<Box<RawValue>>();
    loop {
        match values.next() {
            None => {
                consumed = values.byte_offset();
                break;
            }
            Some(Ok(value)) => {
                records.push(value);
                consumed = values.byte_offset();
            }
            Some(Err(e)) if e.is_eof() && !ended => break,
            Some(Err(e)) => {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                fatal = Some(Refusal {
                    code: 400,
                    message: format!("Bad Request: Error processing message: {first}"),
                });
                break;
            }
        }
    }
    buffer.advance(consumed);
    (records, fatal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_split_as_they_complete() {
        let mut buffer = BytesMut::from(&br#"{"a":1}{"b":2} {"c""#[..]);
        let (records, fatal) = split(&mut buffer, false);
        assert_eq!(records.len(), 2);
        assert!(fatal.is_none());
        assert_eq!(&buffer[..], br#" {"c""#);
        buffer.extend_from_slice(b":3}\n");
        let (records, _) = split(&mut buffer, true);
        let texts: Vec<&str> = records.iter().map(|r| r.get()).collect();
        assert_eq!(texts, vec![r#"{"c":3}"#]);
        let mut broken = BytesMut::from(&b"{\"a\":1} x"[..]);
        let (records, fatal) = split(&mut broken, false);
        assert_eq!(records.len(), 1);
        assert_eq!(fatal.map(|f| f.code), Some(400));
        let mut cut = BytesMut::from(&b"{\"a\":"[..]);
        assert!(split(&mut cut, true).1.is_some());
    }
}
