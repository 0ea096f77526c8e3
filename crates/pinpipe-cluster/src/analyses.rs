//! The nine analyses on the cluster: the lake's SQL engine ([`pinpipe_lake::analyses::sql`]) in
//! a session whose queries Ballista runs on the executors, over the files of the tables' current
//! versions (never the folders, which may hold files no version has, e.g. of a retried task).
//!
//! A table with no file yet has no rows to spread: the analyses then run in this process.

use std::sync::Arc;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use pinpipe_lake::analyses::{AnalysisResult, sql, write_results};
use pinpipe_lake::delta::table_path;
use pinpipe_lake::{Lake, LakeError};
use pinpipe_model::Table;

use crate::error::{ClusterError, Result};
use crate::job::ClusterOptions;
use crate::options::{self, PinpipeOptions};
use crate::progress::watching;

/// The session settings of the analyses' jobs, named `name`.
///
/// Ballista's adaptive planner, on by default for SQL jobs, is turned off: it cannot recover
/// from a lost executor (Ballista 55 says so in `state/aqe`). It forgets a stage once the stage
/// is done, so when an executor holding that stage's output dies and the stage is run again,
/// the new output finds no stage to go to; the job then stays running with nothing left to run,
/// until pinpipe's stall timeout (5 minutes) fails it. The static planner, which the table
/// jobs use (they are sent as physical plans), runs the lost work again.
fn analyses_config(lake: &Lake, name: &str) -> SessionConfig {
    options::session_config()
        .with_option_extension(PinpipeOptions::for_lake(lake))
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_job_name(name)
}

/// Runs the nine analyses over the cleaned tables in `tables_dir` on the cluster and writes each
/// one's CSV to `results/<file>`.
pub async fn run_analyses(
    cluster: &ClusterOptions,
    lake: &Lake,
    tables_dir: &str,
) -> Result<Vec<AnalysisResult>> {
    let name = format!(
        "pinpipe analyses {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let config = analyses_config(lake, &name);
    let runtime = options::runtime(&config, &std::env::temp_dir().display().to_string())?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .build()
        .upgrade_for_ballista(cluster.scheduler.grpc_url())?;
    let ctx = SessionContext::new_with_state(state);
    for table in Table::ALL {
        let path = table_path(tables_dir, table);
        let delta = lake.require_table(&path).await?;
        let files: Vec<String> = delta.get_file_uris().map_err(LakeError::from)?.collect();
        if files.is_empty() {
            tracing::info!(table = %path, "table has no rows: the analyses run in this process");
            return Ok(pinpipe_lake::run_analyses(lake, tables_dir).await?);
        }
        let urls = files
            .iter()
            .map(ListingTableUrl::parse)
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let listing = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet"),
            )
            .with_schema(table.schema());
        ctx.register_table(table.name(), Arc::new(ListingTable::try_new(listing)?))?;
    }
    let results = watching(
        &cluster.scheduler,
        &name,
        &Default::default(),
        cluster.stall_timeout,
        async { sql::run(&ctx).await.map_err(ClusterError::from) },
    )
    .await?;
    write_results(lake, &results).await?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use ballista_core::extension::SessionConfigExt;
    use pinpipe_lake::Lake;

    use super::analyses_config;

    /// A lost executor during the analyses must be recovered from, which Ballista's adaptive
    /// planner cannot do (see [`analyses_config`]).
    #[test]
    fn the_analyses_are_planned_without_the_adaptive_planner() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lake =
            Lake::open(dir.path().to_str().expect("utf-8"), Default::default()).expect("lake");
        let config = analyses_config(&lake, "pinpipe analyses test");
        assert!(!config.ballista_adaptive_query_planner_enabled());
    }
}
