//! [`StepExec`]: the one plan node type of pinpipe. It runs a [`Step`] on each partition of its
//! input, partition for partition, so Ballista can give each task its own partitions of the
//! work list below it; [`crate::codec`] sends it to executors as its step.

use std::fmt;
use std::sync::Arc;

use ballista_core::execution_plans::ShuffleReaderExec;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use pinpipe_model::Table;
use serde::{Deserialize, Serialize};

use crate::{keep_last, read, wide, write};

/// What a [`StepExec`] does with each partition of its input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Work-list rows → wide rows ([`crate::read`]).
    Read {
        /// The table.
        table: Table,
        /// Its raw topic: quarantined keys of other topics are left out.
        topic: String,
        /// Bytes of lines cleaned at a time.
        max_piece_bytes: usize,
        /// Longest record kept.
        max_record_bytes: usize,
    },
    /// Wide rows → the last copy of each key, the new rejects, the objects read
    /// ([`crate::keep_last`]).
    KeepLast {
        /// The table.
        table: Table,
    },
    /// What to keep → files written into the table and the quarantine ([`crate::write`]).
    Write {
        /// The table.
        table: Table,
        /// The table's path inside the lake (`tables/pin`).
        table_path: String,
    },
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Read { .. } => "PinpipeReadExec",
            Step::KeepLast { .. } => "PinpipeKeepLastExec",
            Step::Write { .. } => "PinpipeWriteExec",
        }
    }

    /// The schema of what the step produces.
    pub fn output_schema(&self) -> SchemaRef {
        match self {
            Step::Read { table, .. } | Step::KeepLast { table } => wide::schema(*table),
            Step::Write { .. } => write::output_schema(),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct StepExec {
    step: Step,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl StepExec {
    /// `step` over each partition of `input`.
    pub fn new(step: Step, input: Arc<dyn ExecutionPlan>) -> StepExec {
        let partitions = input.properties().output_partitioning().partition_count();
        let emission = match step {
            Step::Read { .. } => EmissionType::Incremental,
            Step::KeepLast { .. } | Step::Write { .. } => EmissionType::Final,
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(step.output_schema()),
            Partitioning::UnknownPartitioning(partitions),
            emission,
            Boundedness::Bounded,
        );
        StepExec {
            step,
            input,
            properties: Arc::new(properties),
        }
    }

    /// The step it runs.
    pub fn step(&self) -> &Step {
        &self.step
    }
}

impl DisplayAs for StepExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Step::Read { table, .. } | Step::KeepLast { table } => {
                write!(f, "{}: table={table}", self.step.name())
            }
            Step::Write { table_path, .. } => {
                write!(f, "{}: table={table_path}", self.step.name())
            }
        }
    }
}

impl ExecutionPlan for StepExec {
    fn name(&self) -> &str {
        self.step.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// A new node over `children`, its partition count taken from the new child: Ballista
    /// rebuilds the plan of each task over that task's partitions only.
    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "{} takes one input, got {}",
                self.name(),
                children.len()
            )));
        }
        Ok(Arc::new(StepExec::new(
            self.step.clone(),
            children.swap_remove(0),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&ctx))?;
        match &self.step {
            Step::Read {
                table,
                topic,
                max_piece_bytes,
                max_record_bytes,
            } => read::execute(
                read::Reading {
                    table: *table,
                    topic: topic.clone(),
                    limits: pinpipe_lake::raw::ReadLimits {
                        max_piece_bytes: *max_piece_bytes,
                        max_record_bytes: *max_record_bytes,
                    },
                },
                input,
                ctx,
            ),
            Step::KeepLast { table } => Ok(keep_last::execute(*table, input, ctx)),
            Step::Write { table, table_path } => {
                let task = shuffle_partitions(&self.input, partition);
                Ok(write::execute(*table, table_path.clone(), task, input, ctx))
            }
        }
    }
}

/// What partition `partition` of `plan` reads of the shuffle, as the job numbers it: the shuffle
/// partitions, and the first-stage tasks whose output of them it reads (`3 from 0-7`, or
/// `3-4 from 0-7` when Ballista joined small partitions). It names a second-stage task, whose own
/// plan holds only its partitions, numbered from 0: two attempts of a task read the same, and no
/// two tasks do, even if Ballista split a partition between tasks by first-stage task. Found in
/// the shuffle reader below the steps; `None` when there is none (a plan run in one process) or
/// it reads nothing.
fn shuffle_partitions(plan: &Arc<dyn ExecutionPlan>, partition: usize) -> Option<String> {
    if let Some(reader) = plan.downcast_ref::<ShuffleReaderExec>() {
        let locations = reader.partition.get(partition)?;
        if locations.is_empty() {
            return None;
        }
        let partitions = ranges(locations.iter().map(|l| l.partition_id.partition_id));
        let tasks = ranges(locations.iter().map(|l| l.map_partition_id));
        return Some(format!("{partitions} from {tasks}"));
    }
    let step = plan.downcast_ref::<StepExec>()?;
    shuffle_partitions(&step.input, partition)
}

/// Numbers as ranges: `0-3,7`.
fn ranges(numbers: impl Iterator<Item = usize>) -> String {
    let mut numbers: Vec<usize> = numbers.collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        out.push(if numbers[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", numbers[i])
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use ballista_core::serde::scheduler::{
        ExecutorMetadata, ExecutorOperatingSystemSpecification, ExecutorSpecification, PartitionId,
        PartitionLocation, PartitionStats,
    };

    use super::*;

    fn location(partition_id: usize, map_partition_id: usize) -> PartitionLocation {
        PartitionLocation {
            map_partition_id,
            partition_id: PartitionId {
                job_id: "job".into(),
                stage_id: 1,
                partition_id,
            },
            executor_meta: ExecutorMetadata {
                id: "executor".into(),
                host: "127.0.0.1".into(),
                port: 0,
                grpc_port: 0,
                specification: ExecutorSpecification::default(),
                os_info: ExecutorOperatingSystemSpecification::default(),
            },
            partition_stats: PartitionStats::new(None, None, None),
            file_id: None,
            is_sort_shuffle: false,
        }
    }

    /// A second-stage task's plan as an executor gets it: its shuffle reader holds the task's
    /// partitions only, numbered from 0. The task is named by what it reads as the job numbers
    /// it, which two attempts of it share and no other task has.
    #[test]
    fn a_task_is_named_by_the_shuffle_partitions_it_reads() {
        let reader = ShuffleReaderExec::try_new(
            1,
            vec![
                vec![location(3, 0), location(3, 1), location(3, 2)],
                vec![location(5, 0), location(4, 0), location(4, 2)],
                vec![location(3, 3)],
                vec![],
            ],
            wide::schema(Table::Pin),
            Partitioning::UnknownPartitioning(4),
        )
        .expect("reader");
        let keep_last = StepExec::new(Step::KeepLast { table: Table::Pin }, Arc::new(reader));
        let plan: Arc<dyn ExecutionPlan> = Arc::new(keep_last);
        assert_eq!(shuffle_partitions(&plan, 0).as_deref(), Some("3 from 0-2"));
        assert_eq!(
            shuffle_partitions(&plan, 1).as_deref(),
            Some("4-5 from 0,2")
        );
        // Partition 3 split between tasks by first-stage task: two names.
        assert_eq!(shuffle_partitions(&plan, 2).as_deref(), Some("3 from 3"));
        assert_eq!(shuffle_partitions(&plan, 3), None);
    }
}
