//! The stream path: the Kinesis proxy routes.

use pinpipe_bus::{ReadFrom, ReadLimit, Streams, shard_for_partition_key, shard_id};
use serde_json::json;

use crate::harness::{Gateway, json_of};

const STREAM: &str = "streaming-pinpipe-pin";

async fn put(gw: &Gateway, path: &str, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
    json_of(
        gw.client
            .put(format!("{}/streams/{path}", gw.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn put_record_answers_sequence_number_and_shard() {
    let gw = Gateway::start().await;
    let body = json!({"StreamName": STREAM, "Data": {"index": 1, "title": "t"}, "PartitionKey": "partition-1"});
    let (status, answer) = put(&gw, &format!("{STREAM}/record"), body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ShardId"], "shardId-000000000000");
    let sequence = answer["SequenceNumber"].as_str().expect("sequence number");
    assert!(sequence.chars().all(|c| c.is_ascii_digit()));
    let stored = gw
        .bus
        .read_shard(
            STREAM,
            "shardId-000000000000",
            ReadFrom::Oldest,
            ReadLimit::records(10),
        )
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sequence_number, sequence);
    assert_eq!(stored[0].data, br#"{"index":1,"title":"t"}"#.to_vec());
    assert_eq!(stored[0].partition_key, "partition-1");
}

#[tokio::test]
async fn put_records_reports_each_record_and_spreads_by_md5() {
    let gw = Gateway::start().await;
    let (status, _) = json_of(
        gw.client
            .post(format!("{}/streams/four", gw.url))
            .json(&json!({"ShardCount": 4}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<String> = (0..20).map(|i| format!("key-{i}")).collect();
    let records: Vec<_> = keys
        .iter()
        .map(|k| json!({"Data": {"k": k}, "PartitionKey": k}))
        .collect();
    let (status, answer) = put(
        &gw,
        "four/records",
        json!({"StreamName": "four", "Records": records}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["FailedRecordCount"], 0);
    let results = answer["Records"].as_array().expect("records");
    assert_eq!(results.len(), 20);
    for (key, result) in keys.iter().zip(results) {
        assert_eq!(
            result["ShardId"],
            shard_id(shard_for_partition_key(key, 4)),
            "{key}"
        );
    }
    let described = gw.bus.describe_stream("four").await.expect("describe");
    assert_eq!(
        described
            .shards
            .iter()
            .map(|s| s.records.unwrap_or(0))
            .sum::<i64>(),
        20
    );
}

#[tokio::test]
async fn stream_management_routes_work() {
    let gw = Gateway::start().await;
    let (status, answer) = json_of(
        gw.client
            .get(format!("{}/streams", gw.url))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["StreamNames"],
        json!([
            "streaming-pinpipe-geo",
            "streaming-pinpipe-pin",
            "streaming-pinpipe-user"
        ])
    );
    let (status, answer) = json_of(
        gw.client
            .get(format!("{}/streams/{STREAM}", gw.url))
            .send()
            .await
            .expect("describe"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["StreamDescription"]["Shards"][0]["ShardId"],
        "shardId-000000000000"
    );
    let (status, _) = json_of(
        gw.client
            .post(format!("{}/streams/extra", gw.url))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = json_of(
        gw.client
            .post(format!("{}/streams/extra", gw.url))
            .send()
            .await
            .expect("again"),
    )
    .await;
    assert_eq!(
        (status, answer["__type"].as_str()),
        (400, Some("ResourceInUseException"))
    );
    let (status, _) = json_of(
        gw.client
            .delete(format!("{}/streams/extra", gw.url))
            .send()
            .await
            .expect("delete"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = json_of(
        gw.client
            .get(format!("{}/streams/extra", gw.url))
            .send()
            .await
            .expect("gone"),
    )
    .await;
    assert_eq!(
        (status, answer["__type"].as_str()),
        (400, Some("ResourceNotFoundException"))
    );
}

#[tokio::test]
async fn bad_stream_requests_are_refused_and_store_nothing() {
    let gw = Gateway::start().await;
    let cases: Vec<(String, String, u16, &str)> = vec![
        (format!("{STREAM}/record"), "{not json".into(), 400, "SerializationException"),
        (format!("{STREAM}/record"), json!({"Data": 1}).to_string(), 400, "ValidationException"),
        (format!("{STREAM}/record"), json!({"PartitionKey": "k"}).to_string(), 400, "ValidationException"),
        (format!("{STREAM}/record"), json!({"StreamName": "other", "Data": 1, "PartitionKey": "k"}).to_string(), 400, "ValidationException"),
        ("missing/record".into(), json!({"Data": 1, "PartitionKey": "k"}).to_string(), 400, "ResourceNotFoundException"),
        ("..%2Fx/record".into(), json!({"Data": 1, "PartitionKey": "k"}).to_string(), 400, "ValidationException"),
        (format!("{STREAM}/record"), json!({"Data": "z".repeat(1024 * 1024 + 1), "PartitionKey": "k"}).to_string(), 400, "ValidationException"),
        (format!("{STREAM}/records"), json!({"Records": []}).to_string(), 400, "ValidationException"),
        (
            format!("{STREAM}/record"),
            format!(r#"{{"Data":{}1{},"PartitionKey":"k"}}"#, "[".repeat(10_000), "]".repeat(10_000)),
            400,
            "SerializationException",
        ),
        (
            format!("{STREAM}/records"),
            json!({"Records": (0..501).map(|i| json!({"Data": i, "PartitionKey": "k"})).collect::<Vec<_>>()}).to_string(),
            400,
            "ValidationException",
        ),
        (
            format!("{STREAM}/records"),
            json!({"Records": (0..6).map(|_| json!({"Data": "q".repeat(1000 * 1000), "PartitionKey": "k"})).collect::<Vec<_>>()}).to_string(),
            400,
            "ValidationException",
        ),
    ];
    for (path, body, status, kind) in cases {
        let (got, answer) = put(&gw, &path, body).await;
        assert_eq!(
            (got, answer["__type"].as_str()),
            (status, Some(kind)),
            "{path}: {answer}"
        );
    }
    let described = gw.bus.describe_stream(STREAM).await.expect("describe");
    assert_eq!(described.shards[0].records, Some(0), "nothing was stored");
}
