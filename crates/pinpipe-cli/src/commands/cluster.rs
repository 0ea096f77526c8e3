//! `pinpipe cluster scheduler|executor|status`: the processes of a Ballista cluster that runs
//! `pinpipe batch --cluster`, and what they are doing.

use anyhow::{Context, Result};
use pinpipe_cluster::status::STATUS_TIMEOUT;
use pinpipe_cluster::{
    ClusterStatus, ExecutorOptions, SchedulerAddress, SchedulerOptions, fetch_status, run_executor,
    run_scheduler,
};

use super::interrupted;
use crate::cli::{ClusterCommand, ClusterExecutorArgs, StatusFormat};
use crate::output::table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, command: ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Scheduler(args) => {
            let options = SchedulerOptions {
                listen: args.listen,
                advertise: args.advertise,
            };
            Ok(run_scheduler(options, interrupted()).await?)
        }
        ClusterCommand::Executor(args) => executor(settings, args).await,
        ClusterCommand::Status(args) => {
            let scheduler: SchedulerAddress = args.scheduler.parse()?;
            let status = fetch_status(&scheduler, STATUS_TIMEOUT).await?;
            match args.format {
                StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                StatusFormat::Table => print_status(&scheduler, &status),
            }
            Ok(())
        }
    }
}

async fn executor(settings: &Settings, args: ClusterExecutorArgs) -> Result<()> {
    let scheduler: SchedulerAddress = args.scheduler.parse()?;
    let work_dir = args.work_dir.unwrap_or_else(|| {
        settings
            .data_dir
            .join(format!("executor-{}", args.listen.port()))
    });
    let options = ExecutorOptions {
        scheduler,
        listen: args.listen,
        grpc_port: args.grpc_port,
        advertise: args.advertise,
        concurrency: args.concurrency,
        memory_bytes: args
            .memory
            .map(|mib| {
                mib.checked_mul(1024 * 1024)
                    .context("--memory is too large")
            })
            .transpose()?,
        work_dir,
    };
    Ok(run_executor(options).await?)
}

fn print_status(scheduler: &SchedulerAddress, status: &ClusterStatus) {
    println!("scheduler {scheduler} ({})", status.scheduler);
    let columns = [
        "executor",
        "address",
        "state",
        "slots busy",
        "seen",
        "completed",
        "failed",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = status
        .executors
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                if e.host.is_empty() {
                    "-".to_owned()
                } else {
                    format!("{}:{}", e.host, e.port)
                },
                e.state.clone(),
                if e.state == "registered" {
                    format!("{}/{}", e.vcores.saturating_sub(e.slots_free), e.vcores)
                } else {
                    "-".to_owned()
                },
                e.last_seen_secs
                    .map_or_else(|| "-".to_owned(), |s| format!("{s}s ago")),
                e.tasks_completed.to_string(),
                e.tasks_failed.to_string(),
            ]
        })
        .collect();
    println!("{}", table(&columns, &rows));
    if status.jobs.is_empty() {
        return;
    }
    let columns = ["job", "name", "state", "stages", "tasks done", "failed"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = status
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.name.clone(),
                j.state.clone(),
                format!("{}/{}", j.stages_done, j.stages),
                j.tasks_completed.to_string(),
                j.tasks_failed.to_string(),
            ]
        })
        .collect();
    println!("{}", table(&columns, &rows));
}
