//! Gateway settings, each with a working default, and the checks made before it serves.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the gateway listens, what it accepts, and what one client may cost it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Prefix of the default topics (`<prefix>.pin`) and streams (`streaming-<prefix>-pin`).
    pub topic_prefix: String,
    /// Create a topic on first produce instead of answering 40401.
    pub auto_create_topics: bool,
    /// Partitions of topics the gateway creates.
    pub default_partitions: i32,
    /// Shards of streams the gateway creates.
    pub default_shards: u32,
    /// Most partitions a topic may have (400 above it).
    pub max_partitions: i32,
    /// Most shards a stream may have (400 above it; Kinesis's default quota).
    pub max_shards: u32,
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Largest record, key and value together, in bytes (the record fails above it).
    pub max_record_bytes: usize,
    /// Largest record key, in bytes (the request is refused above it).
    pub max_key_bytes: usize,
    /// Most records in one REST Proxy produce call (422 above it).
    pub max_records_per_request: usize,
    /// Requests being handled at once once their bodies are read; more get 429 (42901).
    /// `/health` and `/metrics` are never counted.
    pub max_in_flight: usize,
    /// Bytes of request bodies held at once, over every connection (a request that would pass it
    /// gets 429, 42901); and, apart, of REST Proxy consumer polls' records (a poll reads fewer).
    pub max_in_flight_body_bytes: usize,
    /// Open connections at most; `0` picks it from the process's open-file limit. At the cap the
    /// connection that has waited longest on its client is closed to make room.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, from its first byte (the
    /// connection is closed: no route is known yet to answer on).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's body, from the end of its headers (408).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Longest an open connection may wait for its next request before it is closed.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
    /// A request taking longer than this to answer is logged as slow.
    #[serde(with = "humantime_serde")]
    pub slow_request: Duration,
    /// When non-empty, every request but `/health` and `/metrics` needs one of these (or an admin
    /// key) in `x-api-key`.
    pub api_keys: Vec<String>,
    /// Keys for creating and deleting streams. Without any, those routes are open only
    /// while no `api_keys` are set and the gateway listens on a loopback address.
    pub admin_api_keys: Vec<String>,
    /// The Kinesis APIs' limits and names (`[gateway.kinesis]`).
    pub kinesis: KinesisConfig,
    /// REST Proxy v2 consumer instances with no request for this long are closed (REST Proxy's
    /// `consumer.instance.timeout.ms`).
    #[serde(with = "humantime_serde")]
    pub consumer_instance_timeout: Duration,
    /// Longest a REST Proxy consumer's `GET …/records` waits for records (REST Proxy's
    /// `consumer.request.timeout.ms`); a request's `timeout` can only shorten it.
    #[serde(with = "humantime_serde")]
    pub consumer_request_timeout: Duration,
    /// Most bytes of records one `GET …/records` returns (REST Proxy's
    /// `consumer.request.max.bytes`); a request's `max_bytes` can only lower it.
    pub consumer_max_bytes: usize,
    /// Most REST Proxy consumer instances open at once (409 above it).
    pub max_consumer_instances: usize,
    /// The cluster id REST Proxy v3 shows (`/v3/clusters/{cluster_id}`).
    pub cluster_id: String,
    /// Consumer groups REST Proxy v2 consumers may not join: the sink's (`[sink] group`), so
    /// that a consumer never takes partitions from it on Kafka, where the group is shared
    /// silently. Set by `pinpipe serve`, not a setting of its own.
    #[serde(skip)]
    pub reserved_groups: Vec<String>,
}

/// The native Kinesis API's limits, Kinesis's own by default, and the names in its ARNs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KinesisConfig {
    /// Largest record data, in bytes (ValidationException above it).
    pub max_record_bytes: usize,
    /// Most records in one `PutRecords` call.
    pub max_records_per_call: usize,
    /// Most bytes of data and partition keys in one `PutRecords` call.
    pub max_call_bytes: usize,
    /// Most records one `GetRecords` call returns (its `Limit` at most).
    pub max_get_records: usize,
    /// Most bytes of data one `GetRecords` call returns.
    pub max_get_records_bytes: usize,
    /// How long a shard iterator (and a `ListShards`/`ListStreams` `NextToken`) stays valid.
    #[serde(with = "humantime_serde")]
    pub iterator_ttl: Duration,
    /// The region in stream ARNs.
    pub region: String,
    /// The 12-digit account id in stream ARNs and messages.
    pub account_id: String,
}

impl Default for KinesisConfig {
    fn default() -> Self {
        Self {
            max_record_bytes: 1024 * 1024,
            max_records_per_call: 500,
            max_call_bytes: 5 * 1024 * 1024,
            max_get_records: 10_000,
            max_get_records_bytes: 10 * 1024 * 1024,
            iterator_ttl: Duration::from_secs(300),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            topic_prefix: "pinpipe".into(),
            auto_create_topics: false,
            default_partitions: 1,
            default_shards: 1,
            max_partitions: 1000,
            max_shards: 500,
            max_body_bytes: 10 * 1024 * 1024,
            max_record_bytes: 1024 * 1024,
            max_key_bytes: 16 * 1024,
            max_records_per_request: 5000,
            max_in_flight: 4096,
            max_in_flight_body_bytes: 256 * 1024 * 1024,
            max_connections: 0,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            slow_request: Duration::from_secs(1),
            api_keys: Vec::new(),
            admin_api_keys: Vec::new(),
            kinesis: KinesisConfig::default(),
            consumer_instance_timeout: Duration::from_secs(300),
            consumer_request_timeout: Duration::from_secs(1),
            consumer_max_bytes: 64 * 1024 * 1024,
            max_consumer_instances: 1000,
            cluster_id: "pinpipe".into(),
            reserved_groups: Vec::new(),
        }
    }
}

