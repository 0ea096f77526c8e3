//! Writing a table that has no rows yet (or is being refreshed) in one commit for the run.
//!
//! Rows arrive in arrival order and wait in memory up to half a byte budget; then the live ones
//! are written as one Parquet file (not yet part of the table) on a blocking thread, while the
//! next half fills. Encoding a file had stopped the whole job: the cleaning of the next objects
//! waited for it, and a 1M-post batch kept two cores busy only half of the time.
//!
//! An index of every key gives where its last copy is, as the chunk of rows (a file once written)
//! and the row's number among those the chunk received: a later copy of a key marks the earlier
//! one dead, dropped before its file is written or, once written, by rewriting that file at the
//! end. The numbers stay valid when a chunk is written, so writing one does not touch the index
//! (updating a million entries per table had been a tenth of the batch job's time).
//! Keys rarely repeat far apart (the emulator's and the original's data repeat keys within
//! minutes), so files are seldom rewritten. Then one commit adds every file (and, on a full
//! refresh, removes every file the table had): readers see all of the run or none of it.
//!
//! Memory: the budget of rows (half waiting, half being written), the index (about 16 bytes per
//! key), a byte per row each chunk received (dead ones included) and 4 bytes per row that died
//! after its chunk was written.

use std::collections::BTreeMap;
use std::time::Instant;

use deltalake::DeltaTable;
use deltalake::arrow::array::{BooleanArray, RecordBatch};
use deltalake::arrow::compute::filter_record_batch;
use deltalake::kernel::Add;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use foldhash::HashMap;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tokio::task::JoinHandle;

use super::Written;
use crate::delta::{batch_keys, commit_files, data_file_properties};
use crate::error::{LakeError, Result};

/// Where the last copy of a key is: row `row` of chunk `chunk`, rows numbered as the chunk
/// received them (dead ones included). The chunk numbered `files.len()` is the one in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    chunk: u32,
    row: u32,
}

/// A chunk of rows written as a data file (or being written).
struct WrittenChunk {
    /// The file, once written. None while it is being written, and when no row of the chunk was
    /// left alive to write (when the chunk was written, or when its file was rewritten).
    add: Option<Add>,
    /// Which of the rows the chunk received were dead when it was written, and so are not in it.
    dropped: Vec<bool>,
}

/// See the module documentation.
pub(crate) struct AppendWriter {
    table: DeltaTable,
    path: String,
    overwrite: bool,
    budget: usize,
    started: Instant,
    memory: Vec<RecordBatch>,
    memory_bytes: usize,
    memory_dead: Vec<bool>,
    index: HashMap<i64, Slot>,
    files: Vec<WrittenChunk>,
    dead: BTreeMap<u32, Vec<u32>>,
    /// The file being written in the background: its number, and the task writing it.
    writing: Option<(u32, JoinHandle<Result<Option<Add>>>)>,
}

impl AppendWriter {
    /// A writer for `table` at `path`, holding at most about `budget` bytes of rows; with
    /// `overwrite`, the commit replaces every row the table had.
    pub(crate) fn new(table: DeltaTable, path: &str, budget: usize, overwrite: bool) -> Self {
        Self {
            table,
            path: path.to_owned(),
            overwrite,
            budget,
            started: Instant::now(),
            memory: Vec::new(),
            memory_bytes: 0,
            memory_dead: Vec::new(),
            index: HashMap::default(),
            files: Vec::new(),
            dead: BTreeMap::new(),
            writing: None,
        }
    }

    /// A writer of one data file of the table.
    fn file_writer(&self) -> Result<RecordBatchWriter> {
        Ok(RecordBatchWriter::for_table(&self.table)?
            .with_writer_properties(data_file_properties()))
    }

