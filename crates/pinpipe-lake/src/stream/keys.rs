//! Which data file of a stream table holds each key (`ind`): what lets a micro-batch that replaces
//! keys rewrite only the files holding them ([`crate::delta::replace_rows`]) instead of a MERGE,
//! which reads every file of the table to find them. A stream table gains a file with almost every
//! micro-batch until `pinpipe lake optimize` compacts it, so a MERGE's cost grew with the table's
//! age (68 ms a commit over the first 100 versions, 147 ms over the next 100, at 500 records/s);
//! this way a micro-batch costs what its own rows and the few files they touch cost.
//!
//! The index is read from the table's files once (the keys' column only) and follows the job's own
//! commits; when another writer commits (`lake optimize`, which rewrites files), the job reads it
//! again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::kernel::Add;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use crate::delta::batch_keys;
use crate::error::{LakeError, Result};

/// Files read at once while loading the index (they may be on S3).
const CONCURRENT_READS: usize = 8;

/// The data file of each key of a table, and the keys of each file.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    file_of: HashMap<i64, Arc<str>>,
    keys_in: HashMap<Arc<str>, Vec<i64>>,
}

impl KeyIndex {
    /// Reads the key column of every data file of the version `table` holds.
    pub(super) async fn load(table: &DeltaTable) -> Result<KeyIndex> {
        let store = table.object_store();
        let files: Vec<_> = table
            .snapshot()?
            .log_data()
            .iter()
            .map(|file| (file.path().into_owned(), file.object_store_path()))
            .collect();
        let read: Vec<(String, Vec<i64>)> = futures::stream::iter(files)
            .map(|(name, location)| {
                let store = Arc::clone(&store);
                async move {
                    let bytes = store.get(&location).await?.bytes().await?;
                    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
                    let keys_only = ProjectionMask::columns(reader.parquet_schema(), ["ind"]);
                    let mut keys = Vec::new();
                    for batch in reader.with_projection(keys_only).build()? {
                        keys.extend_from_slice(batch_keys(&batch?)?);
                    }
                    Ok::<_, LakeError>((name, keys))
                }
            })
            .buffer_unordered(CONCURRENT_READS)
            .try_collect()
            .await?;
        let mut index = KeyIndex::default();
        for (name, keys) in read {
            index.add_file(name.into(), keys);
        }
        Ok(index)
    }

    /// The files holding any of `keys`, in order.
    pub(super) fn files_holding(&self, keys: &[i64]) -> Vec<String> {
        let files: BTreeSet<&str> = keys
            .iter()
            .filter_map(|key| self.file_of.get(key))
            .map(AsRef::as_ref)
            .collect();
        files.into_iter().map(str::to_owned).collect()
    }

    /// How many of `keys` the table holds.
    pub(super) fn count_held(&self, keys: &[i64]) -> usize {
        keys.iter()
            .filter(|key| self.file_of.contains_key(key))
            .count()
    }

    /// Follows a commit of [`crate::delta::replace_rows`] that wrote the rows of `keys`, removed the
    /// files `replaced` and added `added`. The keys of the replaced files and `keys` are now in
    /// the one file added; if the writer split them over several, which rows went where is not
    /// known here, and this returns `false`: the index must be read again.
    pub(super) fn follow(&mut self, keys: &[i64], replaced: &[String], added: &[Add]) -> bool {
        let [added] = added else {
            return false;
        };
        let mut moved: Vec<i64> = Vec::with_capacity(keys.len());
        for file in replaced {
            moved.extend(self.keys_in.remove(file.as_str()).unwrap_or_default());
        }
        moved.extend_from_slice(keys);
        // A key replaced was in a replaced file and is in `keys` too: once is enough.
        moved.sort_unstable();
        moved.dedup();
        self.add_file(added.path.as_str().into(), moved);
        true
    }

    fn add_file(&mut self, file: Arc<str>, keys: Vec<i64>) {
        for key in &keys {
            self.file_of.insert(*key, Arc::clone(&file));
        }
        self.keys_in.insert(file, keys);
    }
}
