//! The stream job as a user runs it: records through the gateway's stream routes, `pinpipe stream`
//! following them and SIGKILLed at random points while more arrive, restarted each time; after a
//! last `pinpipe stream --once` the stream tables hold each key once, its last copy, and the
//! quarantine each bad record once.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::process::{Server, free_port, pinpipe};

const TABLES: [&str; 3] = ["pin", "geo", "user"];
/// Keys the producer cycles through, so keys arrive many times.
const KEYS: u64 = 37;

/// What the producer got acknowledged: the last value per (table, key) and the bad records.
#[derive(Default)]
struct Acked {
    last: BTreeMap<(usize, u64), String>,
    bad: u64,
    records: u64,
}

/// The record `seq` of `table` for `key`, and the value the stream table should show for it.
fn record(table: usize, key: u64, seq: u64) -> (Value, String) {
    match table {
        0 => (
            json!({"index": key, "title": format!("t{seq}"), "follower_count": "2k"}),
            format!("t{seq}"),
        ),
        1 => (
            json!({"ind": key, "country": format!("c{seq}"), "latitude": 1.0, "longitude": 2.0,
                   "timestamp": "2021-03-04 05:06:07"}),
            format!("c{seq}"),
        ),
        _ => (
            json!({"ind": key, "first_name": format!("f{seq}"), "last_name": "L", "age": 30,
                   "date_joined": "2016-01-01 00:00:00"}),
            format!("f{seq} L"),
        ),
    }
}

/// PUTs records until `stop`, alternating `record` and `records` calls, one record in 25 not
/// JSON. Single-threaded, and each key's partition key is the key: a key's copies are
/// acknowledged in the order its shard holds them.
fn produce(url: String, stop: Arc<AtomicBool>) -> JoinHandle<Acked> {
    std::thread::spawn(move || {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let mut acked = Acked::default();
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let table = (seq % 3) as usize;
            let stream = format!("streaming-pinpipe-{}", TABLES[table]);
            let batch: Vec<(u64, Value, Option<String>)> = (0..1 + seq % 4)
                .map(|i| {
                    let s = seq + i;
                    let key = (s * 7) % KEYS;
                    if s.is_multiple_of(25) && table == 0 {
                        (key, json!("not json {"), None)
                    } else {
                        let (data, shown) = record(table, key, s);
                        (key, data, Some(shown))
                    }
                })
                .collect();
            let request = if batch.len() == 1 {
                let (key, data, _) = &batch[0];
                let body =
                    json!({"StreamName": stream, "Data": data, "PartitionKey": key.to_string()});
                http.put(format!("{url}/streams/{stream}/record"))
                    .body(body.to_string())
            } else {
                let records: Vec<Value> = batch
                    .iter()
                    .map(|(key, data, _)| json!({"Data": data, "PartitionKey": key.to_string()}))
                    .collect();
                let body = json!({"StreamName": stream, "Records": records});
                http.put(format!("{url}/streams/{stream}/records"))
                    .body(body.to_string())
            };
            let answer = request
                .header("content-type", "application/json")
                .send()
                .and_then(|r| r.json::<Value>());
            match answer {
                Ok(answer)
                    if answer["SequenceNumber"].is_string() || answer["FailedRecordCount"] == 0 => {
                }
                other => panic!("the gateway did not acknowledge put {seq}: {other:?}"),
            }
            for (key, _, shown) in batch {
                acked.records += 1;
                match shown {
                    Some(shown) => {
                        acked.last.insert((table, key), shown);
                    }
                    None => acked.bad += 1,
                }
            }
            seq += 4;
        }
        acked
    })
}

fn run(args: &[&str], dir: &std::path::Path) -> String {
    let output = pinpipe(dir)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run pinpipe");
    assert!(output.status.success(), "pinpipe {args:?} failed");
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and printed, so that a
/// failing run can be told apart.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[test]
fn the_stream_tables_are_exact_after_sigkills() {
    let dir = tempfile::tempdir().expect("temp dir");
    for table in TABLES {
        let stream = format!("streaming-pinpipe-{table}");
        run(&["streams", "create", &stream, "--shards", "2"], dir.path());
    }
    let server = Server::start(dir.path(), free_port());
    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce(server.url.clone(), Arc::clone(&stop));

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("kill times seeded with {seed}");
    let mut random = Random(seed);
    for _ in 0..5 {
        let mut job = pinpipe(dir.path())
            .args(["stream", "--trigger", "50ms", "--max-records", "40"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pinpipe stream");
        std::thread::sleep(Duration::from_millis(300 + random.next(1500)));
        job.kill().expect("SIGKILL");
        job.wait().expect("reaped");
    }
    stop.store(true, Ordering::Relaxed);
    let acked = producer.join().expect("producer");
    drop(server);
    assert!(
        acked.records > 200,
        "{} records acknowledged",
        acked.records
    );
    run(&["stream", "--once"], dir.path());

    let columns = [
        "title FROM stream_pin",
        "country FROM stream_geo",
        "user_name FROM stream_user",
    ];
    for (table, from) in columns.iter().enumerate() {
        let csv = run(
            &[
                "query",
                "--format",
                "csv",
                &format!("SELECT ind, {from} ORDER BY ind"),
            ],
            dir.path(),
        );
        let mut expected = csv.lines().next().unwrap_or_default().to_owned() + "\n";
        for ((t, key), shown) in &acked.last {
            if *t == table {
                expected.push_str(&format!("{key},{shown}\n"));
            }
        }
        assert_eq!(csv, expected, "{} (seed {seed})", TABLES[table]);
    }
    let quarantined = run(
        &[
            "query",
            "--format",
            "csv",
            "SELECT COUNT(*) AS n, COUNT(DISTINCT source || ':' || CAST(position AS VARCHAR)) AS distinct_n FROM quarantine",
        ],
        dir.path(),
    );
    assert_eq!(
        quarantined,
        format!("n,distinct_n\n{0},{0}\n", acked.bad),
        "each bad record quarantined once (seed {seed})"
    );
    let lag = run(&["streams", "lag"], dir.path());
    assert!(
        lag.lines()
            .filter(|l| l.contains("shardId-"))
            .all(|l| l.trim_end_matches(['│', ' ']).ends_with(" 0")),
        "{lag}"
    );
}
