//! The whole pipeline on real servers, configured by a `pinpipe.toml` only: emulate from
//! PostgreSQL into the gateway, Kafka and Kinesis in the middle, the lake on S3 (SeaweedFS). The
//! nine results must be those of the embedded run on the same rows.

use std::path::{Path, PathBuf};
use std::process::Command;

use pinpipe_testkit::{Server as Real, s3_bucket, unique_name};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::process::{Server, configured, free_port, pinpipe, run};

/// Rows in the source, posts the emulator sends.
const ROWS: &str = "300";
const POSTS: &str = "400";

/// The addresses of every server the test needs, `None` when the developer skips server tests.
struct Servers {
    kafka: String,
    kinesis: String,
    s3: String,
    postgres: String,
}

impl Servers {
    fn find() -> Option<Servers> {
        Some(Servers {
            kafka: Real::Kafka.address()?,
            kinesis: Real::Kinesis.address()?,
            s3: Real::S3.address()?,
            postgres: Real::Postgres.address()?,
        })
    }
}

/// A new, empty PostgreSQL database on the test server; its URL.
async fn fresh_database(admin_url: &str) -> String {
    let name = unique_name("e2e").replace('-', "_");
    let mut admin = PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
    format!("{base}/{name}")
}

/// The configuration of a run on real servers, written to `dir/pinpipe.toml`.
fn write_config(dir: &Path, servers: &Servers, source: &str) -> PathBuf {
    let prefix = unique_name("e2e");
    let config = format!(
        r#"
source = "{source}"
lake = "s3://{bucket}/{prefix}"
topic_prefix = "{prefix}"
bus = "kafka://{kafka}"
streams = "kinesis"

[kinesis]
endpoint_url = "{kinesis}"
region = "us-east-1"

[storage_options]
AWS_ENDPOINT_URL = "{s3}"
AWS_ALLOW_HTTP = "true"
AWS_REGION = "us-east-1"
AWS_ACCESS_KEY_ID = "pinpipe"
AWS_SECRET_ACCESS_KEY = "pinpipe"

[sink]
group = "{prefix}-sink"
flush_size = 250
"#,
        bucket = s3_bucket(),
        kafka = servers.kafka,
        kinesis = servers.kinesis,
        s3 = servers.s3,
    );
    let path = dir.join("pinpipe.toml");
    std::fs::write(&path, config).expect("write pinpipe.toml");
    path
}

/// The nine analyses of the batch job's report, without its timings and paths.
fn analyses(report: &str) -> String {
    let start = report
        .find("1. Most popular category by country")
        .unwrap_or_else(|| panic!("the batch job prints the analyses: {report}"));
    let end = report.find("\nresults: ").unwrap_or(report.len());
    report[start..end].to_owned()
}

/// Runs the pipeline with `command` (configured for one deployment): source, gateway, emulator,
/// sink, batch job, stream job. Returns the batch job's report of the nine analyses and the rows
/// of the three stream tables.
fn run_pipeline(command: &dyn Fn() -> Command) -> (String, Vec<String>) {
    run(command().args(["source", "init", "--rows", ROWS]));
    let port = free_port();
    let server = Server::spawn(
        command().args(["serve", "--listen", &format!("127.0.0.1:{port}")]),
        port,
    );
    let summary = run(command().args(["emulate", "--gateway", &server.url, "--count", POSTS]));
    assert!(
        summary.contains("2400 acknowledged, 0 failed"),
        "every record of both paths is acknowledged: {summary}"
    );
    drop(server);
    let sink = run(command().args(["sink", "--once"]));
    assert!(sink.contains("wrote 1200 records"), "{sink}");
    let batch = analyses(&run(command().arg("batch")));
    run(command().args(["stream", "--once"]));
    let stream_rows = ["stream_pin", "stream_geo", "stream_user"]
        .iter()
        .map(|table| {
            let json = run(command().args([
                "query",
                "--format",
                "json",
                &format!("SELECT count(*) AS n, count(DISTINCT ind) AS keys FROM {table}"),
            ]));
            let row: Value = serde_json::from_str(json.trim()).expect("one JSON line");
            assert_eq!(row["n"], row["keys"], "{table}: one row per key");
            row["n"].to_string()
        })
        .collect();
    (batch, stream_rows)
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_kafka_kinesis_and_s3_give_the_embedded_results() {
    let Some(servers) = Servers::find() else {
        return;
    };
    let source = fresh_database(&servers.postgres).await;

    let real = tempfile::tempdir().expect("temp dir");
    let config = write_config(real.path(), &servers, &source);
    let at_scale = tokio::task::spawn_blocking({
        let dir = real.path().to_owned();
        move || run_pipeline(&|| configured(&dir, &config))
    })
    .await
    .expect("the pipeline on real servers");

    let embedded = tempfile::tempdir().expect("temp dir");
    let on_one_machine = tokio::task::spawn_blocking({
        let dir = embedded.path().to_owned();
        move || run_pipeline(&|| pinpipe(&dir))
    })
    .await
    .expect("the embedded pipeline");

    assert_eq!(
        at_scale.0, on_one_machine.0,
        "the nine analyses on real servers equal the embedded run's"
    );
    assert_eq!(
        at_scale.1, on_one_machine.1,
        "the stream tables hold the same rows"
    );
}
