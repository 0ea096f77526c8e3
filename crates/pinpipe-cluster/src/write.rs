//! The second stage's last step: what to write of one partition → Parquet files in the table's
//! folder and in the quarantine's, and rows saying what was written ([`Written`]) — the job's
//! output, which the client commits.
//!
//! The files are not part of any table until the client's commit names them, so a task that
//! fails, is lost with its executor or runs twice leaves at most files no table holds. On an
//! error, uploads in progress are aborted.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::kernel::Add;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::{StreamExt, TryStreamExt};
use pinpipe_lake::Lake;
use pinpipe_lake::delta::{QUARANTINE_PATH, data_file_properties};
use pinpipe_model::{Table, quarantine_schema};

use crate::error::task_error;
use crate::options::task_lake;
use crate::wide::{self, ObjectRead, RowKind};

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, true),
        Field::new("inserted", DataType::Int64, true),
        Field::new("updated", DataType::Int64, true),
        Field::new("rejected", DataType::Int64, true),
        Field::new("size", DataType::Int64, true),
        Field::new("task", DataType::Utf8, true),
        Field::new("attempt", DataType::Utf8, false),
    ]))
});

/// The schema of the step's output rows: `kind` and what goes with it —
///
/// | kind | text | numbers |
/// |---|---|---|
/// | `table_file`, `quarantine_file` | the file's Delta `add` action (JSON) | |
/// | `table_rows` | | `rows` written, of which `inserted` and `updated` |
/// | `rejects` | a kind of reason | `rows` newly quarantined for it |
/// | `object` | a raw object's path | `rows` (records), `rejected`, `size` as read |
///
/// Every row also names the task that wrote it: `task`, the shuffle partitions it read (see
/// [`crate::exec`]; null when not known), and `attempt`, drawn at random when the task's files are
/// finished.
/// Two attempts of one task write the same rows into different files; the client commits one
/// ([`Written::from_rows`]).
pub fn output_schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// What a table job wrote, from its output rows.
#[derive(Clone, Debug, Default)]
pub struct Written {
    /// The table's new files.
    pub table_files: Vec<Add>,
    /// The quarantine's new files.
    pub quarantine_files: Vec<Add>,
    /// Rows in the table's new files.
    pub rows: u64,
    /// Of those, keys new to the table.
    pub inserted: u64,
    /// Of those, new copies of keys it had.
    pub updated: u64,
    /// Records newly quarantined, per kind of reason.
    pub quarantined: BTreeMap<String, u64>,
    /// The raw objects read, in arrival order.
    pub objects: Vec<ObjectRead>,
    /// Tasks whose output came back from more than one attempt: each one's name, and
    /// the output rows of its other attempts, which were left out.
    pub dropped: Vec<(String, usize)>,
}

impl Written {
    /// Reads the output rows of a job, one attempt of each task: the first one seen. Ballista
    /// can hand back the output of two attempts of a task after losing an executor; committing
    /// both would write the task's rows into the table twice. Rows of a task not named are all
    /// kept: telling such tasks apart would risk dropping one.
    pub fn from_rows(batches: &[RecordBatch]) -> Result<Written> {
        let mut written = Written::default();
        let mut kept: BTreeMap<String, String> = BTreeMap::new();
        let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
        for batch in batches {
            let text = |i: usize| column::<StringArray>(batch, i);
            let int = |i: usize| column::<Int64Array>(batch, i);
            let (kinds, texts, tasks, attempts) = (text(0)?, text(1)?, text(7)?, text(8)?);
            let (rows, inserted, updated, rejected, size) =
                (int(2)?, int(3)?, int(4)?, int(5)?, int(6)?);
            let unsigned = |a: &Int64Array, i: usize| u64::try_from(a.value(i)).unwrap_or(0);
            for i in 0..batch.num_rows() {
                if tasks.is_valid(i) {
                    let (task, attempt) = (tasks.value(i), attempts.value(i));
                    let first = kept
                        .entry(task.to_owned())
                        .or_insert_with(|| attempt.to_owned());
                    if first != attempt {
                        *dropped.entry(task.to_owned()).or_default() += 1;
                        continue;
                    }
                }
                let value = texts.is_valid(i).then(|| texts.value(i));
                match (kinds.value(i), value) {
                    ("table_file", Some(add)) => written.table_files.push(parse_add(add)?),
                    ("quarantine_file", Some(add)) => {
                        written.quarantine_files.push(parse_add(add)?);
                    }
                    ("table_rows", _) => {
                        written.rows += unsigned(rows, i);
                        written.inserted += unsigned(inserted, i);
                        written.updated += unsigned(updated, i);
                    }
                    ("rejects", Some(reason)) => {
                        *written.quarantined.entry(reason.to_owned()).or_default() +=
                            unsigned(rows, i);
                    }
                    ("object", Some(path)) => written.objects.push(ObjectRead {
                        path: path.to_owned(),
                        seq: 0,
                        records: unsigned(rows, i),
                        rejected: unsigned(rejected, i),
                        size: unsigned(size, i),
                    }),
                    (kind, _) => {
                        return Err(DataFusionError::Internal(format!(
                            "unexpected output row of kind {kind}"
                        )));
                    }
                }
            }
        }
        written.objects.sort_by(|a, b| a.path.cmp(&b.path));
        written.dropped = dropped.into_iter().collect();
        Ok(written)
    }
}

