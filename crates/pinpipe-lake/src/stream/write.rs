//! One stream table's state in the job, and its exactly-once commit: rows and shard positions in
//! one Delta commit, made only if the positions in the table are still those the batch was read
//! from.

use std::time::SystemTime;

use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use pinpipe_bus::{ShardInfo, Streams};
use pinpipe_model::Table;

use super::positions::{Positions, ShardLag, app_id, describe};
use super::read::{CleanBatch, Read, read_shards};
use super::{MicroBatch, StreamOptions};
use crate::delta::{self, Commit, MergeOutcome, OnConflict};
use crate::error::{LakeError, Result};
use crate::location::Lake;

/// One cleaned table fed by one stream.
pub(super) struct TableStream {
    table: Table,
    stream: String,
    path: String,
    delta: DeltaTable,
    positions: Positions,
    /// The table version `positions` agree with; `None` when they must be read again.
    version: Option<u64>,
    /// The shards seen at the last poll, for the lag.
    shards: Vec<ShardInfo>,
}

impl TableStream {
    /// Opens (creating if missing) the table of `table`; returns the creating commit, if any.
    pub(super) async fn open(
        lake: &Lake,
        opts: &StreamOptions,
        table: Table,
    ) -> Result<(TableStream, Option<Commit>)> {
        let (delta, created) = delta::ensure_clean_table(lake, &opts.tables_dir, table).await?;
        let stream = TableStream {
            table,
            stream: opts.stream_name(table),
            path: delta::table_path(&opts.tables_dir, table),
            delta,
            positions: Positions::default(),
            version: None,
            shards: Vec::new(),
        };
        Ok((stream, created))
    }

    /// Forgets the positions, so that the next poll reloads the table and reads them from it.
    pub(super) fn reset(&mut self) {
        self.version = None;
        self.positions.clear();
    }

    /// Reads the stream's shards from their positions (see [`read_shards`]).
    pub(super) async fn poll(&mut self, streams: &dyn Streams, max: usize) -> Result<Read> {
        if self.version.is_none() {
            self.delta.update_state().await?;
            self.positions.clear();
            self.version = self.delta.version();
        }
        self.shards = match describe(streams, &self.stream).await? {
            Some(info) => info.shards,
            None => {
                tracing::debug!(stream = %self.stream, "stream does not exist yet");
                Vec::new()
            }
        };
        let mut shards = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let position = self
                .positions
                .get(&self.delta, &self.stream, &shard.shard_id)
                .await?;
            if shard.records < position.saturating_add(1) {
                tracing::warn!(
                    stream = %self.stream, shard = %shard.shard_id, records = shard.records, position,
                    "the shard holds fewer records than the table's position: was the stream recreated?"
                );
            }
            shards.push((shard.clone(), position));
        }
        read_shards(streams, self.table, &self.stream, &shards, max).await
    }

    /// Every shard's lag after the last poll and commit.
    pub(super) fn lag(&self) -> Vec<ShardLag> {
        self.shards
            .iter()
            .map(|shard| {
                let position = self.positions.known(&shard.shard_id).filter(|p| *p >= 0);
                ShardLag::new(self.table, &self.stream, shard, position)
            })
            .collect()
    }

    /// Commits `batch`'s rows with its shards' new positions, in one commit made on the latest
    /// table version. Returns `None`, committing nothing, if another job moved the positions
    /// since the batch was read, or another writer committed while the merge ran: the positions
    /// are then read again at the next poll.
    pub(super) async fn commit(
        &mut self,
        ctx: &SessionContext,
        batch: CleanBatch,
    ) -> Result<Option<MicroBatch>> {
        self.delta.update_state().await?;
        if self.delta.version() != self.version && !self.positions_still_hold(&batch).await? {
            tracing::warn!(table = %self.path, "another writer moved the stream positions; reading again");
            self.reset();
            return Ok(None);
        }
        let transactions: Vec<Transaction> = batch
            .ranges
            .iter()
            .map(|r| Transaction::new(app_id(&self.stream, &r.shard_id), r.last))
            .collect();
        let outcome = if batch.rows.num_rows() > 0 {
            let properties =
                CommitProperties::default().with_application_transactions(transactions);
            let (delta, path) = (&mut self.delta, &self.path);
            delta::upsert(ctx, delta, path, batch.rows, properties, OnConflict::Fail).await
        } else {
            delta::commit_transactions(&mut self.delta, &self.path, transactions)
                .await
                .map(|commit| MergeOutcome {
                    commit: Some(commit),
                    ..MergeOutcome::default()
                })
        };
        let outcome = match outcome {
            Err(e) if e.is_commit_conflict() => {
                tracing::info!(table = %self.path, "another writer committed first; reading again");
                self.reset();
                return Ok(None);
            }
            outcome => outcome?,
        };
        let committed_at = SystemTime::now();
        let commit = outcome
            .commit
            .ok_or_else(|| LakeError::Internal("a micro-batch merge committed nothing".into()))?;
        self.version = Some(commit.version);
        for range in &batch.ranges {
            self.positions.set(&range.shard_id, range.last);
        }
        Ok(Some(MicroBatch {
            table: self.table,
            stream: self.stream.clone(),
            commit,
            records: batch.records,
            rows_inserted: outcome.inserted,
            rows_updated: outcome.updated,
            rejected: batch.rejected,
            shards: batch.ranges,
            committed_at,
        }))
    }

    /// Whether the table's positions are still those `batch` was read from.
    async fn positions_still_hold(&self, batch: &CleanBatch) -> Result<bool> {
        for range in &batch.ranges {
            let committed =
                delta::transaction_version(&self.delta, &app_id(&self.stream, &range.shard_id))
                    .await?
                    .unwrap_or(-1);
            if committed != range.first - 1 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
