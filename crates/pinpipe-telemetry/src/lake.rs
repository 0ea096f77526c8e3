//! Events of table upkeep (`pinpipe lake optimize|vacuum`).

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Table};

/// `optimize` rewrote a table's small files into fewer larger ones.
#[derive(Clone, Debug)]
pub struct FilesCompacted {
    /// The table's path in the lake.
    pub table: String,
    /// The Delta version written.
    pub version: u64,
    /// Files replaced.
    pub files_removed: u64,
    /// Files written.
    pub files_added: u64,
}

impl FilesCompacted {
    /// Logs at info and counts `pinpipe_lake_files_compacted_total`.
    pub fn emit(self) {
        tracing::info!(
            table = %self.table, version = self.version, files_removed = self.files_removed,
            files_added = self.files_added, "files compacted"
        );
        metrics::get()
            .files_compacted
            .get_or_create(&Table {
                table: self.table.clone(),
            })
            .inc_by(self.files_removed);
        dispatch(Event::FilesCompacted(self));
    }
}

/// `vacuum` deleted files no table version references.
#[derive(Clone, Debug)]
pub struct FilesVacuumed {
    /// The table's path in the lake.
    pub table: String,
    /// Files deleted (or that would be, on a dry run).
    pub files: u64,
    /// Whether nothing was deleted (a dry run).
    pub dry_run: bool,
}

impl FilesVacuumed {
    /// Logs at info and counts `pinpipe_lake_files_vacuumed_total` (not on a dry run).
    pub fn emit(self) {
        tracing::info!(table = %self.table, files = self.files, dry_run = self.dry_run, "files vacuumed");
        if !self.dry_run {
            metrics::get()
                .files_vacuumed
                .get_or_create(&Table {
                    table: self.table.clone(),
                })
                .inc_by(self.files);
        }
        dispatch(Event::FilesVacuumed(self));
    }
}

/// `vacuum` deleted the files of uploads a killed process left unfinished on a local lake.
#[derive(Clone, Debug)]
pub struct UnfinishedUploadsDeleted {
    /// Files deleted (or that would be, on a dry run).
    pub files: u64,
    /// Their size in all.
    pub bytes: u64,
    /// Whether nothing was deleted (a dry run).
    pub dry_run: bool,
}

impl UnfinishedUploadsDeleted {
    /// Logs at info. Not counted: an unlabelled counter would be on every process's `/metrics`
    /// at zero, and `pinpipe lake vacuum`, which prints what it deleted, serves none.
    pub fn emit(self) {
        tracing::info!(
            files = self.files,
            bytes = self.bytes,
            dry_run = self.dry_run,
            "unfinished uploads deleted"
        );
        dispatch(Event::UnfinishedUploadsDeleted(self));
    }
}
