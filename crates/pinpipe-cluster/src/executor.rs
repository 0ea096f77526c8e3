//! `pinpipe cluster executor`: a Ballista executor that runs pinpipe's plan nodes, registered
//! with a scheduler.
//!
//! It listens on two ports: Arrow Flight (`--listen`; other executors fetch its shuffle output
//! there, and clients a job's results) and gRPC (`--grpc-port`, by default the next port; the
//! scheduler launches tasks there). It reaches the lake with the storage options each job
//! carries ([`crate::options`]), not with its own environment; it keeps only shuffle files,
//! under its work directory. It stops on Ctrl-C or SIGTERM once its running tasks are done.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::prelude::SessionConfig;

use crate::address::SchedulerAddress;
use crate::error::{ClusterError, Result};
use crate::status::{STATUS_TIMEOUT, fetch_status};
use crate::{codec, options};

/// Seconds between two heartbeats to the scheduler.
pub const HEARTBEAT_SECS: u64 = 2;

/// How long an executor waits for its scheduler to answer before giving up.
pub const SCHEDULER_WAIT: Duration = Duration::from_secs(60);

/// How to start an executor.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The scheduler to register with.
    pub scheduler: SchedulerAddress,
    /// Address of the Arrow Flight service; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Port of the gRPC service; default: the Flight port + 1 (or a free one with port 0).
    pub grpc_port: Option<u16>,
    /// The host others reach this executor at; default: the address the scheduler sees it
    /// connect from.
    pub advertise: Option<String>,
    /// Tasks run at once; default: the machine's cores.
    pub concurrency: Option<usize>,
    /// Bytes of memory its tasks may hold in all before spilling or failing; default: 70% of
    /// the machine's (or container's) memory.
    pub memory_bytes: Option<u64>,
    /// Where shuffle files (in `shuffle/`) and spill files (in `spill/`) are written.
    pub work_dir: PathBuf,
}

/// Runs an executor until Ctrl-C or SIGTERM (it then finishes its running tasks).
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    wait_for_scheduler(&options.scheduler).await?;
    let (port, grpc_port) = ports(&options)?;
    // Ballista's shuffle files and DataFusion's spill files in folders of their own: Ballista
    // deletes every folder in its work directory (an hour after a job, and all on exit), and
    // used to race DataFusion deleting its spill folders there at exit, logging an ERROR a folder.
    let shuffle_dir = options.work_dir.join("shuffle");
    let spill_dir = options.work_dir.join("spill");
    for dir in [&shuffle_dir, &spill_dir] {
        std::fs::create_dir_all(dir).map_err(|source| ClusterError::Io {
            context: format!("creating work directory {}", dir.display()),
            source,
        })?;
    }
    let work_dir = shuffle_dir.display().to_string();
    let spill_dir_name = spill_dir.display().to_string();
    let config = ExecutorProcessConfig {
        bind_host: options.listen.ip().to_string(),
        port,
        grpc_port,
        external_host: options.advertise.clone(),
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        vcores: options.concurrency.unwrap_or(0),
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(work_dir),
        // Shuffle files of finished jobs are deleted after an hour, all of them on exit.
        job_data_ttl_seconds: 3600,
        job_data_clean_up_interval_seconds: 300,
        executor_heartbeat_interval_seconds: HEARTBEAT_SECS,
        grpc_max_decoding_message_size: crate::scheduler::MAX_MESSAGE_BYTES,
        grpc_max_encoding_message_size: crate::scheduler::MAX_MESSAGE_BYTES,
        memory_pool_size: options.memory_bytes,
        override_config_producer: Some(Arc::new(options::session_config)),
        override_runtime_producer: Some(Arc::new(move |config: &SessionConfig| {
            options::runtime(config, &spill_dir_name)
        })),
        override_physical_codec: Some(codec::physical_codec()),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(
        scheduler = %options.scheduler,
        flight = %SocketAddr::new(options.listen.ip(), port),
        grpc_port,
        "cluster executor starting"
    );
    let ran = start_executor_process(Arc::new(config))
        .await
        .map_err(|source| ClusterError::Start {
            what: format!("executor on {}:{port}", options.listen.ip()),
            source,
        });
    // Ballista deletes the shuffle files as it stops, and the spill files are only this
    // process's; the directory goes too, if nothing else is in it (whoever made it: a directory
    // the user gave goes when empty, and stays if not).
    let _ = std::fs::remove_dir(&shuffle_dir);
    let _ = std::fs::remove_dir_all(&spill_dir);
    let _ = std::fs::remove_dir(&options.work_dir);
    ran
}

/// Waits until the scheduler answers (at most [`SCHEDULER_WAIT`]), so that executors may be
/// started before or together with it.
async fn wait_for_scheduler(scheduler: &SchedulerAddress) -> Result<()> {
    let started = Instant::now();
    let mut said = false;
    loop {
        match fetch_status(scheduler, STATUS_TIMEOUT).await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() >= SCHEDULER_WAIT => return Err(e),
            Err(e) => {
                if !said {
                    tracing::info!(%scheduler, error = %e, "waiting for the scheduler");
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The Flight and gRPC ports: as given, or free ones for port 0 (two distinct ones: both are
/// held while choosing).
fn ports(options: &ExecutorOptions) -> Result<(u16, u16)> {
    let ip = options.listen.ip();
    let io = |context: String| move |source| ClusterError::Io { context, source };
    let mut held = Vec::new();
    let mut free = || -> Result<u16> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .map_err(io(format!("finding a free port on {ip}")))?;
        let port = listener
            .local_addr()
            .map_err(io(format!("finding a free port on {ip}")))?
            .port();
        held.push(listener);
        Ok(port)
    };
    let port = match options.listen.port() {
        0 => free()?,
        port => port,
    };
    let grpc_port = match (options.grpc_port, options.listen.port()) {
        (Some(port), _) => port,
        (None, 0) => free()?,
        (None, port) => port.checked_add(1).ok_or_else(|| {
            io("choosing the gRPC port".into())(std::io::Error::other(format!(
                "port {port} has no next port: set --grpc-port"
            )))
        })?,
    };
    Ok((port, grpc_port))
}
