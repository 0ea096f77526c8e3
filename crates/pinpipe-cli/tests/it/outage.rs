//! A Kafka outage under a running gateway: while the broker is down (SIGKILL) a produce request
//! answers 503 with REST Proxy error code 50302 within seconds and the gateway keeps serving; once
//! the broker is back the gateway writes again without a restart, and the sink writes every
//! acknowledged record to the raw layout exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pinpipe_testkit::{PrivateKafka, unique_name};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::process::{Server, configured, free_port, run};

/// The gateway's producer gives up on a record after 3 s, so that a request fails within seconds.
const GATEWAY_KAFKA_SETTINGS: &str = r#""message.timeout.ms" = "3000""#;

/// The sink keeps the default `message.timeout.ms` (30 s): it also bounds a consumer's wait to
/// join its group, about 3 s on tansu.
const SINK_KAFKA_SETTINGS: &str = "";

/// Records in one produce request.
const BATCH: i64 = 5;

/// Longest a produce request may take to fail while the broker is down.
const FAILURE_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest the gateway may take to write again once the broker is back.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Produce requests to one topic of the gateway, of records `{"index": n}` numbered in the order
/// they are sent.
struct Producer {
    client: Client,
    url: String,
    next: i64,
}

impl Producer {
    fn new(gateway: &Server, topic: &str) -> Producer {
        Producer {
            client: Client::new(),
            url: format!("{}/topics/{topic}", gateway.url),
            next: 0,
        }
    }

    /// Sends `BATCH` new records; their indices, and the gateway's status and body.
    fn post(&mut self) -> (Vec<i64>, StatusCode, Value) {
        let indices: Vec<i64> = (self.next..self.next + BATCH).collect();
        self.next += BATCH;
        let records: Vec<Value> = indices
            .iter()
            .map(|index| json!({ "value": { "index": index } }))
            .collect();
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/vnd.kafka.json.v2+json")
            .body(json!({ "records": records }).to_string())
            .send()
            .expect("the gateway answers");
        let status = response.status();
        let body = response.json().expect("a JSON body");
        (indices, status, body)
    }

    /// Sends `BATCH` new records that must all be acknowledged; their indices.
    fn post_acknowledged(&mut self) -> Vec<i64> {
        let (indices, status, body) = self.post();
        assert_acknowledged(status, &body);
        indices
    }
}

/// A 200 with an offset for every record.
fn assert_acknowledged(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::OK, "{body}");
    let offsets = body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), BATCH as usize, "{body}");
    assert!(
        offsets
            .iter()
            .all(|o| o["offset"].is_i64() && o["error_code"].is_null()),
        "every record has an offset: {body}"
    );
}

/// A 503 with REST Proxy's 50302 that says the backend is unavailable.
fn assert_unavailable(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error_code"], 50302, "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("backend unavailable"), "{message}");
}

/// Writes the configuration `dir/<name>.toml`: topics on `kafka` with the librdkafka settings
/// `kafka_settings` (TOML lines), everything else embedded in `dir`.
fn write_config(
    dir: &Path,
    name: &str,
    kafka: &str,
    prefix: &str,
    kafka_settings: &str,
) -> PathBuf {
    let config = format!(
        r#"
topic_prefix = "{prefix}"

[bus]
url = "kafka://{kafka}"

[bus.kafka]
{kafka_settings}

[sink]
group = "{prefix}-sink"
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).expect("write the configuration");
    path
}

/// How many times each index is in the raw objects of partition 0 of `topic`.
fn written(data_dir: &Path, topic: &str) -> BTreeMap<i64, usize> {
    let folder = data_dir.join(format!("lake/raw/topics/{topic}/partition=0"));
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
    {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("object");
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).expect("each line is a JSON value");
            *counts
                .entry(value["index"].as_i64().expect("index"))
                .or_default() += 1;
        }
    }
    counts
}

#[test]
fn a_kafka_outage_answers_50302_and_loses_no_acknowledged_record() {
    let test = Instant::now();
    let Some(mut kafka) = PrivateKafka::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = unique_name("outage");
    let gateway_config = write_config(
        dir.path(),
        "gateway",
        &kafka.address(),
        &prefix,
        GATEWAY_KAFKA_SETTINGS,
    );
    let port = free_port();
    let gateway = Server::spawn(
        configured(dir.path(), &gateway_config).args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]),
        port,
    );
    let topic = format!("{prefix}.pin");
    let mut producer = Producer::new(&gateway, &topic);
    let mut acknowledged: Vec<i64> = (0..3).flat_map(|_| producer.post_acknowledged()).collect();
    let mut refused = Vec::new();

    kafka.stop();
    let outage = Instant::now();
    let (indices, status, body) = producer.post();
    let to_50302 = outage.elapsed();
    assert_unavailable(status, &body);
    let outage_message = body["message"].clone();
    assert!(
        to_50302 < FAILURE_TIMEOUT,
        "a request fails within {FAILURE_TIMEOUT:?}, not {to_50302:?}"
    );
    refused.extend(indices);
    let health = reqwest::blocking::get(format!("{}/health", gateway.url)).expect("health");
    assert_eq!(health.status(), StatusCode::OK, "the gateway keeps serving");

    kafka.start_again();
    let restart = Instant::now();
    loop {
        let (indices, status, body) = producer.post();
        if status == StatusCode::OK {
            assert_acknowledged(status, &body);
            acknowledged.extend(indices);
            break;
        }
        assert_unavailable(status, &body);
        refused.extend(indices);
        assert!(
            restart.elapsed() < RECOVERY_TIMEOUT,
            "the gateway writes again within {RECOVERY_TIMEOUT:?} of the broker's return"
        );
    }
    let to_recover = restart.elapsed();
    acknowledged.extend((0..2).flat_map(|_| producer.post_acknowledged()));
    drop(gateway);

    let sink_config = write_config(
        dir.path(),
        "sink",
        &kafka.address(),
        &prefix,
        SINK_KAFKA_SETTINGS,
    );
    let sink = run(configured(dir.path(), &sink_config).args(["sink", "--once"]));
    let written = written(dir.path(), &topic);
    let once: BTreeMap<i64, usize> = acknowledged.iter().map(|&index| (index, 1)).collect();
    let written_acknowledged: BTreeMap<i64, usize> = written
        .iter()
        .filter(|(index, _)| once.contains_key(index))
        .map(|(&index, &count)| (index, count))
        .collect();
    assert_eq!(
        written_acknowledged, once,
        "every acknowledged record, exactly once: {sink}"
    );
    let refused: BTreeSet<i64> = refused.into_iter().collect();
    let written_refused: Vec<i64> = written
        .keys()
        .filter(|index| !once.contains_key(index))
        .copied()
        .collect();
    assert!(
        written_refused
            .iter()
            .all(|index| refused.contains(index) && written[index] == 1),
        "besides the acknowledged records, only refused ones, once each: {written_refused:?}"
    );
    eprintln!(
        "50302 after {to_50302:?} ({}); writing again {to_recover:?} after the broker's \
         return; {} records acknowledged, {} refused, of which {} written anyway {:?}; \
         the test took {:?}",
        outage_message,
        acknowledged.len(),
        refused.len(),
        written_refused.len(),
        written_refused,
        test.elapsed()
    );
}
