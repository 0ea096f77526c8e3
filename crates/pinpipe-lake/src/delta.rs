//! Writing cleaned rows and rejects into the lake's Delta tables, idempotently.
//!
//! - [`ensure_table`] creates a table with its SPEC §5 schema (standard protocol: reader 1, writer 2).
//! - [`keep_last`] keeps the last copy of each key, in arrival order.
//! - [`upsert`] merges rows on `ind`: a matched row is replaced, a new key inserted. Merging the same
//!   rows twice leaves the same table.
//! - [`insert_rejects`] adds rejects to the quarantine table unless a row with the same
//!   (`source`, `position`) is there: reading the same record twice never duplicates it.
//!
//! The batch job uses these for `tables/*`; the stream job can use them for `stream/*`, passing
//! [`CommitProperties`] with an application transaction to make its commits exactly-once.

use std::collections::HashSet;
use std::sync::Arc;

use deltalake::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use deltalake::arrow::compute::{concat_batches, take_record_batch};
use deltalake::arrow::datatypes::{Int64Type, SchemaRef};
use deltalake::datafusion::common::Column;
use deltalake::datafusion::prelude::{Expr, SessionContext, col};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryFromArrow;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use pinpipe_model::{Rejected, Table, quarantine_batch, quarantine_schema};

use crate::error::{LakeError, Result};
use crate::location::Lake;

/// The path of the quarantine table inside the lake (SPEC §7).
pub const QUARANTINE_PATH: &str = "quarantine";

/// The path of `table`'s cleaned Delta table inside `tables_dir` (`tables/pin`, `stream/geo`, …).
pub fn table_path(tables_dir: &str, table: Table) -> String {
    format!("{}/{}", tables_dir.trim_matches('/'), table.name())
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

/// Opens the Delta table at `path`, creating it empty with `schema` if there is none.
/// Returns the table and, if it was created, the creating commit.
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
    let table = CreateBuilder::new()
        .with_location(lake.table_uri(path))
        .with_storage_options(lake.storage_options().clone())
        .with_table_name(name)
        .with_columns(columns.fields().cloned())
        .with_save_mode(SaveMode::Ignore)
        .await?;
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
    let mut seen = HashSet::with_capacity(keys.len());
    let mut last: Vec<u32> = Vec::with_capacity(keys.len());
    for i in (0..keys.len()).rev() {
        if seen.insert(keys.value(i)) {
            let i =
                u32::try_from(i).map_err(|_| LakeError::Internal("batch over 4G rows".into()))?;
            last.push(i);
        }
    }
    if last.len() == all.num_rows() {
        return Ok(all);
    }
    last.reverse();
    Ok(take_record_batch(&all, &UInt32Array::from(last))?)
}

fn qualified(relation: &str, name: &str) -> Expr {
    col(Column::new(Some(relation), name))
}

/// Merges `rows` (at most one per `ind`, see [`keep_last`]) into `table`: when matched replace every
/// column, when not matched insert. Nothing is committed for no rows.
pub async fn upsert(
    ctx: &SessionContext,
    table: &mut DeltaTable,
    path: &str,
    rows: RecordBatch,
    commit: CommitProperties,
) -> Result<MergeOutcome> {
    let on = qualified("t", "ind").eq(qualified("s", "ind"));
    merge(ctx, table, path, rows, on, commit, true).await
}

/// Inserts `rejects` into the quarantine `table`, skipping those whose (`source`, `position`) is there.
pub async fn insert_rejects(
    ctx: &SessionContext,
    table: &mut DeltaTable,
    rejects: &[Rejected],
    commit: CommitProperties,
) -> Result<MergeOutcome> {
    let on = qualified("t", "source")
        .eq(qualified("s", "source"))
        .and(qualified("t", "position").eq(qualified("s", "position")));
    let rows = quarantine_batch(rejects);
    merge(ctx, table, QUARANTINE_PATH, rows, on, commit, false).await
}

/// Merges `rows` into `table` on `on` (target alias `t`, source alias `s`): inserts the unmatched
/// rows, and replaces the matched ones if `update` is set. `table` is updated to the new version.
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
