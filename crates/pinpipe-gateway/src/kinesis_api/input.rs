//! What every operation of the native Kinesis API needs from its request: the typed input, the
//! constraint checks in Kinesis's words (`N validation errors detected: Value … at 'member' failed
//! to satisfy constraint: …`), the stream it names (by `StreamName` or `StreamARN`), and the bus's
//! errors told as Kinesis tells them.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pinpipe_bus::BusError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config::KinesisConfig;
use crate::envelope::KinesisError;

/// The request document as the operation's input type; a member of the wrong type is a
/// `SerializationException`, as Kinesis answers it.
pub fn parse<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, KinesisError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| KinesisError::serialization(e.to_string()))
}

/// Constraint violations found so far; [`Checks::finish`] turns them into one
/// `ValidationException`, listing at most ten, as Kinesis does.
#[derive(Default)]
pub struct Checks(Vec<String>);

/// Longest stream name.
const MAX_STREAM_NAME: usize = 128;
/// Longest partition key, in characters.
const MAX_PARTITION_KEY: usize = 256;

impl Checks {
    fn fail(&mut self, value: &str, member: &str, constraint: &str) {
        self.0.push(format!(
            "Value {value} at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// `value` must be given.
    pub fn required<T>(&mut self, value: Option<&T>, member: &str) -> bool {
        if value.is_none() {
            self.0.push(format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ));
        }
        value.is_some()
    }

    /// A string's length in characters must be within `min..=max`.
    pub fn length(&mut self, value: Option<&str>, member: &str, min: usize, max: usize) {
        let Some(text) = value else { return };
        let count = text.chars().count();
        if count < min {
            self.fail(
                &format!("'{text}'"),
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if count > max {
            self.fail(
                &format!("'{text}'"),
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A number must be within `min..=max`.
    pub fn range(&mut self, value: Option<i64>, member: &str, min: i64, max: i64) {
        let Some(n) = value else { return };
        if n < min {
            self.fail(
                &format!("'{n}'"),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.fail(
                &format!("'{n}'"),
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// A stream name: 1 to 128 of `[a-zA-Z0-9_.-]`.
    pub fn stream_name(&mut self, value: Option<&str>, member: &str) {
        self.length(value, member, 1, MAX_STREAM_NAME);
        if let Some(name) = value.filter(|n| !n.is_empty() && n.len() <= MAX_STREAM_NAME)
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            self.fail(
                &format!("'{name}'"),
                member,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
    }

    /// A partition key: 1 to 256 characters.
    pub fn partition_key(&mut self, value: Option<&str>, member: &str) {
        self.length(value, member, 1, MAX_PARTITION_KEY);
    }

    /// A decimal string of at most `digits` digits without leading zeros (hash keys, sequence
    /// numbers).
    pub fn decimal(&mut self, value: Option<&str>, member: &str, digits: usize) {
        let Some(text) = value else { return };
        let ok = text == "0"
            || (!text.is_empty()
                && text.len() <= digits
                && !text.starts_with('0')
                && text.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.fail(
                &format!("'{text}'"),
                member,
                &format!(
                    "Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,{}}})",
                    digits - 1
                ),
            );
        }
    }

    /// A value of an enumeration.
    pub fn one_of(&mut self, value: Option<&str>, member: &str, allowed: &[&str]) {
        if let Some(text) = value.filter(|v| !allowed.contains(v)) {
            self.fail(
                &format!("'{text}'"),
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A blob no larger than `max` bytes.
    pub fn blob(&mut self, value: Option<&[u8]>, member: &str, max: usize) {
        if let Some(bytes) = value.filter(|b| b.len() > max) {
            let len = bytes.len();
            self.fail(
                &format!("'java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]'"),
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A record's data and partition key within `max` bytes together, as Kinesis counts a
    /// record's size (each alone is checked by [`Checks::blob`] and [`Checks::partition_key`]).
    pub fn record_size(
        &mut self,
        data: Option<&[u8]>,
        key: Option<&str>,
        member: &str,
        max: usize,
    ) {
        let (Some(data), Some(key)) = (data, key) else {
            return;
        };
        let size = data.len() + key.len();
        if data.len() <= max && size > max {
            self.fail(
                &format!("'{size} bytes with its partition key'"),
                member,
                &format!("Record size must be less than or equal to {max}"),
            );
        }
    }

    /// A list's length within `min..=max`.
    pub fn list_length(&mut self, len: Option<usize>, member: &str, min: usize, max: usize) {
        let Some(len) = len else { return };
        if len < min {
            self.fail(
                &format!("'[{len} entries]'"),
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.fail(
                &format!("'[{len} entries]'"),
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Every violation found, as one `ValidationException`.
    pub fn finish(self) -> Result<(), KinesisError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let count = self.0.len();
        let noun = if count == 1 { "error" } else { "errors" };
        let listed: Vec<&str> = self.0.iter().take(10).map(String::as_str).collect();
        Err(KinesisError::validation(format!(
            "{count} validation {noun} detected: {}",
            listed.join("; ")
        )))
    }
}

/// The stream an operation is about: `StreamName`, `StreamARN` or both.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StreamRef {
    #[serde(rename = "StreamName")]
    pub name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub arn: Option<String>,
}

impl StreamRef {
    /// The stream's name (see [`KinesisConfig::stream`]).
    pub fn resolve(self, config: &KinesisConfig) -> Result<String, KinesisError> {
        config.stream(self.name, self.arn)
    }
}

/// A base64 blob of the JSON form (a CBOR byte string arrives as one too).
pub fn blob(text: &str, member: &str) -> Result<Vec<u8>, KinesisError> {
    STANDARD.decode(text).map_err(|e| {
        KinesisError::serialization(format!(
            "'{text:.40}' can not be converted to a Blob at '{member}': {e}"
        ))
    })
}

/// A JSON timestamp (epoch seconds) in milliseconds. A number above 10^11 is taken as
/// milliseconds already, as the Java SDK v1 sends `Timestamp` when CBOR is off.
pub fn timestamp_ms(seconds: f64) -> i64 {
    if seconds > 1e11 {
        seconds.round() as i64
    } else {
        (seconds * 1000.0).round() as i64
    }
}

/// The names in stream ARNs and messages.
impl KinesisConfig {
    /// The ARN of stream `name`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.region, self.account_id
        )
    }

    /// The stream a request names by `StreamName`, `StreamARN` or both (which must agree).
    pub fn stream(
        &self,
        name: Option<String>,
        arn: Option<String>,
    ) -> Result<String, KinesisError> {
        // The ARN's account and region are not checked: in front of real Kinesis a client sends
        // its own, whatever `account_id` says.
        let from_arn = match arn {
            Some(arn) => Some(stream_of_arn(&arn)?),
            None => None,
        };
        let name = match (name, from_arn) {
            (Some(name), Some(other)) if name != other => {
                return Err(KinesisError::invalid_argument(format!(
                    "StreamARN names stream {other} but StreamName is {name}"
                )));
            }
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => {
                return Err(KinesisError::invalid_argument(
                    "Either StreamName or StreamARN should be provided.",
                ));
            }
        };
        let mut checks = Checks::default();
        checks.stream_name(Some(&name), "streamName");
        checks.finish()?;
        Ok(name)
    }

    /// A bus error in Kinesis's words.
    pub fn bus_error(&self, error: BusError) -> KinesisError {
        let account = &self.account_id;
        match error {
            BusError::StreamNotFound(stream) => KinesisError::new(
                StatusCode::BAD_REQUEST,
                "ResourceNotFoundException",
                format!("Stream {stream} under account {account} not found."),
            ),
            BusError::ShardNotFound { stream, shard } => self.shard_not_found(&stream, &shard),
            BusError::AlreadyExists(stream) => KinesisError::new(
                StatusCode::BAD_REQUEST,
                "ResourceInUseException",
                format!("Stream {stream} under account {account} already exists."),
            ),
            other => KinesisError::from(other),
        }
    }

    /// Kinesis's answer for a shard the stream does not have.
    pub fn shard_not_found(&self, stream: &str, shard: &str) -> KinesisError {
        KinesisError::new(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            format!(
                "Shard {shard} in stream {stream} under account {} does not exist",
                self.account_id
            ),
        )
    }
}

/// The stream name of an ARN `arn:aws…:kinesis:<region>:<account>:stream/<name>`.
fn stream_of_arn(arn: &str) -> Result<String, KinesisError> {
    let name = arn
        .strip_prefix("arn:aws")
        .filter(|rest| rest.contains(":kinesis:"))
        .and_then(|rest| rest.split_once(":stream/"))
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty());
    name.map(str::to_owned).ok_or_else(|| {
        KinesisError::validation(format!(
            "1 validation error detected: Value '{arn}' at 'streamARN' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             arn:aws.*:kinesis:.*:\\d{{12}}:stream/\\S+"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_by_name_or_arn() {
        let config = KinesisConfig::default();
        let arn = config.arn("s1");
        assert_eq!(arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s1");
        assert_eq!(config.stream(None, Some(arn.clone())).unwrap(), "s1");
        assert_eq!(config.stream(Some("s1".into()), Some(arn)).unwrap(), "s1");
        let both = config.stream(Some("s2".into()), Some(config.arn("s1")));
        assert_eq!(both.unwrap_err().kind(), "InvalidArgumentException");
        assert_eq!(
            config.stream(None, None).unwrap_err().kind(),
            "InvalidArgumentException"
        );
        assert_eq!(
            config
                .stream(None, Some("arn:aws:s3:::b".into()))
                .unwrap_err()
                .kind(),
            "ValidationException"
        );
        assert_eq!(
            config.stream(Some("a/b".into()), None).unwrap_err().kind(),
            "ValidationException"
        );
    }

    #[test]
    fn violations_are_counted_and_worded_like_kinesis() {
        let mut checks = Checks::default();
        checks.required::<String>(None, "data");
        checks.partition_key(Some(""), "partitionKey");
        checks.decimal(Some("0123"), "explicitHashKey", 39);
        checks.range(Some(10_001), "limit", 1, 10_000);
        let message = format!("{:?}", checks.finish().unwrap_err());
        assert!(message.contains("4 validation errors detected: Value null at 'data' failed to satisfy constraint: Member must not be null"), "{message}");
        assert!(message.contains("Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"), "{message}");
        assert!(Checks::default().finish().is_ok());
    }

    #[test]
    fn millisecond_timestamps_are_recognised() {
        assert_eq!(timestamp_ms(1_704_164_645.678), 1_704_164_645_678);
        assert_eq!(timestamp_ms(1_704_164_645_678.0), 1_704_164_645_678);
    }
}
