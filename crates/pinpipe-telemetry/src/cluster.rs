//! Events of the batch job on a cluster (`pinpipe cluster scheduler|executor`,
//! `pinpipe batch --cluster`).

use std::time::Duration;

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Executor, ExecutorTasks};

/// A task finished on an executor, as the scheduler heard it (emitted by the scheduler).
#[derive(Clone, Debug)]
pub struct TaskFinished {
    /// The executor's id.
    pub executor: String,
    /// The job's id.
    pub job: String,
    /// The stage, from 1.
    pub stage: u32,
    /// `succeeded` or `failed`.
    pub outcome: &'static str,
    /// From its launch on the executor to the start of its work (decoding, setting up).
    pub setup: Duration,
    /// Its work.
    pub work: Duration,
}

impl TaskFinished {
    /// Logs at debug and counts `pinpipe_cluster_tasks_total{executor, outcome}` and
    /// `pinpipe_cluster_task_setup_seconds`, `_work_seconds`.
    pub fn emit(self) {
        tracing::debug!(
            executor = %self.executor,
            job = %self.job,
            stage = self.stage,
            outcome = self.outcome,
            setup_ms = crate::millis(self.setup),
            work_ms = crate::millis(self.work),
            "task finished"
        );
        let m = metrics::get();
        m.cluster_tasks
            .get_or_create(&ExecutorTasks {
                executor: self.executor.clone(),
                outcome: self.outcome,
            })
            .inc();
        m.cluster_task_setup.observe(self.setup.as_secs_f64());
        m.cluster_task_work.observe(self.work.as_secs_f64());
        dispatch(Event::TaskFinished(self));
    }
}

/// Where a job on the cluster is (emitted by the client as the scheduler reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobProgress {
    /// The job's name (`pinpipe batch <run> pin`, `pinpipe analyses <run>`).
    pub job: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: &'static str,
    /// Stages done, of `stages`.
    pub stages_done: usize,
    /// Stages (0 until the scheduler has planned the job).
    pub stages: usize,
    /// Tasks done.
    pub tasks_done: u64,
    /// Tasks planned, when the client knows them.
    pub tasks_planned: Option<u64>,
}

impl JobProgress {
    /// What a progress line shows.
    pub fn line(&self) -> String {
        let tasks = match self.tasks_planned {
            Some(planned) => format!("{}/{planned} tasks", self.tasks_done.min(planned)),
            None => format!("{} tasks", self.tasks_done),
        };
        format!(
            "{}: {}, stages {}/{}, {tasks}",
            self.job, self.state, self.stages_done, self.stages
        )
    }

    /// Logs at info.
    pub fn emit(self) {
        tracing::info!(
            job = %self.job,
            state = self.state,
            stages_done = self.stages_done,
            stages = self.stages,
            tasks_done = self.tasks_done,
            "cluster job progress"
        );
        dispatch(Event::JobProgress(self));
    }
}

/// The scheduler gave an idle executor back task slots it had lost track of (see
/// `pinpipe_cluster::slots`); without that the executor would get fewer tasks, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotsRecovered {
    /// The executor's id.
    pub executor: String,
    /// Slots given back.
    pub slots: u32,
}

impl SlotsRecovered {
    /// Logs at warn and counts `pinpipe_cluster_slots_recovered_total{executor}`.
    pub fn emit(self) {
        tracing::warn!(
            executor = %self.executor,
            slots = self.slots,
            "an idle executor had task slots the scheduler lost track of: given back"
        );
        metrics::get()
            .cluster_slots_recovered
            .get_or_create(&Executor {
                executor: self.executor.clone(),
            })
            .inc_by(u64::from(self.slots));
        dispatch(Event::SlotsRecovered(self));
    }
}

/// The cluster returned the output of one task twice (two attempts of it, seen after an executor
/// was lost): the batch job kept the first and did not commit the other's files, which
/// `pinpipe lake vacuum` deletes later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutputDropped {
    /// The path in the lake of the table whose job it was (`tables/pin`).
    pub table: String,
    /// The shuffle partitions the task read (`3`).
    pub task: String,
    /// Output rows dropped (files and counts).
    pub rows: usize,
}

impl TaskOutputDropped {
    /// Logs at warn. Not counted: the client of a cluster job (`pinpipe batch --cluster`) serves
    /// no `/metrics`; the warning is on its standard error.
    pub fn emit(self) {
        tracing::warn!(
            table = %self.table,
            task = %self.task,
            rows = self.rows,
            "the cluster returned a task's output twice; the second copy is not committed"
        );
        dispatch(Event::TaskOutputDropped(self));
    }
}
