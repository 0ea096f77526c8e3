//! `pinpipe cluster scheduler`: a Ballista scheduler that knows pinpipe's plans, serving on one
//! port Ballista's gRPC service (jobs, executors), `/pinpipe/status` ([`ClusterStatus`]) and
//! `/metrics`.
//!
//! Ballista keeps no count of tasks per executor, so the gRPC service is Ballista's wrapped in
//! [`Counting`], which tallies the task statuses executors report on their way in.
//!
//! Its cluster state is Ballista's in a [`SlotLedger`], which gives back the task slots Ballista
//! loses when an executor dies (see [`crate::slots`]).
//!
//! Lost executors are noticed fast: executors send a heartbeat every
//! [`HEARTBEAT_SECS`](crate::executor::HEARTBEAT_SECS) seconds, and one silent for
//! [`EXECUTOR_TIMEOUT_SECS`] is dropped and its tasks run again elsewhere (Ballista's defaults
//! take over three minutes).

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::serde::protobuf::job_status::Status as JobState;
use ballista_core::serde::protobuf::scheduler_grpc_server::{SchedulerGrpc, SchedulerGrpcServer};
use ballista_core::serde::protobuf::*;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::create_scheduler;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tonic::{Request, Response, Status};

use crate::error::{ClusterError, Result};
use crate::slots::SlotLedger;
use crate::status::{ClusterStatus, ExecutorStatus, JobStatus};
use crate::tally::Tally;
use crate::{codec, options};

/// Seconds without a heartbeat after which an executor is dropped and its tasks rerun.
pub const EXECUTOR_TIMEOUT_SECS: u64 = 10;

/// Largest gRPC message (a job's plan lists every raw object it reads).
pub const MAX_MESSAGE_BYTES: u32 = 256 * 1024 * 1024;

/// How to start a scheduler.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The host executors reach it at (they report their tasks there); default: the listen
    /// address, which must then not be a wildcard (`0.0.0.0`).
    pub advertise: Option<String>,
}

type Inner = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Runs a scheduler until `shutdown` resolves. Logs the address it serves on.
pub async fn run_scheduler(
    options: SchedulerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let advertise = match (&options.advertise, options.listen.ip()) {
        (Some(host), _) => host.clone(),
        (None, ip) if ip.is_unspecified() => {
            return Err(ClusterError::Io {
                context: format!("listening on {}", options.listen),
                source: std::io::Error::other(
                    "executors report their tasks to the scheduler at the address it gives them: \
                     say which with --advertise HOST",
                ),
            });
        }
        (None, ip) => ip.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ClusterError::Io {
            context: format!("cannot listen on {}", options.listen),
            source,
        })?;
    let listen = listener.local_addr().map_err(|source| ClusterError::Io {
        context: "reading the listening address".into(),
        source,
    })?;
    let config = SchedulerConfig {
        bind_host: listen.ip().to_string(),
        external_host: advertise,
        bind_port: listen.port(),
        scheduling_policy: TaskSchedulingPolicy::PushStaged,
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: EXECUTOR_TIMEOUT_SECS,
        expire_dead_executor_interval_seconds: 2,
        no_executors_grace_period_seconds: 3 * EXECUTOR_TIMEOUT_SECS,
        finished_job_data_clean_up_interval_seconds: 60,
        grpc_server_max_decoding_message_size: MAX_MESSAGE_BYTES,
        grpc_server_max_encoding_message_size: MAX_MESSAGE_BYTES,
        override_config_producer: Some(Arc::new(options::session_config)),
        override_session_builder: Some(Arc::new(options::scheduler_session)),
        override_physical_codec: Some(codec::physical_codec()),
        ..SchedulerConfig::default()
    };
    let failed = |source| ClusterError::Start {
        what: format!("scheduler on {listen}"),
        source,
    };
    config.validate().map_err(failed)?;
    let memory = BallistaCluster::new_from_config(&config)
        .await
        .map_err(failed)?;
    let ledger = Arc::new(SlotLedger::new(memory.cluster_state()));
    let cluster = BallistaCluster::new(ledger.clone(), memory.job_state());
    let inner = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
        .await
        .map_err(failed)?;
    let counting = Arc::new(Counting {
        inner,
        tally: Arc::new(Tally::default()),
        ledger,
    });
    let reconciling = tokio::spawn(reconcile_slots(Arc::clone(&counting)));
    let grpc = SchedulerGrpcServer::from_arc(Arc::clone(&counting))
        .max_decoding_message_size(MAX_MESSAGE_BYTES as usize)
        .max_encoding_message_size(MAX_MESSAGE_BYTES as usize);
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(grpc);
    pinpipe_telemetry::metrics::runs(pinpipe_telemetry::metrics::Part::Cluster);
    let app = routes
        .routes()
        .into_axum_router()
        .merge(
            Router::new()
                .route("/pinpipe/status", get(status))
                .with_state(counting),
        )
        .merge(pinpipe_telemetry::metrics_router());
    tracing::info!(%listen, "cluster scheduler listening (gRPC, /pinpipe/status, /metrics)");
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .into_future();
    // Executors hold their connections open: stop at once rather than wait for them.
    let ended = tokio::select! {
        served = serve => served.map_err(|source| ClusterError::Io {
            context: format!("serving on {listen}"),
            source,
        }),
        () = shutdown => Ok(()),
    };
    reconciling.abort();
    ended
}

