//! `pinpipe bench gateway`: gateway ingestion measured end to end over HTTP on this machine;
//! `pinpipe bench raw`: benchmark input for the batch job; `pinpipe bench stream` is in
//! [`super::bench_stream`].
//!
//!
//! Starts a gateway on a fresh bus in a temporary directory, then runs two scenarios with
//! concurrent clients for a fixed time each: batched produce calls of `--batch-size` records, and
//! single-record produce calls. Reports records/s, requests/s and latency percentiles. Clients
//! run in the same process, so they share the machine's cores with the gateway: the figures are
//! a floor for what a separate load generator would see.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
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

/// A typical pin record, as the emulator sends it.
const PIN: &str = r#"{"index":7528,"unique_id":"fbe53c66-3442-4773-b19e-d3ec6f54dddf","title":"No Title Data Available","description":"No description available Story format","poster_name":"User Info Error","follower_count":"User Info Error","tag_list":"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e","is_image_or_video":"multi-video(story page format)","image_src":"Image src error.","downloaded":0,"save_location":"Local save in /data/mens-fashion","category":"mens-fashion"}"#;

async fn gateway(settings: &Settings, args: &BenchGatewayArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let options = EmbeddedOptions {
        sync: settings.bus.sync,
        ..EmbeddedOptions::default()
    };
    let bus = Arc::new(EmbeddedBus::open(dir.path().join("bus.db"), options)?);
    let gateway = LocalGateway::start(bus, GatewayConfig::default()).await?;
    let url = format!("{}/topics/pinpipe.pin", gateway.url);

    println!(
        "gateway benchmark: {} clients, {} s per scenario, bus sync = {:?}",
        args.clients, args.seconds, settings.bus.sync
    );
    for batch in [args.batch_size, 1] {
        let body = produce_body(batch);
        let outcome = scenario(&url, &body, batch, args).await?;
        println!(
            "{:>4}-record requests: {:>9.0} records/s  {:>7.0} requests/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
            batch,
            outcome.records as f64 / outcome.elapsed.as_secs_f64(),
            outcome.latencies.len() as f64 / outcome.elapsed.as_secs_f64(),
            percentile(&outcome.latencies, 0.50),
            percentile(&outcome.latencies, 0.99),
            outcome.latencies.len(),
            outcome.errors,
        );
    }
    gateway.stop().await?;
    Ok(())
}

fn produce_body(records: usize) -> String {
    let one = format!(r#"{{"value":{PIN}}}"#);
    format!(r#"{{"records":[{}]}}"#, vec![one; records].join(","))
}

struct Outcome {
    records: u64,
    errors: u64,
    elapsed: Duration,
    /// Milliseconds per request, sorted.
    latencies: Vec<f64>,
}

async fn scenario(url: &str, body: &str, batch: usize, args: &BenchGatewayArgs) -> Result<Outcome> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..args.clients {
        let client = client.clone();
        let url = url.to_owned();
        let body = body.to_owned();
        clients.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = client
                    .post(&url)
                    .header("content-type", "application/vnd.kafka.json.v2+json")
                    .body(body.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                errors += u64::from(!ok);
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    while let Some(joined) = clients.join_next().await {
        let (mine, failed) = joined?;
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    let ok_requests = latencies.len() as u64 - errors;
    Ok(Outcome {
        records: ok_requests * batch as u64,
        errors,
        elapsed,
        latencies,
    })
}

/// The value at quantile `q` of sorted values (nearest rank).
pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
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
