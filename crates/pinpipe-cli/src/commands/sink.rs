//! `pinpipe sink`: the topics into the lake's raw layout.

use anyhow::Result;
use pinpipe_gateway::ensure_defaults;
use pinpipe_lake::sink::{SinkOptions, run_sink};
use pinpipe_telemetry::{Event, listen};

use super::{Bus, interrupted, open_lake};
use crate::output::spinner;
use crate::settings::Settings;

pub async fn run(settings: &Settings, once: bool) -> Result<()> {
    super::serve_metrics(settings).await?;
    let bus = Bus::open(settings).await?;
    ensure_defaults(bus.topics.as_ref(), bus.streams.as_ref(), &settings.gateway).await?;
    let lake = open_lake(settings)?;
    // The sink only writes objects: check the lake now for a clear error at the start.
    lake.check().await?;
    let options = sink_options(settings, once)?;
    let progress = spinner("sink");
    progress.set_message("records written");
    let shown = progress.clone();
    let _listener = listen(move |event| match event {
        Event::ObjectWritten(written) => shown.inc(written.records),
        Event::Retrying(retrying) => shown.set_message(format!(
            "retrying {} (attempt {}): {}",
            retrying.what, retrying.attempt, retrying.error
        )),
        _ => {}
    });
    let report = run_sink(bus.topics.as_ref(), lake.store(), &options, interrupted())
        .await
        .map_err(|e| {
            // A full lake is SinkError::DiskFull, which says so itself; a full bus is not.
            let full = matches!(&e, pinpipe_lake::sink::SinkError::Bus(bus) if bus.is_disk_full());
            super::job_error(e, full, "the sink stopped")
        })?;
    progress.finish_and_clear();
    println!(
        "sink: wrote {} records in {} objects under {}/raw/topics/",
        report.records,
        report.objects,
        lake.location()
    );
    Ok(())
}

pub fn sink_options(settings: &Settings, once: bool) -> Result<SinkOptions> {
    Ok(SinkOptions {
        group: settings.sink.group.clone(),
        flush_size: settings.sink.flush_size.max(1),
        flush_bytes: settings.sink.flush_bytes.max(1),
        rotate_interval: settings.rotate_interval()?,
        once,
        ..SinkOptions::for_prefix(&settings.topic_prefix)
    })
}