fn parse_add(json: &str) -> Result<Add> {
    serde_json::from_str(json)
        .map_err(|e| DataFusionError::Internal(format!("an add action that does not parse: {e}")))
}

fn column<T: 'static>(batch: &RecordBatch, i: usize) -> Result<&T> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| DataFusionError::Internal(format!("output column {i} of another type")))
}

/// The files written for the partition `input`, which is the shuffle partitions `task` (see the
/// module documentation).
pub fn execute(
    table: Table,
    table_path: String,
    task: Option<String>,
    input: SendableRecordBatchStream,
    ctx: Arc<TaskContext>,
) -> SendableRecordBatchStream {
    let written = async move {
        let lake = task_lake(&ctx)?;
        let mut files = Files::new(&lake, table, &table_path).map_err(task_error)?;
        match files.write_all(input).await {
            Ok(()) => {
                let output = Output::new(task, uuid::Uuid::new_v4().simple().to_string());
                files.finish(output).await
            }
            Err(e) => {
                files.abort();
                Err(e)
            }
        }
    };
    Box::pin(RecordBatchStreamAdapter::new(
        output_schema(),
        futures::stream::once(written).boxed(),
    ))
}

/// The two writers of a partition and what went through them.
struct Files {
    table: Table,
    rows: RecordBatchWriter,
    rejects: RecordBatchWriter,
    counts: Counts,
    objects: Vec<ObjectRead>,
}

#[derive(Default)]
struct Counts {
    rows: u64,
    inserted: u64,
    updated: u64,
    reasons: BTreeMap<String, u64>,
}

impl Files {
    fn new(lake: &Lake, table: Table, table_path: &str) -> pinpipe_lake::Result<Files> {
        let writer = |path: &str, schema: SchemaRef| -> pinpipe_lake::Result<RecordBatchWriter> {
            Ok(RecordBatchWriter::try_new(
                lake.table_uri(path),
                schema,
                None,
                Some(lake.storage_options().clone()),
            )?
            .with_writer_properties(data_file_properties()))
        };
        Ok(Files {
            table,
            rows: writer(table_path, table.schema())?,
            rejects: writer(QUARANTINE_PATH, quarantine_schema())?,
            counts: Counts::default(),
            objects: Vec::new(),
        })
    }

    async fn write_all(&mut self, mut input: SendableRecordBatchStream) -> Result<()> {
        while let Some(batch) = input.try_next().await? {
            self.write(&batch).await?;
        }
        Ok(())
    }

    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let kinds = wide::kinds(batch)?;
        let mut rows = Vec::new();
        let mut rejects = Vec::new();
        for i in 0..batch.num_rows() {
            let index = u32::try_from(i)
                .map_err(|_| DataFusionError::Internal("batch over 4G rows".into()))?;
            match RowKind::from_u8(kinds.value(i))? {
                kind if kind.is_table_row() => {
                    self.counts.rows += 1;
                    match kind {
                        RowKind::Inserted => self.counts.inserted += 1,
                        RowKind::Updated => self.counts.updated += 1,
                        _ => {}
                    }
                    rows.push(index);
                }
                RowKind::Reject => rejects.push(index),
                _ => {}
            }
        }
        self.objects.extend(wide::objects_read(batch)?);
        if !rows.is_empty() {
            let rows = take_record_batch(batch, &UInt32Array::from(rows))?;
            let rows = wide::table_rows(self.table, &rows)?;
            self.rows
                .write(rows)
                .await
                .map_err(|e| task_error(e.into()))?;
        }
        if !rejects.is_empty() {
            let rejects = take_record_batch(batch, &UInt32Array::from(rejects))?;
            let reasons = wide::string(&rejects, wide::REASON_KIND)?;
            for reason in reasons.iter().flatten() {
                *self.counts.reasons.entry(reason.to_owned()).or_default() += 1;
            }
            let rejects = wide::quarantine_rows(self.table, &rejects)?;
            self.rejects
                .write(rejects)
                .await
                .map_err(|e| task_error(e.into()))?;
        }
        Ok(())
    }

    /// Closes the files; the output rows, added to `out`.
    async fn finish(mut self, mut out: Output) -> Result<RecordBatch> {
        let table_files = self.rows.flush().await.map_err(|e| task_error(e.into()))?;
        let quarantine_files = self
            .rejects
            .flush()
            .await
            .map_err(|e| task_error(e.into()))?;
        for (kind, adds) in [
            ("table_file", table_files),
            ("quarantine_file", quarantine_files),
        ] {
            for add in adds {
                let json = serde_json::to_string(&add)
                    .map_err(|e| DataFusionError::Internal(format!("add action: {e}")))?;
                out.push(kind, Some(json), [None; 5]);
            }
        }
        let c = &self.counts;
        out.push(
            "table_rows",
            None,
            [Some(c.rows), Some(c.inserted), Some(c.updated), None, None],
        );
        for (reason, n) in &c.reasons {
            out.push(
                "rejects",
                Some(reason.clone()),
                [Some(*n), None, None, None, None],
            );
        }
        for o in self.objects {
            let numbers = [Some(o.records), None, None, Some(o.rejected), Some(o.size)];
            out.push("object", Some(o.path), numbers);
        }
        out.finish()
    }

    /// Gives up the files being written.
    fn abort(&mut self) {
        self.rows.reset();
        self.rejects.reset();
    }
}

