//! The first stage's step: the work items of a task → wide rows ([`crate::wide`]).
//!
//! - Raw objects are read and cleaned exactly as the single-process job does it
//!   ([`pinpipe_lake::batch::cleaned`]: streamed in byte-bounded pieces of whole lines, cleaned by
//!   `pinpipe-model` on blocking threads), in arrival order; each gives its rows, its rejects and
//!   one row saying what was read of it.
//! - Files of the table give its current rows (an incremental run rewrites the table with them).
//! - Files of the quarantine give the (source, position) of records already quarantined from the
//!   table's topic, so that a record read again is not quarantined twice.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Field, Int64Type, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt as _;
use object_store::path::Path;
use pinpipe_lake::Lake;
use pinpipe_lake::raw::{RawObject, ReadLimits, parse_object_path};
use pinpipe_model::{Table, quarantine_schema};

use crate::error::task_error;
use crate::options::task_lake;
use crate::wide::{self, ObjectRead, RowKind};
use crate::work::{self, WorkItem, WorkKind};

/// What the step reads, besides its work items.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The table.
    pub table: Table,
    /// The table's raw topic.
    pub topic: String,
    /// How raw objects are cut into pieces.
    pub limits: ReadLimits,
}

/// The wide rows of the work items in `input` (see the module documentation).
pub fn execute(
    reading: Reading,
    input: SendableRecordBatchStream,
    ctx: Arc<TaskContext>,
) -> Result<SendableRecordBatchStream> {
    let lake = task_lake(&ctx)?;
    let schema = wide::schema(reading.table);
    let reading = Arc::new(reading);
    let rows = input
        .map_ok(move |batch| read_items(lake.clone(), Arc::clone(&reading), &batch))
        .try_flatten();
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
}

/// The wide rows of the work items of one batch of the work list: raw objects first (one
/// stream, so that cleaning runs ahead across objects), then files one by one.
fn read_items(
    lake: Lake,
    reading: Arc<Reading>,
    batch: &RecordBatch,
) -> BoxStream<'static, Result<RecordBatch>> {
    let items = match work::from_batch(batch) {
        Ok(items) => items,
        Err(e) => return stream::once(async { Err(e) }).boxed(),
    };
    let (objects, files): (Vec<WorkItem>, Vec<WorkItem>) = items
        .into_iter()
        .partition(|item| item.kind == WorkKind::RawObject);
    let cleaned = clean_objects(lake.clone(), Arc::clone(&reading), objects);
    let files = stream::iter(files)
        .then(move |item| read_file(lake.clone(), Arc::clone(&reading), item))
        .try_flatten();
    cleaned.chain(files).boxed()
}

/// Where the cleaning of a task's objects is.
struct Progress {
    /// The objects, in arrival order, with their places in it.
    objects: Vec<(RawObject, i64)>,
    /// The object the next piece belongs to.
    current: usize,
    /// Rows of it so far.
    rows: i64,
    /// Records and rejects of it so far.
    records: u64,
    rejected: u64,
}

