//! The ingestion half as a user runs it: `source init`, `serve`, `emulate --count 1000`,
//! `sink --once`; the raw layout then holds exactly the acknowledged records. And `demo`, the
//! whole pipeline embedded.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::process::{Server, free_port, interrupt, pinpipe, run};

#[test]
fn emulated_posts_land_in_the_raw_layout_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    run(pinpipe(dir.path()).args(["source", "init", "--rows", "500"]));
    let server = Server::start(dir.path(), free_port());
    let summary = run(pinpipe(dir.path()).args([
        "emulate",
        "--gateway",
        &server.url,
        "--count",
        "1000",
        "--paths",
        "batch",
    ]));
    assert!(summary.contains("3000 acknowledged, 0 failed"), "{summary}");
    drop(server);
    let sink = run(pinpipe(dir.path()).args(["sink", "--once", "--flush-size", "400"]));
    assert!(sink.contains("wrote 3000 records"), "{sink}");

    for (topic, key) in [
        ("pinpipe.pin", "index"),
        ("pinpipe.geo", "ind"),
        ("pinpipe.user", "ind"),
    ] {
        let folder = dir
            .path()
            .join(format!("lake/raw/topics/{topic}/partition=0"));
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["0000000000", "0000000400", "0000000800"].map(|o| format!("{topic}+0+{o}.json")),
            "objects named by start offset"
        );
        let mut keys: BTreeMap<i64, usize> = BTreeMap::new();
        let mut records = 0;
        for name in &names {
            let text = std::fs::read_to_string(folder.join(name)).expect("object");
            for line in text.lines() {
                let value: Value =
                    serde_json::from_str(line).expect("each line is a bare JSON value");
                *keys.entry(value[key].as_i64().expect("key")).or_default() += 1;
                records += 1;
            }
        }
        assert_eq!(records, 1000, "{topic}: every acknowledged record, once");
        assert!(
            keys.keys().all(|k| (0..500).contains(k)),
            "{topic}: keys of the source"
        );
    }

    let batch = run(pinpipe(dir.path()).arg("batch"));
    assert!(
        batch.contains("1. Most popular category by country"),
        "{batch}"
    );
    let distinct = keys_seen(dir.path());
    let json = run(pinpipe(dir.path()).args([
        "query",
        "--format",
        "json",
        "SELECT count(*) AS n, count(DISTINCT ind) AS keys FROM pin",
    ]));
    let row: Value = serde_json::from_str(json.trim()).expect("one JSON line");
    assert_eq!(row["n"], row["keys"], "one row per key");
    assert_eq!(row["n"].as_u64(), Some(distinct), "{json}");
    let csv = run(pinpipe(dir.path()).args([
        "query",
        "--format",
        "csv",
        "SELECT category FROM pin GROUP BY category ORDER BY category LIMIT 2",
    ]));
    assert_eq!(csv.lines().next(), Some("category"), "{csv}");
}

/// Distinct pin keys in the raw layout.
fn keys_seen(data_dir: &std::path::Path) -> u64 {
    let folder = data_dir.join("lake/raw/topics/pinpipe.pin/partition=0");
    let mut keys = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(folder).expect("raw folder") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("object");
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).expect("json");
            keys.insert(value["index"].as_i64().expect("index"));
        }
    }
    keys.len() as u64
}

