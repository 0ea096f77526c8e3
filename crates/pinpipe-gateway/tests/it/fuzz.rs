//! The gateway under thousands of random and mutated requests (a seeded fuzz loop): methods,
//! paths, content types, API keys, chunked and sized bodies, valid produce and put bodies of SPEC
//! §3 and the same bodies with bytes flipped, cut, duplicated, or JSON fragments, deep nesting,
//! huge numbers and non-UTF-8 bytes put in.
//!
//! Every answer must be a success or a client error (never a 500 for a client's bad input) with a
//! JSON body in the envelope of its route's API; every request that is valid must succeed; and at
//! the end the gateway is still up and the bus holds exactly the records it acknowledged, no more,
//! no fewer, each one line of JSON (the sink writes them as newline-delimited JSON).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pinpipe_bus::{ReadFrom, ReadLimit, Streams, Topics};
use pinpipe_gateway::GatewayConfig;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::harness::Gateway;

/// The seed: the same requests on every run.
const SEED: u64 = 0x7069_6e70_6970_6501;
const REQUESTS: usize = 3000;

const PRODUCER_KEY: &str = "fuzz-producer-key";
const ADMIN_KEY: &str = "fuzz-admin-key";
const TOPICS: [&str; 3] = ["pinpipe.pin", "pinpipe.geo", "pinpipe.user"];
const STREAMS: [&str; 3] = [
    "streaming-pinpipe-pin",
    "streaming-pinpipe-geo",
    "streaming-pinpipe-user",
];
/// Streams the fuzzer may create and delete (the default streams are only written to, so that
/// most stream writes have somewhere to go).
const FUZZ_STREAMS: [&str; 3] = ["fuzz-a", "fuzz-b", "fuzz-c"];
/// Small enough that bodies over it are cheap to send.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The bus's and the gateway's record limit (their default).
const MAX_RECORD_BYTES: usize = 1024 * 1024;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// A record's key (if any) and value, as JSON texts.
type RecordTexts = (Option<String>, String);
/// A topic's acknowledged records: (partition, offset) → their texts when known.
type TopicLedger = BTreeMap<(i32, i64), Option<RecordTexts>>;
/// A stream's acknowledged records: (shard, sequence number) → (partition key, data) when known.
type StreamLedger = BTreeMap<(String, String), Option<(String, String)>>;

/// One request as sent.
struct Sent {
    method: Method,
    path: String,
    content_type: Option<HeaderValue>,
    api_key: Option<HeaderValue>,
    body: Vec<u8>,
    /// Sent in chunks, without `Content-Length`.
    chunked: bool,
    /// For a request that is valid in every way: the records it carries, as (key, value) JSON
    /// texts, which must all be acknowledged and stored as they are.
    valid: Option<Vec<RecordTexts>>,
}

