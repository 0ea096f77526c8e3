//! [`ClusterError`]: what can go wrong running the batch job on a cluster, by what a user can do
//! about it.

use ballista_core::error::BallistaError;
use datafusion::error::DataFusionError;
use pinpipe_lake::LakeError;

use crate::address::SchedulerAddress;

/// The result type of this crate.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// An error of the cluster:
///
/// | variant | what to do |
/// |---|---|
/// | [`Address`](ClusterError::Address) | fix the `df://host:port` |
/// | [`NoScheduler`](ClusterError::NoScheduler), [`NoExecutors`](ClusterError::NoExecutors) | start the processes the message names |
/// | [`Stalled`](ClusterError::Stalled) | see which executors are lost (`pinpipe cluster status`); nothing was committed, run again |
/// | [`Job`](ClusterError::Job) | read the cause (an executor lost for good, the lake unreachable from executors, …); nothing was committed, run again |
/// | [`OutputTwice`](ClusterError::OutputTwice) | an executor was lost mid-job; nothing was committed, run again |
/// | [`Lake`](ClusterError::Lake) | as the lake's error says (e.g. a commit conflict: run again) |
/// | [`Start`](ClusterError::Start), [`Io`](ClusterError::Io) | a scheduler or executor could not start (port taken, directory not writable) |
/// | [`DataFusion`](ClusterError::DataFusion), [`Internal`](ClusterError::Internal) | a bug: report it |
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A scheduler address that cannot be read.
    #[error("scheduler address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answers at the scheduler's address, or not a pinpipe scheduler.
    #[error(
        "no pinpipe scheduler answers at {address} ({reason}); start one there with \
         `pinpipe cluster scheduler --listen {}:{}`, and executors with \
         `pinpipe cluster executor --scheduler {}:{}`",
        .address.host, .address.port, .address.host, .address.port
    )]
    NoScheduler {
        /// Where the scheduler was looked for.
        address: SchedulerAddress,
        /// What the attempt got.
        reason: String,
    },
    /// The scheduler answers but no executor has registered with it.
    #[error(
        "the scheduler at {address} has no executors; start at least one with \
         `pinpipe cluster executor --scheduler {}:{}`",
        .address.host, .address.port
    )]
    NoExecutors {
        /// The scheduler.
        address: SchedulerAddress,
    },
    /// A table job wrote more new rows than it read records: the output of a task came back
    /// twice (Ballista can hand back two runs of a task when an executor is lost after the task
    /// finished), and committing it would write rows twice. Nothing of it was committed.
    #[error(
        "cluster job {job} wrote {rows} new rows from {records} records read: a task's output came \
         back twice (an executor was lost during the job); nothing was committed, run the batch \
         again"
    )]
    OutputTwice {
        /// The job's name.
        job: String,
        /// The new rows its output says it wrote.
        rows: u64,
        /// The records it read that were not rejected.
        records: u64,
    },
    /// A job on the cluster failed; nothing of it was committed.
    #[error("cluster job {job} failed (nothing was committed; run the batch again): {source}")]
    Job {
        /// The job's name.
        job: String,
        /// Why, as Ballista reports it.
        source: DataFusionError,
    },
    /// The run's jobs made no progress for the stall timeout (an executor lost with work only it
    /// could finish, say); the client gave up on them.
    #[error(
        "the jobs on the cluster at {address} made no progress for {secs} s (no task or stage \
         finished); nothing was committed: check the executors with `pinpipe cluster status \
         --scheduler {}:{}` and run the batch again",
        .address.host, .address.port
    )]
    Stalled {
        /// The scheduler.
        address: SchedulerAddress,
        /// The stall timeout, in seconds.
        secs: u64,
    },
    /// The lake: opening, planning, committing.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// A scheduler or executor could not start or stopped with an error.
    #[error("{what}: {source}")]
    Start {
        /// Which process, and where.
        what: String,
        /// Ballista's error.
        source: BallistaError,
    },
    /// A local file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Planning or decoding a plan failed.
    #[error("DataFusion: {0}")]
    DataFusion(#[from] DataFusionError),
    /// A bug: an invariant of this crate did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `error` as an error of a task: retryable (an I/O error, which Ballista runs again elsewhere)
/// when the lake says trying again may help, and fatal to the job otherwise.
pub(crate) fn task_error(error: LakeError) -> DataFusionError {
    if error.is_retryable() {
        DataFusionError::IoError(std::io::Error::other(error.to_string()))
    } else {
        DataFusionError::External(Box::new(error))
    }
}
