//! The batch job: raw objects → cleaned Delta tables and the quarantine, incrementally.
//!
//! For each table (pin, geo, user), the job lists the raw objects of the table's topic, skips those the
//! [manifest](crate::manifest) records with the same size, and reads the rest in arrival order as a
//! stream of pieces of whole lines ([`crate::chunks`]), cleaning them on blocking threads
//! ([`pipeline`]). Memory is bounded by bytes, whatever the size of an object or of the input:
//! a piece is at most [`ReadLimits::max_piece_bytes`], and rows wait in memory for at most
//! [`BatchOptions::max_bytes_in_memory`] before they are written out.
//!
//! How the rows are written depends on the table:
//!
//! - **A table with no rows yet** (new, or [`BatchOptions::full_refresh`]): every row is written
//!   to Parquet files as it comes, with the last copy of each key kept across the whole run
//!   ([`append`]), and the table gets **one** commit for the run (an append, or an overwrite on a
//!   full refresh).
//! - **A table with rows**: each byte-bounded chunk is merged on `ind` (matched: replace every
//!   column; not matched: insert), one commit per chunk ([`merge`]), so a later chunk's copy of
//!   a key replaces an earlier one's.
//!
//! Rejects go to the `quarantine` table, insert only on (`source`, `position`), whenever their
//! buffer is full and at the end; the objects then go to the manifest. An object is recorded in
//! the manifest only once its rows and its rejects are committed.
//!
//! **Arrival order**, which decides which copy of a key wins: within a run, raw objects in
//! (partition, start offset) order and lines in file order — so the copy at the highest
//! (partition, offset) wins; across runs, a later run's copy replaces an earlier run's.
//!
//! **Crash safety**: each step is idempotent, so a crash anywhere only means the objects not yet in
//! the manifest are read again next run, with the same end result: files written but not committed
//! are never part of the table (`pinpipe lake vacuum` deletes them; so is a file that a failed run
//! left being written in the background), merging the same last copies
//! again leaves the same rows, and a quarantined record (same object, same offset) is never
//! inserted twice. If a table is missing while the manifest remembers objects for it (deleted by
//! hand), its objects are all read again. A run with nothing new writes no Delta version.
//!
//! [`plan`] (open the tables, list what is new) is the first step of every run, whichever engine
//! runs the rest: [`run_batch`] here, or a Ballista cluster (crate `pinpipe-cluster`), which
//! reads and cleans with the same [`cleaned`] stream and commits with [`delta::commit_files`].
//!
//! Run one batch job per lake at a time (`pinpipe schedule` takes a lease for it): a concurrent run
//! cannot corrupt a table (Delta commits are atomic), and a commit that finds the table moved on
//! fails the run with a commit conflict rather than guess; the next run picks up the objects.

mod append;
mod merge;
mod pipeline;

pub use pipeline::{Cleaned, cleaned};

use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use pinpipe_model::{Rejected, Table};
use pinpipe_telemetry::RecordsQuarantined;
use pinpipe_telemetry::batch::{ObjectRead, ObjectSkipped, ObjectsPlanned, TableCommitted};
use pinpipe_telemetry::started::Job;
use serde::Serialize;

use crate::delta::{self, Commit};
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::manifest::{Manifest, manifest_path};
use crate::raw::{self, RawObject, ReadLimits};
use crate::session::new_session;

/// The largest byte budget an option may set: what one batch of rows may hold stays well under
/// Arrow's 2 GiB per text column.
const MAX_BUDGET: usize = 1024 * 1024 * 1024;

/// What the batch job reads and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Topics read are `<topic_prefix>.pin`, `.geo`, `.user` (default `pinpipe`).
    pub topic_prefix: String,
    /// The folder of the cleaned tables inside the lake (default `tables`).
    pub tables_dir: String,
    /// How raw objects are read: piece and record sizes.
    pub read_limits: ReadLimits,
    /// Bytes of cleaned rows (Arrow) held in memory before they are written (default 256 MiB):
    /// on a new table two Parquet files' worth (one filling while the other is written), on one
    /// with rows a merge commit's worth.
    pub max_bytes_in_memory: usize,
    /// Read every raw object again and replace the tables' rows with what they hold (one
    /// overwrite commit per table), instead of merging what is new.
    pub full_refresh: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            topic_prefix: "pinpipe".to_owned(),
            tables_dir: crate::query::BATCH_TABLES_DIR.to_owned(),
            read_limits: ReadLimits::default(),
            max_bytes_in_memory: 256 * 1024 * 1024,
            full_refresh: false,
        }
    }
}

