//! The work list of a table job: what each task of the first stage reads — raw objects, and for
//! an incremental run the files of the table and of the quarantine — as the rows of an
//! in-memory source with one partition per task.
//!
//! Ballista hands each task of a stage only its own partitions of a source it knows (a
//! `DataSourceExec` over memory or files), so the work list is such a source and the reading
//! happens in [`crate::read`], above it. Objects are never split across tasks: the order of the
//! records of an object, which decides which copy of a key wins, stays within one task.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray, UInt8Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt8Type};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;

/// What a work item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WorkKind {
    /// A raw object of the table's topic, to read and clean.
    RawObject = 0,
    /// A data file of the table: its rows are the table's current rows.
    TableFile = 1,
    /// A data file of the quarantine: its (source, position) are records already quarantined.
    QuarantineFile = 2,
}

impl WorkKind {
    fn from_u8(value: u8) -> Result<WorkKind> {
        match value {
            0 => Ok(WorkKind::RawObject),
            1 => Ok(WorkKind::TableFile),
            2 => Ok(WorkKind::QuarantineFile),
            other => Err(DataFusionError::Internal(format!(
                "unknown work item kind {other}"
            ))),
        }
    }
}

/// One thing to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    /// What it is.
    pub kind: WorkKind,
    /// Its path inside the lake.
    pub path: String,
    /// A raw object's place in arrival order (0, 1, …); -1 otherwise.
    pub seq: i64,
    /// Its size in bytes (when listed).
    pub size: u64,
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::UInt8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("seq", DataType::Int64, false),
        Field::new("size", DataType::Int64, false),
    ]))
});

/// The schema of the work list's rows.
pub fn schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// `items` as one batch of work-list rows.
pub fn to_batch(items: &[WorkItem]) -> Result<RecordBatch> {
    let size = |i: &WorkItem| i64::try_from(i.size).unwrap_or(i64::MAX);
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(items.iter().map(|i| i.kind as u8).collect::<UInt8Array>()),
            Arc::new(
                items
                    .iter()
                    .map(|i| Some(i.path.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(items.iter().map(|i| i.seq).collect::<Int64Array>()),
            Arc::new(items.iter().map(size).collect::<Int64Array>()),
        ],
    )?)
}

/// The work items of a batch of work-list rows.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<WorkItem>> {
    let missing = || DataFusionError::Internal("not a batch of work-list rows".into());
    let kinds = batch
        .column(0)
        .as_primitive_opt::<UInt8Type>()
        .ok_or_else(missing)?;
    let paths = batch.column(1).as_string_opt::<i32>().ok_or_else(missing)?;
    let int = |i: usize| batch.column(i).as_primitive_opt::<Int64Type>();
    let (seqs, sizes) = match (int(2), int(3)) {
        (Some(seqs), Some(sizes)) => (seqs, sizes),
        _ => return Err(missing()),
    };
    if paths.null_count() > 0 {
        return Err(missing());
    }
    (0..batch.num_rows())
        .map(|row| {
            Ok(WorkItem {
                kind: WorkKind::from_u8(kinds.value(row))?,
                path: paths.value(row).to_owned(),
                seq: seqs.value(row),
                size: u64::try_from(sizes.value(row)).unwrap_or_default(),
            })
        })
        .collect()
}

/// Splits `items` (in order) into groups of about `target_bytes` each: consecutive items are
/// added to a group while it stays within the target; an item larger than the target is a
/// group of its own.
pub fn group_by_bytes(items: Vec<WorkItem>, target_bytes: u64) -> Vec<Vec<WorkItem>> {
    let mut groups: Vec<Vec<WorkItem>> = Vec::new();
    let mut bytes = 0u64;
    for item in items {
        match groups.last_mut() {
            Some(group) if bytes.saturating_add(item.size) <= target_bytes => {
                bytes += item.size;
                group.push(item);
            }
            _ => {
                bytes = item.size;
                groups.push(vec![item]);
            }
        }
    }
    groups
}

/// The work list as a source with one partition per group (one task each).
pub fn source(groups: &[Vec<WorkItem>]) -> Result<Arc<dyn ExecutionPlan>> {
    let partitions = groups
        .iter()
        .map(|group| Ok(vec![to_batch(group)?]))
        .collect::<Result<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(
        &partitions,
        schema(),
        None,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, size: u64) -> WorkItem {
        WorkItem {
            kind: WorkKind::RawObject,
            path: path.into(),
            seq: 0,
            size,
        }
    }

    #[test]
    fn items_survive_a_batch() {
        let items = vec![
            WorkItem {
                kind: WorkKind::TableFile,
                path: "tables/pin/part-1.parquet".into(),
                seq: -1,
                size: 10,
            },
            WorkItem {
                kind: WorkKind::RawObject,
                path: "raw/topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000500.json".into(),
                seq: 3,
                size: 2,
            },
        ];
        assert_eq!(from_batch(&to_batch(&items).unwrap()).unwrap(), items);
    }

    #[test]
    fn groups_keep_order_and_stay_near_the_target() {
        let items = vec![
            item("a", 40),
            item("b", 40),
            item("c", 40),
            item("d", 500),
            item("e", 10),
        ];
        let groups = group_by_bytes(items, 100);
        let groups: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|i| i.path.as_str()).collect())
            .collect();
        assert_eq!(
            groups,
            vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]
        );
    }

    #[test]
    fn one_partition_per_group() {
        let groups = group_by_bytes(vec![item("a", 5), item("b", 5)], 5);
        let plan = source(&groups).unwrap();
        assert_eq!(plan.properties().output_partitioning().partition_count(), 2);
    }
}
