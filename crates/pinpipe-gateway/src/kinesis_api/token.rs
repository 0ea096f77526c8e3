//! Shard iterators and `NextToken`s: opaque to clients, self-describing to the gateway.
//!
//! Each is the URL-safe base64 (no padding) of a small JSON document naming what it continues
//! and when it was made, so any gateway replica can serve it and nothing is kept per client:
//! a shard iterator holds the stream, its incarnation (a stream deleted and created again is
//! another stream), the shard, the position in it and its creation time; it expires like
//! Kinesis's, after `[gateway.kinesis] iterator_ttl` (5 minutes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pinpipe_bus::ReadFrom;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Longest token a client may send (Kinesis's limit for a shard iterator).
pub const MAX_TOKEN: usize = 512;

/// Where in a shard an iterator stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// The oldest record kept.
    Oldest,
    /// The record with this sequence number, or the first after it.
    At(String),
    /// The first record after this sequence number.
    After(String),
    /// The first record that arrived at or after this time (epoch milliseconds).
    Since(i64),
}

impl Position {
    /// The bus's form of the position.
    pub fn read_from(&self) -> ReadFrom<'_> {
        match self {
            Position::Oldest => ReadFrom::Oldest,
            Position::At(seq) => ReadFrom::At(seq),
            Position::After(seq) => ReadFrom::After(seq),
            Position::Since(ms) => ReadFrom::Since(*ms),
        }
    }
}

/// A shard iterator's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardIterator {
    #[serde(rename = "s")]
    pub stream: String,
    #[serde(rename = "i")]
    pub incarnation: String,
    #[serde(rename = "h")]
    pub shard: String,
    #[serde(rename = "p")]
    pub position: Position,
    /// When it was made, epoch milliseconds.
    #[serde(rename = "t")]
    pub created_ms: i64,
}

/// A `ListShards` or `ListStreams` continuation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextToken {
    /// The stream whose shards are listed (empty for `ListStreams`).
    #[serde(rename = "s")]
    pub stream: String,
    /// The last shard id or stream name returned.
    #[serde(rename = "a")]
    pub after: String,
    #[serde(rename = "t")]
    pub created_ms: i64,
}

/// `value` as an opaque token.
pub fn encode<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// The content of a token, `None` when it is not one of ours.
pub fn decode<T: DeserializeOwned>(token: &str) -> Option<T> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_round_trip_and_stay_short() {
        let iterator = ShardIterator {
            stream: "s".repeat(128),
            incarnation: "1734567890.123456789".into(),
            shard: "shardId-000000000499".into(),
            position: Position::After("4".repeat(56)),
            created_ms: 1_704_164_645_678,
        };
        let token = encode(&iterator);
        assert!(token.len() <= MAX_TOKEN, "{}", token.len());
        assert_eq!(decode::<ShardIterator>(&token), Some(iterator));
        assert_eq!(decode::<ShardIterator>("AAAAAAAAAAE="), None);
        assert_eq!(decode::<ShardIterator>(&"A".repeat(600)), None);
    }
}
