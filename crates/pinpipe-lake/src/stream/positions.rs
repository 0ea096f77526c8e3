//! Where the stream job is in each shard of a stream, kept in the stream's own Delta table, and the
//! lag it leaves behind the stream.
//!
//! A position is the sequence number of the last record committed from a shard. Sequence numbers
//! are strings (Kinesis's are decimal numbers of up to 128 bits), so they cannot be a Delta
//! application transaction's version, which is a 64-bit integer. The job therefore commits, as
//! Spark's Delta sink does for a streaming query:
//!
//! - an application transaction `pinpipe-stream:<stream>` whose version is the micro-batch number
//!   (0, 1, 2, …), and
//! - in the same commit's `commitInfo`, under [`METADATA_KEY`], the stream, that micro-batch number
//!   and the position of every shard read so far.
//!
//! Both are in one atomic commit with the rows. On start the job reads the transaction's version
//! from the table snapshot (cheap) and then the `commitInfo` of the commit that wrote it, searching
//! the log from its newest commit backwards. Every micro-batch repeats the positions of all shards,
//! so only the latest one is ever needed. Should log retention have removed that commit (the
//! stream idle for longer than `delta.logRetentionDuration`), the job warns and reads every shard
//! from its oldest record: the tables are upserts by key and the quarantine is keyed by source and
//! position, so reading records again changes nothing.

use std::collections::BTreeMap;

use deltalake::DeltaTable;
use futures::TryStreamExt;
use pinpipe_bus::{BusError, ShardInfo, StreamInfo, Streams, sequence_offset};
use pinpipe_model::Table;
use serde::{Deserialize, Serialize};

use super::StreamOptions;
use crate::delta::{table_path, transaction_version};
use crate::error::Result;
use crate::location::Lake;

/// The `commitInfo` key under which a micro-batch records its [`Checkpoint`].
pub const METADATA_KEY: &str = "pinpipe.stream";

/// How many of the newest commits are searched first for the checkpoint; then the whole log.
const RECENT_COMMITS: usize = 16;

/// The application id of the stream job's micro-batches from `stream`.
pub fn app_id(stream: &str) -> String {
    format!("pinpipe-stream:{stream}")
}

/// What a committed micro-batch says about where the job is in a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The stream.
    pub stream: String,
    /// The number of the micro-batch that committed it (the application transaction's version);
    /// `None` before the first.
    pub batch: Option<i64>,
    /// The life of the stream the positions are in ([`pinpipe_bus::StreamInfo::incarnation`]);
    /// `None` in checkpoints written before it was recorded. Positions of another life mean
    /// nothing in the stream as it is now.
    #[serde(default)]
    pub incarnation: Option<String>,
    /// The sequence number of the last record committed from each shard read so far.
    pub positions: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The checkpoint committed to `table` for `stream`: none before the first micro-batch.
    pub async fn load(table: &DeltaTable, stream: &str) -> Result<Checkpoint> {
        let Some(batch) = transaction_version(table, &app_id(stream)).await? else {
            return Ok(Checkpoint {
                stream: stream.to_owned(),
                ..Checkpoint::default()
            });
        };
        for limit in [Some(RECENT_COMMITS), None] {
            if let Some(found) = find_in_log(table, stream, batch, limit).await? {
                return Ok(found);
            }
            if table.version().is_some_and(|v| v < RECENT_COMMITS as u64) {
                break;
            }
        }
        tracing::warn!(
            stream,
            batch,
            "the commit of the last micro-batch is no longer in the table's log (log retention); \
             reading every shard from its oldest record, which changes nothing already committed"
        );
        Ok(Checkpoint {
            stream: stream.to_owned(),
            batch: Some(batch),
            incarnation: None,
            positions: BTreeMap::new(),
        })
    }

    /// The position in `shard_id`, `None` if nothing was committed from it yet.
    pub fn position(&self, shard_id: &str) -> Option<&str> {
        self.positions.get(shard_id).map(String::as_str)
    }

    /// The checkpoint of the next micro-batch, which read up to `last` in each of its shards.
    pub(super) fn next<'a>(&self, last: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut positions = self.positions.clone();
        for (shard, sequence) in last {
            positions.insert(shard.to_owned(), sequence.to_owned());
        }
        Checkpoint {
            stream: self.stream.clone(),
            batch: Some(self.batch.map_or(0, |b| b + 1)),
            incarnation: self.incarnation.clone(),
            positions,
        }
    }

    /// Adopts the stream's current `incarnation`: when the positions belong to another life of
    /// the stream (it was deleted and created again), they are forgotten, so every shard of the
    /// new one is read from its first record. Returns whether they were.
    pub(super) fn adopt(&mut self, incarnation: &str) -> bool {
        let other = self
            .incarnation
            .as_deref()
            .is_some_and(|known| known != incarnation);
        if other {
            self.positions.clear();
        }
        self.incarnation = Some(incarnation.to_owned());
        other
    }

    /// The `commitInfo` entry that records this checkpoint.
    pub(super) fn metadata(&self) -> (String, serde_json::Value) {
        let recorded = serde_json::json!({
            "stream": self.stream,
            "batch": self.batch,
            "incarnation": self.incarnation,
            "positions": self.positions,
        });
        (METADATA_KEY.to_owned(), recorded)
    }
}