/// Output rows being built, of one attempt of a task.
struct Output {
    task: Option<String>,
    attempt: String,
    kinds: Vec<&'static str>,
    texts: Vec<Option<String>>,
    numbers: [Vec<Option<i64>>; 5],
}

impl Output {
    fn new(task: Option<String>, attempt: String) -> Output {
        Output {
            task,
            attempt,
            kinds: Vec::new(),
            texts: Vec::new(),
            numbers: Default::default(),
        }
    }

    fn push(&mut self, kind: &'static str, text: Option<String>, numbers: [Option<u64>; 5]) {
        self.kinds.push(kind);
        self.texts.push(text);
        for (column, n) in self.numbers.iter_mut().zip(numbers) {
            column.push(n.map(|n| i64::try_from(n).unwrap_or(i64::MAX)));
        }
    }

    fn finish(self) -> Result<RecordBatch> {
        let rows = self.kinds.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.kinds)),
            Arc::new(StringArray::from(self.texts)),
        ];
        for numbers in self.numbers {
            columns.push(Arc::new(Int64Array::from(numbers)));
        }
        columns.push(Arc::new(StringArray::from(vec![self.task; rows])));
        columns.push(Arc::new(StringArray::from(vec![self.attempt; rows])));
        Ok(RecordBatch::try_new(output_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output of one attempt of a task that wrote `rows` rows read from `object`.
    fn attempt(task: Option<&str>, attempt: &str, object: &str, rows: u64) -> RecordBatch {
        let mut out = Output::new(task.map(str::to_owned), attempt.to_owned());
        out.push(
            "table_rows",
            None,
            [Some(rows), Some(rows), Some(0), None, None],
        );
        out.push(
            "rejects",
            Some("bad_ind".into()),
            [Some(1), None, None, None, None],
        );
        out.push(
            "object",
            Some(object.to_owned()),
            [Some(rows + 1), None, None, Some(1), Some(100)],
        );
        out.finish().expect("output rows")
    }

    /// After a lost executor, Ballista can return two attempts of one task: the rows and the
    /// object are counted once, from the attempt seen first, and the other is reported.
    #[test]
    fn one_attempt_of_each_task_is_kept() {
        let batches = [
            attempt(Some("0"), "a", "raw/x", 10),
            attempt(Some("1"), "b", "raw/y", 20),
            attempt(Some("0"), "c", "raw/x", 10),
        ];
        let written = Written::from_rows(&batches).expect("written");
        assert_eq!((written.rows, written.inserted), (30, 30));
        assert_eq!(written.quarantined.get("bad_ind"), Some(&2));
        let objects: Vec<&str> = written.objects.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(objects, ["raw/x", "raw/y"]);
        assert_eq!(written.dropped, [("0".to_owned(), 3)]);
    }

    /// Tasks whose partitions are not known are never taken for one another.
    #[test]
    fn tasks_not_named_are_all_kept() {
        let batches = [
            attempt(None, "a", "raw/x", 10),
            attempt(None, "b", "raw/y", 20),
        ];
        let written = Written::from_rows(&batches).expect("written");
        assert_eq!(written.rows, 30);
        assert!(written.dropped.is_empty());
    }
}
