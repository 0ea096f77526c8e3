//! The stream job: the three streams → cleaned Delta tables `stream/pin|geo|user`, exactly once.
//!
//! ```text
//!  streaming-<prefix>-pin ─┐  every trigger (1 s): each shard from its committed position,
//!  streaming-<prefix>-geo ─┼─ at most max_records_per_shard records ──► TableBuilder (SPEC §5,
//!  streaming-<prefix>-user ┘                                            the batch job's cleaning)
//!                                   rejects ──► MERGE ─► quarantine (idempotent on source+position)
//!                 rows, last copy per ind ──► UPSERT ─► stream/<table> ┐ one Delta commit
//!   micro-batch number ──► txn(pinpipe-stream:<stream>, version)      │
//!   last sequence number read in each shard ──► commitInfo             ┘
//! ```
//!
//! **Exactly once**, as Spark's Delta sink and kafka-delta-ingest do it: the position reached in
//! each shard (the sequence number of the last record read) is committed with the rows read up to
//! it, in the same Delta commit, next to an application transaction whose version numbers the
//! micro-batches ([`positions`] says why and how). On start, and whenever something else committed
//! to the table, the positions are read back from the table's log, never from a side file. So a
//! crash before the commit reads the records again and a crash after it does not: no record is
//! lost or applied twice. This works alike on the embedded log and on Kinesis. Rejects are written
//! to the quarantine first; a record read twice is quarantined once (same source and position).
//! A micro-batch of only rejects still commits its positions, with no data ([`commit_transactions`]).
//!
//! **Upserts** rewrite only the data files that hold the keys a micro-batch replaces, found in an
//! index of the table's keys ([`keys`]), rather than MERGE, which reads the whole table each time.
//!
//! **Arrival order**: within a shard, sequence order; across the shards of a stream, the records of
//! a cycle are merged by arrival time, so the copy of a key that arrived last wins (a key's copies
//! share a shard anyway when the partition key is the key, as the emulator sends them). Arrival
//! times are milliseconds, as Kinesis's: copies on two shards within one millisecond are ordered
//! by shard, and across micro-batches the later micro-batch's copy wins.
//!
//! **Cost**: an idle cycle reads each stream's description and writes nothing. A burst is taken
//! `max_records_per_shard` records per shard at a time, and the next cycle starts at once while
//! shards are full, so memory stays bounded whatever the backlog.
//!
//! **Sharing the tables**: every commit is made on the table version it read
//! ([`crate::delta`]); when `pinpipe lake optimize`, vacuum, the batch job (quarantine) or a second
//! stream job committed first, the job reloads the table, rereads its positions from it, and
//! reads the shards again from there, at once. Other errors that may pass (storage, the bus) are
//! retried with backoff, [`MAX_FAILURES`] times in a row at most.
//!
//! [`commit_transactions`]: crate::delta::commit_transactions

mod cycle;
mod keys;
mod positions;
mod read;
mod write;

use std::time::{Duration, Instant};

use pinpipe_bus::{Streams, with_causes};
use pinpipe_model::Table;
use pinpipe_telemetry::retry::{BackoffBuilder, Retrying, backoff};
use pinpipe_telemetry::started::Job;
use serde::Serialize;

use crate::delta::{self, validate_tables_dir};
use crate::error::{LakeError, Result};
use crate::location::Lake;

pub use positions::{Checkpoint, METADATA_KEY, ShardLag, app_id, stream_lag};

/// How often a job with a zero trigger looks for new records while the streams are idle.
pub const IDLE_POLL: Duration = Duration::from_millis(20);

/// Failed cycles in a row after which the job gives up.
pub const MAX_FAILURES: u32 = 8;

