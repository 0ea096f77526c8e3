//! The emulator's public pieces: key sequence, requests, backoff, and a run against a closed port
//! (every record fails with a connection error, counted and retried as configured); and, on every
//! backend, the same requests for the same seed as from SQLite. The run against the real gateway is
//! the end-to-end test of the CLI.

use std::sync::Mutex;
use std::time::Duration;

use pinpipe_source::emulator::request::{BATCH_CONTENT_TYPE, PathKind, Targets};
use pinpipe_source::emulator::{Backoff, KeySequence};
use pinpipe_source::{
    EmulatorConfig, EmulatorProgress, Paths, SourceDb, SourceError, StreamApi, emulate,
    emulate_until,
};

use crate::backend::{conformance, io_error};
use crate::{closed_port, sqlite_reference};

#[test]
fn key_sequence_is_a_function_of_seed_and_keys() -> Result<(), SourceError> {
    let keys: Vec<i64> = (0..11_154).collect();
    let a: Vec<i64> = KeySequence::new(5, keys.clone())?.take(1_000).collect();
    let b: Vec<i64> = KeySequence::new(5, keys.clone())?.take(1_000).collect();
    let c: Vec<i64> = KeySequence::new(6, keys)?.take(1_000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    Ok(())
}

#[test]
fn requests_of_a_synthetic_post() -> Result<(), SourceError> {
    let mut db = SourceDb::open("sqlite::memory:")?;
    db.init(30, 1, &mut |_| {})?;
    let post = db.fetch(17)?.ok_or(SourceError::MissingKey(17))?;
    let requests = Targets::new(
        "http://127.0.0.1:9/",
        "pinpipe",
        Paths::BOTH,
        StreamApi::Proxy,
    )
    .requests_for(&post)?;
    assert_eq!(requests.len(), 6);
    let batch_pin = &requests[0];
    assert_eq!(batch_pin.url, "http://127.0.0.1:9/topics/pinpipe.pin");
    assert_eq!(batch_pin.content_type, BATCH_CONTENT_TYPE);
    let pin_json = serde_json::to_string(&post.pin).unwrap_or_default();
    assert_eq!(
        std::str::from_utf8(&batch_pin.body).ok(),
        Some(format!(r#"{{"records":[{{"value":{pin_json}}}]}}"#).as_str())
    );
    let stream_user = &requests[5];
    assert_eq!(stream_user.path, PathKind::Stream);
    let user_json = serde_json::to_string(&post.user).unwrap_or_default();
    assert_eq!(
        std::str::from_utf8(&stream_user.body).ok(),
        Some(
            format!(r#"{{"StreamName":"streaming-pinpipe-user","Data":{user_json},"PartitionKey":"17"}}"#)
                .as_str()
        )
    );
    Ok(())
}

#[test]
fn the_kinesis_api_sends_put_record_with_base64_data() -> Result<(), SourceError> {
    let mut db = SourceDb::open("sqlite::memory:")?;
    db.init(30, 1, &mut |_| {})?;
    let post = db.fetch(17)?.ok_or(SourceError::MissingKey(17))?;
    let targets = Targets::new(
        "http://127.0.0.1:9/",
        "pinpipe",
        Paths::STREAM,
        StreamApi::Kinesis,
    );
    let requests = targets.requests_for(&post)?;
    assert_eq!(requests.len(), 3);
    let geo = &requests[1];
    assert_eq!(geo.url, "http://127.0.0.1:9/");
    assert_eq!(geo.target, Some("Kinesis_20131202.PutRecord"));
    assert_eq!(geo.content_type, "application/x-amz-json-1.1");
    let body: serde_json::Value =
        serde_json::from_slice(&geo.body).map_err(|e| SourceError::Config(e.to_string()))?;
    assert_eq!(body["StreamName"], "streaming-pinpipe-geo");
    assert_eq!(body["PartitionKey"], "17");
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(body["Data"].as_str().unwrap_or_default())
        .map_err(|e| SourceError::Config(e.to_string()))?;
    assert_eq!(
        data,
        serde_json::to_vec(&post.geo).map_err(|e| SourceError::Config(e.to_string()))?
    );
    Ok(())
}

#[test]
fn default_backoff() {
    let ms = Duration::from_millis;
    assert_eq!(
        Backoff::default().schedule(5),
        [ms(100), ms(200), ms(400), ms(800), ms(1600)]
    );
}

fn fast_config(count: Option<u64>) -> EmulatorConfig {
    fast_config_for(format!("http://127.0.0.1:{}", closed_port()), count)
}

fn fast_config_for(gateway: String, count: Option<u64>) -> EmulatorConfig {
    EmulatorConfig {
        count,
        paths: Paths::BOTH,
        max_retries: 2,
        concurrency: 4,
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        },
        request_timeout: Duration::from_secs(5),
        ..EmulatorConfig::new(gateway)
    }
}

/// Nothing listening at the gateway's address: an error before anything is sent, rather than
/// minutes of retries.
#[tokio::test]
async fn an_unreachable_gateway_is_an_error_at_once() -> Result<(), SourceError> {
    let mut db = SourceDb::open("sqlite::memory:")?;
    db.init(10, 1, &mut |_| {})?;
    let config = fast_config(Some(5));
    let err = emulate(&db, &config, &|_| {}).await.err();
    let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(err, Some(SourceError::GatewayUnreachable { .. })),
        "{shown}"
    );
    assert!(
        shown.starts_with(&format!("cannot reach the gateway at {}", config.gateway)),
        "{shown}"
    );
    Ok(())
}

/// The URL of a gateway that takes connections and closes them at once, unanswered.
fn dropping_gateway() -> Result<String, SourceError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| crate::backend::io_error("bind", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| crate::backend::io_error("bind", e))?
        .port();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            drop(connection);
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}

/// A gateway that takes connections and drops them: every record fails after its retries, and
/// the run goes on to the end, counting them.
#[tokio::test]
async fn a_gateway_that_drops_connections_counts_failures() -> Result<(), SourceError> {
    let mut db = SourceDb::open("sqlite::memory:")?;
    db.init(100, 1, &mut |_| {})?;
    let seen = Mutex::new(Vec::<EmulatorProgress>::new());
    let progress = |p: &EmulatorProgress| {
        if let Ok(mut seen) = seen.lock() {
            seen.push(p.clone());
        }
    };
    let config = fast_config_for(dropping_gateway()?, Some(5));
    let summary = emulate(&db, &config, &progress).await?;
    assert_eq!(summary.posts, 5);
    assert_eq!(summary.records_sent, 30);
    assert_eq!(summary.acknowledged, 0);
    assert_eq!(summary.failed, 30);
    assert_eq!(summary.retries, 60);
    assert_eq!(
        summary.failed_by_reason.into_iter().collect::<Vec<_>>(),
        [("request failed".to_owned(), 30)]
    );
    let seen = seen.into_inner().unwrap_or_default();
    let last = seen.last().cloned().unwrap_or_default();
    assert_eq!(
        (last.posts, last.failed, last.in_flight, last.target),
        (5, 30, 0, Some(5))
    );
    assert!(seen.windows(2).all(|w| w[0].failed <= w[1].failed));
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_an_endless_run() -> Result<(), SourceError> {
    let mut db = SourceDb::open("sqlite::memory:")?;
    db.init(10, 1, &mut |_| {})?;
    let config = EmulatorConfig {
        rate: Some(200.0),
        ..fast_config_for(dropping_gateway()?, None)
    };
    let stop = tokio::time::sleep(Duration::from_millis(300));
    let summary = emulate_until(&db, &config, &|_| {}, stop).await?;
    assert!(summary.posts >= 5, "{} posts", summary.posts);
    assert!(
        summary.posts <= 80,
        "{} posts: the rate limit held",
        summary.posts
    );
    assert_eq!(summary.acknowledged + summary.failed, summary.records_sent);
    Ok(())
}

#[tokio::test]
async fn empty_source_and_bad_config_are_errors() -> Result<(), SourceError> {
    let db = SourceDb::open("sqlite::memory:")?;
    let err = emulate(&db, &fast_config(Some(1)), &|_| {}).await.err();
    assert!(matches!(err, Some(SourceError::EmptySource)), "{err:?}");
    let bad = EmulatorConfig {
        concurrency: 0,
        ..fast_config(Some(1))
    };
    let err = emulate(&db, &bad, &|_| {}).await.err();
    assert!(matches!(err, Some(SourceError::Config(_))), "{err:?}");
    Ok(())
}

/// The request bodies of the emulator's first `n` posts under `seed`, as it reads and sends them.
fn first_requests(db: &SourceDb, seed: u64, n: usize) -> Result<Vec<Vec<u8>>, SourceError> {
    let targets = Targets::new(
        "http://127.0.0.1:9/",
        "pinpipe",
        Paths::BOTH,
        StreamApi::Proxy,
    );
    let mut bodies = Vec::new();
    for key in KeySequence::new(seed, db.keys()?)?.take(n) {
        let post = db.fetch(key)?.ok_or(SourceError::MissingKey(key))?;
        bodies.extend(
            targets
                .requests_for(&post)?
                .into_iter()
                .map(|r| r.body.to_vec()),
        );
    }
    Ok(bodies)
}

conformance! {
    /// Filled and emulated from inside a multi-threaded runtime, as the CLI does: the same requests,
    /// byte for byte, as from SQLite, and a run that reads its posts from this backend.
    fn emulator_reads_the_same_posts_as_from_sqlite(t) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| io_error("runtime", e))?;
        runtime.block_on(async {
            t.db.init(300, 11, &mut |_| {})?;
            let mut reference = sqlite_reference()?;
            reference.init(300, 11, &mut |_| {})?;
            let got = first_requests(&t.db, 5, 200)?;
            assert_eq!(got.len(), 1_200);
            assert!(got == first_requests(&reference, 5, 200)?);

            let config = fast_config_for(dropping_gateway()?, Some(5));
            let summary = emulate(&t.db, &config, &|_| {}).await?;
            assert_eq!((summary.posts, summary.records_sent), (5, 30));
            assert_eq!(summary.failed, 30);
            Ok(())
        })
    }
}
