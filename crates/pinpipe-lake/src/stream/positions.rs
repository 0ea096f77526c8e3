//! Where the stream job is in each shard: Delta application transactions in the stream tables,
//! and the lag they leave behind the streams.

use std::collections::HashMap;

use deltalake::DeltaTable;
use pinpipe_bus::{BusError, ShardInfo, StreamInfo, Streams};
use pinpipe_model::Table;
use serde::Serialize;

use super::StreamOptions;
use crate::delta::{table_path, transaction_version};
use crate::error::Result;
use crate::location::Lake;

/// The application id under which the position in `shard_id` of `stream` is committed.
pub fn app_id(stream: &str, shard_id: &str) -> String {
    format!("pinpipe-stream:{stream}:{shard_id}")
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
    /// Records in the shard.
    pub records: i64,
    /// Offset of the last record committed to the table, `None` before the first.
    pub position: Option<i64>,
    /// Records in the shard not yet in the table.
    pub lag: i64,
}

impl ShardLag {
    /// The lag of a shard holding `shard.records` records whose committed position is `position`.
    pub(super) fn new(
        table: Table,
        stream: &str,
        shard: &ShardInfo,
        position: Option<i64>,
    ) -> Self {
        let done = position.map_or(0, |p| p.saturating_add(1));
        ShardLag {
            table,
            stream: stream.to_owned(),
            shard_id: shard.shard_id.clone(),
            records: shard.records,
            position,
            lag: shard.records.saturating_sub(done).max(0),
        }
    }
}

/// The positions of one stream's shards in one table, read from its log as needed.
#[derive(Debug, Default)]
pub(super) struct Positions {
    /// Offset of the last record committed, per shard; `-1` for none.
    committed: HashMap<String, i64>,
}

impl Positions {
    /// The committed position in `shard_id` (`-1` for none), read from `table` the first time.
    pub(super) async fn get(
        &mut self,
        table: &DeltaTable,
        stream: &str,
        shard_id: &str,
    ) -> Result<i64> {
        if let Some(position) = self.committed.get(shard_id) {
            return Ok(*position);
        }
        let position = transaction_version(table, &app_id(stream, shard_id))
            .await?
            .unwrap_or(-1);
        self.committed.insert(shard_id.to_owned(), position);
        Ok(position)
    }

    /// Records a committed position.
    pub(super) fn set(&mut self, shard_id: &str, position: i64) {
        self.committed.insert(shard_id.to_owned(), position);
    }

    /// The position known for `shard_id`, if it was read or committed.
    pub(super) fn known(&self, shard_id: &str) -> Option<i64> {
        self.committed.get(shard_id).copied()
    }

    /// Forgets every position: they are read from the table again.
    pub(super) fn clear(&mut self) {
        self.committed.clear();
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
        let delta = lake
            .open_table(&table_path(&opts.tables_dir, table))
            .await?;
        for shard in &info.shards {
            let position = match &delta {
                Some(delta) => {
                    transaction_version(delta, &app_id(&stream, &shard.shard_id)).await?
                }
                None => None,
            };
            lags.push(ShardLag::new(table, &stream, shard, position));
        }
    }
    Ok(lags)
}
