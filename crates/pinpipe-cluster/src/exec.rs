//! [`StepExec`]: the one plan node type of pinpipe. It runs a [`Step`] on each partition of its
//! input, partition for partition, so Ballista can give each task its own partitions of the
//! work list below it; [`crate::codec`] sends it to executors as its step.

use std::fmt;
use std::sync::Arc;

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
                Ok(write::execute(*table, table_path.clone(), input, ctx))
            }
        }
    }
}
