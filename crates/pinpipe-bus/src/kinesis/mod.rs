//! [`Streams`] on Amazon Kinesis (feature `kinesis`), through the AWS SDK for Rust.
//!
//! ```text
//!  put_records ──PutRecords, ≤ 500 records and ≤ 5 MiB a call──► Kinesis shard (MD5 of the key)
//!  read_shard  ◄──GetShardIterator (TRIM_HORIZON | AT/AFTER_SEQUENCE_NUMBER | AT_TIMESTAMP),
//!                 then GetRecords──┘
//! ```
//!
//! Credentials and region come from the standard AWS chain (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, profiles, SSO, instance metadata) unless [`KinesisOptions`] names them;
//! `endpoint_url` (or `AWS_ENDPOINT_URL`) points the bus at kinesalite or LocalStack. Every call has
//! short timeouts and the SDK's standard retry (three attempts with a small jittered backoff,
//! throttling included), so a dead endpoint fails within seconds as [`BusError::Unavailable`].
//!
//! Where Kinesis differs from the embedded log: [`ShardInfo::records`](crate::ShardInfo) is `None`
//! (Kinesis does not count records); sequence numbers are Kinesis's own; `describe_stream` lists
//! closed shards too (after a reshard), so a reader drains them; a record Kinesis did not take gets
//! [`RecordError::Rejected`](crate::RecordError) with Kinesis's per-record error code. Nothing is
//! cached between calls but the client.

mod admin;
mod error;
mod put;
mod read;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::Region;

pub use aws_sdk_kinesis::config::Credentials;

use crate::{
    BusError, PutRecord, PutResult, ReadFrom, ReadLimit, RecordError, Result, StreamInfo,
    StreamRecord, Streams,
};

/// Attempts per call, the first included (the SDK's standard retry mode).
const MAX_ATTEMPTS: u32 = 3;
/// The first retry waits up to this long (jittered), doubling for each further attempt.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// No retry waits longer than this.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Time to open a connection to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time the endpoint may stay silent while answering.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one attempt of a call, a 5 MiB PutRecords included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom to reach Kinesis; every `None` falls back to the standard AWS chain.
#[derive(Clone, Debug, Default)]
pub struct KinesisOptions {
    /// The AWS region, such as `us-east-1`; `None` takes `AWS_REGION` or the profile's.
    pub region: Option<String>,
    /// An endpoint other than AWS's, such as kinesalite or LocalStack (`http://127.0.0.1:4567`);
    /// `None` takes `AWS_ENDPOINT_URL` or the region's Kinesis endpoint.
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the standard chain (kinesalite and LocalStack take any).
    pub credentials: Option<Credentials>,
}

/// [`Streams`] on Amazon Kinesis or anything that speaks its API.
#[derive(Clone, Debug)]
pub struct KinesisBus {
    client: Client,
    /// Where requests go, for error messages.
    endpoint: String,
}

impl KinesisBus {
    /// Builds a client from `options` and the standard AWS chain. Nothing is sent yet: an endpoint
    /// that cannot be reached shows on the first call, as [`BusError::Unavailable`].
    ///
    /// # Errors
    /// [`BusError::InvalidRequest`] when neither the options nor the chain name a region.
    pub async fn connect(options: KinesisOptions) -> Result<Self> {
        let retry = RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(INITIAL_BACKOFF)
            .with_max_backoff(MAX_BACKOFF);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = options.region {
            loader = loader.region(Region::new(region));
        }
        if let Some(url) = options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = options.credentials {
            loader = loader.credentials_provider(credentials);
        }
        let config = loader.load().await;
        let region = config.region().ok_or_else(|| {
            BusError::InvalidRequest(
                "no AWS region for Kinesis: set AWS_REGION or the region option".to_owned(),
            )
        })?;
        let endpoint = config.endpoint_url().map_or_else(
            || format!("https://kinesis.{region}.amazonaws.com"),
            str::to_owned,
        );
        Ok(Self {
            client: Client::new(&config),
            endpoint,
        })
    }
}

#[async_trait]
impl Streams for KinesisBus {
    async fn list_streams(&self) -> Result<Vec<String>> {
        self.list().await
    }

    async fn create_stream(&self, name: &str, shards: u32) -> Result<()> {
        self.create(name, shards).await
    }

    async fn delete_stream(&self, name: &str) -> Result<()> {
        self.delete(name).await
    }

    async fn describe_stream(&self, name: &str) -> Result<StreamInfo> {
        self.describe(name).await
    }

    async fn put_records(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<Result<PutResult, RecordError>>> {
        self.put(stream, records).await
    }

    async fn read_shard(
        &self,
        stream: &str,
        shard_id: &str,
        from: ReadFrom<'_>,
        limit: ReadLimit,
    ) -> Result<Vec<StreamRecord>> {
        self.read(stream, shard_id, from, limit).await
    }
}
