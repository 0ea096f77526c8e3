//! [`ClusterStatus`]: what a scheduler reports at `/pinpipe/status` — its executors with the
//! tasks each completed, and its jobs — and [`fetch_status`], how clients ask for it.

use std::time::Duration;

use pinpipe_bus::with_causes;
use serde::{Deserialize, Serialize};

use crate::address::SchedulerAddress;
use crate::error::{ClusterError, Result};

/// How long a scheduler may take to answer a status request.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// What `pinpipe cluster status --format json` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The scheduler's id.
    pub scheduler: String,
    /// Executors, registered ones first (by host and port), then those lost.
    pub executors: Vec<ExecutorStatus>,
    /// Jobs the scheduler knows, oldest first.
    pub jobs: Vec<JobStatus>,
}

impl ClusterStatus {
    /// Task slots of the registered executors (their vcores).
    pub fn slots(&self) -> usize {
        self.executors
            .iter()
            .filter(|e| e.state == "registered")
            .map(|e| e.vcores)
            .sum()
    }
}

/// An executor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorStatus {
    /// Its id.
    pub id: String,
    /// The host it is reached at.
    pub host: String,
    /// Its Arrow Flight port (shuffle and results).
    pub port: u16,
    /// Its gRPC port (task launches).
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub vcores: usize,
    /// Of those, the slots not bound to a task (0 when lost).
    pub slots_free: usize,
    /// `registered`, or `lost` (it reported tasks, then the scheduler dropped it: stopped, or
    /// missed its heartbeats).
    pub state: String,
    /// Seconds since its last heartbeat, when registered.
    pub last_seen_secs: Option<u64>,
    /// Tasks it completed.
    pub tasks_completed: u64,
    /// Tasks that failed on it.
    pub tasks_failed: u64,
}

/// A job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// Stages.
    pub stages: usize,
    /// Stages done.
    pub stages_done: usize,
    /// Tasks completed.
    pub tasks_completed: u64,
    /// Tasks failed.
    pub tasks_failed: u64,
    /// When it started (milliseconds since the epoch; 0 while queued).
    pub started_ms: u64,
    /// When it ended (0 while running).
    pub ended_ms: u64,
}

/// Asks the scheduler at `address` for its status, waiting at most `timeout`.
/// [`ClusterError::NoScheduler`] when nothing (or not a pinpipe scheduler) answers there.
pub async fn fetch_status(address: &SchedulerAddress, timeout: Duration) -> Result<ClusterStatus> {
    let unreachable = |reason: String| ClusterError::NoScheduler {
        address: address.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| ClusterError::Internal(format!("HTTP client: {e}")))?;
    let response = client
        .get(address.status_url())
        .send()
        .await
        .map_err(|e| unreachable(with_causes(&e)))?;
    if !response.status().is_success() {
        return Err(unreachable(format!(
            "{} answers {} to /pinpipe/status",
            address,
            response.status()
        )));
    }
    response
        .json()
        .await
        .map_err(|e| unreachable(format!("not a pinpipe status: {}", with_causes(&e))))
}
