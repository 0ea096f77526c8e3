//! `pinpipe bench stream`: end-to-end latency of the stream path, from a `PUT /streams/…/record`
//! acknowledged to the row readable in its Delta table.
//!
//! In one process, on a fresh bus and lake in a temporary directory: the gateway, the stream job
//! with its configured trigger (`--trigger`), and a producer that PUTs one record per request at `--rate` records
//! per second (synthetic posts with random keys, so rows are inserted and replaced, spread over the
//! three streams). The producer notes when each record was acknowledged and where it went
//! (shard, offset); the job reports the wall time of each commit and the offsets it holds. A
//! record's latency is its commit's time minus its acknowledgement's. Resident memory is sampled
//! every 10 s to show whether it stays flat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, sequence_offset};
use pinpipe_gateway::GatewayConfig;
use pinpipe_lake::{Lake, StreamOptions, run_stream};
use pinpipe_source::synth::Generator;
use pinpipe_telemetry::{Event, listen};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::bench::{latency_histogram, resident_mib};
use super::local_gateway::LocalGateway;
use crate::cli::BenchStreamArgs;
use crate::settings::Settings;

/// Keys of the synthetic source (the original's row count).
const KEYS: u64 = 11_154;
/// Requests in flight at most.
const MAX_IN_FLIGHT: usize = 64;

/// A shard: (index of its stream in the three, shard number).
type Shard = (usize, u32);
/// Where an acknowledged record went (shard, offset) and when it was acknowledged; kept small,
/// since the benchmark's own memory is part of what it reports.
type Acks = Vec<(Shard, i64, SystemTime)>;
/// Per shard: the committed offset ranges and when each was committed.
type Commits = HashMap<Shard, Vec<(i64, i64, SystemTime)>>;

/// The number of `shardId-000000000003`.
fn shard_number(shard_id: &str) -> Option<u32> {
    shard_id.strip_prefix("shardId-")?.parse().ok()
}

pub async fn run(settings: &Settings, args: &BenchStreamArgs) -> Result<()> {
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let options = EmbeddedOptions {
        sync: settings.bus.sync,
        ..EmbeddedOptions::default()
    };
    let bus = Arc::new(EmbeddedBus::open(dir.path().join("bus.db"), options)?);
    let config = GatewayConfig::default();
    let streams = config.default_streams();
    let gateway = LocalGateway::start(bus.clone(), config).await?;
    let url = gateway.url.clone();

    let lake = Lake::open(&dir.path().join("lake").to_string_lossy(), HashMap::new())?;
    // The job's settings (trigger, bounds), on the streams of this benchmark's own gateway.
    let job_options = StreamOptions {
        stream_prefix: StreamOptions::default().stream_prefix,
        ..settings.stream_options(false)?
    };
    println!(
        "stream benchmark: {} records/s for {} s over {} streams, trigger {:?}, bus sync = {:?}",
        args.rate,
        args.seconds,
        streams.len(),
        job_options.trigger,
        settings.bus.sync
    );
    let commits: Arc<Mutex<Commits>> = Arc::default();
    let (stop_job, job_stopped) = tokio::sync::oneshot::channel::<()>();
    let job = {
        let commits = Arc::clone(&commits);
        let bus = bus.clone();
        let streams = streams.clone();
        tokio::spawn(async move {
            let _listener = listen(move |event| {
                let Event::MicroBatchCommitted(batch) = event else {
                    return;
                };
                let Some(stream) = streams.iter().position(|s| *s == batch.stream) else {
                    return;
                };
                if let Ok(mut commits) = commits.lock() {
                    for range in &batch.shards {
                        let shard = shard_number(&range.shard_id);
                        let first = sequence_offset(&range.first);
                        let last = sequence_offset(&range.last);
                        if let (Some(shard), Some(first), Some(last)) = (shard, first, last) {
                            let committed = (first, last, batch.committed_at);
                            commits.entry((stream, shard)).or_default().push(committed);
                        }
                    }
                }
            });
            run_stream(&lake, bus.as_ref(), &job_options, async {
                let _ = job_stopped.await;
            })
            .await
        })
    };

    let started = Instant::now();
    let mut rss = vec![(0, resident_mib("self"))];
    let acks = produce(&url, &streams, args, &mut rss).await?;
    let produced_for = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_committed(&acks, &commits) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rss.push((started.elapsed().as_secs(), resident_mib("self")));
    let _ = stop_job.send(());
    let report = job.await??;
    gateway.stop().await?;

    let latency = latencies(&acks, &commits)?;
    let expected = u64::from(args.rate) * args.seconds;
    println!(
        "produced {} records in {:.1} s ({} acknowledged, {} not)",
        expected,
        produced_for.as_secs_f64(),
        acks.len(),
        expected.saturating_sub(acks.len() as u64)
    );
    println!(
        "stream job: {} records in {} commits over {} cycles; {} of the acknowledged records readable",
        report.records_read,
        report.commits,
        report.cycles,
        latency.len()
    );
    let seconds = |micros: u64| micros as f64 / 1e6;
    println!(
        "latency ack → readable: p50 {:.3} s  p90 {:.3} s  p99 {:.3} s  max {:.3} s",
        seconds(latency.value_at_quantile(0.50)),
        seconds(latency.value_at_quantile(0.90)),
        seconds(latency.value_at_quantile(0.99)),
        seconds(latency.max())
    );
    let samples: Vec<String> = rss
        .iter()
        .map(|(at, mib)| format!("{at}s {mib:.0}"))
        .collect();
    println!("resident memory (MiB): {}", samples.join(", "));
    Ok(())
}

