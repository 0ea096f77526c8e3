//! Real clients, unchanged, against a gateway on the embedded bus: boto3, the AWS CLI and
//! `requests` (scripts/clients_check.py, run with `$PINPIPE_PYTHON`, the test environment that
//! scripts/test sets up), each check asserting what the real service would answer.

use std::path::PathBuf;

use pinpipe_bus::{ProduceRecord, ReadFrom, ReadLimit, Streams, Topics};
use pinpipe_gateway::GatewayConfig;
use serde_json::json;

use crate::harness::{Gateway, json_of};

/// Runs `scripts/clients_check.py <check> <gateway url>` and fails with its output if it fails.
async fn run_check(check: &str, gateway: &Gateway) {
    let python = std::env::var_os("PINPIPE_PYTHON").unwrap_or_else(|| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/clients_check.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(check)
        .arg(&gateway.url)
        .output()
        .await
        .expect("run python (set PINPIPE_PYTHON to the venv scripts/test makes)");
    assert!(
        output.status.success(),
        "clients_check.py {check} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_the_native_kinesis_api() {
    let gw = Gateway::start().await;
    run_check("boto3", &gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_authenticates_with_its_access_key_id() {
    let config = GatewayConfig {
        api_keys: vec!["producer-key".into()],
        admin_api_keys: vec!["admin-key".into()],
        ..GatewayConfig::default()
    };
    let gw = Gateway::with(config).await;
    run_check("boto3-keys", &gw).await;
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
    assert_eq!(stored.len(), 1, "only the keyed put is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_puts_lists_and_gets_records() {
    let gw = Gateway::start().await;
    run_check("awscli", &gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_proxy_v2_consumers_follow_confluents_examples() {
    let gw = Gateway::start().await;
    // What a running sink does: hold its group.
    let held = gw
        .bus
        .consumer("held-by-sink", &["pinpipe.pin".to_owned()])
        .await
        .expect("hold a group");
    run_check("consumers", &gw).await;
    drop(held);
    let committed = gw
        .bus
        .committed_offsets("clients-check", "pinpipe.pin")
        .await
        .expect("offsets");
    assert_eq!(
        committed,
        vec![5],
        "the v2 commit lands in the bus's consumer group"
    );
    assert_eq!(
        gw.bus
            .committed_offsets("held-by-sink", "pinpipe.pin")
            .await
            .expect("offsets"),
        vec![0],
        "the held group is untouched"
    );
}

const V2: &str = "application/vnd.kafka.v2+json";

/// A REST Proxy v2 consumer instance of the json format, reading from the earliest offset, with
/// auto-commit.
struct JsonConsumer {
    client: reqwest::Client,
    uri: String,
}

impl JsonConsumer {
    /// Creates instance `r` in `group` and subscribes it to `topic`.
    async fn subscribed(gw: &Gateway, group: &str, topic: &str) -> Self {
        let client = reqwest::Client::new();
        let created = client
            .post(format!("{}/consumers/{group}", gw.url))
            .header("content-type", V2)
            .body(r#"{"name": "r", "format": "json", "auto.offset.reset": "earliest"}"#)
            .send()
            .await
            .expect("create");
        let (status, instance) = json_of(created).await;
        assert_eq!(status, 200, "{instance}");
        let uri = instance["base_uri"].as_str().expect("base_uri").to_owned();
        let subscribed = client
            .post(format!("{uri}/subscription"))
            .header("content-type", V2)
            .body(json!({ "topics": [topic] }).to_string())
            .send()
            .await
            .expect("subscribe");
        assert_eq!(subscribed.status(), 204);
        Self { client, uri }
    }

    /// One poll of its records, waiting up to `timeout_ms`: the status and the JSON answer.
    async fn poll(&self, timeout_ms: u64) -> (u16, serde_json::Value) {
        let answer = self
            .client
            .get(format!("{}/records?timeout={timeout_ms}", self.uri))
            .header("accept", "application/vnd.kafka.json.v2+json")
            .send()
            .await
            .expect("poll");
        json_of(answer).await
    }
}

/// A record that is not JSON (produced in another format) stops a json consumer there, as it
/// stops Kafka's: the records before it are handed out, every later poll answers 40801 until
/// the client seeks past it, and nothing after it is skipped or committed unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_consumer_stops_at_a_record_that_is_not_json_until_it_seeks_past() {
    let gw = Gateway::start().await;
    let topic = "pinpipe.user";
    let produce_json = |from: i64| {
        let records: Vec<_> = (from..from + 3)
            .map(|n| json!({"value": {"n": n}}))
            .collect();
        gw.produce(topic, json!({ "records": records }).to_string())
    };
    assert_eq!(produce_json(0).await.0, 200);
    gw.bus
        .produce(
            topic,
            vec![ProduceRecord {
                key: None,
                value: b"not json".to_vec(),
                partition: None,
            }],
        )
        .await
        .expect("produce the record that is not JSON");
    assert_eq!(produce_json(4).await.0, 200);

    let consumer = JsonConsumer::subscribed(&gw, "readers", topic).await;
    let poll = || consumer.poll(1000);
    let offsets = |records: &serde_json::Value| -> Vec<i64> {
        let records = records.as_array().expect("records");
        records
            .iter()
            .filter_map(|r| r["offset"].as_i64())
            .collect()
    };

    let (status, first) = poll().await;
    assert_eq!((status, offsets(&first)), (200, vec![0, 1, 2]), "{first}");
    for _ in 0..2 {
        let (status, error) = poll().await;
        assert_eq!(
            (status, error["error_code"].as_u64()),
            (408, Some(40801)),
            "{error}"
        );
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("offset 3")),
            "{error}"
        );
    }
    assert_eq!(
        gw.bus
            .committed_offsets("readers", topic)
            .await
            .expect("offsets"),
        vec![3],
        "auto-commit stops before the record not handed out"
    );

    let seek = consumer
        .client
        .post(format!("{}/positions", consumer.uri))
        .header("content-type", V2)
        .body(json!({"offsets": [{"topic": topic, "partition": 0, "offset": 4}]}).to_string())
        .send()
        .await
        .expect("seek");
    assert_eq!(seek.status(), 204);
    let (status, rest) = poll().await;
    assert_eq!((status, offsets(&rest)), (200, vec![4, 5, 6]), "{rest}");
}

/// With two partitions, the record that is not JSON holds back only its own partition: the
/// other's records are all handed out, and nothing after it in its partition is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_json_holds_back_only_its_partition() {
    let gw = Gateway::start().await;
    gw.bus.create_topic("two", 2).await.expect("create");
    let record = |partition: i32, value: &[u8]| ProduceRecord {
        key: None,
        value: value.to_vec(),
        partition: Some(partition),
    };
    gw.bus
        .produce(
            "two",
            vec![
                record(0, b"0"),
                record(0, b"1"),
                record(0, b"not json"),
                record(0, b"3"),
                record(1, b"10"),
                record(1, b"11"),
                record(1, b"12"),
            ],
        )
        .await
        .expect("produce");
    let consumer = JsonConsumer::subscribed(&gw, "readers", "two").await;
    let mut handed_out = Vec::new();
    let mut refusals = 0;
    for _ in 0..8 {
        let (status, body) = consumer.poll(200).await;
        match status {
            200 => handed_out.extend(body.as_array().expect("records").iter().map(|r| {
                (
                    r["partition"].as_i64().expect("partition"),
                    r["offset"].as_i64().expect("offset"),
                )
            })),
            408 => refusals += 1,
            other => panic!("{other}: {body}"),
        }
    }
    handed_out.sort_unstable();
    assert_eq!(
        handed_out,
        vec![(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)],
        "each record before the bad one once, the other partition whole"
    );
    assert!(
        refusals > 0,
        "the record that is not JSON is answered 40801"
    );
    assert_eq!(
        gw.bus
            .committed_offsets("readers", "two")
            .await
            .expect("offsets"),
        vec![2, 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sinks_group_is_refused_to_rest_proxy_consumers() {
    let gw = Gateway::with(GatewayConfig {
        reserved_groups: vec!["pinpipe-sink".into()],
        ..GatewayConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let create = |group: &str| {
        client
            .post(format!("{}/consumers/{group}", gw.url))
            .header("content-type", "application/vnd.kafka.v2+json")
            .body(r#"{"name": "reader", "format": "json"}"#)
            .send()
    };
    let (status, body) = json_of(create("pinpipe-sink").await.expect("send")).await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (409, Some(40903)),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("sink")),
        "{body}"
    );
    let (status, body) = json_of(create("analysts").await.expect("send")).await;
    assert_eq!(status, 200, "another group is fine: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_proxy_v3_produces_one_record_and_a_stream() {
    let gw = Gateway::start().await;
    run_check("produce-v3", &gw).await;
    // One JSON, one STRING and the 50 streamed records, with the broken stream's first one.
    assert_eq!(gw.stored("pinpipe.geo").await, 53);
    let stored = gw.bus.read("pinpipe.geo", 0, 0, 2).await.expect("read");
    let first: serde_json::Value = serde_json::from_slice(&stored[0].value).expect("JSON");
    assert_eq!(first, serde_json::json!({"ind": 1, "country": "Albania"}));
    assert_eq!(stored[1].value, b"plain text".to_vec());
    assert_eq!(stored[1].key.as_deref(), Some(&b"foobar"[..]));
}

/// Consumer polls have a memory budget (as large as the request bodies', apart): a poll takes at
/// most a quarter of what is free (here 4 MiB in all, so about 1 MiB), not its whole `max_bytes`,
/// and the consumer gets the rest on its next polls. Polls of 64 MiB each used to hold about
/// 150 MB apiece, however many ran at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_polls_are_bounded_by_the_gateway_s_memory() {
    let gw = Gateway::with(GatewayConfig {
        max_body_bytes: 1024 * 1024,
        max_in_flight_body_bytes: 4 * 1024 * 1024,
        ..GatewayConfig::default()
    })
    .await;
    let topic = "pinpipe.geo";
    let pad = "x".repeat(400 * 1024);
    let records = (0..8)
        .map(|n| ProduceRecord {
            key: None,
            value: json!({ "n": n, "pad": pad }).to_string().into_bytes(),
            partition: None,
        })
        .collect();
    for outcome in gw.bus.produce(topic, records).await.expect("produce") {
        outcome.expect("stored");
    }
    let consumer = JsonConsumer::subscribed(&gw, "bounded", topic).await;
    let mut seen = Vec::new();
    let mut polls = Vec::new();
    while seen.len() < 8 && polls.len() < 20 {
        let (status, records) = consumer.poll(1000).await;
        assert_eq!(status, 200, "{records}");
        let records = records.as_array().cloned().unwrap_or_default();
        polls.push(records.len());
        seen.extend(records.iter().filter_map(|r| r["value"]["n"].as_i64()));
    }
    assert_eq!(seen, (0..8).collect::<Vec<i64>>(), "every record, in order");
    assert!(
        polls[0] >= 1 && polls[0] <= 3,
        "the first poll holds about 1 MiB of records: {polls:?}"
    );
}
