//! A client's view of its jobs while they run: [`watching`] polls the scheduler's status and
//! emits a [`JobProgress`] event whenever one of the client's jobs moves on (stages and tasks
//! done), which the CLI shows as progress. It is also the client's watchdog, so that a run never
//! waits forever: a scheduler that stops answering for [`SILENCE`] fails the run, and so do jobs
//! that make no progress (no task finishes, no stage ends) for the run's stall timeout. A run
//! that fails cancels its jobs still on the cluster, so they do not hold executors' task slots.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use ballista_core::serde::protobuf::CancelJobParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use pinpipe_telemetry::cluster::JobProgress;

use crate::address::SchedulerAddress;
use crate::error::{ClusterError, Result};
use crate::status::{STATUS_TIMEOUT, fetch_status};

/// How often the status is polled.
const POLL: Duration = Duration::from_millis(500);

/// How long cancelling a failed run's jobs may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the scheduler may not answer before the run fails.
pub const SILENCE: Duration = Duration::from_secs(30);

/// Runs `work` while reporting the progress of the jobs whose names start with `prefix`;
/// `planned` gives the tasks of the jobs (by name) whose tasks are known in advance. Fails with
/// [`ClusterError::Stalled`] when those jobs move on for none of `stall`.
pub async fn watching<T>(
    scheduler: &SchedulerAddress,
    prefix: &str,
    planned: &HashMap<String, u64>,
    stall: Duration,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let watch = async {
        let mut shown: HashMap<String, JobProgress> = HashMap::new();
        let mut answered = Instant::now();
        let mut moved = Instant::now();
        loop {
            tokio::time::sleep(POLL).await;
            match fetch_status(scheduler, STATUS_TIMEOUT).await {
                Ok(status) => {
                    answered = Instant::now();
                    for job in status.jobs.iter().filter(|j| j.name.starts_with(prefix)) {
                        let progress = JobProgress {
                            job: job.name.clone(),
                            state: state_name(&job.state),
                            stages_done: job.stages_done,
                            stages: job.stages,
                            tasks_done: job.tasks_completed,
                            tasks_planned: planned.get(&job.name).copied(),
                        };
                        if shown.get(&job.id) != Some(&progress) {
                            shown.insert(job.id.clone(), progress.clone());
                            progress.emit();
                            moved = Instant::now();
                        }
                    }
                    if moved.elapsed() >= stall {
                        return ClusterError::Stalled {
                            address: scheduler.clone(),
                            secs: stall.as_secs(),
                        };
                    }
                }
                Err(e) if answered.elapsed() >= SILENCE => {
                    return ClusterError::NoScheduler {
                        address: scheduler.clone(),
                        reason: format!(
                            "it stopped answering during the run ({}s): {e}",
                            SILENCE.as_secs()
                        ),
                    };
                }
                Err(_) => {}
            }
        }
    };
    let outcome = tokio::select! {
        done = work => done,
        error = watch => Err(error),
    };
    if outcome.is_err() {
        cancel_jobs(scheduler, prefix).await;
    }
    outcome
}

/// Cancels the jobs named `prefix…` that are still queued or running, so that a run which failed
/// (one of its jobs did, or it stalled) leaves no work holding the executors' task slots. Best
/// effort, and bounded: the run has already failed for its own reason.
async fn cancel_jobs(scheduler: &SchedulerAddress, prefix: &str) {
    let cancel = async {
        let status = fetch_status(scheduler, STATUS_TIMEOUT).await.ok()?;
        let mut client = SchedulerGrpcClient::connect(scheduler.grpc_url())
            .await
            .ok()?;
        let live = status.jobs.iter().filter(|job| {
            job.name.starts_with(prefix) && matches!(job.state.as_str(), "queued" | "running")
        });
        for job in live {
            let request = CancelJobParams {
                job_id: job.id.clone(),
            };
            match client.cancel_job(request).await {
                Ok(_) => tracing::info!(job = %job.name, "job cancelled on the cluster"),
                Err(error) => tracing::warn!(job = %job.name, %error, "cannot cancel the job"),
            }
        }
        Some(())
    };
    if tokio::time::timeout(CANCEL_TIMEOUT, cancel).await.is_err() {
        tracing::warn!(%scheduler, "cancelling the run's jobs timed out");
    }
}

/// The static name of a job state as the status reports it.
fn state_name(state: &str) -> &'static str {
    match state {
        "queued" => "queued",
        "running" => "running",
        "succeeded" => "succeeded",
        "failed" => "failed",
        _ => "unknown",
    }
}
