//! Writing cleaned rows and rejects into the lake's Delta tables, idempotently.
//!
//! - [`ensure_table`] creates a table with its SPEC §5 schema (standard protocol: reader 1, writer 2).
//! - [`keep_last`] keeps the last copy of each key, in arrival order ([`last_copies`]).
//! - [`upsert`] merges rows on `ind`: a matched row is replaced, a new key inserted. Merging the same
//!   rows twice leaves the same table.
//! - [`insert_rejects`] adds rejects to the quarantine table unless a row with the same
//!   (`source`, `position`) is there: reading the same record twice never duplicates it.
//!
//! - [`replace_rows`] upserts rows by rewriting only the files that hold the keys they replace (the
//!   stream job, which knows those files).
//! - [`commit_transactions`] commits application transactions (a stream job's positions) alone.
//! - [`commit_files`] commits data files written beforehand ([`data_file_properties`]), adding
//!   them to the table or replacing every file it had, in one commit.
//! - [`reload_for_retry`]: after a commit lost to another writer, reloads the table for another try.
//!
//! The batch job uses these for `tables/*`; the stream job uses them for `stream/*`, passing
//! [`CommitProperties`] with application transactions to make its commits exactly-once.
//!
//! **Merges commit only on the version they read.** Rather than letting delta-rs rebase a merge
//! over commits made since it read the table (its conflict checker decides from file statistics
//! whether they touched what the merge read), every merge here is committed with no automatic
//! retry: when the table moved on (an optimize, another job), the commit fails
//! ([`LakeError::is_commit_conflict`]) and the merge is planned again on the reloaded table — here
//! ([`OnConflict::Retry`]) when the merge is idempotent, by the caller ([`OnConflict::Fail`]) when
//! it must check first that its commit still holds (a stream job's positions). What a merge
//! replaced is then always exactly what it read, at the cost of a merge done again now and then.

use std::collections::HashSet;
use std::sync::Arc;

use deltalake::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use deltalake::arrow::compute::{cast, concat_batches, filter_record_batch, take_record_batch};
use deltalake::arrow::datatypes::{Int64Type, SchemaRef};
use deltalake::datafusion::common::Column;
use deltalake::datafusion::prelude::{Expr, SessionContext, col};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryFromArrow;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, FinalizedCommit};
use deltalake::kernel::{Action, Add};
use deltalake::operations::create::CreateBuilder;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, OutputMode, SaveMode};
use deltalake::table::config::TablePropertiesExt;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError, TableProperty, checkpoints};
use object_store::ObjectStoreExt;
use pinpipe_model::{CleanError, Rejected, Table, quarantine_batch, quarantine_schema};
use pinpipe_telemetry::started::{Job, JobStarted};

use crate::error::{LakeError, Result};
use crate::location::Lake;

/// The path of the quarantine table inside the lake (SPEC §7).
pub const QUARANTINE_PATH: &str = "quarantine";

/// The path of `table`'s cleaned Delta table inside `tables_dir` (`tables/pin`, `stream/geo`, …).
pub fn table_path(tables_dir: &str, table: Table) -> String {
    format!("{}/{}", tables_dir.trim_matches('/'), table.name())
}

/// The start of a job that cleans `inputs` (topics or streams, one per table) into the three
/// tables under `tables_dir`, quarantining what it cannot read: its counters at zero.
pub(crate) fn job_started(job: Job, inputs: Vec<String>, tables_dir: &str) -> JobStarted {
    JobStarted {
        job,
        inputs,
        tables: Table::ALL.map(|t| table_path(tables_dir, t)).to_vec(),
        quarantine_tables: &Table::NAMES,
        quarantine_reasons: &CleanError::KINDS,
    }
}

/// Checks that `tables_dir` is a plain relative path inside the lake (no `.` or `..` segments).
pub fn validate_tables_dir(tables_dir: &str) -> Result<()> {
    let segments: Vec<&str> = tables_dir.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() || segments.iter().any(|s| matches!(*s, "." | "..")) {
        return Err(LakeError::InvalidOptions(format!(
            "tables folder {tables_dir:?} is not a relative path inside the lake"
        )));
    }
    Ok(())
}

/// One Delta commit written.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Commit {
    /// The table's path inside the lake.
    pub path: String,
    /// The table version the commit created.
    pub version: u64,
}

/// What a merge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Rows inserted (new keys, or new quarantine records).
    pub inserted: usize,
    /// Rows replaced (keys already in the table).
    pub updated: usize,
    /// The commit, or `None` if nothing changed.
    pub commit: Option<Commit>,
}

