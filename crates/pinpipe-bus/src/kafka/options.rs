//! How to reach a Kafka cluster: the bootstrap servers, librdkafka settings passed through as they
//! are (SASL, TLS, timeouts), and the client configurations the bus builds from them.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;

use crate::{BusError, Result};

/// librdkafka's own default `message.max.bytes`.
const DEFAULT_MAX_RECORD_BYTES: u64 = 1_000_000;
/// How long a record may wait for the broker's acknowledgement, unless `message.timeout.ms` says.
const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 30_000;

/// Where the Kafka cluster is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaOptions {
    /// `host:port[,host:port...]`, librdkafka's `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// librdkafka settings applied over the bus's defaults, for every client it creates:
    /// `security.protocol`, `sasl.*`, `ssl.*`, and so on. `message.timeout.ms` (default 30 s)
    /// also bounds metadata, admin and watermark requests and a consumer's wait to join its
    /// group; `message.max.bytes` (default 1,000,000) is the largest record accepted.
    pub client_config: BTreeMap<String, String>,
}

impl KafkaOptions {
    /// Options for `bootstrap_servers` with no extra settings.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            client_config: BTreeMap::new(),
        }
    }

    /// Parses `kafka://host:9092[,host2:9092...]`.
    pub fn from_url(url: &str) -> Result<Self> {
        let invalid =
            |reason: &str| BusError::InvalidRequest(format!("Kafka URL {url:?}: {reason}"));
        let servers = url
            .strip_prefix("kafka://")
            .ok_or_else(|| invalid("expected kafka://host:port[,host:port...]"))?;
        let servers = servers.strip_suffix('/').unwrap_or(servers);
        if servers.contains(['/', '?', '#', '@']) {
            return Err(invalid(
                "only a list of host:port is allowed after kafka://",
            ));
        }
        let valid = |server: &str| {
            server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        };
        if servers.is_empty() || !servers.split(',').all(valid) {
            return Err(invalid("every server needs a host and a port"));
        }
        Ok(Self::new(servers))
    }

    /// Adds one librdkafka setting.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.client_config.insert(key.into(), value.into());
        self
    }

    /// Refuses settings this build cannot honour, saying how to get a build that can: TLS and
    /// SCRAM need librdkafka built with OpenSSL (the `kafka-tls` feature), and librdkafka's own
    /// error ("OpenSSL not available at build time") does not say how.
    pub(super) fn check_build(&self) -> Result<()> {
        if cfg!(feature = "kafka-tls") {
            return Ok(());
        }
        let setting = |key: &str| self.client_config.get(key).map(|v| v.to_ascii_uppercase());
        let tls = setting("security.protocol").is_some_and(|p| p.ends_with("SSL"));
        let scram = ["sasl.mechanism", "sasl.mechanisms"]
            .into_iter()
            .any(|key| setting(key).is_some_and(|m| m.starts_with("SCRAM")));
        if tls || scram {
            return Err(BusError::InvalidRequest(
                "these Kafka settings need TLS or SCRAM (security.protocol, sasl.mechanism), and \
                 this pinpipe was built without them: build it with `cargo build --release -p \
                 pinpipe --features kafka-tls`, which needs OpenSSL's development files (Debian \
                 and Ubuntu: apt-get install libssl-dev pkg-config)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// How long a record may wait for its acknowledgement, and any other request for its answer.
    pub(super) fn timeout(&self) -> Result<Duration> {
        self.number("message.timeout.ms", DEFAULT_MESSAGE_TIMEOUT_MS)
            .map(Duration::from_millis)
    }

    /// The largest record (key and value) the producer accepts.
    pub(super) fn max_record_bytes(&self) -> Result<usize> {
        let bytes = self.number("message.max.bytes", DEFAULT_MAX_RECORD_BYTES)?;
        Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
    }

    fn number(&self, key: &str, default: u64) -> Result<u64> {
        self.client_config.get(key).map_or(Ok(default), |value| {
            value.parse().map_err(|_| {
                BusError::InvalidRequest(format!("Kafka setting {key}={value:?} is not a number"))
            })
        })
    }

    /// The producer's configuration: acknowledged by every in-sync replica, idempotent, batched
    /// for a few milliseconds, never creating topics by accident.
    pub(super) fn producer_config(&self) -> ClientConfig {
        self.config(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            (
                "message.timeout.ms",
                &DEFAULT_MESSAGE_TIMEOUT_MS.to_string(),
            ),
            ("allow.auto.create.topics", "false"),
        ])
    }

    /// The admin client's configuration.
    pub(super) fn admin_config(&self) -> ClientConfig {
        self.config(&[])
    }

    /// A consumer that reads a partition from an offset up to its end, said at once. librdkafka
    /// wants a group id to assign partitions; this one never joins its group nor commits.
    pub(super) fn reader_config(&self) -> ClientConfig {
        self.config(&[
            ("group.id", "pinpipe-bus-read"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("fetch.wait.max.ms", "10"),
            // An offset past the end is an answer (nothing there), not a reason to start over.
            ("auto.offset.reset", "error"),
            ("allow.auto.create.topics", "false"),
        ])
    }

    /// A consumer-group member that commits only what it is told to.
    pub(super) fn group_config(&self, group: &str) -> ClientConfig {
        self.config(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            // tansu takes ~20 s for a first join with librdkafka's 45 s default.
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            // A broker holds a fetch on an empty partition this long before it answers; with
            // librdkafka's 500 ms, a poll of a few hundred milliseconds could end empty while
            // another partition had records, and `pinpipe sink --once` would stop too early.
            ("fetch.wait.max.ms", "100"),
            ("allow.auto.create.topics", "false"),
        ])
    }

    fn config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.client_config {
            config.set(key, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_urls() {
        let options = KafkaOptions::from_url("kafka://a:9092,b.example:19092/").expect("url");
        assert_eq!(options.bootstrap_servers, "a:9092,b.example:19092");
        assert!(options.client_config.is_empty());
    }

    #[test]
    fn refuses_other_urls() {
        for url in [
            "http://a:9092",
            "kafka://",
            "kafka://a",
            "kafka://a:port",
            "kafka://a:9092,",
            "kafka://a:9092/topic",
            "kafka://user@a:9092",
            "a:9092",
        ] {
            assert!(
                matches!(
                    KafkaOptions::from_url(url),
                    Err(BusError::InvalidRequest(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn settings_override_defaults() {
        let options = KafkaOptions::new("a:9092")
            .with("message.timeout.ms", "2500")
            .with("message.max.bytes", "2000000");
        assert_eq!(options.timeout().ok(), Some(Duration::from_millis(2500)));
        assert_eq!(options.max_record_bytes().ok(), Some(2_000_000));
        assert_eq!(
            options.producer_config().get("message.timeout.ms"),
            Some("2500")
        );
        assert_eq!(options.producer_config().get("acks"), Some("all"));
        assert!(
            KafkaOptions::new("a:9092")
                .with("message.timeout.ms", "soon")
                .timeout()
                .is_err()
        );
    }
}
