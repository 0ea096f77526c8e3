//! The batch job: raw objects → cleaned Delta tables and the quarantine, incrementally.
//!
//! For each table (pin, geo, user), the job lists the raw objects of the table's topic, skips those the
//! [manifest](crate::manifest) records with the same size, and reads the rest in arrival order,
//! cleaning two objects at a time on blocking threads. Every chunk of about
//! [`BatchOptions::max_records_per_commit`] records is then written:
//!
//! 1. rows, last copy per `ind` kept → MERGE into `<tables_dir>/<table>` on `ind`
//!    (matched: replace every column; not matched: insert);
//! 2. rejects → MERGE into `quarantine` on (`source`, `position`), insert only;
//! 3. the chunk's objects → the manifest.
//!
//! **Arrival order**, which decides which copy of a key wins: within a run, raw objects in
//! (partition, start offset) order and lines in file order — so the copy at the highest
//! (partition, offset) wins; across runs, a later run's copy replaces an earlier run's.
//!
//! **Crash safety**: each step is idempotent, so a crash anywhere only means the chunk's objects
//! are read again next run, with the same end result: merging the same last copies again leaves the
//! same rows, and a quarantined record (same object, same offset) is never inserted twice.
//! If a table is missing while the manifest remembers objects for it (deleted by hand), its
//! objects are all read again. A run with nothing new writes no Delta version.
//!
//! Run one batch job per lake at a time: a concurrent run cannot corrupt a table (Delta commits are
//! atomic). A commit that finds the table moved on (a concurrent run, `pinpipe lake optimize`, the
//! stream job writing the quarantine) reloads the table and merges the same chunk again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use pinpipe_model::{Rejected, Table};
use serde::Serialize;

use deltalake::arrow::record_batch::RecordBatch;

use crate::delta::{self, Commit, OnConflict};
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::manifest::{Manifest, manifest_path};
use crate::raw::{self, CleanedObject, IgnoredObject, RawObject};
use crate::session::new_session;

/// Raw objects read and cleaned at the same time (one per core).
const READ_AHEAD: usize = 2;

/// What the batch job reads and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Topics read are `<topic_prefix>.pin`, `.geo`, `.user` (default `pinpipe`).
    pub topic_prefix: String,
    /// The folder of the cleaned tables inside the lake (default `tables`).
    pub tables_dir: String,
    /// Records read before their rows are merged in one Delta commit (default 500,000): bounds the
    /// memory a run needs, whatever the size of the input.
    pub max_records_per_commit: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            topic_prefix: "pinpipe".to_owned(),
            tables_dir: crate::query::BATCH_TABLES_DIR.to_owned(),
            max_records_per_commit: 500_000,
        }
    }
}