impl BatchOptions {
    /// The topic `table`'s records are read from: `<topic_prefix>.<table>`.
    pub fn topic(&self, table: Table) -> String {
        format!("{}.{}", self.topic_prefix, table.name())
    }

    /// Checks that the topics are valid Kafka topic names, the tables folder a plain relative path
    /// and the sizes positive.
    pub fn validate(&self) -> Result<()> {
        for table in Table::ALL {
            pinpipe_bus::validate_topic_name(&self.topic(table))
                .map_err(|e| LakeError::InvalidOptions(format!("topic prefix: {e}")))?;
        }
        delta::validate_tables_dir(&self.tables_dir)?;
        for (name, value) in [
            ("max_bytes_in_memory", self.max_bytes_in_memory),
            ("max_piece_bytes", self.read_limits.max_piece_bytes),
            ("max_record_bytes", self.read_limits.max_record_bytes),
        ] {
            if !(1..=MAX_BUDGET).contains(&value) {
                return Err(LakeError::InvalidOptions(format!(
                    "{name} must be between 1 byte and 1 GiB (Arrow holds at most 2 GiB of text \
                     in a column), got {value}"
                )));
            }
        }
        Ok(())
    }
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

/// What a batch run starts from, whichever engine runs it (this process, or a cluster with
/// `pinpipe batch --cluster`): the tables opened (created if missing), and per table the raw
/// objects to read — new or changed since the manifest last recorded them, all of them after a
/// full refresh or when the table or the quarantine was missing.
pub struct Planned {
    /// The manifest as loaded, with what is read again forgotten.
    pub manifest: Manifest,
    /// Where the manifest is saved.
    pub manifest_path: String,
    /// The quarantine table.
    pub quarantine: DeltaTable,
    /// Commits made while planning (tables created).
    pub commits: Vec<Commit>,
    /// Per table, in the order pin, geo, user.
    pub tables: Vec<PlannedTable>,
    /// Raw objects found with a name following the layout.
    pub objects_listed: usize,
    /// Objects skipped because their names do not follow the layout.
    pub objects_ignored: usize,
}

/// One table of a [`Planned`] run.
pub struct PlannedTable {
    /// The table.
    pub table: Table,
    /// The topic it is read from.
    pub topic: String,
    /// Its Delta table.
    pub clean: DeltaTable,
    /// The raw objects to read, in arrival order.
    pub objects: Vec<RawObject>,
}

/// Opens the lake's tables and lists what a batch run must read (see [`Planned`]); emits
/// [`ObjectSkipped`] for objects off the layout and [`ObjectsPlanned`] per table.
pub async fn plan(lake: &Lake, opts: &BatchOptions) -> Result<Planned> {
    opts.validate()?;
    let topics = Table::ALL.map(|t| opts.topic(t)).to_vec();
    delta::job_started(Job::Batch, topics, &opts.tables_dir).emit();
    lake.check().await?;
    let manifest_path = manifest_path(&opts.tables_dir);
    let mut manifest = Manifest::load(&lake.store(), &manifest_path).await?;
    let (quarantine, quarantine_created) = delta::ensure_quarantine(lake).await?;
    let mut commits = Vec::new();
    if let Some(commit) = quarantine_created {
        commits.push(commit);
        // The rejects of every remembered object went with the old quarantine: read all again.
        for table in Table::ALL {
            if manifest.forget(table) {
                tracing::warn!(table = %table, "quarantine was missing; reading all raw objects again");
            }
        }
    }
    if opts.full_refresh {
        for table in Table::ALL {
            manifest.forget(table);
        }
    }
    let mut tables = Vec::with_capacity(Table::ALL.len());
    let mut objects_listed = 0;
    let mut objects_ignored = 0;
    for table in Table::ALL {
        let (clean, created) = delta::ensure_clean_table(lake, &opts.tables_dir, table).await?;
        if let Some(commit) = created {
            commits.push(commit);
            if manifest.forget(table) {
                tracing::warn!(table = %table, "cleaned table was missing; reading all its raw objects again");
            }
        }
        let topic = opts.topic(table);
        let (objects, ignored) = raw::list_topic(&lake.store(), &topic).await?;
        objects_listed += objects.len();
        objects_ignored += ignored.len();
        for object in ignored {
            ObjectSkipped {
                path: object.path,
                reason: object.reason,
            }
            .emit();
        }
        let objects: Vec<RawObject> = objects
            .into_iter()
            .filter(|o| !manifest.contains(table, o))
            .collect();
        ObjectsPlanned {
            table: table.name(),
            objects: objects.len(),
            bytes: objects.iter().map(|o| o.size).sum(),
        }
        .emit();
        tables.push(PlannedTable {
            table,
            topic,
            clean,
            objects,
        });
    }
    Ok(Planned {
        manifest,
        manifest_path,
        quarantine,
        commits,
        tables,
        objects_listed,
        objects_ignored,
    })
}

/// Runs the batch job on `lake` (see the module documentation). Progress is emitted as
/// [`pinpipe_telemetry`] events.
pub async fn run_batch(lake: &Lake, opts: &BatchOptions) -> Result<BatchReport> {
    let started = Instant::now();
    let planned = plan(lake, opts).await?;
    let mut run = Run {
        lake,
        opts,
        manifest: planned.manifest,
        manifest_path: planned.manifest_path,
        quarantine: planned.quarantine,
        commits: planned.commits,
    };
    let mut tables = Vec::with_capacity(planned.tables.len());
    for planned_table in planned.tables {
        tables.push(run.table(planned_table).await?);
    }
    Ok(BatchReport {
        objects_listed: planned.objects_listed,
        objects_read: tables.iter().map(|t| t.objects_read).sum(),
        objects_ignored: planned.objects_ignored,
        records_read: tables.iter().map(|t| t.records_read).sum(),
        tables,
        commits: run.commits,
        duration: started.elapsed(),
    })
}

/// The state of one batch run.
struct Run<'a> {
    lake: &'a Lake,
    opts: &'a BatchOptions,
    manifest: Manifest,
    manifest_path: String,
    quarantine: DeltaTable,
    commits: Vec<Commit>,
}

