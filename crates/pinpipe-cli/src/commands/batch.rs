//! `pinpipe batch`: raw → Delta tables → the nine analyses → results and report, in this
//! process or, with `--cluster df://HOST:PORT`, on a cluster (`pinpipe cluster`).

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::{Context, Result};
use pinpipe_cluster::ClusterOptions;
use pinpipe_lake::{
    AnalysisResult, BatchOptions, BatchReport, Lake, run_analyses, run_batch, write_report,
};
use pinpipe_telemetry::cluster::JobProgress;
use pinpipe_telemetry::{Event, Listener, listen};

use super::open_lake;
use crate::output::{bar, print_analyses, spinner, table};
use crate::settings::Settings;

pub async fn run(settings: &Settings) -> Result<()> {
    let lake = open_lake(settings)?;
    run_on(&lake, settings).await
}

/// The batch job and the analyses on an open lake; shared with `pinpipe demo`.
pub async fn run_on(lake: &Lake, settings: &Settings) -> Result<()> {
    let cluster: Option<ClusterOptions> = match &settings.batch.cluster {
        Some(address) => Some(ClusterOptions {
            scheduler: address.parse()?,
            task_bytes: settings.batch.cluster_task_bytes,
            stall_timeout: settings.cluster_stall_timeout()?,
        }),
        None => None,
    };
    let report = match &cluster {
        Some(cluster) => clean_on_cluster(cluster, lake, settings).await?,
        None => clean(lake, settings).await?,
    };
    print_batch_report(&report);
    let results = analyses(lake, cluster.as_ref()).await?;
    print_analyses(&results);
    let report_path = write_report(lake, &BatchOptions::default().tables_dir, &results)
        .await
        .map_err(super::lake_failure("cannot write the report"))?;
    println!(
        "\nresults: {loc}/results/*.csv\nreport:  {loc}/{report_path}\ntables:  {loc}/tables/{{pin,geo,user}}, {loc}/quarantine",
        loc = lake.location()
    );
    Ok(())
}

/// What a failure of the analyses says first.
const ANALYSES_FAILED: &str =
    "the tables are up to date, but the analyses failed (`pinpipe batch` again writes the results)";

/// The nine analyses, in this process or on the cluster (with a line of its progress). They run
/// after the tables are committed: a failure here says so, since the analyses' own error (a
/// stalled cluster's "nothing was committed") is about them alone.
async fn analyses(lake: &Lake, cluster: Option<&ClusterOptions>) -> Result<Vec<AnalysisResult>> {
    let tables_dir = BatchOptions::default().tables_dir;
    let Some(cluster) = cluster else {
        return run_analyses(lake, &tables_dir)
            .await
            .map_err(super::lake_failure(ANALYSES_FAILED));
    };
    let progress = spinner("analyses");
    let shown = progress.clone();
    let _listener = listen(move |event| {
        if let Event::JobProgress(job) = event {
            shown.set_message(job.line());
        }
    });
    let results = pinpipe_cluster::run_analyses(cluster, lake, &tables_dir)
        .await
        .context(ANALYSES_FAILED)?;
    progress.finish_and_clear();
    Ok(results)
}

/// Runs the batch job on the cluster with a progress bar over its tasks (of the three table
/// jobs) and its stages, fed by the jobs' events.
async fn clean_on_cluster(
    cluster: &ClusterOptions,
    lake: &Lake,
    settings: &Settings,
) -> Result<BatchReport> {
    let options = settings.batch_options();
    let progress = bar(0, "cluster");
    progress.set_message("tasks, planning");
    let shown = progress.clone();
    let jobs: Mutex<HashMap<String, JobProgress>> = Mutex::default();
    let _listener: Listener = listen(move |event| match event {
        Event::JobProgress(job) => {
            let Ok(mut jobs) = jobs.lock() else {
                return;
            };
            jobs.insert(job.job.clone(), job.clone());
            let planned: u64 = jobs.values().filter_map(|j| j.tasks_planned).sum();
            let done: u64 = jobs
                .values()
                .map(|j| j.tasks_done.min(j.tasks_planned.unwrap_or(u64::MAX)))
                .sum();
            let stages: usize = jobs.values().map(|j| j.stages).sum();
            let stages_done: usize = jobs.values().map(|j| j.stages_done).sum();
            shown.set_length(planned);
            shown.set_position(done);
            shown.set_message(format!("tasks, stages {stages_done}/{stages}"));
        }
        Event::ObjectSkipped(skipped) => {
            shown.suspend(|| eprintln!("skipped {}: {}", skipped.path, skipped.reason));
        }
        _ => {}
    });
    let report = pinpipe_cluster::run_batch(cluster, lake, &options)
        .await
        .with_context(|| {
            format!(
                "the batch job failed on the cluster at {}",
                cluster.scheduler
            )
        })?;
    progress.finish_and_clear();
    Ok(report)
}

/// Runs the batch job with a progress bar over the raw objects, fed by the job's events.
async fn clean(lake: &Lake, settings: &Settings) -> Result<BatchReport> {
    let options = settings.batch_options();
    let progress = bar(0, "batch");
    progress.set_message("raw objects");
    let shown = progress.clone();
    let _listener = listen(move |event| match event {
        Event::ObjectsPlanned(planned) => shown.inc_length(planned.objects as u64),
        Event::ObjectRead(_) => shown.inc(1),
        Event::ObjectSkipped(skipped) => {
            shown.suspend(|| eprintln!("skipped {}: {}", skipped.path, skipped.reason));
        }
        _ => {}
    });
    let report = run_batch(lake, &options)
        .await
        .map_err(super::lake_failure("the batch job failed"))?;
    progress.finish_and_clear();
    Ok(report)
}

fn print_batch_report(report: &BatchReport) {
    if report.objects_read == 0 {
        println!(
            "batch: no new raw objects ({} already processed); tables unchanged",
            report.objects_listed
        );
        return;
    }
    let columns = [
        "table", "objects", "records", "inserted", "updated", "rejected",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = report
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.name().to_owned(),
                t.objects_read.to_string(),
                t.records_read.to_string(),
                t.rows_inserted.to_string(),
                t.rows_updated.to_string(),
                t.rejected.to_string(),
            ]
        })
        .collect();
    println!(
        "batch: read {} raw objects, {} records in {:.1}s",
        report.objects_read,
        report.records_read,
        report.duration.as_secs_f64()
    );
    println!("{}", table(&columns, &rows));
}
