//! One stream table's state in the job, and its exactly-once commit: rows and shard positions in
//! one Delta commit, made only if the checkpoint in the table is still the one the batch was read
//! from.

use std::collections::HashSet;
use std::time::{Instant, SystemTime};

use deltalake::DeltaTable;
use deltalake::arrow::array::{AsArray, RecordBatch};
use deltalake::arrow::datatypes::Int64Type;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use pinpipe_bus::{ReadLimit, ShardInfo, Streams};
use pinpipe_model::Table;
use pinpipe_telemetry::stream::{MicroBatchCommitted, ShardLag as LagEvent};

use super::StreamOptions;
use super::positions::{Checkpoint, ShardLag, app_id, describe};
use super::read::{CleanBatch, Read, read_shards};
use crate::delta::{self, Commit, OnConflict};
use crate::error::{LakeError, Result};
use crate::location::Lake;

/// One cleaned table fed by one stream.
pub(super) struct TableStream {
    table: Table,
    stream: String,
    path: String,
    delta: DeltaTable,
    /// Where the job is in the stream, as committed at table version `version`.
    checkpoint: Checkpoint,
    /// The table version `checkpoint` was read at or committed as; `None` when it must be read
    /// again.
    version: Option<u64>,
    /// The shards seen at the last poll, for the lag.
    shards: Vec<ShardInfo>,
    /// The keys the table holds, once read.
    keys: Option<HashSet<i64>>,
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
            checkpoint: Checkpoint::default(),
            version: None,
            shards: Vec::new(),
            keys: None,
        };
        Ok((stream, created))
    }

    /// Forgets the checkpoint (and the keys), so that the next poll reloads the table and reads
    /// it from there.
    pub(super) fn reset(&mut self) {
        self.version = None;
        self.keys = None;
    }

    /// Reads the stream's shards from their positions (see [`read_shards`]).
    pub(super) async fn poll(&mut self, streams: &dyn Streams, limit: ReadLimit) -> Result<Read> {
        if self.version.is_none() {
            self.delta.update_state().await?;
            self.checkpoint = Checkpoint::load(&self.delta, &self.stream).await?;
            self.version = self.delta.version();
        }
        let Some(info) = describe(streams, &self.stream).await? else {
            tracing::debug!(stream = %self.stream, "stream does not exist yet");
            self.shards = Vec::new();
            return Ok(Read {
                batch: None,
                full: false,
            });
        };
        if self.checkpoint.adopt(&info.incarnation) {
            tracing::warn!(
                stream = %self.stream,
                "the stream was created again since the last micro-batch; reading its shards from the start"
            );
        }
        self.shards = info.shards;
        let shards: Vec<(ShardInfo, Option<String>)> = self
            .shards
            .iter()
            .map(|shard| {
                let position = self.checkpoint.position(&shard.shard_id);
                (shard.clone(), position.map(str::to_owned))
            })
            .collect();
        let incarnation = self.checkpoint.incarnation.clone().unwrap_or_default();
        read_shards(
            streams,
            self.table,
            &self.stream,
            &incarnation,
            &shards,
            limit,
        )
        .await
    }

    /// Emits every shard's lag after the last poll and commit.
    pub(super) fn emit_lag(&self) {
        for lag in self.lag() {
            LagEvent {
                stream: lag.stream,
                shard_id: lag.shard_id,
                lag: lag.lag,
            }
            .emit();
        }
    }

    /// Every shard's lag after the last poll and commit.
    pub(super) fn lag(&self) -> Vec<ShardLag> {
        self.shards
            .iter()
            .map(|shard| {
                let position = self.checkpoint.position(&shard.shard_id);
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
    ) -> Result<Option<MicroBatchCommitted>> {
        let started = Instant::now();
        self.delta.update_state().await?;
        if self.delta.version() != self.version && !self.checkpoint_still_holds().await? {
            tracing::warn!(table = %self.path, "another writer moved the stream positions; reading again");
            self.reset();
            return Ok(None);
        }
        let next = self.checkpoint.next(
            batch
                .ranges
                .iter()
                .map(|r| (r.shard_id.as_str(), r.last.as_str())),
        );
        let batch_number = next.batch.unwrap_or_default();
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(app_id(&self.stream), batch_number))
            .with_metadata([next.metadata()]);
        // One commit holds the rows and the positions. A micro-batch of only new keys is appended
        // (or, of only rejects, commits no data); one that replaces a key the table holds is
        // merged, inserting its new keys in the same commit.
        let replaces = self.holds_any_key(ctx, &batch.rows).await?;
        let new_keys = batch_keys(&batch.rows)?;
        let rows = batch.rows;
        let (path, delta) = (&self.path, &mut self.delta);
        let committed = if replaces {
            delta::upsert(ctx, delta, path, rows, properties, OnConflict::Fail)
                .await
                .and_then(|merged| {
                    let commit = merged.commit.ok_or_else(|| {
                        LakeError::Internal(format!("the merge into {path} committed nothing"))
                    })?;
                    Ok((commit, merged.inserted, merged.updated))
                })
        } else if rows.num_rows() > 0 {
            let inserted = rows.num_rows();
            delta::append_rows(delta, path, rows, properties, batch_number)
                .await
                .map(|commit| (commit, inserted, 0))
        } else {
            delta::commit_transactions(delta, path, properties, batch_number)
                .await
                .map(|commit| (commit, 0, 0))
        };
        let (commit, inserted, updated) = match committed {
            Err(e) if e.is_commit_conflict() => return Ok(self.conflict()),
            committed => committed?,
        };
        if let Some(keys) = self.keys.as_mut() {
            keys.extend(new_keys);
        }
        let committed_at = SystemTime::now();
        self.version = Some(commit.version);
        self.checkpoint = next;
        let lag = self.lag().iter().map(|l| l.lag).sum::<Option<i64>>();
        Ok(Some(MicroBatchCommitted {
            table: commit.path,
            stream: self.stream.clone(),
            version: commit.version,
            records: batch.records,
            bytes: batch.bytes,
            inserted,
            updated,
            rejected: batch.rejected,
            shards: batch.ranges,
            duration: started.elapsed(),
            committed_at,
            lag,
        }))
    }

    /// Another writer committed first: nothing of the micro-batch counts, it is read again.
    fn conflict(&mut self) -> Option<MicroBatchCommitted> {
        tracing::info!(table = %self.path, "another writer committed first; reading again");
        self.reset();
        None
    }

    /// Whether the table holds the key of any of `rows`. The table's keys are read once, and
    /// kept up to date as micro-batches commit.
    async fn holds_any_key(&mut self, ctx: &SessionContext, rows: &RecordBatch) -> Result<bool> {
        let keys = match &mut self.keys {
            Some(keys) => keys,
            empty => empty.insert(delta::keys(ctx, &self.delta).await?),
        };
        Ok(batch_keys(rows)?.iter().any(|key| keys.contains(key)))
    }

    /// Whether the table's micro-batch number is still the one of the checkpoint the job holds
    /// (another writer, such as `lake optimize`, committed in between, not another stream job).
    async fn checkpoint_still_holds(&self) -> Result<bool> {
        let committed = delta::transaction_version(&self.delta, &app_id(&self.stream)).await?;
        Ok(committed == self.checkpoint.batch)
    }
}

/// The `ind` column of cleaned rows.
fn batch_keys(rows: &RecordBatch) -> Result<Vec<i64>> {
    let keys = rows
        .column_by_name("ind")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| LakeError::Internal("rows without an Int64 ind column".into()))?;
    Ok(keys.values().to_vec())
}
