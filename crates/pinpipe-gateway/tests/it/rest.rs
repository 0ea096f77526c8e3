//! The batch path: REST Proxy v2 produce.

use pinpipe_bus::Topics;
use serde_json::json;

use crate::harness::{Gateway, json_of};

#[tokio::test]
async fn produce_answers_like_rest_proxy_and_stores_the_values() {
    let gw = Gateway::start().await;
    let body = json!({"records": [
        {"value": {"index": 1, "title": "Ünïcode ✌"}},
        {"value": {"index": 2}, "key": "k"},
    ]});
    let (status, answer) = gw.produce("pinpipe.pin", body.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({
            "key_schema_id": null,
            "value_schema_id": null,
            "offsets": [
                {"partition": 0, "offset": 0, "error_code": null, "error": null},
                {"partition": 0, "offset": 1, "error_code": null, "error": null},
            ]
        })
    );
    let stored = gw.bus.read("pinpipe.pin", 0, 0, 10).await.expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[0].value,
        r#"{"index":1,"title":"Ünïcode ✌"}"#.as_bytes()
    );
    assert_eq!(stored[1].key.as_deref(), Some(&b"\"k\""[..]));
}

#[tokio::test]
async fn all_three_content_types_are_accepted() {
    let gw = Gateway::start().await;
    for content_type in [
        "application/vnd.kafka.json.v2+json",
        "application/vnd.kafka.v2+json",
        "application/json; charset=utf-8",
    ] {
        let response = gw
            .client
            .post(format!("{}/topics/pinpipe.geo", gw.url))
            .header("content-type", content_type)
            .body(r#"{"records":[{"value":{"ind":1}}]}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{content_type}");
    }
    assert_eq!(gw.stored("pinpipe.geo").await, 3);
}

/// A pretty-printed value is stored on one line (the raw layout is a record a line), without its
/// white space, and otherwise as sent: its keys in their order, a number beyond 64 bits with all
/// its digits.
#[tokio::test]
async fn pretty_printed_values_are_stored_on_one_line() {
    let gw = Gateway::start().await;
    let (status, _) = gw
        .produce(
            "pinpipe.user",
            "{\"records\":[{\"value\":{\n  \"ind\": 5,\r\n  \"id\": 123456789012345678901234567890\n}}]}",
        )
        .await;
    assert_eq!(status, 200);
    let stored = gw.bus.read("pinpipe.user", 0, 0, 1).await.expect("read");
    assert_eq!(
        String::from_utf8_lossy(&stored[0].value),
        r#"{"ind":5,"id":123456789012345678901234567890}"#
    );
}

/// Sends a bad request and checks the status, the REST Proxy error code, and that nothing was stored.
async fn refused(gw: &Gateway, request: reqwest::RequestBuilder, status: u16, code: u64) -> String {
    let before = gw.stored("pinpipe.pin").await;
    let (got, body) = json_of(request.send().await.expect("request")).await;
    assert_eq!(
        (got, body["error_code"].as_u64()),
        (status, Some(code)),
        "{body}"
    );
    assert_eq!(gw.stored("pinpipe.pin").await, before, "nothing is stored");
    body["message"].as_str().unwrap_or_default().to_owned()
}

fn post(gw: &Gateway, topic: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    gw.client
        .post(format!("{}/topics/{topic}", gw.url))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .body(body)
}

#[tokio::test]
async fn bad_requests_get_rest_proxy_errors_and_store_nothing() {
    let gw = Gateway::start().await;
    refused(
        &gw,
        post(&gw, "pinpipe.pin", r#"{"records":[{"value":1}"#),
        400,
        400,
    )
    .await;
    refused(
        &gw,
        post(&gw, "pinpipe.pin", vec![b'{', 0xff, 0xfe, b'}']),
        400,
        400,
    )
    .await;
    let message = refused(
        &gw,
        post(&gw, "pinpipe.pin", r#"{"value":{"index":1}}"#),
        422,
        422,
    )
    .await;
    assert_eq!(message, "Unrecognized field: value");
    refused(&gw, post(&gw, "pinpipe.pin", r#"{}"#), 422, 422).await;
    refused(&gw, post(&gw, "pinpipe.pin", r#"{"records":[]}"#), 422, 422).await;
    let text = gw
        .client
        .post(format!("{}/topics/pinpipe.pin", gw.url))
        .header("content-type", "text/plain")
        .body(r#"{"records":[{"value":1}]}"#);
    refused(&gw, text, 415, 415).await;
    let nested = format!(
        r#"{{"records":[{{"value":{}1{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    refused(&gw, post(&gw, "pinpipe.pin", nested), 400, 400).await;
    // A lone surrogate would be stored, then refused by every consumer that decodes JSON.
    for lone in [r#""\ud800""#, r#"{"title":"a\uDC00b"}"#] {
        let body = format!(r#"{{"records":[{{"value":{lone}}}]}}"#);
        refused(&gw, post(&gw, "pinpipe.pin", body), 400, 400).await;
    }
    let (status, _) = gw
        .produce(
            "pinpipe.pin",
            r#"{"records":[{"value":"a pair \ud83d\ude00 and a \\ud800 that is text"}]}"#,
        )
        .await;
    assert_eq!(
        status, 200,
        "a surrogate pair, and an escaped backslash before u"
    );
    // The server is still serving.
    let (status, _) = gw
        .produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_and_invalid_topics_are_not_found() {
    let gw = Gateway::start().await;
    for topic in ["nope", "..%2Fx", "a%20b", "a%2Fb", &"x".repeat(250)] {
        refused(
            &gw,
            post(&gw, topic, r#"{"records":[{"value":1}]}"#),
            404,
            40401,
        )
        .await;
    }
    let (status, answer) = json_of(
        gw.client
            .post(format!("{}/topics/%2E%2E/x", gw.url))
            .header("content-type", "application/json")
            .body(r#"{"records":[{"value":1}]}"#)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_u64()),
        (404, Some(404)),
        "a path is never a topic"
    );
}

#[tokio::test]
async fn an_unknown_partition_is_refused_before_anything_is_written() {
    let gw = Gateway::start().await;
    let body = r#"{"records":[{"value":1},{"value":2,"partition":3}]}"#;
    let (status, answer) = gw.produce("pinpipe.pin", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["offsets"][0]["offset"], 0);
    assert_eq!(answer["offsets"][1]["error_code"], 40402);
    assert_eq!(gw.stored("pinpipe.pin").await, 1);
    let (status, answer) = json_of(
        gw.client
            .post(format!("{}/topics/pinpipe.pin/partitions/0", gw.url))
            .header("content-type", "application/json")
            .body(r#"{"records":[{"value":3}]}"#)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, answer["offsets"][0]["offset"].as_i64()),
        (200, Some(1))
    );
    // A partition in the path that the topic does not have is the call's error, as REST Proxy
    // answers it: a client checking only the status must not see success.
    let partition_99 = post(
        &gw,
        "pinpipe.pin/partitions/99",
        r#"{"records":[{"value":4}]}"#,
    );
    refused(&gw, partition_99, 404, 40402).await;
}

#[tokio::test]
async fn oversized_bodies_and_records_are_refused() {
    let gw = Gateway::with(pinpipe_gateway::GatewayConfig {
        max_body_bytes: 4 * 1024 * 1024,
        ..Default::default()
    })
    .await;
    let big = "x".repeat(5 * 1024 * 1024);
    refused(
        &gw,
        post(
            &gw,
            "pinpipe.pin",
            format!(r#"{{"records":[{{"value":"{big}"}}]}}"#),
        ),
        413,
        413,
    )
    .await;
    // Chunked, so no Content-Length gives it away.
    let chunks = futures_stream(format!(r#"{{"records":[{{"value":"{big}"}}]}}"#));
    refused(&gw, post(&gw, "pinpipe.pin", chunks), 413, 413).await;

    let record = "y".repeat(1024 * 1024 + 1);
    let body = format!(r#"{{"records":[{{"value":"{record}"}},{{"value":2}}]}}"#);
    let (status, answer) = gw.produce("pinpipe.pin", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["offsets"][0]["error_code"], 50002);
    assert!(
        answer["offsets"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("exceeds"))
    );
    assert_eq!(
        answer["offsets"][1]["offset"], 0,
        "the rest of the batch is written"
    );
    assert_eq!(gw.stored("pinpipe.pin").await, 1);
}

/// A body sent in chunks, without a Content-Length.
fn futures_stream(text: String) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn auto_created_topics_are_opt_in() {
    let gw = Gateway::with(pinpipe_gateway::GatewayConfig {
        auto_create_topics: true,
        ..Default::default()
    })
    .await;
    let (status, answer) = gw
        .produce("fresh.topic", r#"{"records":[{"value":1}]}"#)
        .await;
    assert_eq!(
        (status, answer["offsets"][0]["offset"].as_i64()),
        (200, Some(0))
    );
}

#[tokio::test]
async fn concurrent_producers_get_distinct_contiguous_offsets() {
    let gw = Gateway::start().await;
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..16 {
        let url = format!("{}/topics/pinpipe.pin", gw.url);
        let http = gw.client.clone();
        tasks.spawn(async move {
            let mut acked = Vec::new();
            for i in 0..20 {
                let body = json!({"records": [{"value": {"c": client, "i": i}}, {"value": {"c": client, "i": i, "n": 2}}]});
                let answer: serde_json::Value = http
                    .post(&url)
                    .header("content-type", "application/vnd.kafka.json.v2+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("request")
                    .json()
                    .await
                    .expect("json");
                for offset in answer["offsets"].as_array().expect("offsets") {
                    acked.push((offset["offset"].as_i64().expect("offset"), client, i));
                }
            }
            acked
        });
    }
    let mut offsets = Vec::new();
    while let Some(acked) = tasks.join_next().await {
        offsets.extend(acked.expect("task"));
    }
    let stored = gw
        .bus
        .read("pinpipe.pin", 0, 0, 10_000)
        .await
        .expect("read");
    assert_eq!(stored.len(), 640);
    for (offset, client, i) in &offsets {
        let value: serde_json::Value =
            serde_json::from_slice(&stored[*offset as usize].value).expect("json");
        assert_eq!(
            (value["c"].as_i64(), value["i"].as_i64()),
            (Some(*client), Some(*i))
        );
    }
    offsets.sort();
    offsets.dedup_by_key(|o| o.0);
    assert_eq!(offsets.len(), 640, "every acknowledged offset is distinct");
}

/// `GET /topics/{topic}` has the shape of REST Proxy's answer (its documented example), and the
/// high watermark besides.
#[tokio::test]
async fn a_topic_is_described_as_rest_proxy_describes_it() {
    let gw = Gateway::start().await;
    assert_eq!(
        gw.produce("pinpipe.geo", r#"{"records":[{"value":1}]}"#)
            .await
            .0,
        200
    );
    let (status, topic) = json_of(
        gw.client
            .get(format!("{}/topics/pinpipe.geo", gw.url))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        topic,
        json!({
            "name": "pinpipe.geo",
            "configs": {},
            "partitions": [{
                "partition": 0,
                "leader": 1,
                "replicas": [{"broker": 1, "leader": true, "in_sync": true}],
                "high_watermark": 1,
            }],
        })
    );
}
