//! Starts a gateway on a free port over a fresh bus in a temporary directory.

use std::path::Path;
use std::sync::Arc;

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, Topics};
use pinpipe_gateway::{AppState, GatewayConfig, ensure_defaults, router, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct Gateway {
    pub url: String,
    pub bus: Arc<EmbeddedBus>,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Gateway {
    pub async fn start() -> Self {
        Self::with(GatewayConfig::default()).await
    }

    pub async fn with(config: GatewayConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bus.db");
        Self::on_bus(config, &path, dir).await
    }

    /// A gateway over the bus database at `path` (kept with `dir` for the gateway's life).
    pub async fn on_bus(mut config: GatewayConfig, path: &Path, dir: tempfile::TempDir) -> Self {
        let bus = Arc::new(EmbeddedBus::open(path, EmbeddedOptions::default()).expect("bus"));
        config.listen = "127.0.0.1:0".parse().expect("address");
        ensure_defaults(bus.as_ref(), bus.as_ref(), &config)
            .await
            .expect("defaults");
        let listener = TcpListener::bind(config.listen).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = AppState::new(bus.clone(), bus.clone(), config.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            serve(listener, router(state), &config, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            url,
            bus,
            client: reqwest::Client::new(),
            _stop: stop,
            _dir: dir,
        }
    }

    /// Records stored in partition 0 of `topic`.
    pub async fn stored(&self, topic: &str) -> i64 {
        self.bus
            .describe_topic(topic)
            .await
            .expect("topic")
            .partitions[0]
            .high_watermark
    }

    /// POSTs `body` to `/topics/{topic}` as the REST Proxy's JSON format.
    pub async fn produce(
        &self,
        topic: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/topics/{topic}", self.url))
            .header("content-type", "application/vnd.kafka.json.v2+json")
            .body(body)
            .send()
            .await
            .expect("request");
        json_of(response).await
    }
}

/// The status and JSON body of a response.
pub async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    (status, json)
}
