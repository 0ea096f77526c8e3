//! The batch job on a cluster: `pinpipe cluster scheduler|executor|status` and
//! `pinpipe batch --cluster df://HOST:PORT`, on Apache DataFusion Ballista 55 (the same
//! DataFusion as the lake's delta-rs).
//!
//! ```text
//!  client (pinpipe batch --cluster)            scheduler (pinpipe cluster scheduler)
//!  ─ plan: tables, new raw objects (lake) ──►  Ballista: stages, tasks, retries, shuffle
//!  ─ one physical plan per table  ─────────►     │ gRPC + /pinpipe/status on one port
//!                                                ▼
//!                executors (pinpipe cluster executor), per table job:
//!   stage 1, one task per group of objects   DataSourceExec(work list) → StepExec(Read)
//!     read + clean raw objects (pinpipe-model), read the table's current rows (an
//!     incremental run) and the quarantine's keys                │ hash on ind (rows),
//!                                                              ▼ on (source, position) (rejects)
//!   stage 2, one task per partition          StepExec(KeepLast) → StepExec(Write)
//!     keep the last copy of each key, drop rejects already quarantined, write the Parquet
//!     files of the new table version and of the new quarantine rows
//!                                                │ rows: the files written (Delta `add`
//!                                                ▼ actions), the objects read
//!  ─ commits: each table once (its files replace the table's), the quarantine once (append),
//!    then the manifest  (pinpipe-lake, the same code as the single-process job)
//!  ─ the nine analyses: DataFusion SQL on the cluster over the committed files
//! ```
//!
//! **Exactly once.** Executors only write files; the client commits. A file is part of a table
//! only once a commit names it, and the client commits exactly the files the job's final
//! output lists — the output of one attempt of each task. Each output row names its task (the
//! shuffle partitions it read) and attempt; when Ballista hands back two attempts of a task, as
//! it can after losing an executor, the client keeps the first ([`write::Written::from_rows`]).
//! Files of failed, lost, retried or dropped attempts are never committed (`pinpipe lake vacuum`
//! deletes them later). A
//! job that fails commits nothing; a run that fails between its commits is completed by the next
//! run, since every step is idempotent (see [`pinpipe_lake::batch`]).
//!
//! Modules:
//!
//! - [`address`] — `df://host:port`.
//! - [`options`] — the lake location and storage options, shipped with every job
//!   ([`PinpipeOptions`]), and the lake, object stores and sessions built from them.
//! - [`work`], [`wide`]: the rows of the work list, and the rows between the two stages.
//! - [`exec`] ([`StepExec`]): the one plan node type of pinpipe, running a [`Step`]:
//!   [`read`], [`keep_last`] or [`write`]; [`codec`] sends it to executors.
//! - [`plan`] — the physical plan of a table job.
//! - [`job`] — the client side of `pinpipe batch --cluster`; [`analyses`]: the nine analyses.
//! - [`scheduler`], [`executor`]: the two processes; [`tally`]: tasks completed per executor;
//!   [`status`]: what `pinpipe cluster status` shows; [`progress`]: a job's progress as
//!   telemetry events.
//! - [`ClusterError`] ([`error`]).

pub mod address;
pub mod analyses;
pub mod codec;
pub mod error;
pub mod exec;
pub mod executor;
pub mod job;
pub mod keep_last;
pub mod options;
pub mod plan;
pub mod progress;
pub mod read;
pub mod scheduler;
pub mod slots;
pub mod status;
pub mod tally;
pub mod wide;
pub mod work;
pub mod write;

pub use address::SchedulerAddress;
pub use analyses::run_analyses;
pub use error::{ClusterError, Result};
pub use exec::{Step, StepExec};
pub use executor::{ExecutorOptions, run_executor};
pub use job::{ClusterOptions, run_batch};
pub use options::PinpipeOptions;
pub use scheduler::{SchedulerOptions, run_scheduler};
pub use status::{ClusterStatus, ExecutorStatus, JobStatus, fetch_status};
