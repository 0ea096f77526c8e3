//! Seeing the pipeline as a user does: `serve`, `sink --metrics-listen` and `stream
//! --metrics-listen` as separate processes, each `/metrics` counting what that process handled
//! and its lag falling to zero; then the web UI in headless Chromium, showing the topics, the
//! streams, a batch run, the quarantine and the nine charts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::{Server, free_port, pinpipe, run};

const POSTS: u64 = 120;

/// A child process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(command: &mut Command) -> Running {
    Running(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pinpipe"),
    )
}

/// The sum of the samples of metric `name` (any labels) in `/metrics` at `url`.
fn metric(client: &reqwest::blocking::Client, url: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ')?;
        let metric_name = series.split('{').next().unwrap_or(series);
        if metric_name == name {
            *found.get_or_insert(0.0) += value.parse::<f64>().ok()?;
        }
    }
    found
}

/// Waits (60 s at most) until `condition` holds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn separate_processes_show_their_work_on_metrics_and_in_the_web_ui() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    run(pinpipe(data).args(["source", "init", "--rows", "100"]));
    let server = Server::start(data, free_port());
    let sink_metrics = format!("http://127.0.0.1:{}", free_port());
    let stream_metrics = format!("http://127.0.0.1:{}", free_port());
    let _sink = start(pinpipe(data).args([
        "sink",
        "--rotate-interval",
        "1s",
        "--metrics-listen",
        sink_metrics.trim_start_matches("http://"),
    ]));
    let _stream = start(pinpipe(data).args([
        "stream",
        "--trigger",
        "200ms",
        "--metrics-listen",
        stream_metrics.trim_start_matches("http://"),
    ]));
    let summary = run(pinpipe(data).args([
        "emulate",
        "--gateway",
        &server.url,
        "--count",
        &POSTS.to_string(),
    ]));
    assert!(summary.contains("0 failed"), "{summary}");
    let client = reqwest::blocking::Client::new();
    // Two records the cleaning refuses, for the quarantine.
    let produced = client
        .post(format!("{}/topics/pinpipe.geo", server.url))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .json(&json!({"records": [
            {"value": {"ind": 1, "timestamp": "not a time"}},
            {"value": {"ind": 2, "first_name": "in the wrong topic", "age": 30}}
        ]}))
        .send()
        .expect("produce");
    assert_eq!(produced.status(), 200);

    let records = 3 * POSTS;
    let topic_records = f64::from(u32::try_from(records + 2).expect("small"));
    wait_until("the sink's records on its /metrics", || {
        metric(&client, &sink_metrics, "pinpipe_sink_records_total") == Some(topic_records)
    });
    wait_until("the sink's lag falling to zero", || {
        metric(&client, &sink_metrics, "pinpipe_sink_lag_records") == Some(0.0)
    });
    let stream_records = f64::from(u32::try_from(records).expect("small"));
    wait_until("the stream job's records on its /metrics", || {
        metric(&client, &stream_metrics, "pinpipe_stream_records_total") == Some(stream_records)
    });
    wait_until("the stream job's lag falling to zero", || {
        metric(&client, &stream_metrics, "pinpipe_stream_lag_records") == Some(0.0)
    });
    let acknowledged = metric(&client, &server.url, "pinpipe_gateway_records_total");
    assert_eq!(acknowledged, Some(2.0 * stream_records + 2.0));
    // The gateway's trouble codes are on its /metrics from the start, at zero: an alert on their
    // increase fires on the first.
    let text = client
        .get(format!("{}/metrics", server.url))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    assert!(
        text.contains("pinpipe_gateway_errors_total{code=\"50302\"} 0"),
        "{text}"
    );
    // Each process lists its own families, not the others' at zero.
    for (url, own, others) in [
        (
            &server.url,
            "pinpipe_gateway_connections",
            [
                "pinpipe_sink_write_duration_seconds_count",
                "pinpipe_stream_commit_duration_seconds_count",
            ],
        ),
        (
            &sink_metrics,
            "pinpipe_sink_write_duration_seconds_count",
            [
                "pinpipe_gateway_connections",
                "pinpipe_stream_commit_duration_seconds_count",
            ],
        ),
        (
            &stream_metrics,
            "pinpipe_stream_commit_duration_seconds_count",
            [
                "pinpipe_gateway_connections",
                "pinpipe_sink_write_duration_seconds_count",
            ],
        ),
    ] {
        assert!(metric(&client, url, own).is_some(), "{own} on {url}");
        for other in others {
            assert_eq!(metric(&client, url, other), None, "{other} on {url}");
        }
    }

    let trigger = run(pinpipe(data).args(["runs", "trigger"]));
    assert!(trigger.contains("success"), "{trigger}");

    let overview: Value = client
        .get(format!("{}/api/overview", server.url))
        .send()
        .and_then(|r| r.json())
        .expect("overview");
    assert_eq!(overview["gateway"]["records_total"], json!(records * 2 + 2));
    // A wrong method is answered in the API's envelope, as its other errors are.
    let refused = client
        .post(format!("{}/api/overview", server.url))
        .send()
        .expect("post");
    assert_eq!(refused.status(), 405);
    let error: Value = refused.json().expect("a JSON error");
    assert_eq!(error["error_code"], json!(405), "{error}");
    // The stream job committed and keeps up.
    assert_eq!(
        overview["stream_job"]["stalled"],
        json!(false),
        "{overview}"
    );
    assert!(
        overview["stream_job"]["last_commit"].is_string(),
        "{overview}"
    );
    let stream_tables: Vec<&Value> = overview["streams"]
        .as_array()
        .map(|s| s.iter().map(|s| &s["table"]).collect())
        .unwrap_or_default();
    assert!(stream_tables.contains(&&json!("stream/pin")), "{overview}");
    // The sink runs as a process of its own: the overview names the member holding its group.
    assert!(
        overview["sink_member"]
            .as_str()
            .is_some_and(|member| !member.is_empty()),
        "{}",
        overview["sink_member"]
    );
    let page = rendered(&server.url, &dir.path().join("chromium"), 1280);
    check_page(&page, POSTS);
    // On a phone-sized screen the charts are drawn for it: labels above the bars, legible.
    let narrow = rendered(&server.url, &dir.path().join("chromium-narrow"), 500);
    assert_eq!(narrow.matches("<svg class=\"chart narrow\"").count(), 9);
}