impl BatchOptions {
    /// Checks that the topics are valid Kafka topic names, the tables folder a plain relative path
    /// and the chunk size positive.
    pub fn validate(&self) -> Result<()> {
        for table in Table::ALL {
            let topic = format!("{}.{}", self.topic_prefix, table.name());
            pinpipe_bus::validate_topic_name(&topic)
                .map_err(|e| LakeError::InvalidOptions(format!("topic prefix: {e}")))?;
        }
        delta::validate_tables_dir(&self.tables_dir)?;
        if self.max_records_per_commit == 0 {
            return Err(LakeError::InvalidOptions(
                "max_records_per_commit must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Progress of a batch run, reported as it happens (e.g. for a progress bar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchEvent {
    /// A table's new raw objects were found and are about to be read.
    Planned {
        /// The table.
        table: Table,
        /// New (or changed) objects to read.
        objects: usize,
        /// Their total size in bytes.
        bytes: u64,
    },
    /// One raw object was read and cleaned.
    ObjectRead {
        /// The table.
        table: Table,
        /// The object's path.
        path: String,
        /// Records in it.
        records: usize,
        /// Of those, rejected.
        rejected: usize,
    },
    /// An object whose name does not follow the raw layout was skipped.
    Ignored(IgnoredObject),
    /// A Delta commit was written.
    Committed(Commit),
}

/// What one table got in a batch run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The table.
    pub table: Table,
    /// Its Delta table's path inside the lake.
    pub path: String,
    /// Raw objects read.
    pub objects_read: usize,
    /// Records read.
    pub records_read: usize,
    /// Rows inserted (keys new to the table).
    pub rows_inserted: usize,
    /// Rows replaced (keys already in the table).
    pub rows_updated: usize,
    /// Records rejected.
    pub rejected: usize,
    /// Rejected records newly added to the quarantine (fewer than `rejected` when re-reading).
    pub quarantined: usize,
}

/// What a batch run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    /// Raw objects found with a name following the layout.
    pub objects_listed: usize,
    /// Raw objects read (new or changed since the last run).
    pub objects_read: usize,
    /// Objects skipped because their names do not follow the layout.
    pub objects_ignored: usize,
    /// Records read.
    pub records_read: usize,
    /// Per table, in the order pin, geo, user.
    pub tables: Vec<TableReport>,
    /// Every Delta commit written (table creations included), in order.
    pub commits: Vec<Commit>,
    /// Wall time of the run.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl BatchReport {
    /// Rows written to the cleaned tables (inserted or replaced).
    pub fn rows_written(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.rows_inserted + t.rows_updated)
            .sum()
    }

    /// Records rejected in this run.
    pub fn rejected(&self) -> usize {
        self.tables.iter().map(|t| t.rejected).sum()
    }

    /// Whether the run wrote nothing at all.
    pub fn is_noop(&self) -> bool {
        self.commits.is_empty()
    }
}

/// Runs the batch job on `lake` (see the module documentation); `progress` sees every [`BatchEvent`].
pub async fn run_batch(
    lake: &Lake,
    opts: &BatchOptions,
    progress: &(dyn Fn(BatchEvent) + Sync),
) -> Result<BatchReport> {
    opts.validate()?;
    lake.check().await?;
    let started = Instant::now();
    let store = lake.store();
    let manifest_path = manifest_path(&opts.tables_dir);
    let mut manifest = Manifest::load(&store, &manifest_path).await?;
    let (quarantine, quarantine_created) = delta::ensure_quarantine(lake).await?;
    let mut commits = Vec::new();
    if let Some(commit) = quarantine_created {
        progress(BatchEvent::Committed(commit.clone()));
        commits.push(commit);
        // The rejects of every remembered object went with the old quarantine: read all again.
        for table in Table::ALL {
            if manifest.forget(table) {
                tracing::warn!(table = %table, "quarantine was missing; reading all raw objects again");
            }
        }
    }
    let mut run = Run {
        ctx: new_session()?,
        manifest,
        manifest_path,
        store,
        quarantine,
        commits,
        progress,
    };
    let mut tables = Vec::with_capacity(Table::ALL.len());
    let mut objects_listed = 0;
    let mut objects_ignored = 0;
    for table in Table::ALL {
        let (clean, created) = delta::ensure_clean_table(lake, &opts.tables_dir, table).await?;
        if let Some(commit) = created {
            run.committed(commit);
            if run.manifest.forget(table) {
                tracing::warn!(table = %table, "cleaned table was missing; reading all its raw objects again");
            }
        }
        let topic = format!("{}.{}", opts.topic_prefix, table.name());
        let (objects, ignored) = raw::list_topic(&run.store, &topic).await?;
        objects_listed += objects.len();
        objects_ignored += ignored.len();
        for object in ignored {
            tracing::warn!(path = %object.path, reason = %object.reason, "skipping object off the raw layout");
            (run.progress)(BatchEvent::Ignored(object));
        }
        let new: Vec<RawObject> = objects
            .into_iter()
            .filter(|o| !run.manifest.contains(table, o))
            .collect();
        tables.push(run.table(table, clean, new, opts).await?);
    }
    Ok(BatchReport {
        objects_listed,
        objects_read: tables.iter().map(|t| t.objects_read).sum(),
        objects_ignored,
        records_read: tables.iter().map(|t| t.records_read).sum(),
        tables,
        commits: run.commits,
        duration: started.elapsed(),
    })
}

/// The state of one batch run.
struct Run<'a> {
    ctx: SessionContext,
    store: Arc<dyn ObjectStore>,
    manifest: Manifest,
    manifest_path: String,
    quarantine: DeltaTable,
    commits: Vec<Commit>,
    progress: &'a (dyn Fn(BatchEvent) + Sync),
}

