//! A consumer-group member on the embedded log. One embedded consumer owns every partition of its
//! topics; it starts from the group's committed offsets and picks up partitions added later.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{EmbeddedBus, LogKind};
use crate::{ConsumedRecord, Result, TopicConsumer, Topics};

pub(super) struct EmbeddedConsumer {
    bus: EmbeddedBus,
    group: String,
    topics: Vec<String>,
    /// Next offset to read, per (topic, partition).
    positions: BTreeMap<(String, i32), i64>,
    /// Where the next poll starts, so no partition starves the others.
    cursor: usize,
}

impl EmbeddedConsumer {
    pub async fn new(bus: EmbeddedBus, group: &str, topics: &[String]) -> Result<Self> {
        let mut consumer = Self {
            bus,
            group: group.to_owned(),
            topics: topics.to_vec(),
            positions: BTreeMap::new(),
            cursor: 0,
        };
        consumer.assign().await?;
        Ok(consumer)
    }

    /// Adds partitions not yet owned, at the group's committed offset.
    async fn assign(&mut self) -> Result<()> {
        for topic in &self.topics {
            let meta = self.bus.meta(LogKind::Topic, topic).await?;
            for partition in 0..meta.partitions {
                let slot = (topic.clone(), partition);
                if !self.positions.contains_key(&slot) {
                    let committed = self
                        .bus
                        .committed_offset(&self.group, meta, partition)
                        .await?;
                    self.positions.insert(slot, committed);
                }
            }
        }
        Ok(())
    }

    async fn read_some(&mut self, max: usize) -> Result<Vec<ConsumedRecord>> {
        let slots: Vec<(String, i32)> = self.positions.keys().cloned().collect();
        let mut out = Vec::new();
        for i in 0..slots.len() {
            if out.len() >= max {
                break;
            }
            let (topic, partition) = &slots[(self.cursor + i) % slots.len()];
            let from = self.positions[&(topic.clone(), *partition)];
            let records = self
                .bus
                .read(topic, *partition, from, max - out.len())
                .await?;
            if let Some(last) = records.last() {
                self.positions
                    .insert((topic.clone(), *partition), last.offset + 1);
            }
            out.extend(records);
        }
        self.cursor = self.cursor.wrapping_add(1);
        Ok(out)
    }
}

#[async_trait]
impl TopicConsumer for EmbeddedConsumer {
    async fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            let records = self.read_some(max).await?;
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

    async fn commit(&mut self, topic: &str, partition: i32, next_offset: i64) -> Result<()> {
        self.bus
            .commit_offset(&self.group, topic, partition, next_offset)
            .await
    }
}
