//! Table upkeep: compacting the small files streaming leaves behind, and deleting the files no
//! table version needs any more.
//!
//! - [`optimize`] bin-packs each table's small files into large ones (delta-rs `OPTIMIZE`): a
//!   commit that changes no data (`dataChange = false`), so readers see the same rows.
//! - [`vacuum`] deletes files that are no longer referenced by the table and are older than the
//!   retention (default 7 days, as Delta's `VACUUM`): files removed by a commit that long ago,
//!   and files never committed (left by a writer that crashed). A retention shorter than the
//!   table's `delta.deletedFileRetentionDuration` (7 days unless set) is refused, since a reader
//!   or writer may still be using those files.
//!
//! Both can run beside a running stream job. Each commit is checked against the commits made
//! since the table was read: an optimize that lost to a stream commit touching the same files is
//! planned again on the new version ([`reload_for_retry`]); a stream commit that finds an optimize
//! was committed first reloads the table and merges again (see [`crate::delta`]).

use std::time::Duration;

use deltalake::DeltaTable;
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use deltalake::table::config::TablePropertiesExt;
use pinpipe_model::Table;
use serde::Serialize;

use crate::delta::{QUARANTINE_PATH, reload_for_retry, table_path};
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::query::{BATCH_TABLES_DIR, STREAM_TABLES_DIR};
use crate::session::new_session;

/// Delta's default retention for vacuum: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Which tables an upkeep operation covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TableSet {
    /// `stream/pin`, `stream/geo`, `stream/user`.
    Stream,
    /// `tables/pin`, `tables/geo`, `tables/user`.
    Tables,
    /// Both, and the quarantine.
    #[default]
    All,
}

impl TableSet {
    /// The paths of the tables in the set, whether they exist or not.
    pub fn paths(self) -> Vec<String> {
        let dirs: &[&str] = match self {
            TableSet::Stream => &[STREAM_TABLES_DIR],
            TableSet::Tables => &[BATCH_TABLES_DIR],
            TableSet::All => &[STREAM_TABLES_DIR, BATCH_TABLES_DIR],
        };
        let mut paths: Vec<String> = dirs
            .iter()
            .flat_map(|dir| Table::ALL.map(|t| table_path(dir, t)))
            .collect();
        if self == TableSet::All {
            paths.push(QUARANTINE_PATH.to_owned());
        }
        paths
    }
}

/// What optimize did to one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Optimized {
    /// The table's path inside the lake.
    pub path: String,
    /// Data files before.
    pub files_before: usize,
    /// Small files rewritten.
    pub files_removed: u64,
    /// Compacted files written.
    pub files_added: u64,
    /// The version the commit created, `None` if there was nothing to compact.
    pub version: Option<u64>,
}

/// Compacts the small files of each existing table of `tables`; tables not created yet are skipped.
pub async fn optimize(lake: &Lake, tables: TableSet) -> Result<Vec<Optimized>> {
    let ctx = new_session()?;
    let mut done = Vec::new();
    for path in tables.paths() {
        let Some(mut table) = lake.open_table(&path).await? else {
            continue;
        };
        let files_before = table.get_file_uris()?.count();
        let before = table.version();
        let state = std::sync::Arc::new(ctx.state());
        let mut attempt = 1;
        let metrics = loop {
            let compacted = table
                .clone()
                .optimize()
                .with_type(OptimizeType::Compact)
                .with_session_state(state.clone())
                .await
                .map_err(LakeError::from);
            match compacted {
                Ok((compacted, metrics)) => {
                    table = compacted;
                    break metrics;
                }
                Err(e) => {
                    if !reload_for_retry(&mut table, &e, attempt).await? {
                        return Err(e);
                    }
                    attempt += 1;
                }
            }
        };
        let version = table.version().filter(|v| Some(*v) != before);
        if let Some(version) = version {
            pinpipe_telemetry::lake::FilesCompacted {
                table: path.clone(),
                version,
                files_removed: metrics.num_files_removed,
                files_added: metrics.num_files_added,
            }
            .emit();
        }
        done.push(Optimized {
            path,
            files_before,
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            version,
        });
    }
    Ok(done)
}

/// How vacuum runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VacuumOptions {
    /// Files unreferenced for less than this are kept (default [`DEFAULT_RETENTION`]).
    pub retention: Duration,
    /// List what would be deleted, delete nothing.
    pub dry_run: bool,
}

impl Default for VacuumOptions {
    fn default() -> Self {
        VacuumOptions {
            retention: DEFAULT_RETENTION,
            dry_run: false,
        }
    }
}

/// What vacuum did to one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Vacuumed {
    /// The table's path inside the lake.
    pub path: String,
    /// Files deleted (with `dry_run`: that would be deleted), relative to the table.
    pub files: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Deletes the files of each existing table of `tables` that no version within the retention
/// references (see the module documentation). The retention is checked against every table
/// before any file is deleted.
pub async fn vacuum(lake: &Lake, tables: TableSet, opts: &VacuumOptions) -> Result<Vec<Vacuumed>> {
    let retention = chrono::Duration::from_std(opts.retention).map_err(|_| {
        LakeError::InvalidOptions(format!("retention {:?} is too long", opts.retention))
    })?;
    let mut existing = Vec::new();
    for path in tables.paths() {
        if let Some(table) = lake.open_table(&path).await? {
            check_retention(&table, &path, opts.retention)?;
            existing.push((path, table));
        }
    }
    let mut done = Vec::new();
    for (path, table) in existing {
        let (_, metrics) = table
            .vacuum()
            .with_retention_period(retention)
            .with_mode(VacuumMode::Full)
            .with_dry_run(opts.dry_run)
            .await?;
        pinpipe_telemetry::lake::FilesVacuumed {
            table: path.clone(),
            files: metrics.files_deleted.len() as u64,
            dry_run: opts.dry_run,
        }
        .emit();
        done.push(Vacuumed {
            path,
            files: metrics.files_deleted,
            dry_run: opts.dry_run,
        });
    }
    Ok(done)
}

/// Refuses a retention shorter than the table's `delta.deletedFileRetentionDuration`.
fn check_retention(table: &DeltaTable, path: &str, retention: Duration) -> Result<()> {
    let minimum = table
        .snapshot()?
        .table_config()
        .deleted_file_retention_duration();
    if retention < minimum {
        return Err(LakeError::InvalidOptions(format!(
            "retention {} is shorter than {path}'s delta.deletedFileRetentionDuration ({}): \
             files a running reader or writer still uses could be deleted",
            human(retention),
            human(minimum)
        )));
    }
    Ok(())
}

/// `168h`, `90m` or `45s`: the largest whole unit.
fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
