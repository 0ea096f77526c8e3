//! What every handler shares: the bus, the settings, the in-flight bounds.

use std::ops::Deref;
use std::sync::Arc;

use pinpipe_bus::{Streams, Topics};
use tokio::sync::Semaphore;

use crate::GatewayConfig;
use crate::consumers::Registry;

/// Shared by every request; cloning it (the layers' middleware and each handler take a copy) is
/// one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    pub topics: Arc<dyn Topics>,
    pub streams: Arc<dyn Streams>,
    pub config: Arc<GatewayConfig>,
    /// Permits for requests being handled; none left means 429.
    pub in_flight: Arc<Semaphore>,
    /// One permit per byte of request body held; none left means 429.
    pub body_memory: Arc<Semaphore>,
    /// One permit per byte a REST Proxy consumer poll may read (as many as `body_memory`, apart:
    /// idle long polls must not lock producers out).
    pub poll_memory: Arc<Semaphore>,
    /// The REST Proxy v2 consumer instances.
    pub consumers: Arc<Registry>,
}

impl AppState {
    pub fn new(topics: Arc<dyn Topics>, streams: Arc<dyn Streams>, config: GatewayConfig) -> Self {
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        let memory = config.max_in_flight_body_bytes.min(Semaphore::MAX_PERMITS);
        let body_memory = Arc::new(Semaphore::new(memory));
        let poll_memory = Arc::new(Semaphore::new(memory));
        let consumers = Arc::new(Registry::new(
            config.consumer_instance_timeout,
            config.max_consumer_instances,
        ));
        Self(Arc::new(Shared {
            topics,
            streams,
            consumers,
            config: Arc::new(config),
            in_flight,
            body_memory,
            poll_memory,
        }))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
