//! The thin HTTP layer: one reqwest client, one request per attempt, its answer turned into a
//! [`Verdict`] by [`classify_response`]. Everything worth testing without a server lives elsewhere.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::config::EmulatorConfig;
use super::request::{Method, RecordRequest};
use super::response::{TransportFailure, Verdict, classify_response, classify_transport};
use super::retry::{Delivery, deliver};
use crate::error::Result;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends records to the gateway, retrying as the config says.
#[derive(Debug)]
pub(crate) struct Sender {
    client: reqwest::Client,
    api_key: Option<HeaderValue>,
    config: EmulatorConfig,
}

impl Sender {
    /// A sender for `config` (already validated).
    pub(crate) fn new(config: &EmulatorConfig) -> Result<Sender> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(config.concurrency)
            .build()?;
        let api_key = match &config.api_key {
            Some(key) => Some(HeaderValue::from_str(key).map_err(|_| {
                crate::SourceError::Config("the API key is not a valid header value".into())
            })?),
            None => None,
        };
        Ok(Sender {
            client,
            api_key,
            config: config.clone(),
        })
    }

    /// Fails when no connection to the gateway can be made (refused, no such host, no answer
    /// within the connect timeout), rather than retrying every record for minutes. Any answer,
    /// even an error status, or a connection that breaks later, passes: those are counted per
    /// record as the run goes.
    pub(crate) async fn check_reachable(&self) -> Result<()> {
        match self.client.get(&self.config.gateway).send().await {
            Err(source) if source.is_connect() => Err(crate::SourceError::GatewayUnreachable {
                url: self.config.gateway.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// Sends `request` until acknowledged, failed for good, or out of retries.
    pub(crate) async fn deliver(&self, request: &RecordRequest) -> Delivery {
        deliver(
            || self.attempt(request),
            self.config.backoff,
            self.config.max_retries,
        )
        .await
    }

    /// One attempt.
    async fn attempt(&self, request: &RecordRequest) -> Verdict {
        match self.send(request).await {
            Ok((status, body)) => classify_response(request.path, status, &body),
            Err(failure) => classify_transport(&failure),
        }
    }

    async fn send(&self, request: &RecordRequest) -> Result<(u16, Bytes), TransportFailure> {
        let builder = match request.method {
            Method::Post => self.client.post(&request.url),
            Method::Put => self.client.put(&request.url),
        };
        let mut builder = builder
            .header(CONTENT_TYPE, request.content_type)
            .body(request.body.clone());
        if let Some(target) = request.target {
            builder = builder.header("x-amz-target", target);
        }
        if let Some(key) = &self.api_key {
            builder = builder.header("x-api-key", key.clone());
        }
        let response = builder.send().await.map_err(transport_failure)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport_failure)?;
        Ok((status, body))
    }
}

fn transport_failure(e: reqwest::Error) -> TransportFailure {
    if e.is_builder() {
        TransportFailure::Invalid(e.to_string())
    } else if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Other
    }
}
