//! The physical plan of a table job, and how big its tasks are.
//!
//! ```text
//! StepExec(Write)                      stage 2: one task per shuffle partition
//!   StepExec(KeepLast)
//!     RepartitionExec(Hash(_route))    ← the shuffle (Ballista's stage boundary)
//!       StepExec(Read)                 stage 1: one task per group of work items
//!         DataSourceExec(work list)
//! ```
//!
//! Ballista runs a physical plan as built (no optimizer), so this is the plan the executors run.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::physical_expr::Partitioning;
use datafusion::physical_expr::expressions::col;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::repartition::RepartitionExec;
use pinpipe_lake::raw::ReadLimits;
use pinpipe_model::Table;

use crate::exec::{Step, StepExec};
use crate::work::{self, WorkItem};

/// Most bytes of input one first-stage task reads (objects are never split, so a larger
/// object makes a larger task).
pub const MAX_TASK_BYTES: u64 = 128 * 1024 * 1024;

/// Bytes of rows one second-stage task holds in memory, about: the shuffle has enough
/// partitions to stay under it.
pub const PARTITION_BYTES: u64 = 256 * 1024 * 1024;

/// What a table job reads and writes.
#[derive(Clone, Debug)]
pub struct TablePlan {
    /// The table.
    pub table: Table,
    /// Its path inside the lake.
    pub table_path: String,
    /// Its raw topic.
    pub topic: String,
    /// How raw objects are read.
    pub limits: ReadLimits,
    /// Shuffle partitions (second-stage tasks).
    pub partitions: usize,
}

/// The plan of a table job reading `groups` (one first-stage task each).
pub fn table_plan(spec: &TablePlan, groups: &[Vec<WorkItem>]) -> Result<Arc<dyn ExecutionPlan>> {
    let read = StepExec::new(
        Step::Read {
            table: spec.table,
            topic: spec.topic.clone(),
            max_piece_bytes: spec.limits.max_piece_bytes,
            max_record_bytes: spec.limits.max_record_bytes,
        },
        work::source(groups)?,
    );
    let route = col("_route", &read.schema())?;
    let shuffle = RepartitionExec::try_new(
        Arc::new(read),
        Partitioning::Hash(vec![route], spec.partitions.max(1)),
    )?;
    let keep = StepExec::new(Step::KeepLast { table: spec.table }, Arc::new(shuffle));
    Ok(Arc::new(StepExec::new(
        Step::Write {
            table: spec.table,
            table_path: spec.table_path.clone(),
        },
        Arc::new(keep),
    )))
}

/// Bytes per first-stage task for `total` bytes of input on a cluster of `slots` task slots:
/// two tasks per slot, so that a slow task does not hold the stage back, and no task over
/// [`MAX_TASK_BYTES`].
pub fn task_bytes(total: u64, slots: usize) -> u64 {
    let tasks = (2 * slots.max(1)) as u64;
    total.div_ceil(tasks).clamp(1, MAX_TASK_BYTES)
}

/// Shuffle partitions for about `bytes` of rows on `slots` task slots: one per slot, more if a
/// partition would hold over [`PARTITION_BYTES`].
pub fn shuffle_partitions(bytes: u64, slots: usize) -> usize {
    let by_size = usize::try_from(bytes.div_ceil(PARTITION_BYTES)).unwrap_or(usize::MAX);
    slots.max(by_size).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::WorkKind;
    use datafusion::physical_plan::displayable;

    #[test]
    fn sizes_follow_the_cluster_and_the_input() {
        assert_eq!(task_bytes(1000, 2), 250);
        assert_eq!(task_bytes(0, 2), 1);
        assert_eq!(task_bytes(u64::MAX, 1), MAX_TASK_BYTES);
        assert_eq!(shuffle_partitions(10, 4), 4);
        assert_eq!(shuffle_partitions(10 * PARTITION_BYTES, 4), 10);
        assert_eq!(shuffle_partitions(0, 0), 1);
    }

    #[test]
    fn the_plan_has_two_stages_of_pinpipe_steps() {
        let item = |seq| WorkItem {
            kind: WorkKind::RawObject,
            path: format!("raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+{seq:010}.json"),
            seq,
            size: 10,
        };
        let spec = TablePlan {
            table: Table::Geo,
            table_path: "tables/geo".into(),
            topic: "pinpipe.geo".into(),
            limits: ReadLimits::default(),
            partitions: 2,
        };
        let plan = table_plan(&spec, &[vec![item(0)], vec![item(1)], vec![item(2)]]).unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.trim().split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "PinpipeWriteExec",
                "PinpipeKeepLastExec",
                "RepartitionExec",
                "PinpipeReadExec",
                "DataSourceExec"
            ]
        );
        assert_eq!(plan.properties().output_partitioning().partition_count(), 2);
    }
}
