//! The sink: what MSK Connect's S3 sink did for the original, for any [`Topics`] backend.
//!
//! It consumes the topics as a consumer group, gathers each partition's records into one object
//! of newline-delimited values, and writes it at `raw/topics/<topic>/partition=<p>/
//! <topic>+<p>+<start offset>.json` (SPEC §4). A partition's offset is committed only after its
//! object is written, and an object's name depends only on its start offset, so after a crash the
//! sink resumes at the committed offset and rewrites the same object: no gap, no duplicate.
//!
//! A failed write is retried with backoff (forever when following the topics, five times with
//! `once`), except when the object store refused access: retrying would not help. A shutdown
//! (Ctrl-C) while the store is down ends the retries at once; nothing uncommitted is lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use pinpipe_bus::{BusError, ConsumedRecord, TopicConsumer, Topics, with_causes};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::is_transient;
use crate::raw::object_path;

/// The consumer group the sink commits its progress under.
pub const DEFAULT_GROUP: &str = "pinpipe-sink";

/// How the sink runs.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Consumer group whose committed offsets say where to resume.
    pub group: String,
    /// Records per object at most (Kafka Connect's `flush.size`).
    pub flush_size: usize,
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
            rotate_interval: Duration::from_secs(10),
            once: false,
        }
    }
}

/// Something the sink did that a user may want to see.
#[derive(Clone, Debug)]
pub enum SinkEvent {
    /// An object was written and its records committed.
    Flushed { path: String, records: usize },
    /// Writing an object failed; it will be retried.
    Retrying {
        path: String,
        error: String,
        attempt: u32,
    },
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
}

/// Records of one partition waiting to be written.
struct Pending {
    start_offset: i64,
    next_offset: i64,
    records: usize,
    body: Vec<u8>,
    since: Instant,
}

/// Runs the sink until `shutdown` resolves (or, with `once`, until the topics are drained); what
/// was gathered is written before it returns. A shutdown while a write is failing ends the
/// retries at once with that write's error: its records were not committed, so the next run
/// reads and writes them again.
pub async fn run_sink(
    topics: &dyn Topics,
    store: Arc<dyn ObjectStore>,
    options: &SinkOptions,
    on_event: &(dyn Fn(&SinkEvent) + Send + Sync),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<SinkReport, SinkError> {
    let (stop, stopping) = watch::channel(false);
    let sink = sink_until(topics, store, options, on_event, stopping);
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
    on_event: &(dyn Fn(&SinkEvent) + Send + Sync),
    mut stopping: watch::Receiver<bool>,
) -> Result<SinkReport, SinkError> {
    let mut consumer = topics.consumer(&options.group, &options.topics).await?;
    let mut writer = Writer {
        store,
        on_event,
        once: options.once,
        stopping: stopping.clone(),
        report: SinkReport::default(),
    };
    let mut pending: BTreeMap<(String, i32), Pending> = BTreeMap::new();
    let poll_wait = options
        .rotate_interval
        .clamp(Duration::from_millis(10), Duration::from_millis(500));
    loop {
        let batch = tokio::select! {
            batch = consumer.poll(options.flush_size, poll_wait) => batch?,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let drained = batch.is_empty();
        for record in batch {
            let slot = (record.topic.clone(), record.partition);
            let buffer = pending.entry(slot.clone()).or_insert_with(|| Pending {
                start_offset: record.offset,
                next_offset: record.offset,
                records: 0,
                body: Vec::new(),
                since: Instant::now(),
            });
            append(buffer, &record);
            if buffer.records >= options.flush_size
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
    }
    for (slot, buffer) in std::mem::take(&mut pending) {
        writer.flush(consumer.as_mut(), &slot, buffer).await?;
    }
    Ok(writer.report)
}

/// Adds a record's value as one line.
fn append(buffer: &mut Pending, record: &ConsumedRecord) {
    let value = &record.value;
    if value.contains(&b'\n') || value.contains(&b'\r') {
        // Only white space between JSON tokens can hold a raw line break: write it compactly.
        match serde_json::from_slice::<serde_json::Value>(value) {
            Ok(v) => buffer.body.extend(v.to_string().into_bytes()),
            Err(_) => buffer.body.extend(
                value
                    .iter()
                    .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
            ),
        }
    } else {
        buffer.body.extend_from_slice(value);
    }
    buffer.body.push(b'\n');
    buffer.records += 1;
    buffer.next_offset = record.offset + 1;
}

struct Writer<'a> {
    store: Arc<dyn ObjectStore>,
    on_event: &'a (dyn Fn(&SinkEvent) + Send + Sync),
    once: bool,
    /// Turns true on shutdown: failed writes are then not retried.
    stopping: watch::Receiver<bool>,
    report: SinkReport,
}

impl Writer<'_> {
    /// Writes the object, retrying with backoff, then commits the partition's offset.
    async fn flush(
        &mut self,
        consumer: &mut dyn TopicConsumer,
        (topic, partition): &(String, i32),
        buffer: Pending,
    ) -> Result<(), SinkError> {
        let partition_number = u32::try_from(*partition).unwrap_or_default();
        let path = object_path(topic, partition_number, buffer.start_offset);
        let payload = PutPayload::from(Bytes::from(buffer.body));
        let location = ObjectPath::from(path.as_str());
        let mut attempt = 0;
        loop {
            match self.store.put(&location, payload.clone()).await {
                Ok(_) => break,
                Err(source) => {
                    attempt += 1;
                    let give_up = !is_transient(&source)
                        || (self.once && attempt >= 5)
                        || *self.stopping.borrow();
                    if give_up {
                        return Err(SinkError::Storage { path, source });
                    }
                    (self.on_event)(&SinkEvent::Retrying {
                        path: path.clone(),
                        error: with_causes(&source),
                        attempt,
                    });
                    tracing::warn!(%path, error = with_causes(&source), attempt, "writing a raw object failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff(attempt)) => {}
                        _ = self.stopping.wait_for(|stop| *stop) => {
                            return Err(SinkError::Storage { path, source });
                        }
                    }
                }
            }
        }
        consumer
            .commit(topic, *partition, buffer.next_offset)
            .await?;
        self.report.objects += 1;
        self.report.records += buffer.records;
        tracing::info!(%path, records = buffer.records, "raw object written");
        (self.on_event)(&SinkEvent::Flushed {
            path,
            records: buffer.records,
        });
        Ok(())
    }
}

/// 200 ms doubling per attempt, at most 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(10))
}