/// PUTs `rate × seconds` records, one per request, paced evenly; samples RSS every 10 s.
async fn produce(
    url: &str,
    streams: &[String; 3],
    args: &BenchStreamArgs,
    rss: &mut Vec<(u64, f64)>,
) -> Result<Acks> {
    let posts: Vec<_> = Generator::new(KEYS, 42).collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .build()?;
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let acks: Arc<Mutex<Acks>> = Arc::default();
    let total = u64::from(args.rate) * args.seconds;
    let started = tokio::time::Instant::now();
    let mut random = 0x9E37_79B9_7F4A_7C15_u64;
    let mut post = &posts[0];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until(
            started + Duration::from_secs_f64(i as f64 / f64::from(args.rate)),
        )
        .await;
        let second = started.elapsed().as_secs();
        if second >= 10 * rss.len() as u64 {
            rss.push((second, resident_mib("self")));
        }
        let which = (i % 3) as usize;
        if which == 0 {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            post = &posts[(random % KEYS) as usize];
        }
        let data: Value = match which {
            0 => serde_json::to_value(&post.pin)?,
            1 => serde_json::to_value(&post.geo)?,
            _ => serde_json::to_value(&post.user)?,
        };
        let stream = &streams[which];
        let body =
            json!({"StreamName": stream, "Data": data, "PartitionKey": post.key().to_string()});
        let request = client
            .put(format!("{url}/streams/{stream}/record"))
            .header("content-type", "application/json")
            .body(body.to_string());
        // Finished requests are reaped as we go: a JoinSet keeps them until joined.
        while let Some(done) = tasks.try_join_next() {
            done?;
        }
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let acks = Arc::clone(&acks);
        tasks.spawn(async move {
            let answer = match request.send().await {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                _ => None,
            };
            let acked_at = SystemTime::now();
            drop(permit);
            let shard = answer
                .as_ref()
                .and_then(|a| a["ShardId"].as_str())
                .and_then(shard_number);
            let offset = answer
                .as_ref()
                .and_then(|a| a["SequenceNumber"].as_str())
                .and_then(sequence_offset);
            if let (Some(shard), Some(offset), Ok(mut acks)) = (shard, offset, acks.lock()) {
                acks.push(((which, shard), offset, acked_at));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    let acks = std::mem::take(&mut *acks.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(acks)
}

/// The commit holding `offset` of a shard, and when it was made.
fn committed_at(ranges: &[(i64, i64, SystemTime)], offset: i64) -> Option<SystemTime> {
    ranges
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&offset))
        .map(|(_, _, at)| *at)
}

fn all_committed(acks: &Acks, commits: &Mutex<Commits>) -> bool {
    let Ok(commits) = commits.lock() else {
        return false;
    };
    let mut last: HashMap<Shard, i64> = HashMap::new();
    for (shard, offset, _) in acks {
        let max = last.entry(*shard).or_insert(*offset);
        *max = (*max).max(*offset);
    }
    last.iter().all(|(shard, offset)| {
        commits
            .get(shard)
            .is_some_and(|ranges| ranges.iter().any(|(_, l, _)| l >= offset))
    })
}

/// Microseconds from acknowledgement to commit, for every acknowledged record that was
/// committed.
fn latencies(acks: &Acks, commits: &Mutex<Commits>) -> Result<Histogram<u64>> {
    let mut histogram = latency_histogram()?;
    let commits = commits
        .lock()
        .map_err(|_| anyhow::anyhow!("the commit log is poisoned"))?;
    for (shard, offset, acked_at) in acks {
        let Some(at) = commits
            .get(shard)
            .and_then(|ranges| committed_at(ranges, *offset))
        else {
            continue;
        };
        // A record can be committed before its HTTP answer reaches the producer.
        let waited = at.duration_since(*acked_at).unwrap_or_default();
        histogram.saturating_record(u64::try_from(waited.as_micros()).unwrap_or(u64::MAX));
    }
    Ok(histogram)
}