/// How a table's rows are written this run.
enum Writer {
    /// One commit for the run, the last copy of each key kept across it (boxed: it is much the
    /// larger of the two).
    Append(Box<append::AppendWriter>),
    /// One merge commit per chunk.
    Merge(merge::MergeWriter),
}

/// Counts of one object as its pieces are read.
#[derive(Default)]
struct ObjectCounts {
    records: usize,
    rejected: usize,
}

impl Run<'_> {
    /// Reads `objects` of `table` in arrival order and writes them into `clean`.
    async fn table(&mut self, planned: PlannedTable) -> Result<TableReport> {
        let PlannedTable {
            table,
            topic,
            clean,
            objects,
        } = planned;
        let path = delta::table_path(&self.opts.tables_dir, table);
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
        if objects.is_empty() {
            return Ok(report);
        }
        let budget = self.opts.max_bytes_in_memory;
        let mut writer = if self.opts.full_refresh || delta::is_empty(&clean)? {
            Writer::Append(Box::new(append::AppendWriter::new(
                clean,
                &path,
                budget,
                self.opts.full_refresh,
            )))
        } else {
            Writer::Merge(merge::MergeWriter::new(clean, &path, budget)?)
        };
        let ctx = new_session()?;
        let mut rejects = RejectBuffer::new(table, budget);
        // Objects whose every piece was read, not yet recorded in the manifest.
        let mut finished: Vec<RawObject> = Vec::new();
        let mut counts = ObjectCounts::default();
        let mut pieces =
            pipeline::cleaned(self.lake.store(), table, objects, self.opts.read_limits);
        while let Some(piece) = futures::TryStreamExt::try_next(&mut pieces).await? {
            counts.records += piece.cleaned.records;
            counts.rejected += piece.cleaned.rejected.len();
            report.records_read += piece.cleaned.records;
            report.rejected += piece.cleaned.rejected.len();
            if rejects.push(piece.cleaned.rejected) {
                report.quarantined += rejects
                    .flush(&ctx, &mut self.quarantine, &mut self.commits)
                    .await?;
            }
            let committed = match &mut writer {
                Writer::Append(w) => {
                    w.push(piece.cleaned.rows).await?;
                    None
                }
                Writer::Merge(w) => w.push(&ctx, piece.cleaned.rows).await?,
            };
            if let Some(object) = piece.finished {
                ObjectRead {
                    table: table.name(),
                    topic: topic.clone(),
                    path: object.path.clone(),
                    records: counts.records,
                    rejected: counts.rejected,
                    bytes: object.size,
                }
                .emit();
                counts = ObjectCounts::default();
                report.objects_read += 1;
                finished.push(object);
            }
            if let Some(written) = committed {
                self.table_committed(&written, &mut report);
                // Every finished object's rows are in the table now: record them once their
                // rejects are too.
                report.quarantined += rejects
                    .flush(&ctx, &mut self.quarantine, &mut self.commits)
                    .await?;
                self.remember(table, &mut finished).await?;
            }
        }
        let written = match writer {
            Writer::Append(w) => w.finish().await?,
            Writer::Merge(w) => w.finish(&ctx).await?,
        };
        if let Some(written) = written {
            self.table_committed(&written, &mut report);
        }
        report.quarantined += rejects
            .flush(&ctx, &mut self.quarantine, &mut self.commits)
            .await?;
        self.remember(table, &mut finished).await?;
        Ok(report)
    }

    fn table_committed(&mut self, written: &Written, report: &mut TableReport) {
        report.rows_inserted += written.inserted;
        report.rows_updated += written.updated;
        TableCommitted {
            table: written.commit.path.clone(),
            version: written.commit.version,
            inserted: written.inserted,
            updated: written.updated,
            duration: written.duration,
        }
        .emit();
        self.commits.push(written.commit.clone());
    }

    /// Records `objects` in the manifest and saves it.
    async fn remember(&mut self, table: Table, objects: &mut Vec<RawObject>) -> Result<()> {
        if objects.is_empty() {
            return Ok(());
        }
        self.manifest.record(table, objects.iter());
        objects.clear();
        self.manifest
            .save(&self.lake.store(), &self.manifest_path)
            .await
    }
}

