//! One cycle of the stream job over its three tables: poll the streams, clean on blocking
//! threads, write the rejects to the quarantine, then commit each table's rows and positions.

use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use futures::future::join_all;
use pinpipe_bus::{ReadLimit, Streams};
use pinpipe_model::{Rejected, Table};
use pinpipe_telemetry::RecordsQuarantined;

use super::read::{CleanBatch, RawBatch};
use super::write::TableStream;
use super::{StreamOptions, StreamReport};
use crate::delta::{ensure_quarantine, insert_rejects};
use crate::error::Result;
use crate::location::Lake;
use crate::session::new_session;

/// The stream job's tables and session.
pub(super) struct Job {
    ctx: SessionContext,
    quarantine: DeltaTable,
    tables: Vec<TableStream>,
    limit: ReadLimit,
}

/// What one cycle did.
pub(super) struct Outcome {
    /// Records read.
    pub(super) records: usize,
    /// Whether records are waiting: a shard had more than one micro-batch takes, or a batch was
    /// not committed and has to be read again.
    pub(super) backlog: bool,
}

impl Job {
    /// Opens (creating if missing) the quarantine and the three stream tables.
    pub(super) async fn open(
        lake: &Lake,
        opts: &StreamOptions,
        report: &mut StreamReport,
    ) -> Result<Job> {
        let (quarantine, created) = ensure_quarantine(lake).await?;
        report.commits += usize::from(created.is_some());
        let mut tables = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            let (stream, created) = TableStream::open(lake, opts, table).await?;
            report.commits += usize::from(created.is_some());
            tables.push(stream);
        }
        Ok(Job {
            ctx: new_session()?,
            quarantine,
            tables,
            limit: ReadLimit {
                records: opts.max_records_per_shard,
                bytes: opts.max_bytes_per_shard,
            },
        })
    }

    /// Waits for the Delta checkpoints being written (see [`TableStream`]).
    pub(super) async fn finish_checkpoints(&mut self) {
        for table in &mut self.tables {
            table.finish_checkpoint().await;
        }
    }

    /// Forgets every position: the next cycle reads them from the tables again.
    pub(super) fn reset(&mut self) {
        self.tables.iter_mut().for_each(TableStream::reset);
    }

    /// Runs one cycle; every committed micro-batch and the lag are emitted as events.
    pub(super) async fn run(
        &mut self,
        streams: &dyn Streams,
        report: &mut StreamReport,
    ) -> Result<Outcome> {
        let mut raw = Vec::with_capacity(self.tables.len());
        let mut backlog = false;
        for table in &mut self.tables {
            let read = table.poll(streams, self.limit).await?;
            backlog |= read.full;
            raw.push(read.batch);
        }
        // (Futures are collected before they are awaited: an iterator adapter alive across an
        // await makes the future lose `Send`.)
        let cleaning: Vec<_> = raw.into_iter().map(clean).collect();
        let cleaned = join_all(cleaning).await;
        let mut batches: Vec<Option<CleanBatch>> = Vec::with_capacity(cleaned.len());
        let mut rejects: Vec<Rejected> = Vec::new();
        for outcome in cleaned {
            let cleaned = outcome?;
            batches.push(cleaned.map(|(batch, rejected)| {
                rejects.extend(rejected);
                batch
            }));
        }
        let records = batches.iter().flatten().map(|b| b.records).sum();
        report.records_read += records;
        if !rejects.is_empty() {
            self.quarantine(&rejects, report).await?;
        }
        let mut committing = Vec::with_capacity(batches.len());
        for (table, batch) in self.tables.iter_mut().zip(batches) {
            if let Some(batch) = batch {
                committing.push(table.commit(batch));
            }
        }
        let commits = join_all(committing).await;
        let mut failed = None;
        for outcome in commits {
            match outcome {
                Ok(Some(batch)) => {
                    report.commits += 1;
                    report.rows_inserted += batch.inserted;
                    report.rows_updated += batch.updated;
                    report.rejected += batch.rejected;
                    batch.emit();
                }
                // Not committed: read again at once.
                Ok(None) => backlog = true,
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(error) = failed {
            return Err(error);
        }
        for table in &self.tables {
            table.emit_lag();
        }
        Ok(Outcome { records, backlog })
    }

    /// Adds `rejects` to the quarantine (idempotent: a record read again is not added twice).
    async fn quarantine(&mut self, rejects: &[Rejected], report: &mut StreamReport) -> Result<()> {
        let outcome = insert_rejects(&self.ctx, &mut self.quarantine, rejects).await?;
        let mut kinds: std::collections::BTreeMap<(&'static str, &'static str), u64> =
            Default::default();
        for reject in rejects {
            *kinds.entry((reject.table.name(), reject.kind)).or_default() += 1;
        }
        for ((table, reason), records) in kinds {
            RecordsQuarantined {
                component: "stream",
                table,
                reason,
                records,
            }
            .emit();
        }
        report.quarantined += outcome.inserted;
        report.commits += usize::from(outcome.commit.is_some());
        Ok(())
    }
}

/// Cleans a micro-batch on a blocking thread.
async fn clean(raw: Option<RawBatch>) -> Result<Option<(CleanBatch, Vec<Rejected>)>> {
    match raw {
        Some(raw) => tokio::task::spawn_blocking(move || raw.clean())
            .await?
            .map(Some),
        None => Ok(None),
    }
}
