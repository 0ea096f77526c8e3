//! What every handler shares: the bus, the settings, the metrics.

use std::sync::Arc;

use pinpipe_bus::{Streams, Topics};
use tokio::sync::Semaphore;

use crate::GatewayConfig;
use crate::metrics::Metrics;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub topics: Arc<dyn Topics>,
    pub streams: Arc<dyn Streams>,
    pub config: Arc<GatewayConfig>,
    pub metrics: Arc<Metrics>,
    /// Permits for requests in flight; none left means 429.
    pub in_flight: Arc<Semaphore>,
}

impl AppState {
    pub fn new(topics: Arc<dyn Topics>, streams: Arc<dyn Streams>, config: GatewayConfig) -> Self {
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        Self {
            topics,
            streams,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            in_flight,
        }
    }
}