/// Who writes the checkpoint a commit reaches (every `delta.checkpointInterval` versions, 100 by
/// default), and deletes the log files it makes expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoints {
    /// delta-rs, inside the commit: the commit returns once the checkpoint is written.
    InCommit,
    /// The caller, with [`write_checkpoint`] once [`checkpoint_due`] says so: the stream job,
    /// whose commits wait for nothing but the commit itself.
    ByCaller,
}

/// `properties` for a commit made on `table`'s version, made once: no automatic retry (see the
/// module documentation), and the expired-log cleanup left to checkpoint commits. delta-rs looks
/// for expired logs by listing the whole `_delta_log` folder after every commit, a cost that grows
/// with the age of a stream table (thousands of commits an hour); a log can only expire once a
/// checkpoint covers it, so looking when a checkpoint is written finds the same logs.
fn commit_once(
    properties: CommitProperties,
    table: &DeltaTable,
    checkpoints: Checkpoints,
) -> Result<CommitProperties> {
    let properties = properties.with_max_retries(0);
    if checkpoints == Checkpoints::ByCaller {
        return Ok(properties
            .with_create_checkpoint(false)
            .with_cleanup_expired_logs(Some(false)));
    }
    let writes_checkpoint = has_checkpoint(table, table.snapshot()?.version() + 1)?;
    Ok(properties.with_cleanup_expired_logs((!writes_checkpoint).then_some(false)))
}

/// Whether the version `table` holds is one a checkpoint is written for.
pub fn checkpoint_due(table: &DeltaTable) -> Result<bool> {
    has_checkpoint(table, table.snapshot()?.version())
}

/// Whether `version` of `table` gets a checkpoint, as delta-rs decides it inside a commit.
fn has_checkpoint(table: &DeltaTable, version: u64) -> Result<bool> {
    let interval = table.snapshot()?.table_config().checkpoint_interval().get();
    Ok((version + 1).is_multiple_of(interval))
}

/// Writes the checkpoint of the version `table` holds, then deletes the log files it made expire
/// (older than `delta.logRetentionDuration`, unless `delta.enableExpiredLogCleanup` is off): what
/// delta-rs does after a commit, for commits made with [`Checkpoints::ByCaller`]. Returns the log
/// files deleted.
pub async fn write_checkpoint(table: &DeltaTable) -> Result<usize> {
    checkpoints::create_checkpoint(table, None).await?;
    if !table
        .snapshot()?
        .table_config()
        .enable_expired_log_cleanup()
    {
        return Ok(0);
    }
    Ok(checkpoints::cleanup_metadata(table, None).await?)
}

/// `delta.checkpointInterval` of the tables pinpipe creates: Delta Spark's default, not delta-rs's
/// 100. Every reader of a table replays the JSON commits since the last checkpoint, and a stream
/// table commits several times a second; the stream job writes its checkpoints off its commit path
/// ([`Checkpoints::ByCaller`]).
pub const CHECKPOINT_INTERVAL: u64 = 10;

/// Opens the Delta table at `path`, creating it empty with `schema` if there is none.
/// Returns the table and, if this call created it, the creating commit. When writers create the
/// table at the same time, one commit wins and the others open its table (rather than letting
/// delta-rs commit a second creation on top of it).
pub async fn ensure_table(
    lake: &Lake,
    path: &str,
    name: &str,
    schema: &SchemaRef,
) -> Result<(DeltaTable, Option<Commit>)> {
    if let Some(table) = lake.open_table(path).await? {
        return Ok((table, None));
    }
    let columns = StructType::try_from_arrow(schema.as_ref()).map_err(DeltaTableError::from)?;
    lake.create_local_dir(path)?;
    let created = CreateBuilder::new()
        .with_location(lake.table_uri(path))
        .with_storage_options(lake.storage_options().clone())
        .with_table_name(name)
        .with_columns(columns.fields().cloned())
        .with_configuration_property(
            TableProperty::CheckpointInterval,
            Some(CHECKPOINT_INTERVAL.to_string()),
        )
        .with_save_mode(SaveMode::ErrorIfExists)
        .with_commit_properties(CommitProperties::default().with_max_retries(0))
        .await;
    let table = match created {
        Ok(table) => table,
        // Another writer's table is there now (created since the look above): use it.
        Err(e) => match lake.open_table(path).await? {
            Some(theirs) => return Ok((theirs, None)),
            None => return Err(e.into()),
        },
    };
    let commit = table.version().map(|version| Commit {
        path: path.to_owned(),
        version,
    });
    Ok((table, commit))
}

