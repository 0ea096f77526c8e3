//! Hostile and careless clients: slow headers, slow bodies, floods of connections, oversized and
//! absurd requests. The gateway closes what waits too long, keeps answering `/health` and honest
//! producers meanwhile, and answers every refusal in its route's envelope.

use std::time::{Duration, Instant};

use pinpipe_bus::{Streams, Topics};
use pinpipe_gateway::GatewayConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Gateway, json_of};

/// Short timeouts, so that the tests wait seconds, not the defaults' tens of seconds.
fn impatient() -> GatewayConfig {
    GatewayConfig {
        header_read_timeout: Duration::from_millis(800),
        body_read_timeout: Duration::from_millis(800),
        keep_alive_timeout: Duration::from_secs(2),
        ..GatewayConfig::default()
    }
}

/// The `host:port` of the gateway.
fn address(gw: &Gateway) -> String {
    gw.url.trim_start_matches("http://").to_owned()
}

/// A client that sends the headers of a 1,000-byte produce call and one byte of its body.
async fn slow_body(gw: &Gateway) -> TcpStream {
    let mut stream = TcpStream::connect(address(gw)).await.expect("connect");
    let head = "POST /topics/pinpipe.pin HTTP/1.1\r\nhost: x\r\n\
                content-type: application/vnd.kafka.json.v2+json\r\ncontent-length: 1000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// A client that sends half a request line.
async fn slow_head(gw: &Gateway) -> TcpStream {
    let mut stream = TcpStream::connect(address(gw)).await.expect("connect");
    stream.write_all(b"GET /hea").await.expect("write");
    stream
}

/// What the server sends before it closes the connection (or `within` passes, which fails).
async fn answer_before_close(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut answer)).await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => panic!("the connection was still open after {within:?}"),
    }
}

