//! `pinpipe serve`: the gateway on the bus the settings name.

use anyhow::{Context, Result};
use pinpipe_gateway::{AppState, ensure_defaults, router, serve};
use tokio::net::TcpListener;

use super::{Bus, interrupted};
use crate::settings::Settings;

pub async fn run(settings: &Settings) -> Result<()> {
    let config = settings.gateway.clone();
    config.validate().context("cannot start the gateway")?;
    let bus = Bus::open(settings).await?;
    ensure_defaults(bus.topics.as_ref(), bus.streams.as_ref(), &config)
        .await
        .context("cannot create the default topics and streams")?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, bus = %bus.description, topics = ?config.default_topics(), "gateway listening");
    eprintln!("pinpipe gateway listening on http://{address} (Ctrl-C to stop)");
    let state = AppState::new(bus.topics, bus.streams, config.clone());
    serve(listener, router(state), &config, interrupted()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
