//! `pinpipe bench soak`: minutes of mixed produce load while the gateway, the sink and the stream
//! job are killed with SIGKILL at random moments and started again; then a check that every
//! acknowledged record is in the raw layout and in the stream tables exactly once, and resident
//! memory over time. `scripts/soak` runs it for ten minutes; it is not part of CI.
//!
//! The three processes are this binary (`serve`, `sink`, `stream`) on one data directory. The load
//! sends single-record calls at `--rate`, each record with a key of its own, spread over the three
//! tables and both paths (REST Proxy produce and the Kinesis proxy), and remembers which were
//! acknowledged. A record whose call failed (the gateway was down) may or may not be stored: it
//! must be there at most once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use object_store::ObjectStoreExt;
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, Topics};
use pinpipe_lake::raw::list_topic;
use pinpipe_lake::{Lake, StreamOptions, query, stream_lag, text_rows};
use pinpipe_model::Table;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::bench::resident_mib;
use crate::cli::BenchSoakArgs;
use crate::settings::Settings;

/// Requests in flight at most.
const MAX_IN_FLIGHT: usize = 256;
/// How often resident memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The three processes the soak kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Gateway,
    Sink,
    Stream,
}

impl Role {
    const ALL: [Role; 3] = [Role::Gateway, Role::Sink, Role::Stream];

    fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Sink => "sink",
            Role::Stream => "stream",
        }
    }
}

/// Which way a record went in: the REST Proxy produce call or the Kinesis proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Via {
    Batch,
    Stream,
}

/// The processes of the soak and how to start them.
struct Processes {
    exe: PathBuf,
    dir: PathBuf,
    port: u16,
    children: BTreeMap<Role, Child>,
    kills: BTreeMap<Role, u32>,
    rss: BTreeMap<Role, Vec<(u64, f64)>>,
}

impl Processes {
    fn command(&self, role: Role) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .arg("--data-dir")
            .arg(&self.dir)
            .env("PINPIPE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        match role {
            Role::Gateway => {
                command.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            }
            Role::Sink => command.args(["sink", "--rotate-interval", "1s"]),
            Role::Stream => command.arg("stream"),
        };
        command
    }

    fn start(&mut self, role: Role) -> Result<()> {
        let child = self
            .command(role)
            .spawn()
            .with_context(|| format!("cannot start the {}", role.name()))?;
        self.children.insert(role, child);
        Ok(())
    }

    /// SIGKILL, then a start again after `pause`.
    async fn kill_and_restart(&mut self, role: Role, pause: Duration) -> Result<()> {
        if let Some(mut child) = self.children.remove(&role) {
            child.start_kill()?;
            child.wait().await?;
        }
        *self.kills.entry(role).or_default() += 1;
        tokio::time::sleep(pause).await;
        self.start(role)
    }

    fn sample(&mut self, at: u64) {
        for (role, child) in &self.children {
            if let Some(pid) = child.id() {
                let mib = resident_mib(&pid.to_string());
                self.rss.entry(*role).or_default().push((at, mib));
            }
        }
    }

    /// Stops every process with SIGTERM (a clean stop) and waits for it.
    async fn stop(&mut self) {
        for (_, mut child) in std::mem::take(&mut self.children) {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
    }
}

/// What the load sent.
#[derive(Default)]
struct Sent {
    requests: u64,
    /// Acknowledged keys per (path, table).
    acknowledged: HashMap<(Via, Table), Vec<i64>>,
    failed: u64,
}

