//! The two wire encodings of the native Kinesis API, mapped onto one JSON document model.
//!
//! - `application/x-amz-json-1.1` (boto3, the AWS CLI, most SDKs): blobs are base64 strings,
//!   timestamps are epoch **seconds** as numbers (`1704164645.678`).
//! - `application/x-amz-cbor-1.1` (the Java SDKs and the KCL): the same document in CBOR, with
//!   blobs as byte strings and timestamps as tag 1 over an integer of epoch **milliseconds**
//!   (not seconds, as RFC 8949 would have it; that is what the Java SDKs write and read).
//!   Maps and arrays may be of indefinite length.
//!
//! Operations work on the JSON form only: a CBOR request is turned into it on the way in (byte
//! strings to base64, timestamps to seconds) and a response back on the way out, by member name
//! (`Data` is the only blob of the operations served; the timestamps are listed below).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Map, Number, Value};

/// Members that hold a timestamp, in requests and responses.
const TIMESTAMPS: [&str; 3] = [
    "Timestamp",
    "StreamCreationTimestamp",
    "ApproximateArrivalTimestamp",
];
/// The one blob member of the operations served.
const BLOB: &str = "Data";
/// CBOR's tag for an epoch date-time.
const EPOCH_TAG: u64 = 1;
/// Deepest nesting a CBOR request may have.
const MAX_DEPTH: usize = 32;

/// How a request (and so its answer, errors included) is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `application/x-amz-json-1.1`.
    Json,
    /// `application/x-amz-cbor-1.1`.
    Cbor,
}

impl Codec {
    /// The codec of a request with this media type (JSON for anything but CBOR).
    pub fn of_media_type(media_type: Option<&str>) -> Codec {
        match media_type {
            Some("application/x-amz-cbor-1.1") => Codec::Cbor,
            _ => Codec::Json,
        }
    }

    /// The `Content-Type` of answers.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/x-amz-json-1.1",
            Codec::Cbor => "application/x-amz-cbor-1.1",
        }
    }

    /// The request body as a JSON object; `None` when it is not one (Kinesis's
    /// `SerializationException`).
    pub fn decode(self, body: &[u8]) -> Option<Map<String, Value>> {
        let value = match self {
            Codec::Json => serde_json::from_slice(body).ok()?,
            Codec::Cbor => {
                let cbor: Cbor =
                    ciborium::de::from_reader_with_recursion_limit(body, MAX_DEPTH).ok()?;
                from_cbor(cbor, None)?
            }
        };
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// `value` as a response body.
    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Codec::Json => serde_json::to_vec(value).unwrap_or_default(),
            Codec::Cbor => {
                let mut out = Vec::new();
                // Writing to a Vec cannot fail.
                let _ = ciborium::ser::into_writer(&to_cbor(value, None), &mut out);
                out
            }
        }
    }
}

/// A CBOR request value as JSON; `member` is the name of the member it is the value of.
fn from_cbor(value: Cbor, member: Option<&str>) -> Option<Value> {
    let timestamp = member.is_some_and(|m| TIMESTAMPS.contains(&m));
    Some(match value {
        Cbor::Tag(EPOCH_TAG, inner) if timestamp => millis_to_seconds(&inner)?,
        Cbor::Integer(_) | Cbor::Float(_) if timestamp => millis_to_seconds(&value)?,
        Cbor::Tag(_, inner) => from_cbor(*inner, member)?,
        Cbor::Integer(i) => Value::Number(integer(i)?),
        Cbor::Float(f) => Value::Number(Number::from_f64(f)?),
        Cbor::Bytes(bytes) => Value::String(STANDARD.encode(bytes)),
        Cbor::Text(text) => Value::String(text),
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Null => Value::Null,
        Cbor::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| from_cbor(item, None))
                .collect::<Option<_>>()?,
        ),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return None;
                };
                let value = from_cbor(value, Some(&key))?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        _ => return None,
    })
}

fn integer(i: Integer) -> Option<Number> {
    let wide = i128::from(i);
    if let Ok(n) = i64::try_from(wide) {
        Some(Number::from(n))
    } else {
        u64::try_from(wide).ok().map(Number::from)
    }
}

