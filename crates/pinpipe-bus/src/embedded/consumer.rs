//! A consumer-group member on the embedded log. One embedded consumer owns every partition of its
//! topics; it starts from the group's committed offsets and picks up partitions added later.
//!
//! **One member per group.** Kafka gives each partition to one member of a group; the embedded log
//! has no broker to do that, so a member holds the group's lease, a row in the bus renewed while it
//! runs. A second process in the same group (a second `pinpipe sink`, or a REST Proxy consumer
//! that names the sink's group) waits for the lease and says so, and takes over when the holder
//! stops (at once on a clean stop, within [`EmbeddedOptions::session_timeout`] after a crash).
//! Offsets are committed only while the lease is held, and the sink asks
//! [`TopicConsumer::still_owns`] before writing an object, so a member that lost its lease neither
//! writes over its successor's objects nor moves the group back.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

#[cfg(doc)]
use super::EmbeddedOptions;
use super::{EmbeddedBus, LogKind};
use crate::{BusError, ConsumedRecord, ReadLimit, Result, TopicConsumer};

/// How often a waiting member looks at the lease again.
const LEASE_WAIT: Duration = Duration::from_secs(1);

pub(super) struct EmbeddedConsumer {
    bus: EmbeddedBus,
    group: String,
    /// This member's name in the lease.
    owner: String,
    /// When the lease held must be renewed.
    renew_at: Instant,
    topics: Vec<String>,
    /// Next offset to read, per (topic, partition).
    positions: BTreeMap<(String, i32), i64>,
    /// Where the next poll starts, so no partition starves the others.
    cursor: usize,
}

impl EmbeddedConsumer {
    /// Joins `group`, waiting for its lease if another member holds it (when `wait`; else
    /// failing with [`BusError::GroupBusy`]).
    pub async fn new(bus: EmbeddedBus, group: &str, topics: &[String], wait: bool) -> Result<Self> {
        let owner = format!(
            "{}:{}:{:x}",
            hostname(),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let ttl = bus.inner.options.session_timeout;
        let mut warned = false;
        loop {
            let lease = bus.lease(group, &owner, ttl).await?;
            if lease.holder == owner {
                break;
            }
            if !wait {
                return Err(BusError::GroupBusy {
                    group: group.to_owned(),
                    holder: lease.holder,
                });
            }
            if !warned {
                tracing::warn!(
                    group,
                    holder = %lease.holder,
                    "another consumer holds this group on the embedded bus; waiting for it to stop"
                );
                warned = true;
            }
            tokio::time::sleep(LEASE_WAIT).await;
        }
        let mut consumer = Self {
            bus,
            group: group.to_owned(),
            owner,
            renew_at: Instant::now() + ttl / 3,
            topics: topics.to_vec(),
            positions: BTreeMap::new(),
            cursor: 0,
        };
        consumer.assign().await?;
        Ok(consumer)
    }

    /// Renews the lease when a third of it is used up; fails if another member took it.
    async fn keep_lease(&mut self) -> Result<()> {
        if Instant::now() < self.renew_at {
            return Ok(());
        }
        let ttl = self.bus.inner.options.session_timeout;
        let lease = self.bus.lease(&self.group, &self.owner, ttl).await?;
        if lease.holder != self.owner {
            return Err(self.lost(&lease.holder));
        }
        self.renew_at = Instant::now() + ttl / 3;
        Ok(())
    }

    fn lost(&self, holder: &str) -> BusError {
        BusError::Refused {
            context: format!(
                "consumer group {} lost its lease to {holder}: another member took over",
                self.group
            ),
            source: None,
        }
    }

    /// Adds partitions not yet owned, at the group's committed offset.
    async fn assign(&mut self) -> Result<()> {
        for topic in &self.topics {
            let meta = self.bus.fresh_meta(LogKind::Topic, topic).await?;
            for partition in 0..meta.partitions {
                let slot = (topic.clone(), partition);
                if !self.positions.contains_key(&slot) {
                    let committed = self
                        .bus
                        .committed_offset(&self.group, meta, partition)
                        .await?
                        .unwrap_or(0);
                    self.positions.insert(slot, committed);
                }
            }
        }
        Ok(())
    }

    async fn read_some(&mut self, limit: ReadLimit) -> Result<Vec<ConsumedRecord>> {
        let slots: Vec<(String, i32)> = self.positions.keys().cloned().collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for i in 0..slots.len() {
            if out.len() >= limit.records || bytes >= limit.bytes {
                break;
            }
            let (topic, partition) = &slots[(self.cursor + i) % slots.len()];
            let from = self.positions[&(topic.clone(), *partition)];
            let left = ReadLimit {
                records: limit.records - out.len(),
                bytes: limit.bytes - bytes,
            };
            let records = self.bus.read_limited(topic, *partition, from, left).await?;
            if let Some(last) = records.last() {
                self.positions
                    .insert((topic.clone(), *partition), last.offset + 1);
            }
            bytes = bytes.saturating_add(records.iter().map(|r| r.value.len()).sum());
            out.extend(records);
        }
        self.cursor = self.cursor.wrapping_add(1);
        Ok(out)
    }
}

#[async_trait]
impl TopicConsumer for EmbeddedConsumer {
    async fn poll(&mut self, limit: ReadLimit, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.keep_lease().await?;
            let records = self.read_some(limit).await?;
            if !records.is_empty() {
                return Ok(records);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(records);
            }
            self.bus.wait_for_appends(deadline - now).await;
            self.assign().await?;
        }
    }

    async fn still_owns(&mut self, _topic: &str, _partition: i32) -> Result<bool> {
        self.renew_at = Instant::now();
        match self.keep_lease().await {
            Ok(()) => Ok(true),
            Err(BusError::Refused { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn close(&mut self) -> Result<()> {
        self.bus
            .lease(&self.group, &self.owner, Duration::ZERO)
            .await
            .map(|_| ())
    }

    async fn assignment(&mut self) -> Result<Vec<(String, i32)>> {
        self.assign().await?;
        Ok(self.positions.keys().cloned().collect())
    }

    async fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        self.keep_lease().await?;
        match self.positions.get_mut(&(topic.to_owned(), partition)) {
            Some(position) => {
                *position = offset.max(0);
                Ok(())
            }
            None => Err(BusError::InvalidRequest(format!(
                "No current assignment for partition {topic}-{partition}"
            ))),
        }
    }

    async fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>> {
        let meta = self.bus.fresh_meta(LogKind::Topic, topic).await?;
        self.bus
            .committed_offset(&self.group, meta, partition)
            .await
    }

    async fn commit(&mut self, topic: &str, partition: i32, next_offset: i64) -> Result<()> {
        let stored = self
            .bus
            .commit_offset(&self.group, &self.owner, topic, partition, next_offset)
            .await?;
        if stored {
            Ok(())
        } else {
            Err(self.lost("another member"))
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}
