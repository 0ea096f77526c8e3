//! The scheduler's ledger of executor task slots (vcores): Ballista's in-memory cluster state,
//! mirrored so that slots Ballista loses track of are given back.
//!
//! Why our own: when an executor dies, Ballista 55 rolls back the running stages that read its
//! shuffle output and cancels their tasks on the surviving executors, but never refunds those
//! tasks' vcores, and their late statuses refund nothing either (the rolled-back stage no longer
//! knows them). Each such loss leaves a survivor with fewer free slots, until it has none and no
//! job can run on the cluster again. [`SlotLedger`] keeps Ballista's accounting as it is and
//! mirrors it per executor; [`SlotLedger::reconcile`], run every few seconds, gives an executor
//! that runs no task of any job back the slots it is missing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ballista_core::JobId;
use ballista_core::error::Result;
use ballista_core::serde::protobuf::ExecutorHeartbeat;
use ballista_core::serde::scheduler::{ExecutorData, ExecutorMetadata};
use ballista_scheduler::cluster::{BoundTask, ClusterState, ClusterStateEventStream, ExecutorSlot};
use ballista_scheduler::config::TaskDistributionPolicy;
use ballista_scheduler::state::task_manager::JobInfoCache;
use pinpipe_telemetry::cluster::SlotsRecovered;
use tokio::sync::Mutex;

/// Slots of one executor as the ledger sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slots {
    /// What the executor offered when it registered.
    pub total: u32,
    /// Not bound to a task.
    pub free: u32,
}

/// A [`ClusterState`] that delegates to Ballista's and mirrors every executor's free slots.
pub struct SlotLedger {
    inner: Arc<dyn ClusterState>,
    /// Held across every change of the slots, so that the mirror never disagrees with `inner`.
    slots: Mutex<HashMap<String, Slots>>,
}

impl SlotLedger {
    /// A ledger over Ballista's cluster state `inner`.
    pub fn new(inner: Arc<dyn ClusterState>) -> Self {
        Self {
            inner,
            slots: Mutex::default(),
        }
    }

    /// Every executor's slots.
    pub async fn slots(&self) -> HashMap<String, Slots> {
        self.slots.lock().await.clone()
    }

    /// Gives each executor that runs no task of `running_jobs()` (read under the ledger's lock,
    /// so no task is bound meanwhile) the slots it is missing. Returns the slots given back.
    pub async fn reconcile(
        &self,
        running_jobs: impl FnOnce() -> Arc<HashMap<JobId, JobInfoCache>>,
    ) -> Result<Vec<ExecutorSlot>> {
        let mut slots = self.slots.lock().await;
        let mut busy = HashSet::new();
        for job in running_jobs().values() {
            let graph = job.execution_graph.read().await;
            busy.extend(graph.running_tasks().into_iter().map(|t| t.executor_id));
        }
        let missing: Vec<ExecutorSlot> = slots
            .iter()
            .filter(|(id, s)| s.free < s.total && !busy.contains(*id))
            .map(|(id, s)| (id.clone(), s.total - s.free))
            .collect();
        if !missing.is_empty() {
            self.inner.unbind_tasks(missing.clone()).await?;
        }
        for (id, n) in &missing {
            SlotsRecovered {
                executor: id.clone(),
                slots: *n,
            }
            .emit();
            if let Some(s) = slots.get_mut(id) {
                s.free += n;
            }
        }
        Ok(missing)
    }
}

#[async_trait::async_trait]
impl ClusterState for SlotLedger {
    async fn init(&self) -> Result<()> {
        self.inner.init().await
    }

    async fn bind_schedulable_tasks(
        &self,
        distribution: TaskDistributionPolicy,
        active_jobs: Arc<HashMap<JobId, JobInfoCache>>,
        executors: Option<HashSet<String>>,
    ) -> Result<Vec<BoundTask>> {
        let mut slots = self.slots.lock().await;
        let bound = self
            .inner
            .bind_schedulable_tasks(distribution, active_jobs, executors)
            .await?;
        for (id, task) in &bound {
            if let Some(s) = slots.get_mut(id) {
                s.free = s.free.saturating_sub(task.vcores_consumed);
            }
        }
        Ok(bound)
    }

    async fn unbind_tasks(&self, executor_slots: Vec<ExecutorSlot>) -> Result<()> {
        let mut slots = self.slots.lock().await;
        self.inner.unbind_tasks(executor_slots.clone()).await?;
        for (id, n) in executor_slots {
            if let Some(s) = slots.get_mut(&id) {
                s.free += n;
            }
        }
        Ok(())
    }

    async fn register_executor(
        &self,
        metadata: ExecutorMetadata,
        spec: ExecutorData,
    ) -> Result<()> {
        let mut slots = self.slots.lock().await;
        let id = metadata.id.clone();
        let total = spec.available_vcores;
        self.inner.register_executor(metadata, spec).await?;
        slots.insert(id, Slots { total, free: total });
        Ok(())
    }

    async fn save_executor_metadata(&self, metadata: ExecutorMetadata) -> Result<()> {
        self.inner.save_executor_metadata(metadata).await
    }

    async fn get_executor_metadata(&self, executor_id: &str) -> Result<ExecutorMetadata> {
        self.inner.get_executor_metadata(executor_id).await
    }

    async fn registered_executor_metadata(&self) -> Vec<ExecutorMetadata> {
        self.inner.registered_executor_metadata().await
    }

    async fn save_executor_heartbeat(&self, heartbeat: ExecutorHeartbeat) -> Result<()> {
        self.inner.save_executor_heartbeat(heartbeat).await
    }

    async fn remove_executor(&self, executor_id: &str) -> Result<()> {
        let mut slots = self.slots.lock().await;
        self.inner.remove_executor(executor_id).await?;
        slots.remove(executor_id);
        Ok(())
    }

    fn executor_heartbeats(&self) -> HashMap<String, ExecutorHeartbeat> {
        self.inner.executor_heartbeats()
    }

    fn get_executor_heartbeat(&self, executor_id: &str) -> Option<ExecutorHeartbeat> {
        self.inner.get_executor_heartbeat(executor_id)
    }

    async fn cluster_state_events(&self) -> Result<ClusterStateEventStream> {
        self.inner.cluster_state_events().await
    }
}