/// Cleaned objects waiting to be written in one commit.
#[derive(Default)]
struct Chunk {
    objects: Vec<RawObject>,
    rows: Vec<RecordBatch>,
    rejected: Vec<Rejected>,
    records: usize,
}

impl Run<'_> {
    fn committed(&mut self, commit: Commit) {
        (self.progress)(BatchEvent::Committed(commit.clone()));
        self.commits.push(commit);
    }

    /// Reads `objects` of `table` in arrival order and writes them chunk by chunk into `clean`.
    async fn table(
        &mut self,
        table: Table,
        mut clean: DeltaTable,
        objects: Vec<RawObject>,
        opts: &BatchOptions,
    ) -> Result<TableReport> {
        let path = delta::table_path(&opts.tables_dir, table);
        let mut report = TableReport {
            table,
            path: path.clone(),
            objects_read: 0,
            records_read: 0,
            rows_inserted: 0,
            rows_updated: 0,
            rejected: 0,
            quarantined: 0,
        };
        (self.progress)(BatchEvent::Planned {
            table,
            objects: objects.len(),
            bytes: objects.iter().map(|o| o.size).sum(),
        });
        let store = Arc::clone(&self.store);
        let mut cleaned = futures::stream::iter(objects)
            .map(|object| raw::read_object(Arc::clone(&store), table, object))
            .buffered(READ_AHEAD);
        let mut chunk = Chunk::default();
        while let Some(object) = cleaned.try_next().await? {
            let CleanedObject {
                object,
                rows,
                rejected,
                records,
            } = object;
            (self.progress)(BatchEvent::ObjectRead {
                table,
                path: object.path.clone(),
                records,
                rejected: rejected.len(),
            });
            report.objects_read += 1;
            report.records_read += records;
            report.rejected += rejected.len();
            chunk.records += records;
            chunk.objects.push(object);
            chunk.rows.push(rows);
            chunk.rejected.extend(rejected);
            if chunk.records >= opts.max_records_per_commit {
                self.write(
                    table,
                    &mut clean,
                    &path,
                    std::mem::take(&mut chunk),
                    &mut report,
                )
                .await?;
            }
        }
        if !chunk.objects.is_empty() {
            self.write(table, &mut clean, &path, chunk, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Writes one chunk: rows, then rejects, then the manifest (see the module documentation).
    async fn write(
        &mut self,
        table: Table,
        clean: &mut DeltaTable,
        path: &str,
        chunk: Chunk,
        report: &mut TableReport,
    ) -> Result<()> {
        let rows = delta::keep_last(&table.schema(), &chunk.rows)?;
        drop(chunk.rows);
        let merged = delta::upsert(
            &self.ctx,
            clean,
            path,
            rows,
            CommitProperties::default(),
            OnConflict::Retry,
        )
        .await?;
        report.rows_inserted += merged.inserted;
        report.rows_updated += merged.updated;
        if let Some(commit) = merged.commit {
            self.committed(commit);
        }
        let quarantined =
            delta::insert_rejects(&self.ctx, &mut self.quarantine, &chunk.rejected).await?;
        report.quarantined += quarantined.inserted;
        if let Some(commit) = quarantined.commit {
            self.committed(commit);
        }
        self.manifest.record(table, &chunk.objects);
        self.manifest.save(&self.store, &self.manifest_path).await
    }
}
