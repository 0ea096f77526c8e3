//! [`EmulatorConfig`]: what the emulator sends, where, how fast, and how hard it retries.

use std::time::Duration;

use super::retry::Backoff;
use crate::error::{Result, SourceError};

/// The default topic prefix: topics `pinpipe.pin`, streams `streaming-pinpipe-pin`, ….
pub const DEFAULT_TOPIC_PREFIX: &str = "pinpipe";
/// Requests in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Retries of one record by default, after its first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// The default seed of `init` and the emulator.
pub const DEFAULT_SEED: u64 = 42;
/// How long one request may take by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which gateway paths each post is sent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Paths {
    /// The Kafka REST Proxy path: `POST /topics/<prefix>.<table>`.
    pub batch: bool,
    /// The Kinesis path: `PUT /streams/streaming-<prefix>-<table>/record`.
    pub stream: bool,
}

impl Paths {
    /// The batch path only (the original's `user_posting_emulation.py`).
    pub const BATCH: Paths = Paths {
        batch: true,
        stream: false,
    };
    /// The stream path only (the original's `user_posting_emulation_streaming.py`).
    pub const STREAM: Paths = Paths {
        batch: false,
        stream: true,
    };
    /// Both paths.
    pub const BOTH: Paths = Paths {
        batch: true,
        stream: true,
    };

    /// How many paths are on.
    pub fn count(self) -> usize {
        usize::from(self.batch) + usize::from(self.stream)
    }
}

/// Which API the stream path speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StreamApi {
    /// The original API Gateway's Kinesis proxy: `PUT /streams/<stream>/record` with the row as
    /// JSON `Data`.
    #[default]
    Proxy,
    /// Kinesis's own API, as an AWS SDK sends it: `POST /` with
    /// `X-Amz-Target: Kinesis_20131202.PutRecord` and the row's JSON as base64 `Data`.
    Kinesis,
}

impl Default for Paths {
    /// The batch path, as the original's main emulator.
    fn default() -> Self {
        Paths::BATCH
    }
}

/// How the emulator runs (SPEC §2).
#[derive(Clone, Debug, PartialEq)]
pub struct EmulatorConfig {
    /// The gateway's base URL (`http://127.0.0.1:8080`, or an API Gateway invoke URL with its stage);
    /// request paths are appended to it.
    pub gateway: String,
    /// How many posts to send; `None` sends until stopped.
    pub count: Option<u64>,
    /// Posts per second; `None` sends as fast as the gateway takes them.
    pub rate: Option<f64>,
    /// Which paths each post goes on.
    pub paths: Paths,
    /// Which API the stream path uses.
    pub stream_api: StreamApi,
    /// Seeds the sequence of keys: the same seed over the same keys sends the same posts in order.
    pub seed: u64,
    /// Topic and stream names' prefix (`[A-Za-z0-9._-]+`).
    pub topic_prefix: String,
    /// Sent as `x-api-key` when set, as API Gateway expects.
    pub api_key: Option<String>,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Retries of a record after its first attempt, on connection errors, timeouts, 5xx and 429.
    pub max_retries: u32,
    /// Waits between retries.
    pub backoff: Backoff,
    /// How long one request may take.
    pub request_timeout: Duration,
}

impl EmulatorConfig {
    /// The defaults, sending to `gateway`: forever, as fast as possible, batch path (the stream
    /// path, when chosen, through the Kinesis proxy), seed
    /// [`DEFAULT_SEED`], prefix [`DEFAULT_TOPIC_PREFIX`], no API key, [`DEFAULT_CONCURRENCY`] requests in
    /// flight, [`DEFAULT_MAX_RETRIES`] retries.
    pub fn new(gateway: impl Into<String>) -> EmulatorConfig {
        EmulatorConfig {
            gateway: gateway.into(),
            count: None,
            rate: None,
            paths: Paths::default(),
            stream_api: StreamApi::default(),
            seed: DEFAULT_SEED,
            topic_prefix: DEFAULT_TOPIC_PREFIX.to_owned(),
            api_key: None,
            concurrency: DEFAULT_CONCURRENCY,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff: Backoff::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Checks every setting; the error says which one is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(SourceError::Config(message));
        if !(self.gateway.starts_with("http://") || self.gateway.starts_with("https://")) {
            return invalid(format!(
                "gateway {:?} is not an http:// or https:// URL",
                self.gateway
            ));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return invalid(format!(
                "rate {rate} is not a positive number of posts per second"
            ));
        }
        if self.paths.count() == 0 {
            return invalid(
                "no path chosen: send on the batch path, the stream path or both".into(),
            );
        }
        let prefix_ok = !self.topic_prefix.is_empty()
            && self
                .topic_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !prefix_ok {
            return invalid(format!(
                "topic prefix {:?} must be letters, digits, '.', '_' or '-'",
                self.topic_prefix
            ));
        }
        if self.concurrency == 0 {
            return invalid("concurrency must be at least 1".into());
        }
        if self.request_timeout.is_zero() {
            return invalid("request timeout must be above zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(
            EmulatorConfig::new("http://127.0.0.1:8080")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let base = EmulatorConfig::new("http://127.0.0.1:8080");
        let check = |c: EmulatorConfig| {
            c.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(check(EmulatorConfig::new("127.0.0.1:8080")).contains("gateway"));
        assert!(
            check(EmulatorConfig {
                rate: Some(0.0),
                ..base.clone()
            })
            .contains("rate")
        );
        assert!(
            check(EmulatorConfig {
                rate: Some(f64::NAN),
                ..base.clone()
            })
            .contains("rate")
        );
        let no_paths = Paths {
            batch: false,
            stream: false,
        };
        assert!(
            check(EmulatorConfig {
                paths: no_paths,
                ..base.clone()
            })
            .contains("no path")
        );
        let prefix = "a/b".to_owned();
        assert!(
            check(EmulatorConfig {
                topic_prefix: prefix,
                ..base.clone()
            })
            .contains("prefix")
        );
        assert!(
            check(EmulatorConfig {
                concurrency: 0,
                ..base.clone()
            })
            .contains("concurrency")
        );
    }
}
