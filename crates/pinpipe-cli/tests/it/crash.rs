//! Crash safety: SIGKILL the gateway while clients produce, and the sink while it writes; after a
//! restart every acknowledged record is in the log once, at its offset, and every logged record
//! is in the raw layout exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, Topics};
use serde_json::{Value, json};

use crate::process::{Server, free_port, pinpipe};

const TOPIC: &str = "pinpipe.pin";

/// Produces batches from `clients` threads until `stop`; returns every acknowledged
/// (offset, client, sequence). Clients are numbered from `first_client`, so every record of a
/// test is distinct.
fn produce_until_stopped(
    url: &str,
    first_client: u64,
    clients: u64,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<(i64, u64, u64)>>> {
    (first_client..first_client + clients)
        .map(|client| {
            let url = format!("{url}/topics/{TOPIC}");
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .expect("client");
                let mut acked = Vec::new();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let records: Vec<Value> = (seq..seq + 10)
                        .map(|s| json!({"value": {"client": client, "seq": s}}))
                        .collect();
                    let answer = http
                        .post(&url)
                        .header("content-type", "application/vnd.kafka.json.v2+json")
                        .body(json!({ "records": records }).to_string())
                        .send()
                        .ok()
                        .filter(|r| r.status().is_success())
                        .and_then(|r| r.json::<Value>().ok());
                    if let Some(answer) = answer {
                        for (i, offset) in answer["offsets"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .enumerate()
                        {
                            acked.push((
                                offset["offset"].as_i64().expect("offset"),
                                client,
                                seq + i as u64,
                            ));
                        }
                    }
                    seq += 10;
                }
                acked
            })
        })
        .collect()
}

/// The sinks' `[bus] session_timeout`: how long each waits for its killed predecessor's group.
const SINK_SESSION_TIMEOUT: &str = "2s";

async fn open_bus(data_dir: &Path) -> EmbeddedBus {
    EmbeddedBus::open(data_dir.join("bus.db"), EmbeddedOptions::default()).expect("bus")
}

#[test]
fn acknowledged_records_survive_sigkill_of_the_gateway() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut acked = Vec::new();
    for round in 0..3 {
        let mut server = Server::start(dir.path(), port);
        let stop = Arc::new(AtomicBool::new(false));
        let producers = produce_until_stopped(&server.url, round * 4, 4, &stop);
        std::thread::sleep(Duration::from_millis(700));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for producer in producers {
            acked.extend(producer.join().expect("producer"));
        }
    }
    assert!(
        acked.len() > 100,
        "the producers got acknowledgements ({})",
        acked.len()
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bus = runtime.block_on(open_bus(dir.path()));
    let log = runtime
        .block_on(bus.read(TOPIC, 0, 0, 10_000_000))
        .expect("read");
    let by_offset: BTreeMap<i64, Value> = log
        .iter()
        .map(|r| (r.offset, serde_json::from_slice(&r.value).expect("json")))
        .collect();
    for (offset, client, seq) in &acked {
        let stored = by_offset
            .get(offset)
            .unwrap_or_else(|| panic!("acknowledged offset {offset} lost"));
        assert_eq!(
            stored,
            &json!({"client": client, "seq": seq}),
            "offset {offset}"
        );
    }
    let mut seen = std::collections::HashSet::new();
    for value in by_offset.values() {
        assert!(
            seen.insert(value.to_string()),
            "record stored twice: {value}"
        );
    }
    let offsets: Vec<i64> = by_offset.keys().copied().collect();
    assert_eq!(
        offsets,
        (0..offsets.len() as i64).collect::<Vec<_>>(),
        "offsets have no gaps"
    );
}

/// Every raw object of `topic`: (start offset, values), in offset order.
fn raw_objects(lake: &Path, topic: &str) -> Vec<(i64, Vec<String>)> {
    let dir = lake.join(format!("raw/topics/{topic}/partition=0"));
    let mut objects: Vec<(i64, Vec<String>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let start: i64 = name
                        .trim_end_matches(".json")
                        .rsplit('+')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .expect("start offset in the name");
                    let text = std::fs::read_to_string(e.path()).expect("object");
                    (start, text.lines().map(str::to_owned).collect())
                })
                .collect()
        })
        .unwrap_or_default();
    objects.sort();
    objects
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_writes_every_record_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let bus = open_bus(dir.path()).await;
    for topic in ["pinpipe.pin", "pinpipe.geo", "pinpipe.user"] {
        bus.create_topic(topic, 1).await.expect("create");
    }
    let mut next = 0u64;
    let mut produce = |count: u64| {
        let records: Vec<ProduceRecord> = (next..next + count)
            .map(|i| ProduceRecord {
                value: json!({"index": i, "title": format!("pin {i}")})
                    .to_string()
                    .into_bytes(),
                ..ProduceRecord::default()
            })
            .collect();
        next += count;
        records
    };
    bus.produce(TOPIC, produce(3000)).await.expect("produce");

    for round in 0..3u64 {
        let mut sink = pinpipe(dir.path())
            // The next round's sink takes over the killed one's group after this.
            .env("PINPIPE_BUS__SESSION_TIMEOUT", SINK_SESSION_TIMEOUT)
            .args(["--lake"])
            .arg(&lake)
            .args(["sink", "--flush-size", "37", "--rotate-interval", "50ms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sink");
        let deadline = Instant::now() + Duration::from_secs(30);
        let goal = (round + 1) * 10;
        while raw_objects(&lake, TOPIC).len() < goal as usize && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sink.kill().expect("SIGKILL");
        sink.wait().expect("reaped");
        bus.produce(TOPIC, produce(500))
            .await
            .expect("produce more");
    }
    let status = pinpipe(dir.path())
        .env("PINPIPE_BUS__SESSION_TIMEOUT", SINK_SESSION_TIMEOUT)
        .args(["--lake"])
        .arg(&lake)
        .args(["sink", "--once", "--flush-size", "37"])
        .stdout(Stdio::null())
        .status()
        .expect("sink --once");
    assert!(status.success());

    let objects = raw_objects(&lake, TOPIC);
    let mut expected_start = 0;
    let mut values = Vec::new();
    for (start, lines) in &objects {
        assert_eq!(
            *start, expected_start,
            "objects follow each other with no gap or overlap"
        );
        expected_start += lines.len() as i64;
        values.extend(lines.iter().cloned());
    }
    let log: Vec<String> = bus
        .read(TOPIC, 0, 0, 1_000_000)
        .await
        .expect("read")
        .into_iter()
        .map(|r| String::from_utf8(r.value).expect("utf-8"))
        .collect();
    assert_eq!(values.len(), log.len(), "every record once");
    assert_eq!(values, log, "in log order");
}
