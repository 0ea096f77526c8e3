//! The user posting emulator (SPEC §2): picks a seeded random key, reads that key's three rows, and
//! sends each row to the gateway on the batch path, the stream path or both.
//!
//! ```text
//!  reader thread (blocking DB reads)        async loop                          in-flight requests
//!  KeySequence ─► SourceDb::fetch ─► channel ─► rate limit ─► Targets::requests_for ─► JoinSet (≤ concurrency)
//!                                                                                   └─► retry::deliver ─► Tally
//! ```
//!
//! - [`keys`]: which key comes next, a pure function of `(seed, key list)`;
//! - [`request`]: the exact requests of a post; [`response`]: what an answer means;
//! - [`retry`]: backoff and the retry loop; [`summary`]: the counts; `http`: the thin reqwest layer.
//!
//! Posts go out in key-sequence order; the records of different posts may overlap and complete in any
//! order (per-key order is irrelevant downstream: the last copy of a key wins, SPEC §5).

mod config;
mod http;
pub mod keys;
pub mod request;
pub mod response;
pub mod retry;
pub mod summary;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};

pub use self::config::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SEED,
    DEFAULT_TOPIC_PREFIX, EmulatorConfig, Paths, StreamApi,
};
pub use self::keys::KeySequence;
pub use self::retry::Backoff;
pub use self::summary::{EmulatorProgress, EmulatorSummary};

use self::http::Sender;
use self::request::Targets;
use self::retry::Delivery;
use self::summary::Tally;
use crate::db::{Post, SourceDb, Store};
use crate::error::{Result, SourceError};

/// Runs the emulator until `config.count` posts are sent (forever when `None`), then returns what it
/// did. `progress` is called after every post and every finished record.
pub async fn emulate(
    db: &SourceDb,
    config: &EmulatorConfig,
    progress: &(dyn Fn(&EmulatorProgress) + Sync),
) -> Result<EmulatorSummary> {
    emulate_until(db, config, progress, std::future::pending()).await
}

/// [`emulate`], also stopping when `shutdown` completes (e.g. on Ctrl-C): no new post is started,
/// records in flight are finished, and the summary covers everything sent.
pub async fn emulate_until(
    db: &SourceDb,
    config: &EmulatorConfig,
    progress: &(dyn Fn(&EmulatorProgress) + Sync),
    shutdown: impl Future<Output = ()>,
) -> Result<EmulatorSummary> {
    config.validate()?;
    let targets = Targets::new(
        &config.gateway,
        &config.topic_prefix,
        config.paths,
        config.stream_api,
    );
    let sender = Arc::new(Sender::new(config)?);
    let store = db.store();
    let keys = blocking({
        let store = Arc::clone(&store);
        move || store.keys()
    })
    .await?;
    let sequence = KeySequence::new(config.seed, keys)?;
    sender.check_reachable().await?;
    tracing::info!(gateway = %config.gateway, count = ?config.count, rate = ?config.rate,
        seed = config.seed, "emulator starting");

    let (posts_tx, mut posts_rx) = mpsc::channel(config.concurrency * 2 + 8);
    let count = config.count;
    let reader =
        tokio::task::spawn_blocking(move || read_posts(&*store, sequence, count, &posts_tx));

    let started = Instant::now();
    let mut tally = Tally::new(config.count);
    let mut pacer = Pacer::new(config.rate);
    let mut in_flight: JoinSet<Delivery> = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let outcome: Result<()> = async {
        loop {
            let next = tokio::select! {
                biased;
                () = &mut shutdown => break,
                next = async {
                    pacer.tick().await;
                    posts_rx.recv().await
                } => next,
            };
            let Some(post) = next else { break };
            for request in targets.requests_for(&post?)? {
                while in_flight.len() >= config.concurrency {
                    finish_one(&mut in_flight, &mut tally, progress).await?;
                }
                let sender = Arc::clone(&sender);
                in_flight.spawn(async move { sender.deliver(&request).await });
                tally.record_sent();
            }
            tally.post_sent();
            while let Some(done) = in_flight.try_join_next() {
                tally.record_done(&done.map_err(task_error)?);
            }
            progress(tally.progress());
        }
        while !in_flight.is_empty() {
            finish_one(&mut in_flight, &mut tally, progress).await?;
        }
        Ok(())
    }
    .await;
    drop(posts_rx);
    reader.await.map_err(task_error)?;
    outcome?;
    let summary = tally.finish(started.elapsed());
    tracing::info!(posts = summary.posts, acknowledged = summary.acknowledged,
        failed = summary.failed, elapsed = ?summary.elapsed, "emulator finished");
    Ok(summary)
}

/// Waits for one record in flight to end and counts it.
async fn finish_one(
    in_flight: &mut JoinSet<Delivery>,
    tally: &mut Tally,
    progress: &(dyn Fn(&EmulatorProgress) + Sync),
) -> Result<()> {
    if let Some(done) = in_flight.join_next().await {
        let delivery = done.map_err(task_error)?;
        if let Err(reason) = &delivery.result {
            tracing::debug!(%reason, "record failed");
        }
        tally.record_done(&delivery);
        progress(tally.progress());
    }
    Ok(())
}

/// The reader thread: fetches the posts of the key sequence and hands them to the async loop, until
/// `count` posts, a database error (handed on), or the loop stops listening.
fn read_posts(
    store: &dyn Store,
    keys: KeySequence,
    count: Option<u64>,
    posts: &mpsc::Sender<Result<Post>>,
) {
    let limit = count.unwrap_or(u64::MAX);
    for key in keys.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let post = store
            .fetch(key)
            .and_then(|found| found.ok_or(SourceError::MissingKey(key)));
        let failed = post.is_err();
        if posts.blocking_send(post).is_err() || failed {
            return;
        }
    }
}

/// Spaces posts `1 / rate` seconds apart; never bursts to catch up after a stall.
struct Pacer(Option<Interval>);

/// Rates above this many posts per second are not limited at all.
const UNLIMITED_ABOVE: f64 = 1e6;
/// The longest wait between posts, whatever the rate.
const LONGEST_PERIOD: Duration = Duration::from_secs(24 * 3600);

impl Pacer {
    fn new(rate: Option<f64>) -> Pacer {
        Pacer(rate.and_then(period).map(|period| {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        }))
    }

    async fn tick(&mut self) {
        if let Some(interval) = &mut self.0 {
            interval.tick().await;
        }
    }
}

/// The wait between posts at `rate` posts per second, `None` when not worth limiting.
fn period(rate: f64) -> Option<Duration> {
    if !(rate.is_finite() && rate > 0.0) || rate > UNLIMITED_ABOVE {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(1.0 / rate)
            .unwrap_or(LONGEST_PERIOD)
            .min(LONGEST_PERIOD),
    )
}

/// Runs blocking database work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(task_error)?
}

fn task_error(e: tokio::task::JoinError) -> SourceError {
    SourceError::Task(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_periods() {
        assert_eq!(period(10.0), Some(Duration::from_millis(100)));
        assert_eq!(period(0.5), Some(Duration::from_secs(2)));
        assert_eq!(period(1e-300), Some(LONGEST_PERIOD));
        assert_eq!(period(1e7), None);
        assert_eq!(period(f64::INFINITY), None);
    }

    #[test]
    fn a_run_can_be_spawned() -> Result<()> {
        fn send<T: Send>(_: &T) {}
        let db = SourceDb::open("sqlite::memory:")?;
        let config = EmulatorConfig::new("http://127.0.0.1:9");
        let run = emulate(&db, &config, &|_| {});
        send(&run);
        Ok(())
    }
}