pub async fn run(_settings: &Settings, args: &BenchSoakArgs) -> Result<()> {
    anyhow::ensure!(
        args.rate > 0 && args.minutes > 0,
        "--rate and --minutes must be positive"
    );
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let mut processes = Processes {
        exe: std::env::current_exe()?,
        dir: dir.clone(),
        port,
        children: BTreeMap::new(),
        kills: BTreeMap::new(),
        rss: BTreeMap::new(),
    };
    for role in Role::ALL {
        processes.start(role)?;
    }
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url).await?;
    println!(
        "soak: {} requests/s for {} min, killing a random process every {}–{} s, data in {}",
        args.rate,
        args.minutes,
        args.kill_min_secs,
        args.kill_max_secs,
        dir.display()
    );

    let duration = Duration::from_secs(args.minutes * 60);
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let load = tokio::spawn(load(url.clone(), args.rate, duration, Arc::clone(&sent)));
    let started = Instant::now();
    let mut random = 0x2545_F491_4F6C_DD1D_u64;
    let mut next_kill = started + kill_gap(&mut random, args);
    let mut next_sample = started;
    while started.elapsed() < duration {
        let now = Instant::now();
        if now >= next_sample {
            processes.sample(started.elapsed().as_secs());
            next_sample += SAMPLE_EVERY;
        }
        if now >= next_kill {
            let role = Role::ALL[(next_random(&mut random) % 3) as usize];
            let pause = Duration::from_millis(200 + next_random(&mut random) % 1800);
            processes.kill_and_restart(role, pause).await?;
            next_kill = Instant::now() + kill_gap(&mut random, args);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.await??;
    processes.sample(started.elapsed().as_secs());
    println!("load done; waiting for the sink and the stream job to catch up");
    catch_up(&dir).await?;
    processes.sample(started.elapsed().as_secs());
    processes.stop().await;

    let sent = std::mem::take(&mut *sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let lake = Lake::open(&dir.join("lake").to_string_lossy(), HashMap::new())?;
    let raw = raw_counts(&lake).await?;
    let stream = stream_counts(&lake).await?;
    report(&sent, &raw, &stream, &processes)
}

/// Gaps between kills: uniform in `[kill_min_secs, kill_max_secs]`.
fn kill_gap(random: &mut u64, args: &BenchSoakArgs) -> Duration {
    let span = args.kill_max_secs.saturating_sub(args.kill_min_secs).max(1);
    Duration::from_secs(args.kill_min_secs + next_random(random) % span)
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn wait_healthy(url: &str) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client
            .get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the gateway at {url} did not start")
}

/// The record of `table` with key `key`.
fn record(table: Table, key: i64) -> Value {
    match table {
        Table::Pin => json!({"index": key, "unique_id": format!("soak-{key}"), "title": "soak",
            "description": "a soak record", "poster_name": "p", "follower_count": "1k",
            "tag_list": "a,b", "is_image_or_video": "image", "image_src": "x", "downloaded": 1,
            "save_location": "Local save in /data/art", "category": "art"}),
        Table::Geo => json!({"ind": key, "timestamp": "2020-01-01 00:00:00", "latitude": 1.5,
            "longitude": 2.5, "country": "Chad"}),
        Table::User => json!({"ind": key, "first_name": "A", "last_name": "B", "age": 30,
            "date_joined": "2016-01-01 00:00:00"}),
    }
}

/// Sends `rate` single-record calls per second for `duration`, every key once.
async fn load(url: String, rate: u32, duration: Duration, sent: Arc<Mutex<Sent>>) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(10))
        .build()?;
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = Instant::now();
    let total = u64::from(rate) * duration.as_secs();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / f64::from(rate)))
            .await;
        while let Some(done) = tasks.try_join_next() {
            done?;
        }
        let key = i64::try_from(i)?;
        let table = Table::ALL[(i % 3) as usize];
        let path = if (i / 3) % 2 == 0 {
            Via::Batch
        } else {
            Via::Stream
        };
        let value = record(table, key);
        let request = match path {
            Via::Batch => client
                .post(format!("{url}/topics/pinpipe.{}", table.name()))
                .header("content-type", "application/vnd.kafka.json.v2+json")
                .body(json!({"records": [{"value": value}]}).to_string()),
            Via::Stream => {
                let stream = format!("streaming-pinpipe-{}", table.name());
                client
                    .put(format!("{url}/streams/{stream}/record"))
                    .header("content-type", "application/json")
                    .body(
                        json!({"StreamName": stream, "Data": value, "PartitionKey": key.to_string()})
                            .to_string(),
                    )
            }
        };
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let sent = Arc::clone(&sent);
        tasks.spawn(async move {
            let acknowledged = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match path {
                        Via::Batch => {
                            body["offsets"][0]["error_code"].is_null()
                                && body["offsets"][0]["offset"].is_i64()
                        }
                        Via::Stream => body["SequenceNumber"].is_string(),
                    }
                }
                _ => false,
            };
            drop(permit);
            if let Ok(mut sent) = sent.lock() {
                sent.requests += 1;
                if acknowledged {
                    sent.acknowledged
                        .entry((path, table))
                        .or_default()
                        .push(key);
                } else {
                    sent.failed += 1;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(())
}

/// Waits until the sink committed every record of the topics and the stream job every record of
/// the streams (at most ten minutes).
async fn catch_up(dir: &Path) -> Result<()> {
    let bus = EmbeddedBus::open(dir.join("bus.db"), EmbeddedOptions::default())?;
    let lake = Lake::open(&dir.join("lake").to_string_lossy(), HashMap::new())?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut behind = 0i64;
        for table in Table::ALL {
            let topic = format!("pinpipe.{}", table.name());
            let high = bus.describe_topic(&topic).await?.partitions;
            let committed = bus.committed_offsets("pinpipe-sink", &topic).await?;
            behind += high
                .iter()
                .zip(committed)
                .map(|(p, c)| (p.high_watermark - c).max(0))
                .sum::<i64>();
        }
        let lags = stream_lag(&lake, &bus, &StreamOptions::default()).await?;
        behind += lags
            .iter()
            .map(|l| l.lag.unwrap_or(i64::MAX / 4))
            .sum::<i64>();
        if behind == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sink and the stream job did not catch up: {behind} records behind"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How many times each key is in the raw layout, per table.
async fn raw_counts(lake: &Lake) -> Result<HashMap<Table, HashMap<i64, u32>>> {
    let store = lake.store();
    let mut counts: HashMap<Table, HashMap<i64, u32>> = HashMap::new();
    for table in Table::ALL {
        let (objects, _) = list_topic(&store, &format!("pinpipe.{}", table.name())).await?;
        let keys = counts.entry(table).or_default();
        for object in objects {
            let bytes = store
                .get(&object_store::path::Path::from(object.path.as_str()))
                .await?
                .bytes()
                .await?;
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let value: Value = serde_json::from_slice(line)?;
                let key = value["index"].as_i64().or_else(|| value["ind"].as_i64());
                *keys
                    .entry(key.context("a raw record without a key")?)
                    .or_default() += 1;
            }
        }
    }
    Ok(counts)
}

/// How many rows each key has in the stream tables, per table.
async fn stream_counts(lake: &Lake) -> Result<HashMap<Table, HashMap<i64, u32>>> {
    let mut counts = HashMap::new();
    for table in Table::ALL {
        let sql = format!(
            "SELECT ind, COUNT(*) FROM stream_{} GROUP BY ind",
            table.name()
        );
        let rows = text_rows(&query(lake, &sql).await?)?;
        let keys: HashMap<i64, u32> = rows
            .iter()
            .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.parse().ok()?)))
            .collect();
        counts.insert(table, keys);
    }
    Ok(counts)
}