/// A setting the gateway cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An API key is empty, which would let a request without a key through.
    #[error(
        "an empty {setting} entry was given (an unset shell variable?): an empty key would let \
         requests without a key through; remove it or set a real key"
    )]
    EmptyKey {
        /// `api_keys` or `admin_api_keys`.
        setting: &'static str,
    },
    /// A limit is zero or out of range.
    #[error("gateway setting {setting} = {value}: {reason}")]
    Limit {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

impl GatewayConfig {
    /// The three topics of the batch path.
    pub fn default_topics(&self) -> [String; 3] {
        ["pin", "geo", "user"].map(|t| format!("{}.{t}", self.topic_prefix))
    }

    /// The three streams of the stream path.
    pub fn default_streams(&self) -> [String; 3] {
        ["pin", "geo", "user"].map(|t| format!("streaming-{}-{t}", self.topic_prefix))
    }

    /// Whether creating and deleting streams needs no key: only on a loopback address
    /// with no keys configured at all (SPEC §3).
    pub fn admin_is_open(&self) -> bool {
        self.api_keys.is_empty() && self.admin_api_keys.is_empty() && self.listen.ip().is_loopback()
    }

    /// Checks what the gateway cannot serve with: empty keys, zero limits, default counts over
    /// their bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (setting, keys) in [
            ("api_keys", &self.api_keys),
            ("admin_api_keys", &self.admin_api_keys),
        ] {
            if keys.iter().any(|k| k.trim().is_empty()) {
                return Err(ConfigError::EmptyKey { setting });
            }
        }
        let positive = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_record_bytes", self.max_record_bytes),
            ("max_key_bytes", self.max_key_bytes),
            ("max_records_per_request", self.max_records_per_request),
            ("max_in_flight", self.max_in_flight),
            ("max_in_flight_body_bytes", self.max_in_flight_body_bytes),
            ("consumer_max_bytes", self.consumer_max_bytes),
            ("max_consumer_instances", self.max_consumer_instances),
            ("kinesis.max_record_bytes", self.kinesis.max_record_bytes),
            (
                "kinesis.max_records_per_call",
                self.kinesis.max_records_per_call,
            ),
            ("kinesis.max_call_bytes", self.kinesis.max_call_bytes),
            ("kinesis.max_get_records", self.kinesis.max_get_records),
            (
                "kinesis.max_get_records_bytes",
                self.kinesis.max_get_records_bytes,
            ),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return Err(limit(setting, value, "must be at least 1"));
            }
        }
        if self.max_in_flight_body_bytes < self.max_body_bytes {
            return Err(limit(
                "max_in_flight_body_bytes",
                self.max_in_flight_body_bytes,
                "must be at least max_body_bytes",
            ));
        }
        for (setting, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("keep_alive_timeout", self.keep_alive_timeout),
            ("consumer_instance_timeout", self.consumer_instance_timeout),
            ("consumer_request_timeout", self.consumer_request_timeout),
            ("kinesis.iterator_ttl", self.kinesis.iterator_ttl),
        ] {
            if value.is_zero() {
                return Err(limit(
                    setting,
                    humantime::format_duration(value),
                    "must be longer than zero",
                ));
            }
        }
        if !(1..=self.max_partitions).contains(&self.default_partitions) {
            return Err(limit(
                "default_partitions",
                self.default_partitions,
                "must be between 1 and max_partitions",
            ));
        }
        if self.kinesis.account_id.len() != 12
            || !self.kinesis.account_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(limit(
                "kinesis.account_id",
                &self.kinesis.account_id,
                "must be 12 digits",
            ));
        }
        if !(1..=self.max_shards).contains(&self.default_shards) {
            return Err(limit(
                "default_shards",
                self.default_shards,
                "must be between 1 and max_shards",
            ));
        }
        Ok(())
    }
}

fn limit(setting: &'static str, value: impl ToString, reason: &'static str) -> ConfigError {
    ConfigError::Limit {
        setting,
        value: value.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_keys_are_refused() {
        let config = GatewayConfig {
            api_keys: vec![String::new()],
            ..GatewayConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("empty api_keys"), "{error}");
        let config = GatewayConfig {
            admin_api_keys: vec!["  ".into()],
            ..GatewayConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(GatewayConfig::default().validate().is_ok());
    }

    #[test]
    fn admin_is_open_only_on_loopback_without_keys() {
        let mut config = GatewayConfig::default();
        assert!(config.admin_is_open());
        config.listen = "0.0.0.0:8082".parse().unwrap();
        assert!(!config.admin_is_open());
        config.listen = "127.0.0.1:8082".parse().unwrap();
        config.api_keys = vec!["k".into()];
        assert!(!config.admin_is_open());
    }

    #[test]
    fn durations_read_as_humantime() {
        let config: GatewayConfig =
            serde_json::from_str(r#"{"header_read_timeout": "2s", "keep_alive_timeout": "1m"}"#)
                .unwrap();
        assert_eq!(config.header_read_timeout, Duration::from_secs(2));
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(60));
    }

    #[test]
    fn default_counts_stay_within_their_bounds() {
        let config = GatewayConfig {
            default_shards: 501,
            ..GatewayConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