/// The wide rows of raw `objects`, cleaned as the single-process job cleans them.
fn clean_objects(
    lake: Lake,
    reading: Arc<Reading>,
    objects: Vec<WorkItem>,
) -> BoxStream<'static, Result<RecordBatch>> {
    let parsed: Result<Vec<(RawObject, i64)>> = objects
        .into_iter()
        .map(|item| {
            let (partition, start_offset) = parse_object_path(&item.path, &reading.topic)
                .map_err(|reason| DataFusionError::Internal(format!("{}: {reason}", item.path)))?;
            let object = RawObject {
                path: item.path,
                topic: reading.topic.clone(),
                partition,
                start_offset,
                size: item.size,
            };
            Ok((object, item.seq))
        })
        .collect();
    let objects = match parsed {
        Ok(objects) => objects,
        Err(e) => return stream::once(async { Err(e) }).boxed(),
    };
    let table = reading.table;
    let pieces = pinpipe_lake::batch::cleaned(
        lake.store(),
        table,
        objects.iter().map(|(o, _)| o.clone()).collect(),
        reading.limits,
    );
    let progress = Progress {
        objects,
        current: 0,
        rows: 0,
        records: 0,
        rejected: 0,
    };
    pieces
        .map_err(task_error)
        .scan(progress, move |progress, piece| {
            let out = piece.and_then(|piece| piece_rows(table, progress, piece));
            futures::future::ready(Some(out))
        })
        .map_ok(|batches| stream::iter(batches.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// The wide rows of one cleaned piece: its rows, its rejects, and when it ends its object, what
/// was read of the object.
fn piece_rows(
    table: Table,
    progress: &mut Progress,
    piece: pinpipe_lake::batch::Cleaned,
) -> Result<Vec<RecordBatch>> {
    let (_, seq) = progress
        .objects
        .get(progress.current)
        .ok_or_else(|| DataFusionError::Internal("a piece after the last object".into()))?;
    let seq = *seq;
    let mut out = Vec::with_capacity(3);
    let rows = &piece.cleaned.rows;
    if rows.num_rows() > 0 {
        out.push(wide::rows(table, rows, RowKind::New, seq, progress.rows)?);
        progress.rows += i64::try_from(rows.num_rows()).unwrap_or(i64::MAX);
    }
    if !piece.cleaned.rejected.is_empty() {
        out.push(wide::rejects(table, &piece.cleaned.rejected)?);
    }
    progress.records += piece.cleaned.records as u64;
    progress.rejected += piece.cleaned.rejected.len() as u64;
    if let Some(object) = piece.finished {
        out.push(wide::object_read(
            table,
            &ObjectRead {
                path: object.path,
                seq,
                records: progress.records,
                rejected: progress.rejected,
                size: object.size,
            },
        )?);
        progress.current += 1;
        progress.rows = 0;
        progress.records = 0;
        progress.rejected = 0;
    }
    Ok(out)
}

/// The wide rows of a data file of the table (its rows) or of the quarantine (its keys from
/// this table's topic).
async fn read_file(
    lake: Lake,
    reading: Arc<Reading>,
    item: WorkItem,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let table = reading.table;
    match item.kind {
        WorkKind::TableFile => {
            let batches = open_parquet(&lake, &item, table.schema(), None).await?;
            Ok(batches
                .and_then(move |batch| async move {
                    wide::rows(table, &batch, RowKind::Existing, -1, 0)
                })
                .boxed())
        }
        WorkKind::QuarantineFile => {
            // `source` and `position`.
            let batches = open_parquet(&lake, &item, quarantine_schema(), Some(vec![1, 2])).await?;
            let prefix = format!("{}/{}/", pinpipe_lake::raw::RAW_ROOT, reading.topic);
            Ok(batches
                .and_then(move |batch| {
                    let keys = topic_keys(table, &batch, &prefix);
                    async move { keys }
                })
                .boxed())
        }
        WorkKind::RawObject => Err(DataFusionError::Internal(
            "a raw object among the files".into(),
        )),
    }
}

/// The (source, position) rows of `batch` whose source is below `prefix`, as wide rows.
fn topic_keys(table: Table, batch: &RecordBatch, prefix: &str) -> Result<RecordBatch> {
    let (sources, _) = source_and_position(batch)?;
    let mine: BooleanArray = sources
        .iter()
        .map(|s| Some(s.is_some_and(|s| s.starts_with(prefix))))
        .collect();
    let batch = filter_record_batch(batch, &mine)?;
    let (sources, positions) = source_and_position(&batch)?;
    wide::quarantined_keys(table, sources, positions)
}

/// The `source` and `position` columns of a projected quarantine batch.
fn source_and_position(batch: &RecordBatch) -> Result<(&StringArray, &Int64Array)> {
    let sources = batch.column(0).as_string_opt::<i32>();
    let positions = batch.column(1).as_primitive_opt::<Int64Type>();
    sources.zip(positions).ok_or_else(|| {
        DataFusionError::Internal("quarantine file without source and position".into())
    })
}

/// The batches of the Parquet file of `item`, read as `schema` (columns `projection` of it).
///
/// The file is fetched whole: the lake's files are written byte-bounded
/// (`pinpipe_lake::batch`), so one is at most a few hundred MB, and one GET is what an object
/// store serves best.
async fn open_parquet(
    lake: &Lake,
    item: &WorkItem,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    // As an I/O error: Ballista runs the task again (a storage hiccup is the likely cause).
    let io = |e: String| {
        DataFusionError::IoError(std::io::Error::other(format!("reading {}: {e}", item.path)))
    };
    let bytes = lake
        .store()
        .get(&Path::from(item.path.as_str()))
        .await
        .map_err(|e| io(e.to_string()))?
        .bytes()
        .await
        .map_err(|e| io(e.to_string()))?;
    // The table's types with the file's nullability: the reader refuses any difference in it, and
    // writers differ (delta-rs marks every column of the single-process job's quarantine
    // nullable; the cluster's files keep the schema's).
    let in_file = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
        .map_err(|e| io(e.to_string()))?;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let nullable = in_file
                .schema()
                .field_with_name(f.name())
                .map_or(f.is_nullable(), |found| found.is_nullable());
            f.as_ref().clone().with_nullable(nullable)
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    let metadata = ArrowReaderMetadata::try_new(Arc::clone(in_file.metadata()), options)
        .map_err(|e| io(e.to_string()))?;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, metadata);
    if let Some(columns) = projection {
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
        builder = builder.with_projection(mask);
    }
    let path = item.path.clone();
    let reader = builder.build().map_err(|e| io(e.to_string()))?;
    Ok(stream::iter(reader.map(move |batch| {
        batch.map_err(|e| {
            DataFusionError::IoError(std::io::Error::other(format!("reading {path}: {e}")))
        })
    }))
    .boxed())
}