fn report(
    sent: &Sent,
    raw: &HashMap<Table, HashMap<i64, u32>>,
    stream: &HashMap<Table, HashMap<i64, u32>>,
    processes: &Processes,
) -> Result<()> {
    let acknowledged: usize = sent.acknowledged.values().map(Vec::len).sum();
    let mut found = 0usize;
    let mut missing = 0usize;
    for ((path, table), keys) in &sent.acknowledged {
        let seen = match path {
            Via::Batch => &raw[table],
            Via::Stream => &stream[table],
        };
        for key in keys {
            match seen.get(key) {
                Some(1) => found += 1,
                _ => missing += 1,
            }
        }
    }
    let duplicates: usize = raw
        .values()
        .chain(stream.values())
        .map(|keys| keys.values().filter(|&&n| n > 1).count())
        .sum();
    let kills: Vec<String> = Role::ALL
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.name(),
                processes.kills.get(r).copied().unwrap_or(0)
            )
        })
        .collect();
    println!(
        "requests {}  acknowledged {acknowledged}  failed {}  found once {found}  missing {missing}  \
         duplicates {duplicates}",
        sent.requests, sent.failed
    );
    println!("kills survived: {}", kills.join(", "));
    for (role, samples) in &processes.rss {
        let shown: Vec<String> = samples
            .iter()
            .map(|(t, mib)| format!("{t}s {mib:.0}"))
            .collect();
        println!(
            "resident memory of the {} (MiB): {}",
            role.name(),
            shown.join(", ")
        );
    }
    let figures = json!({
        "requests": sent.requests, "acknowledged": acknowledged, "failed": sent.failed,
        "found": found, "missing": missing, "duplicates": duplicates,
        "kills": processes.kills.iter().map(|(r, n)| (r.name(), n)).collect::<BTreeMap<_, _>>(),
        "rss_mib": processes.rss.iter().map(|(r, s)| (r.name(), s)).collect::<BTreeMap<_, _>>(),
    });
    println!("{figures}");
    anyhow::ensure!(
        missing == 0 && duplicates == 0,
        "{missing} acknowledged records missing, {duplicates} keys stored twice"
    );
    Ok(())
}