impl Sent {
    fn summary(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!(
            "{} {} content-type={:?} key={:?} chunked={} body({} bytes)={body:?}",
            self.method,
            self.path,
            self.content_type,
            self.api_key,
            self.chunked,
            self.body.len()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Random JSON
// ---------------------------------------------------------------------------------------------

const TEXTS: &[&str] = &[
    "",
    "x",
    "Cottages",
    "Swedish cottages\u{a0}",
    "Всё о дизайне",
    "Ελληνικά",
    "🎄",
    "\u{0}",
    "\"quoted\"",
    "back\\slash",
    "line\nbreak\r\n",
    "No Title Data Available",
    "User Info Error",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "Local save in /data/art",
    "2020-01-01 00:00:00",
    "2021-02-29T25:00:00Z",
    "12k",
    "1.5M",
    "</script>",
    "\u{feff}",
];

fn random_text(rng: &mut StdRng) -> String {
    if rng.random_bool(0.6) {
        (*TEXTS.choose(rng).expect("texts")).to_owned()
    } else {
        let n = rng.random_range(0..24);
        (0..n).map(|_| rng.random::<char>()).collect()
    }
}

fn random_number(rng: &mut StdRng) -> Value {
    match rng.random_range(0..6) {
        0 => json!(rng.random_range(0..20_000)),
        1 => json!(rng.random::<i64>()),
        2 => json!(rng.random::<u64>()),
        3 => json!(rng.random_range(-180.0..180.0)),
        4 => json!(rng.random::<f64>() * 10f64.powi(rng.random_range(-300..300))),
        _ => json!(-0.0),
    }
}

fn random_scalar(rng: &mut StdRng) -> Value {
    match rng.random_range(0..5) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => random_number(rng),
        _ => Value::String(random_text(rng)),
    }
}

/// A record of one of the three tables, with typical and odd values.
fn random_record(rng: &mut StdRng) -> Value {
    const FIELDS: [&[&str]; 3] = [
        &[
            "index",
            "unique_id",
            "title",
            "description",
            "poster_name",
            "follower_count",
            "tag_list",
            "is_image_or_video",
            "image_src",
            "downloaded",
            "save_location",
            "category",
        ],
        &["ind", "timestamp", "latitude", "longitude", "country"],
        &["ind", "first_name", "last_name", "age", "date_joined"],
    ];
    let fields = FIELDS.choose(rng).expect("tables");
    let mut obj = Map::new();
    for &field in *fields {
        if rng.random_bool(0.1) {
            continue;
        }
        let value = match field {
            "index" | "ind" => json!(rng.random_range(0..11_154)),
            "latitude" | "longitude" | "age" | "downloaded" => random_number(rng),
            _ => random_scalar(rng),
        };
        obj.insert(field.to_owned(), value);
    }
    Value::Object(obj)
}

fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    if depth == 0 {
        return random_scalar(rng);
    }
    match rng.random_range(0..10) {
        0..=4 => random_record(rng),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        6 => Value::Object(
            (0..rng.random_range(0..4))
                .map(|_| (random_text(rng), random_json(rng, depth - 1)))
                .collect(),
        ),
        _ => random_scalar(rng),
    }
}

/// Any JSON but `null` (Kinesis needs `Data`).
fn random_data(rng: &mut StdRng) -> Value {
    match random_json(rng, 3) {
        Value::Null => json!({}),
        v => v,
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// Pieces of JSON and worse, put into bodies.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "1e999",
    "-1e999",
    "123456789012345678901234567890",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\\",
    "\u{0}",
    "\"records\":[]",
    "\"records\":null",
    "{\"value\":1}",
    "\"partition\":2147483648",
    "\"partition\":-1",
    "\"key\":{}",
    "\"Data\":null",
    "\"PartitionKey\":\"\"",
    "\"Records\":[]",
    "\"StreamName\":\"other\"",
    "\"extra\":1",
    "\u{1F600}",
];

/// A REST Proxy produce body (SPEC §3): the JSON and, per record, its key and value texts.
fn produce_body(rng: &mut StdRng, valid: bool) -> (Value, Vec<RecordTexts>) {
    let count = if rng.random_bool(0.9) {
        rng.random_range(1..8)
    } else {
        rng.random_range(1..60)
    };
    let mut records = Vec::new();
    let mut texts = Vec::new();
    for _ in 0..count {
        let mut record = Map::new();
        let value = if !valid && rng.random_bool(0.01) {
            // Over the record limit: that record fails, the others are written.
            json!("v".repeat(MAX_RECORD_BYTES + 1))
        } else {
            random_json(rng, 3)
        };
        let value_text = value.to_string();
        if valid && value.is_null() && rng.random_bool(0.5) {
            // No value at all is a null value.
        } else {
            record.insert("value".into(), value);
        }
        let mut key_text = None;
        if rng.random_bool(0.3) {
            let key = if !valid && rng.random_bool(0.05) {
                json!("k".repeat(17 * 1024))
            } else if rng.random_bool(0.5) {
                json!(random_text(rng))
            } else {
                random_number(rng)
            };
            key_text = Some(key.to_string());
            record.insert("key".into(), key);
        }
        let partition = if valid {
            [None, Some(json!(0)), Some(Value::Null)]
                .choose(rng)
                .cloned()
        } else {
            [
                None,
                Some(json!(0)),
                Some(json!(1)),
                Some(json!(-1)),
                Some(json!(i32::MAX)),
                Some(json!(2_147_483_648_i64)),
                Some(json!("0")),
                Some(json!(0.5)),
                Some(Value::Null),
            ]
            .choose(rng)
            .cloned()
        };
        if let Some(Some(p)) = partition {
            record.insert("partition".into(), p);
        }
        if !valid && rng.random_bool(0.03) {
            record.insert("value_schema".into(), json!("x"));
        }
        records.push(Value::Object(record));
        texts.push((key_text, value_text));
    }
    let mut body = json!({ "records": records });
    if !valid && rng.random_bool(0.03) {
        body["extra"] = json!(1);
    }
    (body, texts)
}

fn partition_key(rng: &mut StdRng, valid: bool) -> Option<Value> {
    if valid {
        let key = random_text(rng);
        return Some(json!(if key.is_empty() { "k".to_owned() } else { key }));
    }
    match rng.random_range(0..10) {
        0 => None,
        1 => Some(json!("")),
        2 => Some(json!("k".repeat(257))),
        3 => Some(json!(5)),
        4 => Some(Value::Null),
        _ => Some(json!(random_text(rng))),
    }
}

/// A Kinesis `PutRecord` body for `stream` and the record's texts.
fn put_record_body(rng: &mut StdRng, stream: &str, valid: bool) -> (Value, Vec<RecordTexts>) {
    let mut body = Map::new();
    if !valid || rng.random_bool(0.7) {
        let name = if valid || rng.random_bool(0.8) {
            stream
        } else {
            "other-stream"
        };
        body.insert("StreamName".into(), json!(name));
    }
    let data = if !valid && rng.random_bool(0.05) {
        [Value::Null, json!("d".repeat(MAX_RECORD_BYTES))]
            .choose(rng)
            .cloned()
            .unwrap_or_default()
    } else {
        random_data(rng)
    };
    let data_text = data.to_string();
    if valid || rng.random_bool(0.95) {
        body.insert("Data".into(), data);
    }
    let key = partition_key(rng, valid);
    let key_text = key.as_ref().map(Value::to_string);
    if let Some(key) = key {
        body.insert("PartitionKey".into(), key);
    }
    (Value::Object(body), vec![(key_text, data_text)])
}

/// A Kinesis `PutRecords` body for `stream` and its records' texts.
fn put_records_body(rng: &mut StdRng, stream: &str, valid: bool) -> (Value, Vec<RecordTexts>) {
    let count = match rng.random_range(0..20) {
        0 if !valid => 0,
        1 if !valid => 501,
        _ => rng.random_range(1..10),
    };
    let mut records = Vec::new();
    let mut texts = Vec::new();
    for _ in 0..count {
        let (data, key) = if count > 100 {
            (json!(1), Some(json!("k")))
        } else {
            (random_data(rng), partition_key(rng, valid))
        };
        texts.push((key.as_ref().map(Value::to_string), data.to_string()));
        let mut entry = Map::new();
        if valid || rng.random_bool(0.97) {
            entry.insert("Data".into(), data);
        }
        if let Some(key) = key {
            entry.insert("PartitionKey".into(), key);
        }
        records.push(Value::Object(entry));
    }
    let mut body = json!({ "Records": records });
    if !valid || rng.random_bool(0.5) {
        body["StreamName"] = json!(stream);
    }
    (body, texts)
}

/// Bodies that are not what any route wants.
fn junk_body(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..12) {
        0 => Vec::new(),
        1 => b"[".repeat(rng.random_range(100..200_000)),
        2 => {
            let depth = rng.random_range(120..140);
            let mut body = br#"{"records":[{"value":"#.to_vec();
            body.extend(b"[".repeat(depth));
            body.extend(b"1");
            body.extend(b"]".repeat(depth));
            body.extend(b"}]}");
            body
        }
        3 => b"1e999".to_vec(),
        4 => b"null".to_vec(),
        5 => br#"{"records":null}"#.to_vec(),
        6 => (0..rng.random_range(1..200))
            .map(|_| rng.random())
            .collect(),
        7 => vec![b' '; rng.random_range(1..100)],
        8 => format!(
            r#"{{"records":[{{"value":"{}"}}]}}"#,
            "x".repeat(MAX_BODY_BYTES)
        )
        .into_bytes(),
        9 => br#"{"StreamName":"x","Data":1e999,"PartitionKey":"k"}"#.to_vec(),
        10 => br#"{"ShardCount":4294967296}"#.to_vec(),
        _ => random_json(rng, 4).to_string().into_bytes(),
    }
}

/// Flips, cuts, duplicates and inserts: the body a careless or hostile client sends.
fn mutate(rng: &mut StdRng, body: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=body.len());
        match rng.random_range(0..5) {
            0 if !body.is_empty() => {
                let i = at.min(body.len() - 1);
                body[i] ^= 1 << rng.random_range(0..8);
            }
            1 => body.truncate(at),
            2 if !body.is_empty() => {
                let from = rng.random_range(0..body.len());
                let to = rng.random_range(from..=body.len().min(from + 64));
                let copy = body[from..to].to_vec();
                body.splice(at..at, copy);
            }
            3 => {
                let fragment = FRAGMENTS.choose(rng).expect("fragments").as_bytes();
                body.splice(at..at, fragment.iter().copied());
            }
            _ => body.insert(at, rng.random()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

const ACCEPTED_TYPES: [&str; 5] = [
    "application/vnd.kafka.json.v2+json",
    "application/vnd.kafka.v2+json",
    "application/json",
    "application/json; charset=utf-8",
    "Application/Vnd.Kafka.JSON.v2+json",
];

const OTHER_TYPES: [&str; 7] = [
    "text/plain",
    "application/xml",
    "application/vnd.kafka.avro.v2+json",
    "",
    "application/json;;;===",
    "multipart/form-data; boundary=x",
    "application/x-amz-json-1.1",
];

fn content_type(rng: &mut StdRng, valid: bool) -> Option<HeaderValue> {
    if valid || rng.random_bool(0.75) {
        return Some(HeaderValue::from_static(
            ACCEPTED_TYPES.choose(rng).expect("types"),
        ));
    }
    match rng.random_range(0..9) {
        0 => None,
        1 => HeaderValue::from_bytes(b"application/json\xff").ok(),
        _ => Some(HeaderValue::from_static(
            OTHER_TYPES.choose(rng).expect("types"),
        )),
    }
}

fn api_key(rng: &mut StdRng, admin: bool, valid: bool) -> Option<HeaderValue> {
    let roll = rng.random_range(0..100);
    let key = match roll {
        _ if valid => [PRODUCER_KEY, ADMIN_KEY].choose(rng).copied(),
        0..60 if admin => Some(ADMIN_KEY),
        0..85 => Some(PRODUCER_KEY),
        85..90 => Some(ADMIN_KEY),
        90..93 => None,
        93..96 => Some("fuzz-producer-key "),
        96..98 => Some("wrong"),
        _ => return HeaderValue::from_bytes(b"fuzz-producer-key\xff").ok(),
    };
    key.map(HeaderValue::from_static)
}

/// A topic name in a path: mostly the default topics, else unknown, invalid or encoded ones.
fn topic_segment(rng: &mut StdRng, valid: bool) -> String {
    if valid || rng.random_bool(0.75) {
        return (*TOPICS.choose(rng).expect("topics")).to_owned();
    }
    let long = "x".repeat(300);
    let odd = [
        "pinpipe.nope",
        "pinpipe%2Epin",
        "%2e%2e",
        "a%20b",
        "p%C3%AFn",
        "%ff",
        "%00",
        long.as_str(),
        "pinpipe.pin%2Fpartitions%2F0",
    ];
    (*odd.choose(rng).expect("topics")).to_owned()
}

/// A stream name in a record path: mostly the default streams, else created, unknown or invalid.
fn stream_segment(rng: &mut StdRng, valid: bool) -> String {
    if valid || rng.random_bool(0.7) {
        return (*STREAMS.choose(rng).expect("streams")).to_owned();
    }
    if rng.random_bool(0.5) {
        return (*FUZZ_STREAMS.choose(rng).expect("streams")).to_owned();
    }
    let long = "s".repeat(129);
    let odd = [
        "no-such-stream",
        "bad%20name",
        "%ff",
        "streaming-pinpipe-pin%2F",
        long.as_str(),
        "%2E",
    ];
    (*odd.choose(rng).expect("streams")).to_owned()
}

fn junk_path(rng: &mut StdRng) -> String {
    let long = format!("/{}", "a".repeat(5000));
    let accents = format!("/topics/{}", "é".repeat(100));
    let fixed = [
        "/",
        "/topics",
        "/topics/",
        "/topics//",
        "/streams",
        "/streams/",
        "/streams//record",
        "/streams/a/b/c",
        "/topics/pinpipe.pin/partitions",
        "/topics/pinpipe.pin/partitions/0/x",
        "/health/x",
        "/metrics/x",
        "/%00",
        "/topics/%zz",
        "/streams/%ff%fe/record",
        "/streams/streaming-pinpipe-pin/record?x=1&y",
        "/topics/pinpipe.pin?partition=3",
        "/../../etc/passwd",
        "/streams/..%2f..%2fetc",
        "/topics/pinpipe.pin/../pinpipe.geo",
        long.as_str(),
        accents.as_str(),
    ];
    if rng.random_bool(0.7) {
        return (*fixed.choose(rng).expect("paths")).to_owned();
    }
    // Random segments of any characters (the client percent-encodes what it must).
    let mut path = String::new();
    for _ in 0..rng.random_range(1..4) {
        path.push('/');
        path.push_str(&random_text(rng).replace(['?', '#'], ""));
    }
    path
}

fn method(rng: &mut StdRng, natural: Method, valid: bool) -> Method {
    if valid || rng.random_bool(0.85) {
        natural
    } else {
        METHODS.choose(rng).cloned().expect("methods")
    }
}

fn random_request(rng: &mut StdRng) -> Sent {
    let valid = rng.random_bool(0.35);
    let kind = rng.random_range(0..100);
    let (method, path, content_type, admin, body, records) = match kind {
        // REST Proxy produce.
        0..35 => {
            let topic = topic_segment(rng, valid);
            let path = if rng.random_bool(0.8) {
                format!("/topics/{topic}")
            } else {
                let partitions = ["0", "1", "-1", "abc", "2147483648", "%30", "+0"];
                let p = if valid {
                    "0"
                } else {
                    partitions.choose(rng).expect("p")
                };
                format!("/topics/{topic}/partitions/{p}")
            };
            let (body, records) = produce_body(rng, valid);
            let body = if valid || rng.random_bool(0.8) {
                serde_json::to_vec(&body).expect("json")
            } else {
                serde_json::to_vec_pretty(&body).expect("json")
            };
            let content_type = content_type(rng, valid);
            (
                method(rng, Method::POST, valid),
                path,
                content_type,
                false,
                body,
                records,
            )
        }
        // Kinesis PutRecord and PutRecords.
        35..70 => {
            let stream = stream_segment(rng, valid);
            let (route, (body, records)) = if kind < 52 {
                ("record", put_record_body(rng, &stream, valid))
            } else {
                ("records", put_records_body(rng, &stream, valid))
            };
            let content_type = Some(HeaderValue::from_static("application/x-amz-json-1.1"))
                .filter(|_| rng.random_bool(0.5));
            let path = format!("/streams/{stream}/{route}");
            let body = serde_json::to_vec(&body).expect("json");
            (
                method(rng, Method::PUT, valid),
                path,
                content_type,
                false,
                body,
                records,
            )
        }
        // Creating, describing and deleting streams.
        70..80 => {
            let names = ["fuzz-a", "fuzz-b", "fuzz-c", "bad%20name", "%2e%2e", "x%00"];
            let name = names.choose(rng).expect("names");
            let method = [
                Method::GET,
                Method::POST,
                Method::POST,
                Method::DELETE,
                Method::DELETE,
                Method::PATCH,
            ]
            .choose(rng)
            .cloned()
            .expect("methods");
            let body = match rng.random_range(0..8) {
                0 => Vec::new(),
                1 => b"{}".to_vec(),
                2 => b"  \n".to_vec(),
                _ => {
                    let counts = [
                        json!(1),
                        json!(2),
                        json!(3),
                        json!(0),
                        json!(501),
                        json!(-1),
                        json!("2"),
                        Value::Null,
                    ];
                    json!({ "ShardCount": counts.choose(rng).expect("counts") })
                        .to_string()
                        .into_bytes()
                }
            };
            (
                method,
                format!("/streams/{name}"),
                None,
                true,
                body,
                Vec::new(),
            )
        }
        // Listing and describing (a default stream is never deleted: valid requests write to it).
        80..86 => {
            let paths = [
                "/streams",
                "/topics",
                "/topics/pinpipe.pin",
                "/topics/nope",
                "/streams/streaming-pinpipe-geo",
            ];
            let path = (*paths.choose(rng).expect("paths")).to_owned();
            let methods = [
                Method::GET,
                Method::GET,
                Method::GET,
                Method::PUT,
                Method::PATCH,
            ];
            (
                methods.choose(rng).cloned().expect("methods"),
                path,
                None,
                false,
                Vec::new(),
                Vec::new(),
            )
        }
        // Anything else.
        _ => {
            let body = junk_body(rng);
            let method = METHODS.choose(rng).cloned().expect("methods");
            (
                method,
                junk_path(rng),
                content_type(rng, false),
                false,
                body,
                Vec::new(),
            )
        }
    };
    let valid = valid && kind < 70;
    let mut body = body;
    if !valid && rng.random_bool(0.5) {
        if rng.random_bool(0.15) {
            body = junk_body(rng);
        } else {
            mutate(rng, &mut body);
        }
    }
    Sent {
        method,
        path,
        content_type,
        api_key: api_key(rng, admin, valid),
        chunked: rng.random_bool(0.2),
        body,
        valid: valid.then_some(records),
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// A path segment percent-decoded as the router decodes it (invalid escapes kept as they are).
fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What the gateway acknowledged, as the test keeps count.
#[derive(Default)]
struct Ledger {
    /// Per topic: (partition, offset) → the record's (key, value) texts when known.
    topics: BTreeMap<String, TopicLedger>,
    /// Per existing stream: (shard, sequence number) → (partition key, data) texts when known.
    streams: BTreeMap<String, StreamLedger>,
    /// Answers by status.
    statuses: BTreeMap<u16, usize>,
    /// Streams created and deleted by the loop.
    created: usize,
    deleted: usize,
}

fn as_text(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Checks an answer of 200 and books what it acknowledged.
fn book_success(
    sent: &Sent,
    segments: &[String],
    answer: &Value,
    ledger: &mut Ledger,
) -> Result<(), String> {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = sent.method.as_str();
    match (method, segments.as_slice()) {
        ("POST", ["topics", topic] | ["topics", topic, "partitions", _]) => {
            let booked = ledger.topics.get_mut(*topic).ok_or_else(|| {
                format!("records acknowledged for topic {topic:?}, which does not exist")
            })?;
            let offsets = answer["offsets"].as_array().ok_or("no offsets")?;
            if !answer["key_schema_id"].is_null() || !answer["value_schema_id"].is_null() {
                return Err("schema ids in a JSON produce answer".into());
            }
            if let Some(records) = &sent.valid
                && records.len() != offsets.len()
            {
                return Err(format!(
                    "{} offsets for {} records",
                    offsets.len(),
                    records.len()
                ));
            }
            for (i, entry) in offsets.iter().enumerate() {
                match (
                    entry["partition"].as_i64(),
                    entry["offset"].as_i64(),
                    &entry["error_code"],
                ) {
                    (Some(partition), Some(offset), Value::Null) => {
                        let partition = i32::try_from(partition).map_err(|e| e.to_string())?;
                        let record = sent.valid.as_ref().map(|r| r[i].clone());
                        if booked.insert((partition, offset), record).is_some() {
                            return Err(format!("offset {partition}/{offset} acknowledged twice"));
                        }
                    }
                    (None, None, Value::Number(code)) if entry["error"].is_string() => {
                        if sent.valid.is_some() {
                            return Err(format!("a valid record failed: {entry}"));
                        }
                        let code = code.as_u64().unwrap_or_default();
                        if ![40402, 50002, 50003].contains(&code) {
                            return Err(format!("record error code {code}"));
                        }
                    }
                    _ => return Err(format!("malformed offset entry {entry}")),
                }
            }
        }
        ("PUT", ["streams", stream, "record"]) => {
            let booked = ledger.streams.get_mut(*stream).ok_or_else(|| {
                format!("a record acknowledged for stream {stream:?}, which does not exist")
            })?;
            let (Some(sequence), Some(shard)) = (
                as_text(&answer["SequenceNumber"]),
                as_text(&answer["ShardId"]),
            ) else {
                return Err("no SequenceNumber or ShardId".into());
            };
            let record = sent
                .valid
                .as_ref()
                .map(|r| (r[0].0.clone().unwrap_or_default(), r[0].1.clone()));
            if booked
                .insert((shard.to_owned(), sequence.to_owned()), record)
                .is_some()
            {
                return Err(format!("{shard} {sequence} acknowledged twice"));
            }
        }
        ("PUT", ["streams", stream, "records"]) => {
            let booked = ledger.streams.get_mut(*stream).ok_or_else(|| {
                format!("records acknowledged for stream {stream:?}, which does not exist")
            })?;
            let entries = answer["Records"].as_array().ok_or("no Records")?;
            if let Some(records) = &sent.valid
                && records.len() != entries.len()
            {
                return Err(format!(
                    "{} results for {} records",
                    entries.len(),
                    records.len()
                ));
            }
            let mut failed = 0;
            for (i, entry) in entries.iter().enumerate() {
                match (
                    as_text(&entry["SequenceNumber"]),
                    as_text(&entry["ShardId"]),
                    as_text(&entry["ErrorCode"]),
                ) {
                    (Some(sequence), Some(shard), None) => {
                        let record = sent
                            .valid
                            .as_ref()
                            .map(|r| (r[i].0.clone().unwrap_or_default(), r[i].1.clone()));
                        if booked
                            .insert((shard.to_owned(), sequence.to_owned()), record)
                            .is_some()
                        {
                            return Err(format!("{shard} {sequence} acknowledged twice"));
                        }
                    }
                    (None, None, Some(_)) if entry["ErrorMessage"].is_string() => failed += 1,
                    _ => return Err(format!("malformed record result {entry}")),
                }
            }
            if answer["FailedRecordCount"].as_u64() != Some(failed) {
                return Err(format!(
                    "FailedRecordCount says {}, {failed} failed",
                    answer["FailedRecordCount"]
                ));
            }
            if sent.valid.is_some() && failed > 0 {
                return Err("a valid record failed".into());
            }
        }
        ("POST", ["streams", stream]) => {
            if ledger
                .streams
                .insert((*stream).to_owned(), BTreeMap::new())
                .is_some()
            {
                return Err(format!("stream {stream:?} created although it existed"));
            }
            ledger.created += 1;
        }
        ("DELETE", ["streams", stream]) => {
            if ledger.streams.remove(*stream).is_none() {
                return Err(format!(
                    "stream {stream:?} deleted although it did not exist"
                ));
            }
            ledger.deleted += 1;
        }
        ("GET", ["streams"]) => {
            let listed: BTreeSet<&str> = answer["StreamNames"]
                .as_array()
                .ok_or("no StreamNames")?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let known: BTreeSet<&str> = ledger.streams.keys().map(String::as_str).collect();
            if listed != known {
                return Err(format!("streams listed {listed:?}, expected {known:?}"));
            }
        }
        ("GET", ["topics" | "streams", _]) => {
            if !answer.is_object() {
                return Err("not an object".into());
            }
        }
        ("GET", ["topics"]) => {
            if !answer.is_array() {
                return Err("not a list".into());
            }
        }
        _ => return Err("200 for a request no route takes".into()),
    }
    Ok(())
}

/// Checks an error answer: in its route's envelope, its code agreeing with its status.
fn check_error(status: u16, path: &str, answer: &Value) -> Result<(), String> {
    let message_ok = answer["message"].as_str().is_some_and(|m| !m.is_empty());
    if path == "/" || path == "/streams" || path.starts_with("/streams/") {
        let kind = answer["__type"].as_str().unwrap_or_default();
        if kind.is_empty() || !message_ok || answer.get("error_code").is_some() {
            return Err("not in the Kinesis envelope {__type, message}".into());
        }
    } else {
        let code = answer["error_code"]
            .as_u64()
            .ok_or("no integer error_code")?;
        if !message_ok || answer.get("__type").is_some() {
            return Err("not in the REST Proxy envelope {error_code, message}".into());
        }
        if code != u64::from(status) && code / 100 != u64::from(status) {
            return Err(format!("error_code {code} with HTTP status {status}"));
        }
    }
    Ok(())
}

/// Whether the gateway may refuse `sent` without reading all of its body: a body over the limit.
fn may_be_refused_unread(sent: &Sent) -> bool {
    sent.body.len() > MAX_BODY_BYTES
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    sent: &Sent,
    rng: &mut StdRng,
) -> Option<reqwest::Result<reqwest::Response>> {
    let url = reqwest::Url::parse(&format!("{base}{}", sent.path)).ok()?;
    let mut request = client.request(sent.method.clone(), url);
    if let Some(ct) = &sent.content_type {
        request = request.header("content-type", ct.clone());
    }
    if let Some(key) = &sent.api_key {
        request = request.header("x-api-key", key.clone());
    }
    if sent.chunked {
        let mut chunks: Vec<Result<Vec<u8>, std::io::Error>> = Vec::new();
        let mut rest = sent.body.as_slice();
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(64 * 1024));
            chunks.push(Ok(rest[..n].to_vec()));
            rest = &rest[n..];
        }
        request = request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )));
    } else if !sent.body.is_empty() || sent.method != Method::GET {
        request = request.body(sent.body.clone());
    }
    match request.send().await {
        Ok(response) => Some(Ok(response)),
        Err(e) => Some(Err(e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_random_requests_get_well_formed_answers_and_lose_nothing() {
    let gw = Gateway::with(GatewayConfig {
        api_keys: vec![PRODUCER_KEY.into()],
        admin_api_keys: vec![ADMIN_KEY.into()],
        max_body_bytes: MAX_BODY_BYTES,
        max_record_bytes: MAX_RECORD_BYTES,
        ..GatewayConfig::default()
    })
    .await;
    // Connections are reused: a request refused before its body was read must not break the next
    // one on the same connection (the gateway reads and drops such a body, or says
    // `Connection: close`).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut ledger = Ledger::default();
    for topic in TOPICS {
        ledger.topics.insert(topic.into(), BTreeMap::new());
    }
    for stream in STREAMS {
        ledger.streams.insert(stream.into(), BTreeMap::new());
    }
    let started = Instant::now();
    let mut unsendable = 0;
    let mut cut_off = 0;
    for i in 0..REQUESTS {
        let sent = random_request(&mut rng);
        let response = match send(&client, &gw.url, &sent, &mut rng).await {
            Some(Ok(response)) => response,
            Some(Err(e)) if !e.is_timeout() && may_be_refused_unread(&sent) => {
                // A body over the size limit is refused without being read, and the connection
                // closed while the client may still be sending it: it may see a broken pipe
                // instead of the 413 (or 403), as with any HTTP server that does not read what
                // it refuses. Nothing may be stored for it, which the final count checks.
                cut_off += 1;
                continue;
            }
            Some(Err(e)) => panic!("request {i}: no answer ({e:?}) to {}", sent.summary()),
            None => {
                unsendable += 1;
                continue;
            }
        };
        let status = response.status().as_u16();
        let path = response.url().path().to_owned();
        let content_type = response.headers().get("content-type").cloned();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => panic!(
                "request {i}: the answer broke off ({e}) for {}",
                sent.summary()
            ),
        };
        *ledger.statuses.entry(status).or_default() += 1;
        let what = || {
            format!(
                "request {i}: {status} {} for {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)]),
                sent.summary()
            )
        };
        let answer: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", what()));
        // `/` is the native Kinesis API (a path like `/streams/%2e%2e` ends there too), which
        // answers in its own content type.
        let expected_type: &[u8] = if path == "/" {
            b"application/x-amz-json-1.1"
        } else {
            b"application/json"
        };
        assert!(
            content_type
                .as_ref()
                .is_some_and(|ct| ct.as_bytes().starts_with(expected_type)),
            "content type {content_type:?}: {}",
            what()
        );
        if sent.valid.is_some() {
            assert_eq!(status, 200, "a valid request was refused: {}", what());
        }
        let checked = match status {
            200 => {
                let segments: Option<Vec<String>> = path.split('/').skip(1).map(decode).collect();
                let segments = segments
                    .unwrap_or_else(|| panic!("200 for a path that is not UTF-8: {}", what()));
                book_success(&sent, &segments, &answer, &mut ledger)
            }
            400..=499 | 503 => check_error(status, &path, &answer),
            _ => Err("a status that is neither success nor a client error".into()),
        };
        if let Err(problem) = checked {
            panic!("{problem}: {}", what());
        }
    }
    let elapsed = started.elapsed();

    // Still up.
    let health = client
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    // Every acknowledged record is stored as acknowledged, and nothing else is.
    let topics: BTreeSet<String> = gw
        .bus
        .list_topics()
        .await
        .expect("topics")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(topics, ledger.topics.keys().cloned().collect(), "topics");
    let mut acked_records = 0;
    for (topic, booked) in &ledger.topics {
        let mut stored = BTreeMap::new();
        for p in gw
            .bus
            .describe_topic(topic)
            .await
            .expect("topic")
            .partitions
        {
            for r in gw
                .bus
                .read(topic, p.partition, 0, usize::MAX)
                .await
                .expect("read")
            {
                assert!(
                    !r.value.contains(&b'\n'),
                    "{topic} {}: a value of more than one line",
                    r.offset
                );
                assert!(
                    serde_json::from_slice::<&RawValue>(&r.value).is_ok(),
                    "{topic} {}: the value is not JSON: {:?}",
                    r.offset,
                    String::from_utf8_lossy(&r.value)
                );
                let key = r.key.map(|k| String::from_utf8(k).expect("key"));
                let value = String::from_utf8(r.value).expect("value");
                stored.insert((r.partition, r.offset), (key, value));
            }
        }
        let acked: BTreeSet<_> = booked.keys().collect();
        let kept: BTreeSet<_> = stored.keys().collect();
        assert_eq!(kept, acked, "{topic}: stored offsets vs acknowledged ones");
        for (at, record) in booked {
            if let Some(record) = record {
                assert_eq!(
                    &stored[at], record,
                    "{topic} {at:?}: stored differently from what was sent"
                );
            }
        }
        acked_records += booked.len();
    }
    let streams: BTreeSet<String> = gw
        .bus
        .list_streams()
        .await
        .expect("streams")
        .into_iter()
        .collect();
    assert_eq!(streams, ledger.streams.keys().cloned().collect(), "streams");
    let mut acked_stream_records = 0;
    for (stream, booked) in &ledger.streams {
        let mut stored = BTreeMap::new();
        for shard in gw.bus.describe_stream(stream).await.expect("stream").shards {
            let records = gw
                .bus
                .read_shard(
                    stream,
                    &shard.shard_id,
                    ReadFrom::Oldest,
                    ReadLimit::records(usize::MAX),
                )
                .await
                .expect("read");
            for r in records {
                assert!(
                    !r.data.contains(&b'\n'),
                    "{stream}: data of more than one line"
                );
                assert!(
                    serde_json::from_slice::<&RawValue>(&r.data).is_ok(),
                    "{stream}: data not JSON"
                );
                let key = json!(r.partition_key).to_string();
                let data = String::from_utf8(r.data).expect("data");
                stored.insert((shard.shard_id.clone(), r.sequence_number), (key, data));
            }
        }
        let acked: BTreeSet<_> = booked.keys().collect();
        let kept: BTreeSet<_> = stored.keys().collect();
        assert_eq!(kept, acked, "{stream}: stored records vs acknowledged ones");
        for (at, record) in booked {
            if let Some(record) = record {
                assert_eq!(
                    &stored[at], record,
                    "{stream} {at:?}: stored differently from what was sent"
                );
            }
        }
        acked_stream_records += booked.len();
    }

    eprintln!(
        "{REQUESTS} requests in {elapsed:.1?} ({unsendable} not sendable, {cut_off} cut off while \
         sending a body refused unread); answers by status {:?}; \
         {acked_records} topic records and {acked_stream_records} stream records acknowledged and \
         stored; {} streams created, {} deleted",
        ledger.statuses, ledger.created, ledger.deleted
    );
    // The loop reached both paths' success and their refusals.
    assert!(acked_records > 200 && acked_stream_records > 200);
    assert!(ledger.created > 0 && ledger.deleted > 0);
    let refused: usize = ledger
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 400)
        .map(|(_, n)| n)
        .sum();
    assert!(refused > REQUESTS / 4, "{:?}", ledger.statuses);
}
