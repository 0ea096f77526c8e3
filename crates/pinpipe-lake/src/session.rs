//! The DataFusion session every query and merge of the lake runs in, and how lake tables are
//! registered in it.
//!
//! Sized for the 2-core, few-GiB machines pinpipe runs on: two partitions, and a memory pool that
//! makes sorts, aggregations and window functions spill to disk instead of growing past
//! [`MEMORY_LIMIT`].

use std::sync::Arc;

use deltalake::datafusion::execution::memory_pool::FairSpillPool;
use deltalake::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use deltalake::datafusion::execution::session_state::SessionStateBuilder;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::delta_datafusion::DeltaSessionConfig;
use deltalake::delta_datafusion::planner::DeltaPlanner;

use crate::error::Result;
use crate::location::Lake;

/// Bytes of memory the operators of one session may hold before spilling (1.5 GiB).
pub const MEMORY_LIMIT: usize = 1536 * 1024 * 1024;

/// Partitions a plan is split into: one per core of the target machine.
pub const TARGET_PARTITIONS: usize = 2;

/// A new session with delta-rs's settings (case-sensitive identifiers, its planner for merges),
/// [`TARGET_PARTITIONS`] partitions and a spilling memory pool of [`MEMORY_LIMIT`] bytes.
pub fn new_session() -> Result<SessionContext> {
    let config = SessionConfig::from(DeltaSessionConfig::default())
        .with_target_partitions(TARGET_PARTITIONS)
        .with_information_schema(true);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(MEMORY_LIMIT)))
        .build_arc()?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_query_planner(DeltaPlanner::new())
        .build();
    Ok(SessionContext::new_with_state(state))
}

/// A session for ad-hoc SQL: [`new_session`] without DataFusion's physical limit pushdown. That
/// rule dropped a `LIMIT` over a scan that reads no column of a Delta table: delta-rs's
/// metadata-only scan says it passes limits on and has nowhere to pass them, so
/// `SELECT 1 FROM pin LIMIT 2` returned every row. Limits still reach the scans through the
/// logical plan.
pub fn ad_hoc_session() -> Result<SessionContext> {
    let state = new_session()?.state();
    let rules = state
        .physical_optimizers()
        .iter()
        .filter(|rule| rule.name() != "LimitPushdown")
        .cloned()
        .collect();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_physical_optimizer_rules(rules)
        .build();
    Ok(SessionContext::new_with_state(state))
}

/// Registers the Delta table at `path` in `ctx` as `name`; returns whether the table exists.
pub async fn register_table(
    ctx: &SessionContext,
    lake: &Lake,
    name: &str,
    path: &str,
) -> Result<bool> {
    let Some(table) = lake.open_table(path).await? else {
        return Ok(false);
    };
    table.update_datafusion_session(&ctx.state())?;
    ctx.register_table(name, table.table_provider().await?)?;
    Ok(true)
}
