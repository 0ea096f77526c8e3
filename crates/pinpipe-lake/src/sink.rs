//! The sink: what MSK Connect's S3 sink did for the original, for any [`Topics`] backend.
//!
//! It consumes the topics as a consumer group, gathers each partition's records into one object
//! of newline-delimited values, and writes it at `raw/topics/<topic>/partition=<p>/
//! <topic>+<p>+<start offset>.json` (SPEC §4). A partition's offset is committed only after its
//! object is written, and an object's name depends only on its start offset, so after a crash the
//! sink resumes at the committed offset and rewrites the same object: no gap, no duplicate.
//!
//! **Bounds.** An object holds at most `flush_size` records and about `flush_bytes` bytes, and a
//! poll takes no more than that, so memory stays bounded whatever the records' sizes.
//!
//! **Ownership.** Before writing an object the sink asks whether it still owns the partition
//! ([`TopicConsumer::still_owns`]): after a Kafka rebalance, or when another sink took the
//! embedded bus's group lease, the buffer is dropped, not written over the new owner's object,
//! and no older offset is committed. A write that stalls past the lease (a hung disk, a stopped
//! process) cannot land over its successor's object either: an object is created only where none
//! is, and one already there is replaced only by the member that owns the partition when it
//! finds it (written by a member that stopped before committing, itself before a crash). What is
//! left is a replacement, or a retry after a failed write (retries replace, after the ownership
//! check), that itself stalls until the next owner has written. Records read again after such a change start at the
//! committed offset: a buffer that does not end where they begin is dropped too. An offset gap
//! (Kafka leaves some for transaction markers and compaction) cuts the object, so line `i` of an
//! object is always the record at its start offset plus `i`.
//!
//! **Failures.** A failed write is retried with backoff (forever when following the topics, five
//! times with `once`) when it may pass; not when the object store refused access. A full disk
//! stops the sink with an error that says so: nothing uncommitted is lost, and the sink resumes
//! where it was once space is freed. A shutdown (Ctrl-C) while the store is down ends the retries
//! at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use pinpipe_bus::{BusError, ConsumedRecord, ReadLimit, TopicConsumer, Topics, with_causes};
use pinpipe_telemetry::BackendUnavailable;
use pinpipe_telemetry::retry::{BackoffBuilder, Retrying, backoff};
use pinpipe_telemetry::sink::{ObjectWritten, OffsetsCommitted, PartitionLag};
use pinpipe_telemetry::started::{Job, JobStarted};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{is_disk_full, is_transient};
use crate::raw::object_path;

/// The consumer group the sink commits its progress under.
pub const DEFAULT_GROUP: &str = "pinpipe-sink";

/// How often the sink reports how far behind each partition it is.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// How the sink runs.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Consumer group whose committed offsets say where to resume.
    pub group: String,
    /// Records per object at most (Kafka Connect's `flush.size`).
    pub flush_size: usize,
    /// Bytes per object, about (an object is written once it holds this much).
    pub flush_bytes: usize,
    /// Longest a partition's records wait before they are written (`rotate.interval.ms`).
    pub rotate_interval: Duration,
    /// Drain what is there and return, instead of following the topics.
    pub once: bool,
}

impl SinkOptions {
    /// The three topics of `prefix`, with the defaults of the original deployment.
    pub fn for_prefix(prefix: &str) -> Self {
        Self {
            topics: ["pin", "geo", "user"]
                .map(|t| format!("{prefix}.{t}"))
                .to_vec(),
            group: DEFAULT_GROUP.to_owned(),
            flush_size: 1000,
            flush_bytes: 64 * 1024 * 1024,
            rotate_interval: Duration::from_secs(10),
            once: false,
        }
    }
}

/// What a sink run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub objects: usize,
    pub records: usize,
}

/// Why the sink stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("writing {path}: {source}")]
    Storage {
        path: String,
        source: object_store::Error,
    },
    #[error(
        "the lake's disk is full writing {path}: free some space and start the sink again; \
         nothing is lost (offsets are committed only for objects written)"
    )]
    DiskFull {
        path: String,
        source: object_store::Error,
    },
}

/// Records of one partition waiting to be written.
struct Pending {
    start_offset: i64,
    next_offset: i64,
    records: usize,
    body: Vec<u8>,
    since: Instant,
}

impl Pending {
    fn new(offset: i64) -> Self {
        Self {
            start_offset: offset,
            next_offset: offset,
            records: 0,
            body: Vec::new(),
            since: Instant::now(),
        }
    }

    /// Adds a record's value as one line.
    fn append(&mut self, record: &ConsumedRecord) {
        let value = &record.value;
        if value.contains(&b'\n') || value.contains(&b'\r') {
            // Only white space between JSON tokens can hold a raw line break: write it compactly.
            match serde_json::from_slice::<serde_json::Value>(value) {
                Ok(v) => self.body.extend(v.to_string().into_bytes()),
                Err(_) => self.body.extend(
                    value
                        .iter()
                        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
                ),
            }
        } else {
            self.body.extend_from_slice(value);
        }
        self.body.push(b'\n');
        self.records += 1;
        self.next_offset = record.offset + 1;
    }