/// The checkpoint of micro-batch `batch` of `stream`, searched in the `limit` newest commits.
async fn find_in_log(
    table: &DeltaTable,
    stream: &str,
    batch: i64,
    limit: Option<usize>,
) -> Result<Option<Checkpoint>> {
    let mut history = table.history(limit);
    while let Some(commit) = history.try_next().await? {
        let Some(recorded) = commit.info.get(METADATA_KEY) else {
            continue;
        };
        let Ok(checkpoint) = serde_json::from_value::<Checkpoint>(recorded.clone()) else {
            continue;
        };
        if checkpoint.stream == stream && checkpoint.batch == Some(batch) {
            return Ok(Some(checkpoint));
        }
    }
    Ok(None)
}

/// How far the stream job is behind one shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardLag {
    /// The table the stream feeds.
    pub table: Table,
    /// The stream.
    pub stream: String,
    /// The shard.
    pub shard_id: String,
    /// Records in the shard, where the bus says (Kinesis does not).
    pub records: Option<i64>,
    /// Sequence number of the last record committed to the table, `None` before the first.
    pub position: Option<String>,
    /// Records in the shard not yet in the table, where that can be told.
    pub lag: Option<i64>,
}

impl ShardLag {
    /// The lag of `shard` when the committed position in it is `position`. Known when the bus
    /// counts the shard's records and its sequence numbers are offsets (the embedded log).
    pub(super) fn new(
        table: Table,
        stream: &str,
        shard: &ShardInfo,
        position: Option<&str>,
    ) -> Self {
        let lag = shard
            .records
            .zip(records_before(position))
            .map(|(records, done)| records.saturating_sub(done).max(0));
        ShardLag {
            table,
            stream: stream.to_owned(),
            shard_id: shard.shard_id.clone(),
            records: shard.records,
            position: position.map(str::to_owned),
            lag,
        }
    }
}

/// How many records of a shard come up to and including `position`, where sequence numbers are
/// offsets (the embedded log): `Some(0)` before the first record.
pub(super) fn records_before(position: Option<&str>) -> Option<i64> {
    match position {
        None => Some(0),
        Some(sequence) => sequence_offset(sequence).map(|offset| offset.saturating_add(1)),
    }
}

/// A stream's shards, or `None` if the stream does not exist (yet).
pub(super) async fn describe(streams: &dyn Streams, stream: &str) -> Result<Option<StreamInfo>> {
    match streams.describe_stream(stream).await {
        Ok(info) => Ok(Some(info)),
        Err(BusError::StreamNotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every shard's lag, read from the stream tables' logs and the streams (`pinpipe streams lag`).
/// Streams that do not exist are left out; a table not created yet has no position.
pub async fn stream_lag(
    lake: &Lake,
    streams: &dyn Streams,
    opts: &StreamOptions,
) -> Result<Vec<ShardLag>> {
    let mut lags = Vec::new();
    for table in Table::ALL {
        let stream = opts.stream_name(table);
        let Some(info) = describe(streams, &stream).await? else {
            continue;
        };
        let mut checkpoint = match lake
            .open_table(&table_path(&opts.tables_dir, table))
            .await?
        {
            Some(delta) => Checkpoint::load(&delta, &stream).await?,
            None => Checkpoint::default(),
        };
        checkpoint.adopt(&info.incarnation);
        for shard in &info.shards {
            let position = checkpoint.position(&shard.shard_id);
            lags.push(ShardLag::new(table, &stream, shard, position));
        }
    }
    Ok(lags)
}
