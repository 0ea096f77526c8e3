//! A gateway inside this process on a free loopback port, for `demo` and the benchmarks.

use std::sync::Arc;

use anyhow::{Context, Result};
use pinpipe_bus::EmbeddedBus;
use pinpipe_gateway::{AppState, GatewayConfig, ensure_defaults, router, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running in-process gateway; [`LocalGateway::stop`] finishes its requests and ends it.
pub struct LocalGateway {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl LocalGateway {
    /// Serves `bus` with `config` (its listen address replaced by a free loopback port), after
    /// creating the default topics and streams.
    pub async fn start(bus: Arc<EmbeddedBus>, mut config: GatewayConfig) -> Result<Self> {
        config.listen = "127.0.0.1:0".parse()?;
        ensure_defaults(bus.as_ref(), bus.as_ref(), &config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .context("cannot start the gateway")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(bus.clone(), bus, config.clone());
        let server = tokio::spawn(async move {
            serve(listener, router(state), &config, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(Self { url, stop, server })
    }

    /// Stops accepting requests and waits for the ones in flight.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}
