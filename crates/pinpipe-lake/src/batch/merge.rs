//! Writing into a table that has rows: each byte-bounded chunk of rows, last copy of each key
//! kept, merged on `ind` in one commit (see [`crate::delta::upsert`]). Chunks are merged in
//! arrival order, so a later chunk's copy of a key replaces an earlier one's.

use std::time::Instant;

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;

use super::Written;
use crate::delta::{self, OnConflict};
use crate::error::Result;

/// See the module documentation.
pub(crate) struct MergeWriter {
    table: DeltaTable,
    path: String,
    budget: usize,
    rows: Vec<RecordBatch>,
    bytes: usize,
}

impl MergeWriter {
    /// A writer merging into `table` at `path` every `budget` bytes of rows.
    pub(crate) fn new(table: DeltaTable, path: &str, budget: usize) -> Result<Self> {
        Ok(Self {
            table,
            path: path.to_owned(),
            budget,
            rows: Vec::new(),
            bytes: 0,
        })
    }

    /// Takes the next rows; merges the chunk once it holds the budget's worth, returning its
    /// commit.
    pub(crate) async fn push(
        &mut self,
        ctx: &SessionContext,
        rows: RecordBatch,
    ) -> Result<Option<Written>> {
        if rows.num_rows() == 0 {
            return Ok(None);
        }
        self.bytes += rows.get_array_memory_size();
        self.rows.push(rows);
        if self.bytes < self.budget {
            return Ok(None);
        }
        self.merge(ctx).await
    }

    /// Merges what is left.
    pub(crate) async fn finish(mut self, ctx: &SessionContext) -> Result<Option<Written>> {
        self.merge(ctx).await
    }

    async fn merge(&mut self, ctx: &SessionContext) -> Result<Option<Written>> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        let schema = self.rows[0].schema();
        let rows = delta::keep_last(&schema, &std::mem::take(&mut self.rows))?;
        self.bytes = 0;
        let merged = delta::upsert(
            ctx,
            &mut self.table,
            &self.path,
            rows,
            CommitProperties::default(),
            OnConflict::Retry,
        )
        .await?;
        let Some(commit) = merged.commit else {
            return Ok(None);
        };
        Ok(Some(Written {
            commit,
            inserted: merged.inserted,
            updated: merged.updated,
            duration: started.elapsed(),
        }))
    }
}
