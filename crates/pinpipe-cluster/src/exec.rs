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
                let task = task_name(&self.input, partition);
                Ok(write::execute(*table, table_path.clone(), task, input, ctx))
            }
        }
    }
}

/// The shuffle partitions that partition `partition` of `plan` reads, as the job numbers them
/// (`3`): what names a second-stage task, whose own plan holds only its partitions, numbered from
/// 0. Found in the shuffle reader below the steps; `None` when there is none (a plan run in one
/// process) or it reads nothing.
///
/// Only the partitions: two attempts of a task read the same ones, but not the same first-stage
/// outputs of them. After an executor is lost, Ballista 55 runs the first stage's tasks again
/// under new task numbers (`map_partition_id`), and the second stage's again, finished tasks
/// included, listing both attempts' output. No two tasks read the same partition: Ballista 55
/// neither splits a partition between tasks nor, for a plan sent whole as ours is, joins them.
fn task_name(plan: &Arc<dyn ExecutionPlan>, partition: usize) -> Option<String> {
    if let Some(reader) = plan.downcast_ref::<ShuffleReaderExec>() {
        let locations = reader.partition.get(partition)?;
        return (!locations.is_empty())
            .then(|| ranges(locations.iter().map(|l| l.partition_id.partition_id)));
    }
    let step = plan.downcast_ref::<StepExec>()?;
    task_name(&step.input, partition)
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
    /// partitions only, numbered from 0.
    fn second_stage_task(partitions: Vec<Vec<PartitionLocation>>) -> Arc<dyn ExecutionPlan> {
        let count = partitions.len();
        let reader = ShuffleReaderExec::try_new(
            1,
            partitions,
            wide::schema(Table::Pin),
            Partitioning::UnknownPartitioning(count),
        )
        .expect("reader");
        Arc::new(StepExec::new(
            Step::KeepLast { table: Table::Pin },
            Arc::new(reader),
        ))
    }

    /// A task is named by the job's numbers of the partitions it reads.
    #[test]
    fn a_task_is_named_by_the_shuffle_partitions_it_reads() {
        let plan = second_stage_task(vec![
            vec![location(3, 0), location(3, 1)],
            vec![location(5, 0), location(4, 0), location(4, 1)],
            vec![],
        ]);
        assert_eq!(task_name(&plan, 0).as_deref(), Some("3"));
        assert_eq!(task_name(&plan, 1).as_deref(), Some("4-5"));
        assert_eq!(task_name(&plan, 2), None);
    }

    /// After a lost executor the first stage runs again under new task numbers: the second
    /// attempt of a task reads its partition from other first-stage tasks, and has the same name.
    #[test]
    fn two_attempts_of_a_task_have_one_name() {
        let first = second_stage_task(vec![vec![location(3, 0), location(3, 1)]]);
        let second = second_stage_task(vec![vec![location(3, 0), location(3, 2)]]);
        assert_eq!(task_name(&first, 0), task_name(&second, 0));
    }
}