async fn health_is_quick(gw: &Gateway) {
    let started = Instant::now();
    let health = gw
        .client
        .get(format!("{}/health", gw.url))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_bodies_get_408_in_the_envelope_and_slow_heads_are_closed() {
    let gw = Gateway::with(impatient()).await;
    let mut bodies = Vec::new();
    let mut heads = Vec::new();
    for _ in 0..20 {
        bodies.push(slow_body(&gw).await);
        heads.push(slow_head(&gw).await);
    }
    // Meanwhile the gateway answers everyone else.
    health_is_quick(&gw).await;
    let (status, _) = gw
        .produce("pinpipe.pin", r#"{"records":[{"value":{"a":1}}]}"#)
        .await;
    assert_eq!(status, 200);
    let limit = Duration::from_secs(4);
    for mut stream in bodies {
        let answer = answer_before_close(&mut stream, limit).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains(r#""error_code":408"#), "{answer}");
    }
    for mut stream in heads {
        // No route is known before the head arrives: the connection is closed, no answer.
        assert_eq!(answer_before_close(&mut stream, limit).await, "");
    }
    assert_eq!(
        gw.stored("pinpipe.pin").await,
        1,
        "only the honest record is stored"
    );
}

#[tokio::test]
async fn a_slow_body_on_a_stream_route_gets_the_kinesis_envelope() {
    let gw = Gateway::with(impatient()).await;
    let mut stream = TcpStream::connect(address(&gw)).await.expect("connect");
    let head = "PUT /streams/streaming-pinpipe-pin/record HTTP/1.1\r\nhost: x\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = answer_before_close(&mut stream, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#""__type":"RequestTimeoutException""#),
        "{answer}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let gw = Gateway::with(impatient()).await;
    let mut stream = TcpStream::connect(address(&gw)).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let answer = answer_before_close(&mut stream, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Kept open for the next request, past the header timeout, until the keep-alive timeout.
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_waiting_client_makes_room() {
    let gw = Gateway::with(GatewayConfig {
        max_connections: 30,
        header_read_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(60),
        ..GatewayConfig::default()
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(slow_body(&gw).await);
    }
    // Far more slow clients than the cap, timeouts far away: still every new client is served.
    for _ in 0..5 {
        health_is_quick(&gw).await;
    }
    let (status, _) = gw
        .produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
        .await;
    assert_eq!(status, 200);
    let mut closed = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 70,
        "only {closed} of 100 slow clients were closed"
    );
}

#[tokio::test]
async fn slow_bodies_do_not_take_the_in_flight_permits() {
    let gw = Gateway::with(GatewayConfig {
        max_in_flight: 4,
        ..impatient()
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(slow_body(&gw).await);
    }
    health_is_quick(&gw).await;
    for _ in 0..10 {
        let (status, answer) = gw
            .produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
            .await;
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn the_memory_of_bodies_in_flight_is_bounded() {
    let gw = Gateway::with(GatewayConfig {
        max_body_bytes: 1000,
        max_in_flight_body_bytes: 1000,
        ..impatient()
    })
    .await;
    // One slow client holds the whole budget (it declared 1,000 bytes)…
    let _hog = slow_body(&gw).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, answer) = gw
        .produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
        .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (429, Some(42901)),
        "{answer}"
    );
    // …and gives it back when it is timed out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = gw
        .produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
        .await;
    assert_eq!(status, 200);
    health_is_quick(&gw).await;
}

#[tokio::test]
async fn axum_refusals_are_in_the_routes_envelopes() {
    let gw = Gateway::start().await;
    // 405 on a REST route.
    let (status, answer) = json_of(
        gw.client
            .put(format!("{}/topics/pinpipe.pin", gw.url))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (405, Some(405)),
        "{answer}"
    );
    assert!(answer["message"].is_string());
    // 405 on a stream route.
    let (status, answer) = json_of(
        gw.client
            .post(format!("{}/streams/streaming-pinpipe-pin/record", gw.url))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(answer["__type"], "UnknownOperationException", "{answer}");
    // A partition that is not a number.
    let (status, answer) = json_of(
        gw.client
            .post(format!("{}/topics/pinpipe.pin/partitions/abc", gw.url))
            .header("content-type", "application/json")
            .body(r#"{"records":[{"value":1}]}"#)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (404, Some(40402)),
        "{answer}"
    );
    // An unknown path under /streams.
    let (status, answer) = json_of(
        gw.client
            .get(format!("{}/streams/a/b/c", gw.url))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(answer["__type"], "UnknownOperationException", "{answer}");
}

#[tokio::test]
async fn one_request_costs_little() {
    let gw = Gateway::with(GatewayConfig {
        max_records_per_request: 10,
        max_key_bytes: 16,
        ..GatewayConfig::default()
    })
    .await;
    let records: Vec<_> = (0..11).map(|i| json!({ "value": i })).collect();
    let (status, answer) = gw
        .produce("pinpipe.pin", json!({ "records": records }).to_string())
        .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (422, Some(422)),
        "{answer}"
    );
    let long_key = "k".repeat(17);
    let (status, answer) = gw
        .produce(
            "pinpipe.pin",
            json!({ "records": [{ "key": long_key, "value": 1 }] }).to_string(),
        )
        .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (422, Some(422)),
        "{answer}"
    );
    assert_eq!(gw.stored("pinpipe.pin").await, 0);
}

#[tokio::test]
async fn absurd_shard_counts_are_refused() {
    let gw = Gateway::start().await;
    for (count, kind) in [
        (2_000_000_000u64, "LimitExceededException"),
        (501, "LimitExceededException"),
        (0, "ValidationException"),
    ] {
        let (status, answer) = json_of(
            gw.client
                .post(format!("{}/streams/absurd", gw.url))
                .json(&json!({ "ShardCount": count }))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(
            (status, answer["__type"].as_str()),
            (400, Some(kind)),
            "{count}"
        );
    }
    assert!(
        !gw.bus
            .list_streams()
            .await
            .expect("list")
            .contains(&"absurd".to_owned())
    );
    let (status, _) = json_of(
        gw.client
            .post(format!("{}/streams/fine", gw.url))
            .json(&json!({ "ShardCount": 500 }))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn admin_routes_need_an_admin_key_once_keys_are_set() {
    let gw = Gateway::with(GatewayConfig {
        api_keys: vec!["producer".into()],
        admin_api_keys: vec!["admin".into()],
        ..GatewayConfig::default()
    })
    .await;
    let create = |key: &'static str| {
        gw.client
            .post(format!("{}/streams/guarded", gw.url))
            .header("x-api-key", key)
            .json(&json!({ "ShardCount": 1 }))
            .send()
    };
    let (status, answer) = json_of(create("producer").await.expect("request")).await;
    assert_eq!(
        (status, answer["__type"].as_str()),
        (403, Some("AccessDeniedException"))
    );
    let (status, _) = json_of(create("admin").await.expect("request")).await;
    assert_eq!(status, 200);
    // The producer key still produces, and so does the admin key.
    for key in ["producer", "admin"] {
        let response = gw
            .client
            .put(format!("{}/streams/guarded/record", gw.url))
            .header("x-api-key", key)
            .json(&json!({ "StreamName": "guarded", "Data": {"a": 1}, "PartitionKey": "k" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{key}");
    }
    let (status, answer) = json_of(
        gw.client
            .delete(format!("{}/streams/guarded", gw.url))
            .header("x-api-key", "producer")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, answer["__type"].as_str()),
        (403, Some("AccessDeniedException"))
    );
    assert!(
        gw.bus
            .list_streams()
            .await
            .expect("list")
            .contains(&"guarded".to_owned())
    );
}

#[tokio::test]
async fn without_admin_keys_admin_routes_are_closed_when_producer_keys_are_set() {
    let gw = Gateway::with(GatewayConfig {
        api_keys: vec!["producer".into()],
        ..GatewayConfig::default()
    })
    .await;
    let (status, answer) = json_of(
        gw.client
            .delete(format!("{}/streams/streaming-pinpipe-pin", gw.url))
            .header("x-api-key", "producer")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("admin_api_keys"))
    );
    assert!(gw.bus.describe_topic("pinpipe.pin").await.is_ok());
}

#[tokio::test]
async fn a_full_disk_is_answered_50302_and_the_gateway_recovers_losing_nothing() {
    let Some(disk) = pinpipe_testkit::Tmpfs::mount(32) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let gw = Gateway::on_bus(GatewayConfig::default(), &disk.path().join("bus.db"), dir).await;
    let ballast = disk.ballast_leaving(3);
    // Values that do not compress, so that the disk fills as the calls say.
    let body = json!({ "records": (0..10).map(|i| json!({ "value": noise(50_000, i) })).collect::<Vec<_>>() })
        .to_string();
    let mut acknowledged = 0;
    let mut full = false;
    for _ in 0..500 {
        let (status, answer) = gw.produce("pinpipe.pin", body.clone()).await;
        match (status, answer["error_code"].as_u64()) {
            (200, _) => acknowledged += 10,
            (503, Some(50302)) => {
                assert!(
                    answer["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("full")),
                    "{answer}"
                );
                full = true;
                break;
            }
            other => panic!("unexpected answer {other:?}: {answer}"),
        }
    }
    assert!(full, "the disk never filled up");
    assert!(acknowledged > 0);
    health_is_quick(&gw).await;
    std::fs::remove_file(ballast).expect("free the space");
    let (status, answer) = gw.produce("pinpipe.pin", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    acknowledged += 10;
    let stored = gw
        .bus
        .read("pinpipe.pin", 0, 0, 100_000)
        .await
        .expect("read back");
    assert_eq!(
        stored.len(),
        acknowledged,
        "every acknowledged record, once"
    );
    assert!(stored.iter().enumerate().all(|(i, r)| r.offset == i as i64));
}

/// `len` characters of the base64 alphabet, drawn from `seed`: text no compressor shrinks much
/// (the bus stores a batch compressed when that saves an eighth).
fn noise(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % 64) as usize])
        })
        .collect()
}

/// Reads one HTTP/1.1 response with a `content-length` from `stream`: its head and its body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert_eq!(
            read,
            1,
            "closed mid-head: {}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buffer).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    (head, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_request_refused_before_its_body_was_read_does_not_break_the_connection() {
    let gw = Gateway::with(GatewayConfig {
        api_keys: vec!["producer".into()],
        max_body_bytes: 100_000,
        ..GatewayConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(address(&gw)).await.expect("connect");
    // A wrong key with a 70 kB body, then a good request on the same connection.
    let record = r#"{"Data":{"index":1},"PartitionKey":"k"}"#;
    let body = format!(
        r#"{{"StreamName":"streaming-pinpipe-pin","Records":[{}]}}"#,
        vec![record; 2000].join(",")
    );
    assert!(body.len() > 70_000);
    let wrong = format!(
        "PUT /streams/streaming-pinpipe-pin/records HTTP/1.1\r\nhost: x\r\nx-api-key: wrong\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(wrong.as_bytes()).await.expect("write");
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 403"), "{head}{body}");
    assert!(!head.contains("connection: close"), "{head}");
    let good = r#"{"records":[{"value":{"index":1}}]}"#;
    let request = format!(
        "POST /topics/pinpipe.pin HTTP/1.1\r\nhost: x\r\nx-api-key: producer\r\n\
         content-type: application/vnd.kafka.json.v2+json\r\ncontent-length: {}\r\n\r\n{good}",
        good.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}{body}");
    let stored = gw.bus.read("pinpipe.pin", 0, 0, 10).await.expect("read");
    assert_eq!(stored.len(), 1);

    // A body over the limit is not read: the answer says the connection closes.
    let mut stream = TcpStream::connect(address(&gw)).await.expect("connect");
    let head = "POST /topics/pinpipe.pin HTTP/1.1\r\nhost: x\r\nx-api-key: producer\r\n\
                content-type: application/vnd.kafka.json.v2+json\r\ncontent-length: 200000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.expect("write");
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 413"), "{head}{body}");
    assert!(head.contains("connection: close"), "{head}");
}
