//! Gateway settings, each with a working default.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// How the gateway listens and what it accepts.
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
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Largest record value, in bytes (the record fails above it).
    pub max_record_bytes: usize,
    /// Requests handled at once; more get 429 (42901).
    pub max_in_flight: usize,
    /// When non-empty, every request but `/health` and `/metrics` needs one of these in `x-api-key`.
    pub api_keys: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            topic_prefix: "pinpipe".into(),
            auto_create_topics: false,
            default_partitions: 1,
            default_shards: 1,
            max_body_bytes: 10 * 1024 * 1024,
            max_record_bytes: 1024 * 1024,
            max_in_flight: 4096,
            api_keys: Vec::new(),
        }
    }
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
}
