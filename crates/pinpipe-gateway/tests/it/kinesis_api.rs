//! The native Kinesis API's wire details that need no client library: CBOR requests byte for byte
//! as the Java SDK (and so the KCL) encodes them, answers in CBOR, errors in each encoding.

use ciborium::value::Value as Cbor;
use pinpipe_bus::{ReadFrom, ReadLimit, Streams};

use crate::harness::Gateway;

const CBOR: &str = "application/x-amz-cbor-1.1";

/// A hex string (white space allowed) as bytes.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("hex"), 16).expect("hex"))
        .collect()
}

/// A CBOR text string with a definite length, as Jackson writes one.
fn text(s: &str) -> Vec<u8> {
    let mut out = if s.len() < 24 {
        vec![0x60 + s.len() as u8]
    } else {
        vec![0x78, s.len() as u8]
    };
    out.extend_from_slice(s.as_bytes());
    out
}

async fn call(
    gw: &Gateway,
    operation: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = gw
        .client
        .post(format!("{}/", gw.url))
        .header("content-type", content_type)
        .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
        )
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn decode(bytes: &[u8]) -> Cbor {
    ciborium::de::from_reader(bytes).expect("a CBOR answer")
}

fn member<'a>(value: &'a Cbor, name: &str) -> &'a Cbor {
    value
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some(name)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {value:?}"))
}

