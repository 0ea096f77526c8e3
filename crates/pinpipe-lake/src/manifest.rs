//! The batch manifest: which raw objects (path and size) the batch job has merged into which tables.
//!
//! It lives at `_pinpipe/batch/<tables dir>/manifest.json` and is written after the Delta commits of
//! every chunk, so it may lag the tables but never run ahead of them. A crash between a commit and
//! the manifest write means the chunk's objects are read again next run; that is harmless because
//! every write is idempotent (see [`crate::batch`]). An object whose size differs from the recorded one
//! (the sink rewrote it after a crash) counts as new.

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use pinpipe_model::Table;
use serde::{Deserialize, Serialize};

use crate::error::{LakeError, Result};
use crate::raw::RawObject;

/// The manifest format this code writes and reads.
const FORMAT: u32 = 1;

/// Processed raw objects per table: table name → object path → size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    format: u32,
    tables: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The manifest's path inside the lake for the tables in `tables_dir`.
pub fn manifest_path(tables_dir: &str) -> String {
    format!(
        "_pinpipe/batch/{}/manifest.json",
        tables_dir.trim_matches('/')
    )
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest {
            format: FORMAT,
            tables: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Reads the manifest at `path`; an absent manifest is an empty one.
    pub async fn load(store: &Arc<dyn ObjectStore>, path: &str) -> Result<Manifest> {
        let bytes = match store.get(&Path::from(path)).await {
            Ok(got) => got.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(Manifest::default()),
            Err(e) => return Err(e.into()),
        };
        let corrupt = |reason: String| LakeError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("not a batch manifest: {e}")))?;
        if manifest.format != FORMAT {
            return Err(corrupt(format!(
                "manifest format {} is not {FORMAT}",
                manifest.format
            )));
        }
        Ok(manifest)
    }

    /// Writes the manifest to `path` (a single put: readers see the old or the new one, never a mix).
    pub async fn save(&self, store: &Arc<dyn ObjectStore>, path: &str) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| LakeError::Internal(e.to_string()))?;
        store.put(&Path::from(path), PutPayload::from(json)).await?;
        Ok(())
    }

    /// Whether `object` was processed for `table` with its current size.
    pub fn contains(&self, table: Table, object: &RawObject) -> bool {
        self.tables
            .get(table.name())
            .and_then(|objects| objects.get(&object.path))
            == Some(&object.size)
    }

    /// Records `objects` as processed for `table`.
    pub fn record<'a>(&mut self, table: Table, objects: impl IntoIterator<Item = &'a RawObject>) {
        let entry = self.tables.entry(table.name().to_owned()).or_default();
        for object in objects {
            entry.insert(object.path.clone(), object.size);
        }
    }

    /// Forgets what was processed for `table` (its Delta table is gone, so everything is new again).
    pub fn forget(&mut self, table: Table) -> bool {
        self.tables.remove(table.name()).is_some()
    }
}
