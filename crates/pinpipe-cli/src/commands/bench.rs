//! `pinpipe bench gateway`: gateway ingestion measured end to end over HTTP on this machine;
//! `pinpipe bench raw`: benchmark input for the batch job; `pinpipe bench stream` is in
//! [`super::bench_stream`].
//!
//!
//! Starts a gateway on a fresh bus in a temporary directory, then runs two scenarios with
//! concurrent clients for a fixed time each: batched produce calls of `--batch-size` records, and
//! single-record produce calls, of real-shaped pins (the synthetic source's, sized like the peer
//! rows). Reports records/s, MB/s, requests/s and latency percentiles (hdrhistogram). Clients
//! run in the same process, so they share the machine's cores with the gateway: the figures are
//! a floor for what a separate load generator (`scripts/bench_gateway.sh`, wrk) sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions};
use pinpipe_gateway::GatewayConfig;

use object_store::ObjectStoreExt;
use object_store::PutPayload;
use object_store::path::Path as ObjectPath;
use pinpipe_lake::raw::object_path;
use pinpipe_source::synth::Generator;

use super::local_gateway::LocalGateway;
use super::open_lake;
use crate::cli::{BenchCommand, BenchGatewayArgs, BenchRawArgs};
use crate::output::bar;
use crate::settings::Settings;

pub async fn run(settings: &Settings, command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Gateway(args) => gateway(settings, &args).await,
        BenchCommand::Raw(args) => raw(settings, &args).await,
        BenchCommand::Stream(args) => super::bench_stream::run(settings, &args).await,
        BenchCommand::Soak(args) => super::bench_soak::run(settings, &args).await,
    }
}

/// Writes `posts` synthetic posts into `<lake>/raw/topics/` in the sink's layout.
async fn raw(settings: &Settings, args: &BenchRawArgs) -> Result<()> {
    let lake = open_lake(settings)?;
    let store = lake.store();
    let topics = ["pin", "geo", "user"].map(|t| format!("{}.{t}", settings.topic_prefix));
    let mut bodies: [Vec<u8>; 3] = Default::default();
    let mut start = 0i64;
    let mut count = 0usize;
    let progress = bar(args.posts, "raw");
    let flush_size = args.flush_size.max(1);
    for (i, post) in Generator::new(args.posts, args.seed).enumerate() {
        serde_json::to_writer(&mut bodies[0], &post.pin)?;
        serde_json::to_writer(&mut bodies[1], &post.geo)?;
        serde_json::to_writer(&mut bodies[2], &post.user)?;
        for body in &mut bodies {
            body.push(b'\n');
        }
        count += 1;
        if count == flush_size || i as u64 + 1 == args.posts {
            for (topic, body) in topics.iter().zip(&mut bodies) {
                let path = object_path(topic, 0, start);
                store
                    .put(
                        &ObjectPath::from(path.as_str()),
                        PutPayload::from(std::mem::take(body)),
                    )
                    .await
                    .with_context(|| format!("cannot write {path}"))?;
            }
            start += count as i64;
            count = 0;
            progress.set_position(i as u64 + 1);
        }
    }
    progress.finish_and_clear();
    println!(
        "wrote {} posts ({} raw records) under {}/raw/topics/",
        args.posts,
        args.posts * 3,
        lake.location()
    );
    Ok(())
}

/// Distinct pins the benchmark's bodies are made of.
const PINS: u64 = 1000;

