//! Events of the stream job (`pinpipe stream`).

use std::time::{Duration, SystemTime};

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Stream, StreamShard, Table, TableOp};

/// The records a micro-batch read from one shard.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShardRead {
    /// The shard, e.g. `shardId-000000000000`.
    pub shard_id: String,
    /// Sequence number of the first record read.
    pub first: String,
    /// Sequence number of the last record read: the shard's position once committed.
    pub last: String,
    /// Records read.
    pub records: usize,
}

/// A micro-batch was committed: its rows are readable and its positions stored.
#[derive(Clone, Debug)]
pub struct MicroBatchCommitted {
    /// The table's path in the lake (`stream/pin`).
    pub table: String,
    /// The stream read.
    pub stream: String,
    /// The Delta version written.
    pub version: u64,
    /// Records read.
    pub records: usize,
    /// Bytes of the records read.
    pub bytes: u64,
    /// Rows inserted (new keys).
    pub inserted: usize,
    /// Rows replaced.
    pub updated: usize,
    /// Records rejected.
    pub rejected: usize,
    /// What was read from each shard.
    pub shards: Vec<ShardRead>,
    /// Time from the start of the write to the commit.
    pub duration: Duration,
    /// When the commit was done: the rows are readable from then on.
    pub committed_at: SystemTime,
    /// Records still waiting in the stream's shards after it, where known.
    pub lag: Option<i64>,
}

impl MicroBatchCommitted {
    /// Logs at info and counts `pinpipe_stream_records_total`, `_bytes_total`,
    /// `_commits_total`, `_rows_total` and `_commit_duration_seconds`.
    pub fn emit(self) {
        tracing::info!(
            table = %self.table, version = self.version, records = self.records,
            inserted = self.inserted, updated = self.updated, rejected = self.rejected,
            lag = self.lag, duration_ms = crate::millis(self.duration),
            "micro-batch committed"
        );
        let m = metrics::get();
        let stream = Stream {
            stream: self.stream.clone(),
        };
        m.stream_records
            .get_or_create(&stream)
            .inc_by(self.records as u64);
        m.stream_bytes.get_or_create(&stream).inc_by(self.bytes);
        m.stream_commits
            .get_or_create(&Table {
                table: self.table.clone(),
            })
            .inc();
        for (op, rows) in [("inserted", self.inserted), ("updated", self.updated)] {
            m.stream_rows
                .get_or_create(&TableOp {
                    table: self.table.clone(),
                    op,
                })
                .inc_by(rows as u64);
        }
        m.stream_commit_duration
            .observe(self.duration.as_secs_f64());
        dispatch(Event::MicroBatchCommitted(self));
    }
}

/// How far the stream job is behind one shard.
#[derive(Clone, Debug)]
pub struct ShardLag {
    /// The stream.
    pub stream: String,
    /// The shard.
    pub shard_id: String,
    /// Records in the shard not yet committed, where the bus can tell.
    pub lag: Option<i64>,
}

impl ShardLag {
    /// Sets `pinpipe_stream_lag_records{stream, shard}` when the lag is known.
    pub fn emit(self) {
        if let Some(lag) = self.lag {
            metrics::get()
                .stream_lag
                .get_or_create(&StreamShard {
                    stream: self.stream.clone(),
                    shard: self.shard_id.clone(),
                })
                .set(lag);
        }
        dispatch(Event::ShardLag(self));
    }
}
