//! How [`StepExec`] nodes travel to the scheduler and executors: as their [`Step`] in JSON,
//! after Ballista's own nodes (shuffle readers and writers) in one composed codec. Client,
//! scheduler and executors use the same [`physical_codec`]: the position of each codec in it is
//! part of what is sent.

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{
    ComposedPhysicalExtensionCodec, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};

use crate::exec::{Step, StepExec};

/// The codec of every plan pinpipe sends: Ballista's nodes, then pinpipe's.
pub fn physical_codec() -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(ComposedPhysicalExtensionCodec::new(vec![
        Arc::new(BallistaPhysicalExtensionCodec::default()),
        Arc::new(StepCodec),
    ]))
}

/// Encodes a [`StepExec`] as its [`Step`].
#[derive(Debug)]
pub struct StepCodec;

impl PhysicalExtensionCodec for StepCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let step: Step = serde_json::from_slice(buf)
            .map_err(|e| DataFusionError::Internal(format!("not a pinpipe step: {e}")))?;
        let [input] = inputs else {
            return Err(DataFusionError::Internal(format!(
                "a pinpipe step has one input, got {}",
                inputs.len()
            )));
        };
        Ok(Arc::new(StepExec::new(step, Arc::clone(input))))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(exec) = node.downcast_ref::<StepExec>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "not a pinpipe node: {}",
                node.name()
            )));
        };
        serde_json::to_writer(buf, exec.step())
            .map_err(|e| DataFusionError::Internal(format!("encoding a pinpipe step: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::{WorkItem, WorkKind};
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::physical_plan::AsExecutionPlan;
    use datafusion_proto::protobuf::PhysicalPlanNode;
    use pinpipe_model::Table;

    #[test]
    fn a_table_plan_survives_the_trip() {
        let groups = vec![vec![WorkItem {
            kind: WorkKind::RawObject,
            path: "raw/topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000000.json".into(),
            seq: 0,
            size: 1,
        }]];
        let plan = crate::plan::table_plan(
            &crate::plan::TablePlan {
                table: Table::Pin,
                table_path: "tables/pin".into(),
                topic: "pinpipe.pin".into(),
                limits: pinpipe_lake::raw::ReadLimits::default(),
                partitions: 3,
            },
            &groups,
        )
        .unwrap();
        let codec = physical_codec();
        let proto =
            PhysicalPlanNode::try_from_physical_plan(Arc::clone(&plan), codec.as_ref()).unwrap();
        let ctx = SessionContext::new();
        let back = proto
            .try_into_physical_plan(&ctx.task_ctx(), codec.as_ref())
            .unwrap();
        assert_eq!(
            displayable(back.as_ref()).indent(true).to_string(),
            displayable(plan.as_ref()).indent(true).to_string()
        );
    }
}
