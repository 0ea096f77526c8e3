//! One v3 produce record: `{"partition_id", "headers", "key", "value", "timestamp"}` with
//! `BINARY`, `JSON` or `STRING` keys and values, turned into the bytes the bus stores, and the
//! delivery report answered for it.
//!
//! Schema Registry types (`AVRO`, `JSONSCHEMA`, `PROTOBUF`, or a schema given without a type)
//! are refused as REST Proxy refuses them without a Schema Registry:
//! `{"error_code":422,"message":"Error: 42206 : Payload error. Schema Registry must be configured when using schemas."}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pinpipe_bus::{ProduceRecord, Produced, RecordError};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::body::{MAX_NESTING, nests_deeper_than};
use crate::rest::stored_json;

/// A refusal of one record: its report's `error_code` and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u32,
    pub message: String,
}

impl Refusal {
    fn bad_request(message: impl std::fmt::Display) -> Self {
        Self {
            code: 400,
            message: format!("Bad Request: {message}"),
        }
    }

    /// The error report.
    pub fn report(&self) -> Value {
        json!({ "error_code": self.code, "message": self.message })
    }
}

impl From<RecordError> for Refusal {
    fn from(e: RecordError) -> Self {
        let code = match e {
            RecordError::PartitionNotFound(_) => 40402,
            RecordError::TooLarge { .. } => 50002,
            RecordError::Rejected { .. } => 50003,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct RecordIn<'a> {
    partition_id: Option<i32>,
    headers: Option<Vec<HeaderIn>>,
    #[serde(borrow)]
    key: Option<DataIn<'a>>,
    #[serde(borrow)]
    value: Option<DataIn<'a>>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct HeaderIn {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct DataIn<'a> {
    r#type: Option<String>,
    /// As sent: a JSON value is stored as its text without white space between tokens, every
    /// number as written.
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    subject: Option<Value>,
    subject_name_strategy: Option<Value>,
    schema_id: Option<Value>,
    schema_version: Option<Value>,
    schema: Option<Value>,
}

/// What a report says of a key or value: its type and serialized size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    kind: &'static str,
    size: i64,
}

/// A record ready for the bus, and what its report will say of its key and value.
#[derive(Debug)]
pub struct Mapped {
    pub record: ProduceRecord,
    key: Option<Part>,
    value: Option<Part>,
}

/// Reads one record of a produce request.
pub fn map(json: &RawValue, max_key_bytes: usize) -> Result<Mapped, Refusal> {
    let record: RecordIn = serde_json::from_str(json.get()).map_err(Refusal::bad_request)?;
    if record.partition_id.is_some_and(|p| p < 0) {
        return Err(Refusal {
            code: 40402,
            message: "Partition not found.".into(),
        });
    }
    for header in record.headers.iter().flatten() {
        if let Some(value) = &header.value {
            STANDARD.decode(value).map_err(|e| {
                Refusal::bad_request(format!("header {} is not base64: {e}", header.name))
            })?;
        }
    }
    if let Some(at) = &record.timestamp {
        chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|e| Refusal::bad_request(format!("timestamp={at:?}: {e}")))?;
    }
    let (key, key_part) = bytes_of(record.key)?;
    if key.as_ref().is_some_and(|k| k.len() > max_key_bytes) {
        return Err(Refusal {
            code: 422,
            message: format!("a record key is over the limit of {max_key_bytes} bytes"),
        });
    }
    let (value, value_part) = bytes_of(record.value)?;
    Ok(Mapped {
        record: ProduceRecord {
            key,
            // The bus has no null values: a record without one stores JSON null.
            value: value.unwrap_or_else(|| b"null".to_vec()),
            partition: record.partition_id,
        },
        key: key_part,
        value: value_part,
    })
}

/// REST Proxy's refusal of a record that needs a Schema Registry.
fn schema_refusal() -> Refusal {
    Refusal {
        code: 422,
        message: "Error: 42206 : Payload error. Schema Registry must be configured when using \
                  schemas."
            .into(),
    }
}

/// The bytes of a key or value, and its report part (none when the request gave no type).
fn bytes_of(data: Option<DataIn<'_>>) -> Result<(Option<Vec<u8>>, Option<Part>), Refusal> {
    let Some(data) = data else {
        return Ok((None, None));
    };
    let uses_schema = data.subject.is_some()
        || data.subject_name_strategy.is_some()
        || data.schema_id.is_some()
        || data.schema_version.is_some()
        || data.schema.is_some();
    let kind: &'static str = match data.r#type.as_deref() {
        Some("BINARY") => "BINARY",
        Some("JSON") => "JSON",
        Some("STRING") => "STRING",
        Some("AVRO" | "JSONSCHEMA" | "PROTOBUF") => return Err(schema_refusal()),
        None if uses_schema || data.data.is_some() => return Err(schema_refusal()),
        None => return Ok((None, None)),
        Some(other) => {
            return Err(Refusal::bad_request(format!(
                "type={other:?} is not one of BINARY, JSON, STRING, AVRO, JSONSCHEMA, PROTOBUF"
            )));
        }
    };
    if uses_schema {
        return Err(Refusal::bad_request(format!(
            "'type={kind}' cannot be used with a schema, subject or subject_name_strategy"
        )));
    }
    let text = |raw: &RawValue, what: &str| {
        serde_json::from_str::<String>(raw.get())
            .map_err(|_| Refusal::bad_request(format!("data={} is not {what}.", raw.get())))
    };
    let bytes = match (kind, data.data) {
        (_, None) => None,
        (_, Some(raw)) if raw.get() == "null" => None,
        ("BINARY", Some(raw)) => {
            let encoded = text(raw, "a base64 string")?;
            Some(STANDARD.decode(&encoded).map_err(|_| {
                Refusal::bad_request(format!("data={encoded:?} is not a valid base64 string."))
            })?)
        }
        ("STRING", Some(raw)) => Some(text(raw, "a string")?.into_bytes()),
        // Read as raw JSON, the data had no depth limit: a record no consumer could parse.
        (_, Some(json)) if nests_deeper_than(json.get().as_bytes(), MAX_NESTING) => {
            return Err(Refusal::bad_request(format!(
                "data is nested deeper than {MAX_NESTING} levels"
            )));
        }
        (_, Some(json)) => Some(stored_json(json, true).map_err(Refusal::bad_request)?),
    };
    let size = bytes.as_ref().map_or(-1, |b| b.len() as i64);
    Ok((bytes, Some(Part { kind, size })))
}

