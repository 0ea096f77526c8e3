//! `pinpipe stream`: the streams into the Delta tables `stream/*`, exactly once;
//! `pinpipe streams lag`: how far behind each shard it is.

use anyhow::Result;
use pinpipe_bus::Streams;
use pinpipe_gateway::ensure_defaults;
use pinpipe_lake::{Lake, ShardLag, StreamOptions, StreamReport, run_stream, stream_lag};
use pinpipe_telemetry::{Event, listen};

use super::{Bus, interrupted, open_lake};
use crate::output::{or_dash, spinner, table};
use crate::settings::Settings;

pub async fn run(settings: &Settings, once: bool) -> Result<()> {
    super::serve_metrics(settings).await?;
    let bus = Bus::open(settings).await?;
    ensure_defaults(bus.topics.as_ref(), bus.streams.as_ref(), &settings.gateway).await?;
    let lake = open_lake(settings)?;
    let options = settings.stream_options(once)?;
    let report = follow(&lake, bus.streams.as_ref(), &options).await?;
    if report.records_read == 0 {
        println!("stream: nothing new on the streams; tables unchanged");
    } else {
        println!(
            "stream: read {} records in {:.1}s: {} rows inserted, {} updated, {} rejected ({} newly quarantined) in {}/{}/{{pin,geo,user}}",
            report.records_read,
            report.duration.as_secs_f64(),
            report.rows_inserted,
            report.rows_updated,
            report.rejected,
            report.quarantined,
            lake.location(),
            options.tables_dir
        );
    }
    print_lag(&stream_lag(&lake, bus.streams.as_ref(), &options).await?);
    Ok(())
}

/// Runs the stream job with a spinner counting committed records, until interrupted (or drained
/// with `once`); shared with `pinpipe demo`.
pub async fn follow(
    lake: &Lake,
    streams: &dyn Streams,
    options: &StreamOptions,
) -> Result<StreamReport> {
    let progress = spinner("stream");
    progress.set_message("records committed");
    let shown = progress.clone();
    let _listener = listen(move |event| match event {
        Event::MicroBatchCommitted(batch) => {
            shown.inc(batch.records as u64);
            if let Some(lag) = batch.lag {
                shown.set_message(format!("records committed, lag {lag}"));
            }
        }
        Event::Retrying(retrying) => shown.set_message(format!(
            "retrying (attempt {}): {}",
            retrying.attempt, retrying.error
        )),
        _ => {}
    });
    let report = run_stream(lake, streams, options, interrupted())
        .await
        .map_err(super::lake_failure("the stream job stopped"))?;
    progress.finish_and_clear();
    Ok(report)
}

/// `pinpipe streams lag`.
pub async fn lag(settings: &Settings, streams: &dyn Streams) -> Result<()> {
    let lake = open_lake(settings)?;
    let lags = stream_lag(&lake, streams, &settings.stream_options(true)?).await?;
    print_lag(&lags);
    Ok(())
}

fn print_lag(lags: &[ShardLag]) {
    let columns = ["stream", "shard", "records", "position", "lag"].map(String::from);
    let rows: Vec<Vec<String>> = lags
        .iter()
        .map(|l| {
            vec![
                l.stream.clone(),
                l.shard_id.clone(),
                or_dash(l.records),
                l.position.clone().unwrap_or_else(|| "-".to_owned()),
                or_dash(l.lag),
            ]
        })
        .collect();
    println!("{}", table(&columns, &rows));
}