/// The page at `url` after its script ran, as headless Chromium renders it in a window `width`
/// pixels wide.
fn rendered(url: &str, profile: &Path, width: u32) -> String {
    let output = Command::new(std::env::var("PINPIPE_CHROMIUM").unwrap_or("chromium".into()))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--window-size={width},900"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("{url}/"))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run chromium (Debian's `chromium`; .ci/run installs it)");
    assert!(output.status.success(), "chromium failed");
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The opening tags of `page` that carry attribute `attribute`, as (name, value) pairs.
fn tags_with(page: &str, attribute: &str) -> Vec<Vec<(String, String)>> {
    let needle = format!(" {attribute}=\"");
    page.match_indices(&needle)
        .filter_map(|(at, _)| {
            let start = page[..at].rfind('<')?;
            let end = at + page[at..].find('>')?;
            Some(attributes(&page[start..end]))
        })
        .collect()
}

fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].rsplit(' ').next().unwrap_or_default().to_owned();
        let after = &rest[eq + 2..];
        let Some(close) = after.find('"') else { break };
        found.push((name, after[..close].to_owned()));
        rest = &after[close + 1..];
    }
    found
}

fn get<'a>(tag: &'a [(String, String)], name: &str) -> &'a str {
    tag.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn check_page(page: &str, posts: u64) {
    let topics = tags_with(page, "data-topic");
    for topic in ["pinpipe.pin", "pinpipe.geo", "pinpipe.user"] {
        let rows: Vec<_> = topics
            .iter()
            .filter(|t| get(t, "data-topic") == topic)
            .collect();
        assert!(!rows.is_empty(), "topic {topic} not shown:\n{page}");
        let shown: u64 = rows
            .iter()
            .map(|t| get(t, "data-records").parse::<u64>().unwrap_or(0))
            .sum();
        let expected = if topic == "pinpipe.geo" {
            posts + 2
        } else {
            posts
        };
        assert_eq!(shown, expected, "{topic} records");
        assert!(
            rows.iter().all(|t| get(t, "data-lag") == "0"),
            "{topic} lag: {rows:?}"
        );
    }
    let streams = tags_with(page, "data-stream");
    for table in ["pin", "geo", "user"] {
        let stream = format!("streaming-pinpipe-{table}");
        let rows: Vec<_> = streams
            .iter()
            .filter(|t| get(t, "data-stream") == stream)
            .collect();
        let shown: u64 = rows
            .iter()
            .map(|t| get(t, "data-records").parse::<u64>().unwrap_or(0))
            .sum();
        assert_eq!(shown, posts, "{stream} records");
        assert!(
            rows.iter().all(|t| get(t, "data-lag") == "0"),
            "{stream} lag: {rows:?}"
        );
    }
    let runs = tags_with(page, "data-run");
    assert!(
        runs.iter().any(|t| get(t, "data-state") == "success"),
        "no successful run shown: {runs:?}"
    );
    let reasons = tags_with(page, "data-reason");
    let reason_of = |table: &str| {
        reasons
            .iter()
            .filter(|t| get(t, "data-table") == table)
            .map(|t| {
                (
                    get(t, "data-reason").to_owned(),
                    get(t, "data-count").to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let geo = reason_of("geo");
    assert_eq!(geo.len(), 2, "{reasons:?}");
    assert!(geo.iter().all(|(_, count)| count == "1"), "{geo:?}");
    assert!(
        page.contains("not a time"),
        "an example raw record is shown"
    );
    assert!(
        page.contains(r#"data-job="batch""#),
        "which job quarantined it is shown"
    );
    let charts = page.matches("<svg class=\"chart\"").count();
    let figures = tags_with(page, "data-analysis").len();
    assert_eq!(figures, 9, "nine analyses");
    assert_eq!(charts, 9, "a chart per analysis");
}
