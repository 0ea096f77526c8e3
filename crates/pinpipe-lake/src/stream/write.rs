//! One stream table's state in the job, and its exactly-once commit: rows and shard positions in
//! one Delta commit, made only if the checkpoint in the table is still the one the batch was read
//! from.
//!
//! The Delta checkpoint a commit reaches (every `delta.checkpointInterval` versions: 10 on the
//! tables pinpipe creates) is written on a task of its own while the next micro-batches commit:
//! written inside the commit, it made that commit, and the rows of every micro-batch waiting
//! behind it, late by the time it takes to read the whole log and write it as Parquet.

use std::time::{Instant, SystemTime};

use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use pinpipe_bus::{ReadLimit, ShardInfo, Streams, with_causes};
use pinpipe_model::Table;
use pinpipe_telemetry::BackendUnavailable;
use pinpipe_telemetry::stream::{MicroBatchCommitted, ShardLag as LagEvent};
use tokio::task::JoinHandle;

use super::StreamOptions;
use super::keys::KeyIndex;
use super::positions::{Checkpoint, ShardLag, app_id, describe};
use super::read::{CleanBatch, Read, read_shards};
use crate::delta::{self, Checkpoints, Commit, batch_keys};
use crate::error::Result;
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
    /// Where the table's keys are, once read.
    keys: Option<KeyIndex>,
    /// The Delta checkpoint being written, if one is.
    checkpointing: Option<JoinHandle<()>>,
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
            checkpointing: None,
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
    /// since the batch was read, or another writer committed while the rows were written: the
    /// positions are then read again at the next poll.
    pub(super) async fn commit(
        &mut self,
        batch: CleanBatch,
    ) -> Result<Option<MicroBatchCommitted>> {
        let started = Instant::now();
        self.delta.update_state().await?;
        if self.delta.version() != self.version {
            if !self.checkpoint_still_holds().await? {
                tracing::warn!(table = %self.path, "another writer moved the stream positions; reading again");
                self.reset();
                return Ok(None);
            }
            // Another writer (`lake optimize`) may have rewritten the files the index names.
            self.keys = None;
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
        // One commit holds the rows and the positions: the rows replace the files holding the
        // keys they replace (an append when there are none), or, of only rejects, no data.
        let rows = batch.rows;
        let (commit, inserted, updated) = if rows.num_rows() > 0 {
            let index = match &mut self.keys {
                Some(index) => index,
                unread => unread.insert(KeyIndex::load(&self.delta).await?),
            };
            let keys = batch_keys(&rows)?.to_vec();
            let replaced = index.files_holding(&keys);
            let updated = index.count_held(&keys);
            let written = delta::replace_rows(
                &mut self.delta,
                &self.path,
                rows,
                &replaced,
                properties,
                batch_number,
                Checkpoints::ByCaller,
            )
            .await;
            let (commit, added) = match written {
                Err(e) if e.is_commit_conflict() => return Ok(self.conflict()),
                written => written?,
            };
            if !index.follow(&keys, &replaced, &added) {
                self.keys = None;
            }
            (commit, keys.len() - updated, updated)
        } else {
            let written = delta::commit_transactions(
                &mut self.delta,
                &self.path,
                properties,
                batch_number,
                Checkpoints::ByCaller,
            )
            .await;
            match written {
                Err(e) if e.is_commit_conflict() => return Ok(self.conflict()),
                written => (written?, 0, 0),
            }
        };
        let committed_at = SystemTime::now();
        self.version = Some(commit.version);
        self.checkpoint = next;
        self.start_checkpoint()?;
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

    /// Starts writing the Delta checkpoint of the version just committed, when one is due, on a
    /// task of its own. If the last one is still being written, this one is left out: the next
    /// is due `delta.checkpointInterval` commits later, and readers replay a few more log files
    /// until then. A failed checkpoint is reported, and the job goes on.
    fn start_checkpoint(&mut self) -> Result<()> {
        if !delta::checkpoint_due(&self.delta)? {
            return Ok(());
        }
        if self
            .checkpointing
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            tracing::debug!(table = %self.path, "the last checkpoint is still being written; skipping this one");
            return Ok(());
        }
        let (table, path) = (self.delta.clone(), self.path.clone());
        self.checkpointing = Some(tokio::spawn(async move {
            match delta::write_checkpoint(&table).await {
                Ok(logs_deleted) => {
                    tracing::debug!(table = %path, version = ?table.version(), logs_deleted, "checkpoint written");
                }
                Err(error) => BackendUnavailable {
                    component: "stream",
                    backend: "lake",
                    error: format!("writing a checkpoint of {path}: {}", with_causes(&error)),
                }
                .emit(),
            }
        }));
        Ok(())
    }

    /// Waits for the checkpoint being written, if any: before the job returns.
    pub(super) async fn finish_checkpoint(&mut self) {
        if let Some(task) = self.checkpointing.take() {
            // A panic in the task was reported by the runtime; the table is not harmed by a
            // checkpoint left unwritten.
            let _ = task.await;
        }
    }

    /// Another writer committed first: nothing of the micro-batch counts, it is read again.
    fn conflict(&mut self) -> Option<MicroBatchCommitted> {
        tracing::info!(table = %self.path, "another writer committed first; reading again");
        self.reset();
        None
    }

    /// Whether the table's micro-batch number is still the one of the checkpoint the job holds
    /// (another writer, such as `lake optimize`, committed in between, not another stream job).
    async fn checkpoint_still_holds(&self) -> Result<bool> {
        let committed = delta::transaction_version(&self.delta, &app_id(&self.stream)).await?;
        Ok(committed == self.checkpoint.batch)
    }
}
