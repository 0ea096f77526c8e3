//! `pinpipe serve`: the gateway on the bus the settings name, with the web UI and `/metrics` on
//! the same port.

use std::sync::Arc;

use anyhow::{Context, Result};
use pinpipe_gateway::{AppState, ensure_defaults, producer_allowed, router, serve};
use pinpipe_lake::BATCH_TABLES_DIR;
use pinpipe_scheduler::DB_FILE;
use pinpipe_source::{SourceDb, redact_url};
use pinpipe_ui::{CountSource, UiConfig};
use tokio::net::TcpListener;

use super::{Bus, interrupted, open_lake};
use crate::settings::Settings;

pub async fn run(settings: &Settings) -> Result<()> {
    let mut config = settings.gateway.clone();
    config.reserved_groups = vec![settings.sink.group.clone()];
    config.validate().context("cannot start the gateway")?;
    let bus = Bus::open(settings).await?;
    ensure_defaults(bus.topics.as_ref(), bus.streams.as_ref(), &config)
        .await
        .context("cannot create the default topics and streams")?;
    let ui = ui_config(settings, &bus)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, bus = %bus.description, topics = ?config.default_topics(), "gateway listening");
    eprintln!("pinpipe gateway listening on http://{address} (web UI at /, Ctrl-C to stop)");
    let state = AppState::new(bus.topics, bus.streams, config.clone());
    let routes = router(state).merge(pinpipe_ui::router(ui));
    serve(listener, routes, &config, interrupted()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Where the web UI reads the pipeline's state: the same bus, lake and run history as the other
/// commands with these settings.
fn ui_config(settings: &Settings, bus: &Bus) -> Result<UiConfig> {
    let gateway = settings.gateway.clone();
    Ok(UiConfig {
        topics: Arc::clone(&bus.topics),
        streams: Arc::clone(&bus.streams),
        embedded_topics: bus.embedded_topics.clone(),
        sink_group: settings.sink.group.clone(),
        lake: open_lake(settings)?,
        tables_dir: BATCH_TABLES_DIR.to_owned(),
        stream: settings.stream_options(false)?,
        history: settings.data_dir.join(DB_FILE),
        source_url: Some(redact_url(&settings.source_url())),
        count_source: Some(count_source(settings)),
        authorize: Arc::new(move |headers| producer_allowed(&gateway, headers).is_ok()),
    })
}

/// Counts the source's posts; `None` while a SQLite source has not been created (the UI must
/// not create it by looking).
fn count_source(settings: &Settings) -> CountSource {
    let url = settings.source_url();
    Arc::new(move || {
        let counts = SourceDb::open_existing(&url).and_then(|db| db.row_counts());
        counts.ok().map(|c| c.pin)
    })
}