/// Opens (creating if missing) the cleaned table of `table` in `tables_dir`.
pub async fn ensure_clean_table(
    lake: &Lake,
    tables_dir: &str,
    table: Table,
) -> Result<(DeltaTable, Option<Commit>)> {
    ensure_table(
        lake,
        &table_path(tables_dir, table),
        table.name(),
        &table.schema(),
    )
    .await
}

/// Opens (creating if missing) the quarantine table.
pub async fn ensure_quarantine(lake: &Lake) -> Result<(DeltaTable, Option<Commit>)> {
    ensure_table(lake, QUARANTINE_PATH, QUARANTINE_PATH, &quarantine_schema()).await
}

/// Whether `table` holds no data file (a new table, or one whose rows were all removed).
pub fn is_empty(table: &DeltaTable) -> Result<bool> {
    Ok(table.snapshot()?.log_data().num_files() == 0)
}

/// The rows of `batches` (a table's rows in arrival order) with only the last copy of each `ind`,
/// kept in the order of those last copies.
pub fn keep_last(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let key_index = schema.index_of("ind")?;
    let keys = all
        .column(key_index)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| LakeError::Internal("column ind is not Int64".into()))?;
    if keys.null_count() > 0 {
        return Err(LakeError::Internal("column ind holds nulls".into()));
    }
    let last = last_copies(keys.values())?;
    if last.len() == all.num_rows() {
        return Ok(all);
    }
    Ok(take_record_batch(&all, &UInt32Array::from(last))?)
}

/// Where the last copy of each key of `keys` (in arrival order) is, in the order of those last
/// copies: the rows [`keep_last`] keeps.
pub fn last_copies(keys: &[i64]) -> Result<Vec<u32>> {
    let mut seen = HashSet::with_capacity(keys.len());
    let mut last: Vec<u32> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate().rev() {
        if seen.insert(*key) {
            let i =
                u32::try_from(i).map_err(|_| LakeError::Internal("batch over 4G rows".into()))?;
            last.push(i);
        }
    }
    last.reverse();
    Ok(last)
}

fn qualified(relation: &str, name: &str) -> Expr {
    col(Column::new(Some(relation), name))
}

/// What a merge does when another writer committed to the table after it was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Reload the table and merge again ([`MAX_CONFLICT_ATTEMPTS`] attempts at most): for merges
    /// whose result does not depend on what was committed in between.
    Retry,
    /// Fail with the conflict ([`LakeError::is_commit_conflict`]), for the caller to decide.
    Fail,
}

/// Merges `rows` (at most one per `ind`, see [`keep_last`]) into `table`: when matched replace every
/// column, when not matched insert. Nothing is committed for no rows.
pub async fn upsert(
    ctx: &SessionContext,
    table: &mut DeltaTable,
    path: &str,
    rows: RecordBatch,
    commit: CommitProperties,
    on_conflict: OnConflict,
) -> Result<MergeOutcome> {
    let on = qualified("t", "ind").eq(qualified("s", "ind"));
    let mut attempt = 1;
    loop {
        let properties = commit_once(commit.clone(), table, Checkpoints::InCommit)?;
        let merged = merge(ctx, table, path, rows.clone(), on.clone(), properties, true).await;
        match merged {
            Err(e) if on_conflict == OnConflict::Retry => {
                if !reload_for_retry(table, &e, attempt).await? {
                    return Err(e);
                }
                attempt += 1;
            }
            merged => return merged,
        }
    }
}

/// Inserts `rejects` into the quarantine `table`, skipping those whose (`source`, `position`) is
/// there. Idempotent, so a commit conflict is retried on the reloaded table.
pub async fn insert_rejects(
    ctx: &SessionContext,
    table: &mut DeltaTable,
    rejects: &[Rejected],
) -> Result<MergeOutcome> {
    let on = qualified("t", "source")
        .eq(qualified("s", "source"))
        .and(qualified("t", "position").eq(qualified("s", "position")));
    let rows = quarantine_batch(rejects);
    let mut attempt = 1;
    loop {
        let properties = commit_once(CommitProperties::default(), table, Checkpoints::InCommit)?;
        match merge(
            ctx,
            table,
            QUARANTINE_PATH,
            rows.clone(),
            on.clone(),
            properties,
            false,
        )
        .await
        {
            Err(e) => {
                if !reload_for_retry(table, &e, attempt).await? {
                    return Err(e);
                }
                attempt += 1;
            }
            merged => return merged,
        }
    }
}

