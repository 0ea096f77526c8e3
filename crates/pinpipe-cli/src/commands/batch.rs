//! `pinpipe batch`: raw → Delta tables → the nine analyses → results and report.

use anyhow::{Context, Result};
use pinpipe_lake::{BatchOptions, BatchReport, Lake, run_analyses, run_batch, write_report};
use pinpipe_telemetry::{Event, listen};

use super::open_lake;
use crate::output::{bar, print_analyses, table};
use crate::settings::Settings;

pub async fn run(settings: &Settings) -> Result<()> {
    let lake = open_lake(settings)?;
    run_on(&lake, settings).await
}

/// The batch job and the analyses on an open lake; shared with `pinpipe demo`.
pub async fn run_on(lake: &Lake, settings: &Settings) -> Result<()> {
    let report = clean(lake, settings).await?;
    print_batch_report(&report);
    let results = run_analyses(lake, &BatchOptions::default().tables_dir)
        .await
        .context("the analyses failed")?;
    print_analyses(&results);
    let report_path = write_report(lake, &BatchOptions::default().tables_dir, &results)
        .await
        .context("cannot write the report")?;
    println!(
        "\nresults: {loc}/results/*.csv\nreport:  {loc}/{report_path}\ntables:  {loc}/tables/{{pin,geo,user}}, {loc}/quarantine",
        loc = lake.location()
    );
    Ok(())
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
        .context("the batch job failed")?;
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
