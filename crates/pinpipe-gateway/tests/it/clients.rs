//! Real clients, unchanged, against a gateway on the embedded bus: boto3, the AWS CLI and
//! `requests` (scripts/clients_check.py, run with `$PINPIPE_PYTHON`, the test environment that
//! scripts/test sets up), each check asserting what the real service would answer.

use std::path::PathBuf;

use pinpipe_bus::{ReadFrom, ReadLimit, Streams, Topics};
use pinpipe_gateway::GatewayConfig;

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