impl Mapped {
    /// The delivery report of the record stored at `produced`.
    pub fn report(&self, cluster: &str, topic: &str, produced: Produced, at: &str) -> Value {
        let mut report = json!({
            "error_code": 200,
            "cluster_id": cluster,
            "topic_name": topic,
            "partition_id": produced.partition,
            "offset": produced.offset,
            "timestamp": at,
        });
        for (name, part) in [("key", &self.key), ("value", &self.value)] {
            if let Some(part) = part {
                report[name] = json!({ "type": part.kind, "size": part.size });
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` as one record of a request body.
    fn record(json: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&json).expect("json")
    }

    #[test]
    fn the_three_formats_become_bytes() {
        let mapped = map(
            &record(json!({"key": {"type": "BINARY", "data": "Zm9vYmFy"},
                   "value": {"type": "JSON", "data": {"foo": "bar"}}})),
            100,
        )
        .unwrap();
        assert_eq!(mapped.record.key.as_deref(), Some(&b"foobar"[..]));
        assert_eq!(mapped.record.value, br#"{"foo":"bar"}"#.to_vec());
        let report = mapped.report(
            "c",
            "t",
            Produced {
                partition: 0,
                offset: 7,
            },
            "now",
        );
        assert_eq!(report["key"], json!({"type": "BINARY", "size": 6}));
        assert_eq!(report["value"], json!({"type": "JSON", "size": 13}));
        let text = map(
            &record(json!({"value": {"type": "STRING", "data": "hi"}})),
            100,
        )
        .unwrap();
        assert_eq!(text.record.value, b"hi".to_vec());
    }

    #[test]
    fn schemas_and_bad_data_are_refused() {
        let avro = map(
            &record(json!({"value": {"type": "AVRO", "data": {"a": 1}}})),
            100,
        )
        .unwrap_err();
        assert_eq!(avro.code, 422);
        assert!(avro.message.contains("42206"), "{}", avro.message);
        let untyped =
            map(&record(json!({"value": {"schema_id": 1, "data": {}}})), 100).unwrap_err();
        assert_eq!(untyped.code, 422);
        let bad = map(
            &record(json!({"value": {"type": "BINARY", "data": "fooba"}})),
            100,
        )
        .unwrap_err();
        assert_eq!(bad.code, 400);
        let not_string = map(
            &record(json!({"value": {"type": "STRING", "data": 1}})),
            100,
        )
        .unwrap_err();
        assert!(
            not_string.message.contains("is not a string"),
            "{}",
            not_string.message
        );
        assert_eq!(
            map(&record(json!({"partition_id": -1})), 100)
                .unwrap_err()
                .code,
            40402
        );
        let surrogate =
            RawValue::from_string(r#"{"value": {"type": "JSON", "data": "\ud800"}}"#.to_owned())
                .expect("raw");
        assert_eq!(map(&surrogate, 100).unwrap_err().code, 400);
        let deep = format!(
            r#"{{"value": {{"type": "JSON", "data": {}{}}}}}"#,
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        let deep = RawValue::from_string(deep).expect("raw");
        assert_eq!(map(&deep, 100).unwrap_err().code, 400);
    }

    /// A JSON key or value is stored as sent: a number beyond 64 bits keeps its digits.
    #[test]
    fn json_data_keeps_every_digit() {
        let request = RawValue::from_string(
            r#"{"key": {"type": "JSON", "data": 98765432109876543210987},
                "value": {"type": "JSON", "data": {"id": 1234567890123456789012345678, "n": -9223372036854775809}}}"#
                .to_owned(),
        )
        .expect("raw");
        let mapped = map(&request, 100).unwrap();
        assert_eq!(
            mapped.record.key.as_deref(),
            Some(&b"98765432109876543210987"[..])
        );
        let value = String::from_utf8(mapped.record.value).expect("utf-8");
        assert_eq!(
            value,
            r#"{"id":1234567890123456789012345678,"n":-9223372036854775809}"#
        );
    }
}