    fn full(&self, options: &SinkOptions) -> bool {
        self.records >= options.flush_size || self.body.len() >= options.flush_bytes
    }
}

/// Runs the sink until `shutdown` resolves (or, with `once`, until the topics are drained); what
/// was gathered is written before it returns. A shutdown while a write is failing ends the
/// retries at once with that write's error: its records were not committed, so the next run
/// reads and writes them again.
pub async fn run_sink(
    topics: &dyn Topics,
    store: Arc<dyn ObjectStore>,
    options: &SinkOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<SinkReport, SinkError> {
    let (stop, stopping) = watch::channel(false);
    let sink = sink_until(topics, store, options, stopping);
    tokio::pin!(sink);
    tokio::select! {
        report = &mut sink => return report,
        () = shutdown => {
            let _ = stop.send(true);
        }
    }
    sink.await
}

/// The sink itself, until `stopping` turns true.
async fn sink_until(
    topics: &dyn Topics,
    store: Arc<dyn ObjectStore>,
    options: &SinkOptions,
    mut stopping: watch::Receiver<bool>,
) -> Result<SinkReport, SinkError> {
    let mut consumer = topics.consumer(&options.group, &options.topics).await?;
    JobStarted {
        job: Job::Sink,
        inputs: options.topics.clone(),
        tables: Vec::new(),
        quarantine_tables: &[],
        quarantine_reasons: &[],
    }
    .emit();
    let mut writer = Writer {
        store,
        options,
        stopping: stopping.clone(),
        report: SinkReport::default(),
        committed: BTreeMap::new(),
    };
    let mut pending: BTreeMap<(String, i32), Pending> = BTreeMap::new();
    let poll_wait = options
        .rotate_interval
        .clamp(Duration::from_millis(10), Duration::from_millis(500));
    let limit = ReadLimit {
        records: options.flush_size,
        bytes: options.flush_bytes,
    };
    let mut lag_at = Instant::now();
    loop {
        let batch = tokio::select! {
            batch = consumer.poll(limit, poll_wait) => batch?,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let drained = batch.is_empty();
        for record in batch {
            let slot = (record.topic.clone(), record.partition);
            if let Some(buffer) = pending.get(&slot)
                && buffer.next_offset != record.offset
            {
                let buffer = pending.remove(&slot).expect("looked up above");
                if record.offset > buffer.next_offset {
                    // A gap: what is buffered ends before it; the next object starts after it.
                    writer.flush(consumer.as_mut(), &slot, buffer).await?;
                } else {
                    tracing::warn!(
                        topic = %slot.0, partition = slot.1, buffered_from = buffer.start_offset,
                        now_at = record.offset,
                        "the partition is read again from its committed offset; dropping what was buffered"
                    );
                }
            }
            let buffer = pending
                .entry(slot.clone())
                .or_insert_with(|| Pending::new(record.offset));
            buffer.append(&record);
            if buffer.full(options)
                && let Some(full) = pending.remove(&slot)
            {
                writer.flush(consumer.as_mut(), &slot, full).await?;
            }
        }
        if options.once && drained {
            break;
        }
        let due: Vec<_> = pending
            .iter()
            .filter(|(_, p)| p.since.elapsed() >= options.rotate_interval)
            .map(|(slot, _)| slot.clone())
            .collect();
        for slot in due {
            if let Some(buffer) = pending.remove(&slot) {
                writer.flush(consumer.as_mut(), &slot, buffer).await?;
            }
        }
        if lag_at.elapsed() >= LAG_EVERY {
            lag_at = Instant::now();
            report_lag(topics, &options.topics, &pending, &writer.committed).await;
        }
    }
    for (slot, buffer) in std::mem::take(&mut pending) {
        writer.flush(consumer.as_mut(), &slot, buffer).await?;
    }
    report_lag(topics, &options.topics, &pending, &writer.committed).await;
    consumer.close().await?;
    Ok(writer.report)
}

/// Emits each partition's lag: its high watermark minus the offset the sink committed.
async fn report_lag(
    topics: &dyn Topics,
    names: &[String],
    pending: &BTreeMap<(String, i32), Pending>,
    committed: &BTreeMap<(String, i32), i64>,
) {
    for topic in names {
        let Ok(info) = topics.describe_topic(topic).await else {
            continue;
        };
        for partition in info.partitions {
            let slot = (topic.clone(), partition.partition);
            let done = committed
                .get(&slot)
                .copied()
                .or_else(|| pending.get(&slot).map(|p| p.start_offset));
            let Some(done) = done else {
                continue;
            };
            PartitionLag {
                topic: topic.clone(),
                partition: partition.partition,
                lag: (partition.high_watermark - done).max(0),
            }
            .emit();
        }
    }
}

struct Writer<'a> {
    store: Arc<dyn ObjectStore>,
    options: &'a SinkOptions,
    /// Turns true on shutdown: failed writes are then not retried.
    stopping: watch::Receiver<bool>,
    report: SinkReport,
    /// The offset committed per partition by this run.
    committed: BTreeMap<(String, i32), i64>,
}

impl Writer<'_> {
    /// Writes `payload` at `location`, retrying with backoff what may pass, as long as this
    /// member owns the partition (asked before every attempt: a member whose lease ran out during
    /// a long outage must not write over its successor's object). `None` when it stopped
    /// without writing: the partition changed hands, or the sink is stopping while the write
    /// keeps failing; the records are then read again from the committed offset.
    async fn put_while_owned(
        &self,
        consumer: &mut dyn TopicConsumer,
        (topic, partition): &(String, i32),
        location: &ObjectPath,
        payload: &PutPayload,
    ) -> Result<Option<Result<(), object_store::Error>>, SinkError> {
        let attempts = if self.options.once { 5 } else { usize::MAX };
        let mut delays = backoff(Duration::from_millis(200), Duration::from_secs(10))
            .with_max_times(attempts)
            .build();
        let mut stopping = self.stopping.clone();
        let already_stopping = *stopping.borrow();
        let mut attempt = 0;
        let mut mode = PutMode::Create;
        loop {
            if attempt > 0 && !consumer.still_owns(topic, *partition).await? {
                tracing::warn!(%topic, partition, "the partition changed hands during the retries");
                return Ok(None);
            }
            let options = PutOptions::from(mode.clone());
            let error = match self
                .store
                .put_opts(location, payload.clone(), options)
                .await
            {
                Ok(_) => return Ok(Some(Ok(()))),
                Err(object_store::Error::AlreadyExists { .. }) if mode == PutMode::Create => {
                    if !consumer.still_owns(topic, *partition).await? {
                        tracing::warn!(
                            %topic, partition, %location,
                            "the partition changed hands while its object was written; not replacing the new owner's"
                        );
                        return Ok(None);
                    }
                    mode = PutMode::Overwrite;
                    continue;
                }
                Err(error) => error,
            };
            let retry = is_transient(&error) && !is_disk_full(&error) && !*stopping.borrow();
            let Some(delay) = delays.next().filter(|_| retry) else {
                return Ok(Some(Err(error)));
            };
            attempt += 1;
            // Retries replace: each is preceded by the ownership check above, and a store that
            // refuses conditional writes (an S3 clone without If-None-Match) must not fail the
            // sink for good.
            mode = PutMode::Overwrite;
            let text = with_causes(&error);
            BackendUnavailable {
                component: "sink",
                backend: "lake",
                error: text.clone(),
            }
            .emit();
            Retrying {
                component: "sink",
                what: location.to_string(),
                error: text,
                attempt,
                delay,
            }
            .emit();
            // A shutdown ends a failing write's retries at once (the last writes of a
            // shutdown, already stopping, get their one attempt).
            if already_stopping {
                return Ok(Some(Err(error)));
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stopping.wait_for(|stop| *stop) => return Ok(Some(Err(error))),
            }
        }
    }

    /// Writes the object, retrying with backoff, then commits the partition's offset. A
    /// partition this member no longer owns is dropped instead.
    async fn flush(
        &mut self,
        consumer: &mut dyn TopicConsumer,
        slot: &(String, i32),
        buffer: Pending,
    ) -> Result<(), SinkError> {
        let (topic, partition) = slot;
        if !consumer.still_owns(topic, *partition).await? {
            tracing::warn!(
                %topic, partition, records = buffer.records,
                "the partition now belongs to another member of the group; dropping its buffer"
            );
            return Ok(());
        }
        let partition_number = u32::try_from(*partition).unwrap_or_default();
        let path = object_path(topic, partition_number, buffer.start_offset);
        let bytes = buffer.body.len() as u64;
        let payload = PutPayload::from(Bytes::from(buffer.body));
        let location = ObjectPath::from(path.as_str());
        let started = Instant::now();
        let Some(outcome) = self
            .put_while_owned(consumer, slot, &location, &payload)
            .await?
        else {
            return Ok(());
        };
        if let Err(source) = outcome {
            return Err(if is_disk_full(&source) {
                SinkError::DiskFull { path, source }
            } else {
                SinkError::Storage { path, source }
            });
        }
        consumer
            .commit(topic, *partition, buffer.next_offset)
            .await?;
        self.committed.insert(slot.clone(), buffer.next_offset);
        OffsetsCommitted {
            group: self.options.group.clone(),
            topic: topic.clone(),
            partition: *partition,
            next_offset: buffer.next_offset,
        }
        .emit();
        self.report.objects += 1;
        self.report.records += buffer.records;
        ObjectWritten {
            topic: topic.clone(),
            partition: *partition,
            path,
            records: buffer.records as u64,
            bytes,
            duration: started.elapsed(),
        }
        .emit();
        Ok(())
    }
}
