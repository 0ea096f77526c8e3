//! The REST Proxy v2 consumer instances the gateway holds: created by name within a group, found
//! by `(group, instance)`, closed when deleted or idle for `consumer_instance_timeout` (REST
//! Proxy's `consumer.instance.timeout.ms`), bounded by `max_consumer_instances`.
//!
//! An instance joins its consumer group on the bus when it subscribes, with
//! [`pinpipe_bus::Topics::consumer_now`]: the same groups, committed offsets and leases the sink
//! uses, so a group a running sink holds is refused at once instead of taken from it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use pinpipe_bus::TopicConsumer;
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

/// How a consumer instance hands out keys and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Base64 strings (`application/vnd.kafka.binary.v2+json`).
    Binary,
    /// JSON documents (`application/vnd.kafka.json.v2+json`).
    Json,
}

/// Where an instance starts in a partition its group has no committed offset for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    Earliest,
    Latest,
    /// Refuse to start there.
    None,
}

/// One consumer instance.
pub struct Instance {
    pub format: Format,
    pub reset: Reset,
    pub auto_commit: bool,
    /// Topics subscribed to, in order.
    pub topics: Vec<String>,
    /// The group member, while subscribed.
    pub consumer: Option<Box<dyn TopicConsumer>>,
    /// The next offset after the last record handed out, per partition.
    pub consumed: BTreeMap<(String, i32), i64>,
    last_used: Instant,
}

impl Instance {
    /// A new instance, not subscribed yet.
    pub fn new(format: Format, reset: Reset, auto_commit: bool) -> Self {
        Self {
            format,
            reset,
            auto_commit,
            topics: Vec::new(),
            consumer: None,
            consumed: BTreeMap::new(),
            last_used: Instant::now(),
        }
    }

    /// Leaves the group, if it is in one.
    pub async fn unsubscribe(&mut self) {
        if let Some(mut consumer) = self.consumer.take()
            && let Err(error) = consumer.close().await
        {
            tracing::warn!(%error, "a REST Proxy consumer could not leave its group cleanly");
        }
        self.topics.clear();
        self.consumed.clear();
    }
}

type Key = (String, String);
type Shared = Arc<AsyncMutex<Instance>>;

/// Every open instance.
pub struct Registry {
    instances: Mutex<HashMap<Key, Shared>>,
    idle: Duration,
    max: usize,
    /// Whether the task that closes idle instances runs.
    sweeping: Mutex<bool>,
}

/// Why an instance could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    Exists,
    Full,
}

impl Registry {
    /// No instances; each closes after `idle` without a request; at most `max` at once.
    pub fn new(idle: Duration, max: usize) -> Self {
        Self {
            instances: Mutex::new(HashMap::new()),
            idle,
            max,
            sweeping: Mutex::new(false),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Shared>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an instance, and starts the idle sweeper the first time.
    pub fn add(
        self: &Arc<Self>,
        group: &str,
        name: &str,
        instance: Instance,
    ) -> Result<(), AddError> {
        {
            let mut map = self.map();
            let key = (group.to_owned(), name.to_owned());
            if map.contains_key(&key) {
                return Err(AddError::Exists);
            }
            if map.len() >= self.max {
                return Err(AddError::Full);
            }
            map.insert(key, Arc::new(AsyncMutex::new(instance)));
        }
        let mut sweeping = self.sweeping.lock().unwrap_or_else(PoisonError::into_inner);
        if !*sweeping {
            *sweeping = true;
            tokio::spawn(sweep(Arc::downgrade(self), self.idle));
        }
        Ok(())
    }

    /// The instance, marked as used now.
    pub async fn get(&self, group: &str, name: &str) -> Option<Shared> {
        let shared = self
            .map()
            .get(&(group.to_owned(), name.to_owned()))
            .cloned()?;
        shared.lock().await.last_used = Instant::now();
        Some(shared)
    }

    /// Removes the instance and leaves its group; whether it was there.
    pub async fn remove(&self, group: &str, name: &str) -> bool {
        let removed = self.map().remove(&(group.to_owned(), name.to_owned()));
        match removed {
            Some(shared) => {
                shared.lock().await.unsubscribe().await;
                true
            }
            None => false,
        }
    }

    /// Closes the instances idle for longer than the timeout (an instance busy with a request
    /// is not idle).
    async fn close_idle(&self) {
        let now = Instant::now();
        let candidates: Vec<(Key, Shared)> = self
            .map()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (key, shared) in candidates {
            let Ok(mut instance) = shared.try_lock() else {
                continue;
            };
            if now.duration_since(instance.last_used) > self.idle {
                self.map().remove(&key);
                tracing::info!(group = %key.0, instance = %key.1, "closing an idle REST Proxy consumer instance");
                instance.unsubscribe().await;
            }
        }
    }
}

/// Closes idle instances until the registry is gone.
async fn sweep(registry: Weak<Registry>, idle: Duration) {
    let every = (idle / 4).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        let Some(registry) = registry.upgrade() else {
            return;
        };
        registry.close_idle().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn instances_are_unique_bounded_and_expire() {
        let registry = Arc::new(Registry::new(Duration::from_millis(100), 2));
        let fresh = || Instance::new(Format::Binary, Reset::Earliest, true);
        assert_eq!(registry.add("g", "a", fresh()), Ok(()));
        assert_eq!(registry.add("g", "a", fresh()), Err(AddError::Exists));
        assert_eq!(registry.add("h", "a", fresh()), Ok(()));
        assert_eq!(registry.add("g", "b", fresh()), Err(AddError::Full));
        assert!(registry.get("g", "a").await.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(registry.get("g", "a").await.is_none());
        assert!(!registry.remove("h", "a").await);
    }
}
