//! `pinpipe demo`: the whole pipeline on this machine, embedded, and the nine analyses.
//!
//! source init → gateway (in process) ← emulate → bus → sink → raw → batch → Delta tables →
//! analyses → results and report; and bus → stream job (once) → Delta tables `stream/*`. Everything lives under `<data-dir>/demo`, which is cleared
//! first unless `--reuse` is given.

use std::path::Path;

use anyhow::{Context, Result};
use pinpipe_lake::delta::QUARANTINE_PATH;
use pinpipe_lake::sink::run_sink;
use pinpipe_lake::{STREAM_TABLES_DIR, lake_summary};
use pinpipe_source::{EmulatorConfig, Paths};
use pinpipe_telemetry::{Event, listen};

use super::local_gateway::LocalGateway;
use super::{batch, emulate, open_bus, open_lake, sink, source, stream};
use crate::cli::DemoArgs;
use crate::output::spinner;
use crate::settings::{BusSettings, Settings, StreamsBackend};

pub async fn run(settings: &Settings, args: &DemoArgs) -> Result<()> {
    let ignored: Vec<&str> = [
        ("the lake", settings.lake.is_some()),
        ("the source", settings.source.is_some()),
        ("the bus", settings.bus.url.is_some()),
        ("the streams", settings.streams != StreamsBackend::Embedded),
    ]
    .into_iter()
    .filter_map(|(what, set)| set.then_some(what))
    .collect();
    let settings = embedded(settings);
    if !ignored.is_empty() {
        eprintln!(
            "note: the demo runs everything embedded under {}; {} configured here {} for the \
             other commands",
            settings.data_dir.display(),
            ignored.join(", "),
            if ignored.len() == 1 { "is" } else { "are" }
        );
    }
    prepare(&settings, args.reuse)?;

    let source_url = settings.source_url();
    let db = if args.reuse && Path::new(&settings.data_dir.join("source.db")).exists() {
        println!("reusing the source database {source_url}");
        pinpipe_source::SourceDb::open(&source_url)?
    } else {
        let db = source::init(&source_url, args.rows, args.seed)?;
        println!("source:  {} synthetic posts in {source_url}", args.rows);
        db
    };

    let bus = open_bus(&settings)?;
    let gateway = LocalGateway::start(bus.clone(), settings.gateway.clone()).await?;
    let url = gateway.url.clone();
    println!("gateway: {url} (in process)");

    let config = EmulatorConfig {
        count: Some(args.posts),
        paths: Paths::BOTH,
        seed: args.seed,
        topic_prefix: settings.topic_prefix.clone(),
        concurrency: 16,
        ..EmulatorConfig::new(url)
    };
    let summary = emulate::send(&db, &config).await?;
    emulate::print_summary(&summary);
    gateway.stop().await?;

    let lake = open_lake(&settings)?;
    let progress = spinner("sink");
    progress.set_message("records landed in raw/");
    let shown = progress.clone();
    let listener = listen(move |event| {
        if let Event::ObjectWritten(written) = event {
            shown.inc(written.records);
        }
    });
    let report = run_sink(
        bus.as_ref(),
        lake.store(),
        &sink::sink_options(&settings, true)?,
        std::future::pending(),
    )
    .await
    .context("the sink failed")?;
    drop(listener);
    progress.finish_and_clear();
    println!(
        "sink:    {} records in {} raw objects",
        report.records, report.objects
    );

    let stream_report =
        stream::follow(&lake, bus.as_ref(), &settings.stream_options(true)?).await?;
    let summary = lake_summary(&lake, STREAM_TABLES_DIR).await?;
    for (path, rows) in summary.tables.iter().filter(|(p, _)| p != QUARANTINE_PATH) {
        println!("stream:  {path} holds {rows} rows");
    }
    println!(
        "stream:  {} records read from the streams, {} rejected to the quarantine",
        stream_report.records_read, stream_report.rejected
    );

    batch::run_on(&lake, &settings).await
}

/// Clears the demo directory, or says what is reused.
/// The demo's settings: everything embedded under `<data-dir>/demo`, whatever database, bus,
/// streams or lake the configuration names (the demo clears its folder).
fn embedded(settings: &Settings) -> Settings {
    Settings {
        data_dir: settings.data_dir.join("demo"),
        source: None,
        lake: None,
        storage_options: Default::default(),
        bus: BusSettings {
            sync: settings.bus.sync,
            ..BusSettings::default()
        },
        streams: StreamsBackend::Embedded,
        ..settings.clone()
    }
}

fn prepare(settings: &Settings, reuse: bool) -> Result<()> {
    let dir = &settings.data_dir;
    if reuse {
        println!("reusing what is in {} (--reuse)", dir.display());
        return Ok(());
    }
    if dir.exists() {
        println!(
            "starting clean: removing the previous demo in {}",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}