/// A commit of a table's rows.
pub(crate) struct Written {
    /// The commit.
    pub(crate) commit: Commit,
    /// Rows inserted.
    pub(crate) inserted: usize,
    /// Rows replaced.
    pub(crate) updated: usize,
    /// Time spent writing and committing them.
    pub(crate) duration: Duration,
}

/// Rejects waiting to be inserted into the quarantine, bounded by bytes.
struct RejectBuffer {
    table: Table,
    rejects: Vec<Rejected>,
    bytes: usize,
    budget: usize,
}

impl RejectBuffer {
    fn new(table: Table, budget: usize) -> Self {
        Self {
            table,
            rejects: Vec::new(),
            bytes: 0,
            budget,
        }
    }

    /// Adds `rejects`; `true` when the buffer is over its budget and should be flushed.
    fn push(&mut self, rejects: Vec<Rejected>) -> bool {
        self.bytes += rejects
            .iter()
            .map(|r| r.raw.len() + r.reason.len() + r.source.len())
            .sum::<usize>();
        self.rejects.extend(rejects);
        self.bytes >= self.budget
    }

    /// Inserts the buffered rejects into the quarantine (those not there yet); returns how many
    /// were new.
    async fn flush(
        &mut self,
        ctx: &deltalake::datafusion::prelude::SessionContext,
        quarantine: &mut DeltaTable,
        commits: &mut Vec<Commit>,
    ) -> Result<usize> {
        if self.rejects.is_empty() {
            return Ok(0);
        }
        let rejects = std::mem::take(&mut self.rejects);
        self.bytes = 0;
        let outcome = delta::insert_rejects(ctx, quarantine, &rejects).await?;
        let mut kinds: std::collections::BTreeMap<&'static str, u64> = Default::default();
        for reject in &rejects {
            *kinds.entry(reject.kind).or_default() += 1;
        }
        for (reason, records) in kinds {
            RecordsQuarantined {
                component: "batch",
                table: self.table.name(),
                reason,
                records,
            }
            .emit();
        }
        if let Some(commit) = outcome.commit {
            commits.push(commit);
        }
        Ok(outcome.inserted)
    }
}