/// `emulate --stream-api kinesis` sends each row through Kinesis's own API (`POST /`,
/// `PutRecord`, base64 `Data`), as an AWS SDK would: the stream tables end exactly as they do
/// when the same posts go through the original's Kinesis proxy routes.
#[test]
fn the_kinesis_api_and_the_proxy_end_in_the_same_stream_tables() {
    let tables: Vec<String> = ["proxy", "kinesis"]
        .into_iter()
        .map(|api| {
            let dir = tempfile::tempdir().expect("temp dir");
            run(pinpipe(dir.path()).args(["source", "init", "--rows", "300"]));
            let server = Server::start(dir.path(), free_port());
            let summary = run(pinpipe(dir.path()).args([
                "emulate",
                "--gateway",
                &server.url,
                "--count",
                "200",
                "--paths",
                "stream",
                "--stream-api",
                api,
            ]));
            assert!(
                summary.contains("600 acknowledged, 0 failed"),
                "{api}: {summary}"
            );
            drop(server);
            run(pinpipe(dir.path()).args(["stream", "--once"]));
            ["pin", "geo", "user"]
                .into_iter()
                .map(|table| {
                    let sql = format!("SELECT * FROM stream_{table} ORDER BY ind");
                    run(pinpipe(dir.path()).args(["query", "--format", "csv", &sql]))
                })
                .collect()
        })
        .collect();
    assert!(
        tables[0].lines().count() > 150,
        "the stream tables are nearly empty:\n{}",
        tables[0]
    );
    assert_eq!(tables[0], tables[1], "proxy (left) and Kinesis API (right)");
}

/// Ctrl-C before the count is reached is not success: a script that runs `emulate` must be able
/// to tell a run cut short from a whole one.
#[test]
fn an_interrupted_emulate_says_so_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    run(pinpipe(dir.path()).args(["source", "init", "--rows", "100"]));
    let server = Server::start(dir.path(), free_port());
    let child = pinpipe(dir.path())
        .args([
            "emulate",
            "--gateway",
            &server.url,
            "--count",
            "100000",
            "--rate",
            "50",
            "--paths",
            "batch",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start emulate");
    // Once a record has arrived, emulate is in its send loop and hears Ctrl-C (before, a SIGINT
    // would end it as any process).
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let topic: Value = client
            .get(format!("{}/topics/pinpipe.pin", server.url))
            .send()
            .and_then(reqwest::blocking::Response::json)
            .expect("describe the topic");
        if topic["partitions"][0]["high_watermark"].as_i64() > Some(0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no record arrived");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    interrupt(&child);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted after") && stderr.contains("of 100000 posts"),
        "{stderr}"
    );
}

/// `query` only reads: a mistyped lake is named, and no directory is made for it.
#[test]
fn query_names_a_missing_lake_without_making_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no/such/lake");
    let out = pinpipe(dir.path())
        .arg("--lake")
        .arg(&missing)
        .args(["query", "SELECT count(*) FROM pin"])
        .output()
        .expect("run pinpipe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("there is no lake at"), "{stderr}");
    assert!(!missing.exists() && !dir.path().join("no").exists());
}

/// `pinpipe demo` runs every stage embedded under `<data-dir>/demo` and prints where the nine
/// results are; a lake given for the other commands is not used, and the demo says so.
#[test]
fn the_demo_runs_embedded_and_says_what_it_does_not_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let elsewhere = dir.path().join("my-lake");
    let out = pinpipe(dir.path())
        .arg("--lake")
        .arg(&elsewhere)
        .args(["demo", "--rows", "50", "--posts", "10"])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the lake configured here is for the other commands"),
        "{stderr}"
    );
    assert!(
        !elsewhere.exists(),
        "the demo wrote into the configured lake"
    );
    let results = dir.path().join("demo/lake/results");
    let csvs = std::fs::read_dir(&results)
        .expect("results")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "csv"))
        })
        .count();
    assert_eq!(csvs, 9, "the nine analyses in {}", results.display());
}

/// A mistyped source path is named, with what to run, and leaves no empty database (or folders)
/// behind for the next command to read as a source with no posts.
#[test]
fn emulate_from_a_source_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = dir.path().join("typo").join("source.db");
    let output = pinpipe(dir.path())
        .args(["--source", &format!("sqlite://{}", typo.display())])
        .args(["emulate", "--gateway", "http://127.0.0.1:9", "--count", "1"])
        .output()
        .expect("run emulate");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "there is no source database at {}",
            typo.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("create it with `pinpipe source init`"),
        "{stderr}"
    );
    assert!(!dir.path().join("typo").exists(), "a folder was created");
}