/// Commits `properties` (application transactions and commit metadata, e.g. a stream job's
/// micro-batch `epoch` and positions) to `table` with no data: how a reader of only rejected
/// records still moves its position on. Like the merges, it fails if the table moved on since
/// `table` was loaded.
pub async fn commit_transactions(
    table: &mut DeltaTable,
    path: &str,
    properties: CommitProperties,
    epoch: i64,
    checkpoints: Checkpoints,
) -> Result<Commit> {
    let operation = DeltaOperation::StreamingUpdate {
        output_mode: OutputMode::Append,
        query_id: "pinpipe-stream".to_owned(),
        epoch_id: epoch,
    };
    let committed = CommitBuilder::from(commit_once(properties, table, checkpoints)?)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    Ok(adopt(table, path, committed))
}

/// Upserts `rows` (at most one per `ind`) into `table` by rewriting only the data files
/// `replaced`, those holding the keys `rows` replace, which the caller knows (the stream job's key
/// index): one commit removes them and adds a new file of `rows` and of their other rows. A MERGE
/// finds those files by reading every file of the table; this reads only them, so that a stream's
/// micro-batch costs the same in a table of a thousand files as in one of ten. With no files
/// `replaced`, it is an append.
///
/// The commit carries `properties` (a stream job's positions) and is made on the version `table`
/// holds (it fails if the table moved on, see [`LakeError::is_commit_conflict`]). Returns it and
/// the files it added.
pub async fn replace_rows(
    table: &mut DeltaTable,
    path: &str,
    rows: RecordBatch,
    replaced: &[String],
    properties: CommitProperties,
    epoch: i64,
    checkpoints: Checkpoints,
) -> Result<(Commit, Vec<Add>)> {
    let snapshot = table.snapshot()?;
    let wanted: HashSet<&str> = replaced.iter().map(String::as_str).collect();
    let (locations, removes): (Vec<_>, Vec<_>) = snapshot
        .log_data()
        .iter()
        .filter(|file| wanted.contains(file.path().as_ref()))
        .map(|file| {
            (
                file.object_store_path(),
                Action::Remove(file.remove_action(true)),
            )
        })
        .unzip();
    if removes.len() != wanted.len() {
        return Err(LakeError::Internal(format!(
            "{path}: some of the files to rewrite, {replaced:?}, are not in version {}",
            snapshot.version()
        )));
    }
    let keys: HashSet<i64> = batch_keys(&rows)?.iter().copied().collect();
    let mut writer = RecordBatchWriter::for_table(table)?;
    let store = table.object_store();
    let schema = rows.schema();
    for location in &locations {
        // A stream table's files hold one micro-batch, or one rewrite, of rows: read whole.
        let bytes = store.get(location).await?.bytes().await?;
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()? {
            let batch = conform(batch?, &schema)?;
            let kept: BooleanArray = batch_keys(&batch)?
                .iter()
                .map(|key| Some(!keys.contains(key)))
                .collect();
            let kept = filter_record_batch(&batch, &kept)?;
            if kept.num_rows() > 0 {
                writer.write(kept).await?;
            }
        }
    }
    writer.write(rows).await?;
    let adds = writer.flush().await?;
    let output_mode = if removes.is_empty() {
        OutputMode::Append
    } else {
        OutputMode::Update
    };
    let operation = DeltaOperation::StreamingUpdate {
        output_mode,
        query_id: "pinpipe-stream".to_owned(),
        epoch_id: epoch,
    };
    let actions = adds
        .iter()
        .cloned()
        .map(Action::Add)
        .chain(removes)
        .collect();
    let committed = CommitBuilder::from(commit_once(properties, table, checkpoints)?)
        .with_actions(actions)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    Ok((adopt(table, path, committed), adds))
}

/// `batch` with the columns of `schema`, in its order and types: files other writers made (`lake
/// optimize` through DataFusion) may order the columns differently, or store strings as views.
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch.column_by_name(field.name()).ok_or_else(|| {
                LakeError::Internal(format!("a data file has no column {}", field.name()))
            })?;
            Ok(cast(column, field.data_type())?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// The `ind` column of `rows` (cleaned rows, or a data file's).
pub fn batch_keys(rows: &RecordBatch) -> Result<&[i64]> {
    let keys = rows
        .column_by_name("ind")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| LakeError::Internal("rows without an Int64 ind column".into()))?;
    Ok(keys.values())
}