#[tokio::test]
async fn java_sdk_cbor_puts_and_reads_back_with_millisecond_timestamps() {
    let gw = Gateway::start().await;
    // PutRecord as the Java SDK v1 writes it: an indefinite map, Data a byte string.
    let put = hex("bf 6a 53 74 72 65 61 6d 4e 61 6d 65
            75 73 74 72 65 61 6d 69 6e 67 2d 70 69 6e 70 69 70 65 2d 70 69 6e
            64 44 61 74 61 48 7b 22 69 64 22 3a 31 7d
            6c 50 61 72 74 69 74 69 6f 6e 4b 65 79 64 70 6b 2d 31 ff");
    let (status, headers, body) = call(&gw, "PutRecord", CBOR, put).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(headers["content-type"], CBOR);
    assert!(headers.contains_key("x-amzn-requestid"));
    let answer = decode(&body);
    assert_eq!(
        member(&answer, "ShardId").as_text(),
        Some("shardId-000000000000")
    );
    let sequence = member(&answer, "SequenceNumber")
        .as_text()
        .expect("text")
        .to_owned();
    let stored = gw
        .bus
        .read_shard(
            "streaming-pinpipe-pin",
            "shardId-000000000000",
            ReadFrom::Oldest,
            ReadLimit::records(10),
        )
        .await
        .expect("read");
    assert_eq!(stored[0].data, br#"{"id":1}"#.to_vec());
    assert_eq!(stored[0].sequence_number, sequence);

    // GetShardIterator AT_TIMESTAMP 2024-01-02T03:04:05.678Z: tag 1 over integer milliseconds.
    let iterator = hex(
        "bf 6a 53 74 72 65 61 6d 4e 61 6d 65
            75 73 74 72 65 61 6d 69 6e 67 2d 70 69 6e 70 69 70 65 2d 70 69 6e
            67 53 68 61 72 64 49 64 74 73 68 61 72 64 49 64 2d 30 30 30 30 30 30 30 30 30 30 30 30
            71 53 68 61 72 64 49 74 65 72 61 74 6f 72 54 79 70 65 6c 41 54 5f 54 49 4d 45 53 54 41 4d 50
            69 54 69 6d 65 73 74 61 6d 70 c1 1b 00 00 01 8c c8 20 db 2e ff",
    );
    let (status, _, body) = call(&gw, "GetShardIterator", CBOR, iterator).await;
    assert_eq!(status, 200, "{:?}", decode(&body));
    let answer = decode(&body);
    let iterator = member(&answer, "ShardIterator")
        .as_text()
        .expect("text")
        .to_owned();

    // GetRecords {"ShardIterator": …, "Limit": 10000}.
    let mut get = vec![0xbf];
    get.extend(text("ShardIterator"));
    get.extend(text(&iterator));
    get.extend(text("Limit"));
    get.extend([0x19, 0x27, 0x10, 0xff]);
    let (status, _, body) = call(&gw, "GetRecords", CBOR, get).await;
    assert_eq!(status, 200, "{:?}", decode(&body));
    let answer = decode(&body);
    let records = member(&answer, "Records").as_array().expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(
        member(&records[0], "Data").as_bytes(),
        Some(&br#"{"id":1}"#.to_vec())
    );
    let Cbor::Tag(1, arrival) = member(&records[0], "ApproximateArrivalTimestamp") else {
        panic!("the arrival time is not tag 1: {records:?}");
    };
    let millis = i128::from(arrival.as_integer().expect("integer milliseconds"));
    let now = chrono::Utc::now().timestamp_millis() as i128;
    assert!(
        (now - 60_000..=now).contains(&millis),
        "{millis} is not milliseconds of now"
    );
    assert!(member(&answer, "NextShardIterator").as_text().is_some());
}

#[tokio::test]
async fn errors_come_in_the_request_encoding_with_their_type_header() {
    let gw = Gateway::start().await;
    let mut missing = vec![0xbf];
    missing.extend(text("StreamName"));
    missing.extend(text("no-such-stream"));
    missing.push(0xff);
    let (status, headers, body) = call(&gw, "DescribeStream", CBOR, missing).await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], CBOR);
    assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException");
    let answer = decode(&body);
    assert_eq!(
        member(&answer, "__type").as_text(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        member(&answer, "message").as_text(),
        Some("Stream no-such-stream under account 000000000000 not found.")
    );

    let json = "application/x-amz-json-1.1";
    // A message quoting megabytes the client sent is cut, in the answer as in the log.
    let huge = serde_json::json!({ "StreamName": "s".repeat(1 << 20) }).to_string();
    let (status, _, body) = call(&gw, "DescribeStream", json, huge.into_bytes()).await;
    assert_eq!(status, 400);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.ends_with('…') && message.len() <= 1100,
        "{} bytes",
        message.len()
    );
    let (status, headers, body) = call(&gw, "NoSuchOperation", json, b"{}".to_vec()).await;
    assert_eq!(status, 400);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(answer["__type"], "UnknownOperationException");
    assert_eq!(headers["x-amzn-errortype"], "UnknownOperationException");
    let (status, _, body) = call(&gw, "PutRecord", json, b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(answer["__type"], "SerializationException");
    let (status, _, body) = call(&gw, "PutRecord", CBOR, vec![0xbf, 0x61]).await;
    assert_eq!(status, 400);
    assert_eq!(
        member(&decode(&body), "__type").as_text(),
        Some("SerializationException")
    );
    // axum's own 405 for GET / comes in the Kinesis envelope too.
    let response = gw
        .client
        .get(format!("{}/", gw.url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(response.status().as_u16(), 405);
    let answer: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(answer["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn creating_streams_needs_an_admin_key_like_the_proxy_routes() {
    let config = pinpipe_gateway::GatewayConfig {
        api_keys: vec!["producer".into()],
        admin_api_keys: vec!["admin".into()],
        ..pinpipe_gateway::GatewayConfig::default()
    };
    let gw = Gateway::with(config).await;
    let create = |key: &'static str| {
        gw.client
            .post(format!("{}/", gw.url))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "Kinesis_20131202.CreateStream")
            .header("x-api-key", key)
            .body(r#"{"StreamName":"by-key","ShardCount":1}"#)
            .send()
    };
    let refused = create("producer").await.expect("request");
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused.headers()["x-amzn-errortype"],
        "AccessDeniedException"
    );
    assert_eq!(
        create("admin").await.expect("request").status().as_u16(),
        200
    );
    assert!(gw.bus.describe_stream("by-key").await.is_ok());
}