/// A CBOR timestamp (milliseconds) as JSON epoch seconds.
fn millis_to_seconds(value: &Cbor) -> Option<Value> {
    let millis = match value {
        Cbor::Integer(i) => i128::from(*i) as f64,
        Cbor::Float(f) => *f,
        _ => return None,
    };
    Number::from_f64(millis / 1000.0).map(Value::Number)
}

/// A JSON response value as CBOR; `member` is the name of the member it is the value of.
fn to_cbor(value: &Value, member: Option<&str>) -> Cbor {
    match value {
        Value::String(text) if member == Some(BLOB) => match STANDARD.decode(text) {
            Ok(bytes) => Cbor::Bytes(bytes),
            Err(_) => Cbor::Text(text.clone()),
        },
        Value::Number(n) if member.is_some_and(|m| TIMESTAMPS.contains(&m)) => {
            let millis = (n.as_f64().unwrap_or_default() * 1000.0).round() as i64;
            Cbor::Tag(EPOCH_TAG, Box::new(Cbor::Integer(millis.into())))
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cbor::Integer(i.into()),
            (None, Some(u)) => Cbor::Integer(u.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Cbor::Text(text.clone()),
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Null => Cbor::Null,
        Value::Array(items) => Cbor::Array(items.iter().map(|v| to_cbor(v, None)).collect()),
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v, Some(k))))
                .collect(),
        ),
    }
}

/// Epoch milliseconds as the JSON form's seconds.
pub fn seconds(millis: i64) -> Value {
    Number::from_f64(millis as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hex string (spaces allowed) as bytes.
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn java_sdk_cbor_put_records_decodes() {
        // PutRecords as the Java SDK v1 writes it: indefinite maps and arrays.
        let body = hex(
            "bf 67 52 65 63 6f 72 64 73 9f
             bf 64 44 61 74 61 47 7b 22 61 22 3a 31 7d 6c 50 61 72 74 69 74 69 6f 6e 4b 65 79 62 6b 31 ff
             bf 64 44 61 74 61 47 7b 22 61 22 3a 32 7d 6f 45 78 70 6c 69 63 69 74 48 61 73 68 4b 65 79 61 30
                6c 50 61 72 74 69 74 69 6f 6e 4b 65 79 62 6b 32 ff
             ff 6a 53 74 72 65 61 6d 4e 61 6d 65 62 73 31 ff",
        );
        let map = Codec::Cbor.decode(&body).expect("a map");
        assert_eq!(
            Value::Object(map),
            serde_json::json!({
                "Records": [
                    {"Data": STANDARD.encode(br#"{"a":1}"#), "PartitionKey": "k1"},
                    {"Data": STANDARD.encode(br#"{"a":2}"#), "ExplicitHashKey": "0", "PartitionKey": "k2"},
                ],
                "StreamName": "s1",
            })
        );
    }

    #[test]
    fn cbor_timestamps_are_milliseconds_both_ways() {
        // GetShardIterator's Timestamp: tag 1 over uint64 1704164645678 ms.
        let body = hex("bf 69 54 69 6d 65 73 74 61 6d 70 c1 1b 00 00 01 8c c8 20 db 2e ff");
        let map = Codec::Cbor.decode(&body).expect("a map");
        assert_eq!(map["Timestamp"].as_f64(), Some(1_704_164_645.678));
        let encoded = Codec::Cbor.encode(&serde_json::json!({
            "ApproximateArrivalTimestamp": seconds(1_704_164_645_678),
            "Data": STANDARD.encode(br#"{"id":1}"#),
        }));
        assert_eq!(
            encoded,
            hex("a2 78 1b 41 70 70 72 6f 78 69 6d 61 74 65 41 72 72 69 76 61 6c 54 69 6d 65 73 74 61 6d 70
                 c1 1b 00 00 01 8c c8 20 db 2e
                 64 44 61 74 61 48 7b 22 69 64 22 3a 31 7d")
        );
    }

    #[test]
    fn not_a_map_is_refused() {
        assert!(Codec::Cbor.decode(&hex("83 01 02 03")).is_none());
        assert!(Codec::Cbor.decode(b"").is_none());
        assert!(Codec::Json.decode(b"[1]").is_none());
        assert!(Codec::Cbor.decode(&[0x9f; 200]).is_none());
    }
}