/// Moves `table` to the state `committed` made (delta-rs built it after the commit: loading it
/// again would list and read the log once more) and names the commit.
fn adopt(table: &mut DeltaTable, path: &str, committed: FinalizedCommit) -> Commit {
    let version = committed.version();
    table.state = Some(committed.snapshot);
    Commit {
        path: path.to_owned(),
        version,
    }
}

/// Rows per Parquet row group of a data file: bounds the memory of a file being written.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The Parquet settings of the data files the batch job writes (Snappy, row groups of at most
/// 64 Ki rows), whichever process writes them.
pub fn data_file_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

/// Commits `adds`, data files written into `table`'s folder and not yet part of it, in one commit
/// made on the version `table` holds (it fails if the table moved on, see
/// [`LakeError::is_commit_conflict`]). With `replace`, the commit also removes every file the
/// table had (an overwrite); otherwise it appends. `None` when there is nothing to add or remove.
pub async fn commit_files(
    table: &DeltaTable,
    path: &str,
    adds: Vec<Add>,
    replace: bool,
) -> Result<Option<Commit>> {
    let snapshot = table.snapshot()?;
    let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
    if replace {
        actions.extend(
            snapshot
                .log_data()
                .iter()
                .map(|file| Action::Remove(file.remove_action(true))),
        );
    }
    if actions.is_empty() {
        return Ok(None);
    }
    let mode = if replace {
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    let operation = DeltaOperation::Write {
        mode,
        partition_by: None,
        predicate: None,
    };
    let committed = CommitBuilder::from(commit_once(
        CommitProperties::default(),
        table,
        Checkpoints::InCommit,
    )?)
    .with_actions(actions)
    .build(Some(snapshot), table.log_store(), operation)
    .await?;
    Ok(Some(Commit {
        path: path.to_owned(),
        version: committed.version(),
    }))
}

/// The version last committed to `table` under application id `app_id`, if any.
pub async fn transaction_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?)
}

/// Commit attempts a write that keeps losing to other writers makes before it gives up.
pub const MAX_CONFLICT_ATTEMPTS: u32 = 10;

/// After attempt number `attempt` of a write to `table` failed with `error`: whether to try again.
/// Yes for a commit conflict before [`MAX_CONFLICT_ATTEMPTS`], and `table` is then reloaded to
/// the latest version. Only for writes whose result does not depend on what others committed.
pub async fn reload_for_retry(
    table: &mut DeltaTable,
    error: &LakeError,
    attempt: u32,
) -> Result<bool> {
    if !error.is_commit_conflict() || attempt >= MAX_CONFLICT_ATTEMPTS {
        return Ok(false);
    }
    tracing::debug!(%error, attempt, "another writer committed first; reloading the table");
    table.update_state().await?;
    Ok(true)
}

/// Merges `rows` into `table` on `on` (target alias `t`, source alias `s`): inserts the unmatched
/// rows, and replaces the matched ones if `update` is set. `table` is updated to the new version.
/// The commit is made with `commit` ([`commit_once`]'s) on the version `table` holds or not at
/// all (see the module documentation).
async fn merge(
    ctx: &SessionContext,
    table: &mut DeltaTable,
    path: &str,
    rows: RecordBatch,
    on: Expr,
    commit: CommitProperties,
    update: bool,
) -> Result<MergeOutcome> {
    if rows.num_rows() == 0 {
        return Ok(MergeOutcome::default());
    }
    let before = table.version();
    let columns: Vec<String> = rows
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let source = ctx.read_batch(rows)?;
    let mut builder = table
        .clone()
        .merge(source, on)
        .with_source_alias("s")
        .with_target_alias("t")
        .with_session_state(Arc::new(ctx.state()))
        .with_commit_properties(commit);
    if update {
        builder = builder.when_matched_update(|u| {
            columns
                .iter()
                .fold(u, |u, c| u.update(c.as_str(), qualified("s", c)))
        })?;
    }
    builder = builder.when_not_matched_insert(|i| {
        columns
            .iter()
            .fold(i, |i, c| i.set(c.as_str(), qualified("s", c)))
    })?;
    let (merged, metrics) = builder.await?;
    *table = merged;
    let commit = table
        .version()
        .filter(|v| Some(*v) != before)
        .map(|version| Commit {
            path: path.to_owned(),
            version,
        });
    Ok(MergeOutcome {
        inserted: metrics.num_target_rows_inserted,
        updated: metrics.num_target_rows_updated,
        commit,
    })
}