/// What the stream job reads and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    /// Streams read are `streaming-<stream_prefix>-pin`, `-geo`, `-user` (default `pinpipe`).
    pub stream_prefix: String,
    /// The folder of the cleaned tables inside the lake (default `stream`).
    pub tables_dir: String,
    /// How often a micro-batch starts (default 1 s), as Spark's processing-time trigger; zero
    /// starts one as soon as there is data (looking every [`IDLE_POLL`] while there is none).
    pub trigger: Duration,
    /// Records read from one shard in one micro-batch at most (default 10,000): bounds memory.
    pub max_records_per_shard: usize,
    /// Bytes of records read from one shard in one micro-batch, about (default 32 MiB): bounds
    /// memory whatever the records' sizes.
    pub max_bytes_per_shard: usize,
    /// Drain what the streams hold and return, instead of following them.
    pub once: bool,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            stream_prefix: "pinpipe".to_owned(),
            tables_dir: crate::query::STREAM_TABLES_DIR.to_owned(),
            trigger: Duration::from_secs(1),
            max_records_per_shard: 10_000,
            max_bytes_per_shard: 32 * 1024 * 1024,
            once: false,
        }
    }
}

impl StreamOptions {
    /// The stream `table`'s records arrive on.
    pub fn stream_name(&self, table: Table) -> String {
        format!("streaming-{}-{}", self.stream_prefix, table.name())
    }

    /// Checks that the streams are valid Kinesis stream names, the tables folder a plain relative
    /// path, and the trigger and batch size positive.
    pub fn validate(&self) -> Result<()> {
        for table in Table::ALL {
            pinpipe_bus::validate_stream_name(&self.stream_name(table))
                .map_err(|e| LakeError::InvalidOptions(format!("stream prefix: {e}")))?;
        }
        validate_tables_dir(&self.tables_dir)?;
        if self.max_records_per_shard == 0 || self.max_bytes_per_shard == 0 {
            return Err(LakeError::InvalidOptions(
                "max_records_per_shard and max_bytes_per_shard must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What a stream run did (counts only, so a job that runs for weeks stays small).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    /// Micro-batch cycles run (idle ones included).
    pub cycles: u64,
    /// Records read.
    pub records_read: usize,
    /// Rows inserted.
    pub rows_inserted: usize,
    /// Rows replaced.
    pub rows_updated: usize,
    /// Records rejected.
    pub rejected: usize,
    /// Rejected records newly added to the quarantine.
    pub quarantined: usize,
    /// Delta commits written (table creations included).
    pub commits: usize,
    /// Wall time of the run.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Runs the stream job (see the module documentation) until `shutdown` resolves, or with
/// [`StreamOptions::once`] until the streams are drained. Progress is emitted as
/// [`pinpipe_telemetry`] events. A micro-batch under way when `shutdown` resolves is finished
/// first.
pub async fn run_stream(
    lake: &Lake,
    streams: &dyn Streams,
    opts: &StreamOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<StreamReport> {
    opts.validate()?;
    let stream_names = Table::ALL.map(|t| opts.stream_name(t)).to_vec();
    delta::job_started(Job::Stream, stream_names, &opts.tables_dir).emit();
    let started = Instant::now();
    let mut report = StreamReport::default();
    let mut job = cycle::Job::open(lake, opts, &mut report).await?;
    tokio::pin!(shutdown);
    let mut failures = 0;
    let mut delays = backoff(Duration::from_millis(100), Duration::from_secs(5)).build();
    loop {
        let cycle_started = Instant::now();
        let wait = match job.run(streams, &mut report).await {
            Ok(outcome) => {
                failures = 0;
                delays = backoff(Duration::from_millis(100), Duration::from_secs(5)).build();
                report.cycles += 1;
                if opts.once && outcome.records == 0 {
                    break;
                }
                if opts.once || outcome.backlog {
                    Duration::ZERO
                } else if opts.trigger.is_zero() {
                    if outcome.records == 0 {
                        IDLE_POLL
                    } else {
                        Duration::ZERO
                    }
                } else {
                    opts.trigger.saturating_sub(cycle_started.elapsed())
                }
            }
            Err(error) if error.is_retryable() && failures < MAX_FAILURES => {
                failures += 1;
                let delay = delays.next().unwrap_or(Duration::from_secs(5));
                Retrying {
                    component: "stream",
                    what: "micro-batch".to_owned(),
                    error: with_causes(&error),
                    attempt: failures,
                    delay,
                }
                .emit();
                job.reset();
                delay
            }
            Err(error) => {
                job.finish_checkpoints().await;
                return Err(error);
            }
        };
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    job.finish_checkpoints().await;
    report.duration = started.elapsed();
    Ok(report)
}