/// How often idle executors get back the task slots the scheduler lost track of.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// Runs [`SlotLedger::reconcile`] every [`RECONCILE_EVERY`], for as long as the scheduler serves.
async fn reconcile_slots(counting: Arc<Counting>) {
    let mut ticks = tokio::time::interval(RECONCILE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let task_manager = &counting.inner.state.task_manager;
        match counting
            .ledger
            .reconcile(|| task_manager.get_running_job_cache())
            .await
        {
            // Ballista binds waiting tasks to free slots when an executor reports task statuses;
            // an empty report is the one public way to make it look now.
            Ok(given) => {
                if let Some((executor_id, _)) = given.into_iter().next() {
                    let report = UpdateTaskStatusParams {
                        executor_id,
                        task_status: Vec::new(),
                    };
                    if let Err(error) =
                        SchedulerGrpc::update_task_status(&counting.inner, Request::new(report))
                            .await
                    {
                        tracing::warn!(%error, "asking the scheduler to use the given-back slots");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "giving back lost task slots"),
        }
    }
}

/// `/pinpipe/status`.
async fn status(State(counting): State<Arc<Counting>>) -> Json<ClusterStatus> {
    Json(counting.status().await)
}

/// Ballista's scheduler service, counting the task statuses executors report.
pub struct Counting {
    inner: Inner,
    tally: Arc<Tally>,
    ledger: Arc<SlotLedger>,
}

impl Counting {
    /// The scheduler's executors and jobs.
    async fn status(&self) -> ClusterStatus {
        let state = &self.inner.state;
        let mut tasks = self.tally.executors();
        let slots = self.ledger.slots().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut executors: Vec<ExecutorStatus> = state
            .executor_manager
            .get_executors_state()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(metadata, heartbeat, _)| {
                let counts = tasks.remove(&metadata.id).unwrap_or_default();
                let slots_free = slots.get(&metadata.id).map_or(0, |s| s.free as usize);
                ExecutorStatus {
                    id: metadata.id,
                    host: metadata.host,
                    port: metadata.port,
                    grpc_port: metadata.grpc_port,
                    vcores: metadata.specification.vcores as usize,
                    slots_free,
                    state: "registered".into(),
                    last_seen_secs: heartbeat.map(|h| now.saturating_sub(h).as_secs()),
                    tasks_completed: counts.completed,
                    tasks_failed: counts.failed,
                }
            })
            .collect();
        executors.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
        let mut lost: Vec<ExecutorStatus> = tasks
            .into_iter()
            .map(|(id, counts)| ExecutorStatus {
                id,
                state: "lost".into(),
                tasks_completed: counts.completed,
                tasks_failed: counts.failed,
                ..ExecutorStatus::default()
            })
            .collect();
        lost.sort_by(|a, b| a.id.cmp(&b.id));
        executors.extend(lost);
        let mut jobs: Vec<JobStatus> = state
            .task_manager
            .get_all_jobs()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|job| {
                let id = job.job_id.to_string();
                let counts = self.tally.job(&id);
                let job_state = match job.status.status {
                    None | Some(JobState::Queued(_)) => "queued",
                    Some(JobState::Running(_)) => "running",
                    Some(JobState::Failed(_)) => "failed",
                    Some(JobState::Successful(_)) => "succeeded",
                };
                JobStatus {
                    id,
                    name: job.job_name,
                    state: job_state.into(),
                    stages: job.num_stages,
                    stages_done: job.completed_stages,
                    tasks_completed: counts.completed,
                    tasks_failed: counts.failed,
                    started_ms: job.start_time,
                    ended_ms: job.end_time,
                }
            })
            .collect();
        jobs.sort_by(|a, b| (a.started_ms, &a.id).cmp(&(b.started_ms, &b.id)));
        ClusterStatus {
            scheduler: self.inner.scheduler_id.clone(),
            executors,
            jobs,
        }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl SchedulerGrpc for Counting {
    type ExecuteQueryPushStream = <Inner as SchedulerGrpc>::ExecuteQueryPushStream;

    async fn poll_work(&self, request: Request<PollWorkParams>) -> Reply<PollWorkResult> {
        if let Some(executor) = &request.get_ref().metadata {
            self.tally
                .record(&executor.id, &request.get_ref().task_status);
        }
        SchedulerGrpc::poll_work(&self.inner, request).await
    }

    async fn register_executor(
        &self,
        request: Request<RegisterExecutorParams>,
    ) -> Reply<RegisterExecutorResult> {
        SchedulerGrpc::register_executor(&self.inner, request).await
    }

    async fn heart_beat_from_executor(
        &self,
        request: Request<HeartBeatParams>,
    ) -> Reply<HeartBeatResult> {
        SchedulerGrpc::heart_beat_from_executor(&self.inner, request).await
    }

    async fn update_task_status(
        &self,
        request: Request<UpdateTaskStatusParams>,
    ) -> Reply<UpdateTaskStatusResult> {
        let params = request.get_ref();
        self.tally.record(&params.executor_id, &params.task_status);
        SchedulerGrpc::update_task_status(&self.inner, request).await
    }

    async fn create_update_session(
        &self,
        request: Request<CreateUpdateSessionParams>,
    ) -> Reply<CreateUpdateSessionResult> {
        SchedulerGrpc::create_update_session(&self.inner, request).await
    }

    async fn remove_session(
        &self,
        request: Request<RemoveSessionParams>,
    ) -> Reply<RemoveSessionResult> {
        SchedulerGrpc::remove_session(&self.inner, request).await
    }

    async fn execute_query_push(
        &self,
        request: Request<ExecuteQueryParams>,
    ) -> Reply<Self::ExecuteQueryPushStream> {
        SchedulerGrpc::execute_query_push(&self.inner, request).await
    }

    async fn execute_query(
        &self,
        request: Request<ExecuteQueryParams>,
    ) -> Reply<ExecuteQueryResult> {
        SchedulerGrpc::execute_query(&self.inner, request).await
    }

    async fn get_job_status(
        &self,
        request: Request<GetJobStatusParams>,
    ) -> Reply<GetJobStatusResult> {
        SchedulerGrpc::get_job_status(&self.inner, request).await
    }

    async fn get_job_metrics(
        &self,
        request: Request<GetJobMetricsParams>,
    ) -> Reply<GetJobMetricsResult> {
        SchedulerGrpc::get_job_metrics(&self.inner, request).await
    }

    async fn executor_stopped(
        &self,
        request: Request<ExecutorStoppedParams>,
    ) -> Reply<ExecutorStoppedResult> {
        SchedulerGrpc::executor_stopped(&self.inner, request).await
    }

    async fn cancel_job(&self, request: Request<CancelJobParams>) -> Reply<CancelJobResult> {
        SchedulerGrpc::cancel_job(&self.inner, request).await
    }

    async fn clean_job_data(
        &self,
        request: Request<CleanJobDataParams>,
    ) -> Reply<CleanJobDataResult> {
        SchedulerGrpc::clean_job_data(&self.inner, request).await
    }
}