    /// Takes the next rows, in arrival order.
    pub(crate) async fn push(&mut self, rows: RecordBatch) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let base = self.memory_dead.len();
        self.memory_dead.resize(base + rows.num_rows(), false);
        let chunk = row_number(self.files.len())?;
        for (i, key) in batch_keys(&rows)?.iter().enumerate() {
            let slot = Slot {
                chunk,
                row: row_number(base + i)?,
            };
            if let Some(earlier) = self.index.insert(*key, slot) {
                self.kill(earlier);
            }
        }
        self.memory_bytes += rows.get_array_memory_size();
        self.memory.push(rows);
        if self.memory_bytes >= self.budget / 2 {
            self.write_memory().await?;
        }
        Ok(())
    }

    fn kill(&mut self, Slot { chunk, row }: Slot) {
        if chunk as usize == self.files.len() {
            self.memory_dead[row as usize] = true;
        } else {
            self.dead.entry(chunk).or_default().push(row);
        }
    }

    /// Starts writing the live rows in memory as one file, once the file before is written.
    async fn write_memory(&mut self) -> Result<()> {
        if self.memory.is_empty() {
            return Ok(());
        }
        self.wait_for_file().await?;
        let file = row_number(self.files.len())?;
        let mut memory_row = 0usize;
        let mut kept_batches = Vec::with_capacity(self.memory.len());
        for batch in std::mem::take(&mut self.memory) {
            let alive: BooleanArray = (memory_row..memory_row + batch.num_rows())
                .map(|row| Some(!self.memory_dead[row]))
                .collect();
            memory_row += batch.num_rows();
            let kept = filter_record_batch(&batch, &alive)?;
            if kept.num_rows() > 0 {
                kept_batches.push(kept);
            }
        }
        self.files.push(WrittenChunk {
            add: None,
            dropped: std::mem::take(&mut self.memory_dead),
        });
        self.memory_bytes = 0;
        let writer = self.file_writer()?;
        let runtime = tokio::runtime::Handle::current();
        let task =
            tokio::task::spawn_blocking(move || runtime.block_on(write_file(writer, kept_batches)));
        self.writing = Some((file, task));
        Ok(())
    }

    /// Waits for the file being written, if there is one.
    async fn wait_for_file(&mut self) -> Result<()> {
        if let Some((file, task)) = self.writing.take() {
            self.files[file as usize].add = task.await??;
        }
        Ok(())
    }

    /// Writes what is left, rewrites the files that hold dead rows, and commits every file in
    /// one commit; `None` if there was no row to write and nothing to replace.
    pub(crate) async fn finish(mut self) -> Result<Option<Written>> {
        self.write_memory().await?;
        self.wait_for_file().await?;
        for (file, rows) in std::mem::take(&mut self.dead) {
            self.rewrite(file, rows).await?;
        }
        let adds: Vec<Add> = self.files.into_iter().filter_map(|f| f.add).collect();
        let Some(commit) = commit_files(&self.table, &self.path, adds, self.overwrite).await?
        else {
            return Ok(None);
        };
        Ok(Some(Written {
            commit,
            inserted: self.index.len(),
            updated: 0,
            duration: self.started.elapsed(),
        }))
    }

    /// Writes file `file` again without its `dead` rows (numbered as its chunk received them),
    /// and deletes the old one (never committed).
    async fn rewrite(&mut self, file: u32, mut dead: Vec<u32>) -> Result<()> {
        let chunk = &mut self.files[file as usize];
        let Some(old) = chunk.add.take() else {
            return Ok(());
        };
        dead.sort_unstable();
        let dead = file_rows(&chunk.dropped, &dead);
        let store = self.table.object_store();
        let location = Path::from(old.path.as_str());
        // A file holds about half a memory budget of rows: it is read back whole.
        let bytes = store.get(&location).await?.bytes().await?;
        let batches = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
        let mut kept_batches = Vec::new();
        let mut row = 0u32;
        let mut dead = dead.into_iter().peekable();
        for batch in batches {
            let batch = batch?;
            let alive: BooleanArray = (0..batch.num_rows())
                .map(|_| {
                    let is_dead = dead.peek() == Some(&row);
                    if is_dead {
                        dead.next();
                    }
                    row += 1;
                    Some(!is_dead)
                })
                .collect();
            let kept = filter_record_batch(&batch, &alive)?;
            if kept.num_rows() > 0 {
                kept_batches.push(kept);
            }
        }
        self.files[file as usize].add = write_file(self.file_writer()?, kept_batches).await?;
        store.delete(&location).await?;
        Ok(())
    }
}

/// The rows of a file, given as the numbers its chunk received them by (sorted, none dropped):
/// each less the rows dropped before it.
fn file_rows(dropped: &[bool], received: &[u32]) -> Vec<u32> {
    let mut before = 0u32;
    let mut counted = 0usize;
    received
        .iter()
        .map(|&row| {
            let row_index = row as usize;
            before += dropped[counted..row_index].iter().filter(|d| **d).count() as u32;
            counted = row_index;
            row - before
        })
        .collect()
}

fn row_number(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| LakeError::Internal("more than 4G rows in one run".into()))
}

/// Writes `batches` as one data file (not yet committed); none when they hold no row.
async fn write_file(
    mut writer: RecordBatchWriter,
    batches: Vec<RecordBatch>,
) -> Result<Option<Add>> {
    for batch in batches {
        writer.write(batch).await?;
    }
    one_file(writer.flush().await?)
}

/// The one file a flush wrote (none when every row was dead).
fn one_file(mut added: Vec<Add>) -> Result<Option<Add>> {
    match added.len() {
        0 | 1 => Ok(added.pop()),
        n => Err(LakeError::Internal(format!(
            "one flush wrote {n} files, expected one"
        ))),
    }
}