async fn gateway(settings: &Settings, args: &BenchGatewayArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let options = EmbeddedOptions {
        sync: settings.bus.sync,
        ..EmbeddedOptions::default()
    };
    let bus = Arc::new(EmbeddedBus::open(dir.path().join("bus.db"), options)?);
    let gateway = LocalGateway::start(bus, GatewayConfig::default()).await?;
    let url = format!("{}/topics/pinpipe.pin", gateway.url);
    let pins = match &args.pins {
        Some(file) => pins_from(file)?,
        None => real_shaped_pins()?,
    };
    let average = pins.iter().map(String::len).sum::<usize>() / pins.len();
    println!(
        "gateway benchmark: {} clients, {} s per scenario, bus sync = {:?}, real-shaped pins of \
         {average} bytes on average",
        args.clients, args.seconds, settings.bus.sync
    );
    for batch in [args.batch_size, 1] {
        let bodies = produce_bodies(&pins, batch);
        let outcome = scenario(&url, &bodies, batch, args).await?;
        let seconds = outcome.elapsed.as_secs_f64();
        let ms = |q: f64| outcome.latency.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:>4}-record requests: {:>9.0} records/s  {:>6.1} MB/s  {:>7.0} requests/s  \
             p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
            batch,
            outcome.records as f64 / seconds,
            outcome.bytes as f64 / seconds / 1e6,
            outcome.latency.len() as f64 / seconds,
            ms(0.50),
            ms(0.99),
            outcome.latency.len(),
            outcome.errors,
        );
    }
    gateway.stop().await?;
    Ok(())
}

/// The pins of a JSON Lines file (such as `fixtures/peer-raw/chemi5t/pin.jsonl`), one line each.
fn pins_from(file: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the pins of {}", file.display()))?;
    let pins: Vec<String> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| Ok(serde_json::from_str::<serde_json::Value>(line)?.to_string()))
        .collect::<Result<_>>()?;
    anyhow::ensure!(!pins.is_empty(), "{} holds no pins", file.display());
    Ok(pins)
}

/// Pins as the emulator sends them, from the synthetic source: sizes and text like the peer rows'.
fn real_shaped_pins() -> Result<Vec<String>> {
    Generator::new(PINS, 42)
        .map(|post| Ok(serde_json::to_string(&post.pin)?))
        .collect()
}

/// Produce bodies of `records` records each, every pin in one of them.
fn produce_bodies(pins: &[String], records: usize) -> Vec<String> {
    pins.chunks(records)
        .filter(|chunk| chunk.len() == records)
        .map(|chunk| {
            let values: Vec<String> = chunk
                .iter()
                .map(|p| format!(r#"{{"value":{p}}}"#))
                .collect();
            format!(r#"{{"records":[{}]}}"#, values.join(","))
        })
        .collect()
}

struct Outcome {
    records: u64,
    bytes: u64,
    errors: u64,
    elapsed: Duration,
    /// Microseconds per request.
    latency: Histogram<u64>,
}

async fn scenario(
    url: &str,
    bodies: &[String],
    batch: usize,
    args: &BenchGatewayArgs,
) -> Result<Outcome> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let bodies: Arc<Vec<String>> = Arc::new(bodies.to_vec());
    let mut clients = tokio::task::JoinSet::new();
    for client_number in 0..args.clients {
        let (client, url, bodies) = (client.clone(), url.to_owned(), Arc::clone(&bodies));
        clients.spawn(async move {
            let mut latency = latency_histogram()?;
            let (mut errors, mut bytes) = (0u64, 0u64);
            let mut next = client_number;
            while Instant::now() < deadline {
                let body = &bodies[next % bodies.len()];
                next += 1;
                let sent = Instant::now();
                let ok = client
                    .post(&url)
                    .header("content-type", "application/vnd.kafka.json.v2+json")
                    .body(body.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latency.saturating_record(u64::try_from(sent.elapsed().as_micros())?);
                if ok {
                    bytes += body.len() as u64;
                } else {
                    errors += 1;
                }
            }
            Ok::<_, anyhow::Error>((latency, errors, bytes))
        });
    }
    let mut latency = latency_histogram()?;
    let (mut errors, mut bytes) = (0, 0);
    while let Some(joined) = clients.join_next().await {
        let (mine, failed, sent) = joined??;
        latency.add(mine)?;
        errors += failed;
        bytes += sent;
    }
    let ok_requests = latency.len() - errors;
    Ok(Outcome {
        records: ok_requests * batch as u64,
        bytes,
        errors,
        elapsed: started.elapsed(),
        latency,
    })
}

/// A histogram of latencies in microseconds, from 1 µs to an hour, three significant digits.
pub(super) fn latency_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 3_600_000_000, 3)?)
}

/// The resident memory of process `pid` (a number, or `self`) in MiB (Linux), or 0 where unknown.
pub(super) fn resident_mib(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
