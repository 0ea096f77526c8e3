//! `pinpipe batch --cluster`: the batch job with its work on a cluster, and its commits here.
//!
//! 1. Plan as the single-process job does ([`pinpipe_lake::batch::plan`]): open the tables, list
//!    the raw objects not in the manifest.
//! 2. Per table with new objects, one job ([`crate::plan`]): the new objects in arrival order,
//!    and for an incremental run the table's files and the quarantine's, cut into tasks by bytes;
//!    the three jobs run at once. Progress is reported as the scheduler sees it
//!    ([`crate::progress`]).
//! 3. Once every job succeeded — a failed job commits nothing — check that every planned object
//!    was read, then commit: each table once (its new files replace its old ones; on a table with
//!    no rows, an append), the quarantine once (an append), then the manifest. The commits are
//!    made on the versions read while planning: if another writer committed since, the run fails
//!    with a commit conflict and the next run does it again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::physical_plan::{ExecutionPlan, common::collect};
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use deltalake::DeltaTable;
use pinpipe_lake::batch::{Planned, PlannedTable};
use pinpipe_lake::delta::{QUARANTINE_PATH, commit_files, table_path};
use pinpipe_lake::raw::RawObject;
use pinpipe_lake::{BatchOptions, BatchReport, Lake, LakeError, TableReport};
use pinpipe_model::{CleanError, Table};
use pinpipe_telemetry::RecordsQuarantined;
use pinpipe_telemetry::batch::{ObjectRead, TableCommitted};
use pinpipe_telemetry::cluster::TaskOutputDropped;

use crate::address::SchedulerAddress;
use crate::codec;
use crate::error::{ClusterError, Result};
use crate::options::{self, PinpipeOptions};
use crate::plan::{TablePlan, shuffle_partitions, table_plan, task_bytes};
use crate::progress::watching;
use crate::status::{ClusterStatus, STATUS_TIMEOUT, fetch_status};
use crate::work::{WorkItem, WorkKind, group_by_bytes};
use crate::write::Written;

/// How much larger a table's rows are in memory than in their Parquet files, about.
const PARQUET_EXPANSION: u64 = 4;

/// Where and how the batch job runs on a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The scheduler.
    pub scheduler: SchedulerAddress,
    /// Bytes one first-stage task reads, about; `None`: [`task_bytes`] (the input over twice the
    /// cluster's task slots, at most [`MAX_TASK_BYTES`](crate::plan::MAX_TASK_BYTES)).
    pub task_bytes: Option<u64>,
    /// A run fails when its jobs make no progress (no task or stage finishes) for this long.
    pub stall_timeout: Duration,
}

/// Runs the batch job on the cluster of `cluster` (see the module documentation). Progress is
/// emitted as [`pinpipe_telemetry`] events.
pub async fn run_batch(
    cluster: &ClusterOptions,
    lake: &Lake,
    opts: &BatchOptions,
) -> Result<BatchReport> {
    let scheduler = &cluster.scheduler;
    let started = Instant::now();
    let slots = connect(scheduler).await?.slots();
    let planned = pinpipe_lake::batch::plan(lake, opts).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("pinpipe batch {}", &run[..8]);
    let quarantine_files = data_files(
        &planned.quarantine,
        QUARANTINE_PATH,
        WorkKind::QuarantineFile,
    )?;
    let mut jobs = Vec::new();
    for table in planned.tables.iter().filter(|t| !t.objects.is_empty()) {
        let existing = if opts.full_refresh {
            Vec::new()
        } else {
            let path = table_path(&opts.tables_dir, table.table);
            data_files(&table.clean, &path, WorkKind::TableFile)?
        };
        jobs.push(TableJob::new(
            table,
            existing,
            &quarantine_files,
            opts,
            Sizing {
                slots,
                task_bytes: cluster.task_bytes,
            },
            format!("{prefix} {}", table.table),
        )?);
    }
    let planned_tasks: HashMap<String, u64> =
        jobs.iter().map(|j| (j.name.clone(), j.tasks)).collect();
    let config = job_config(lake);
    let session = uuid::Uuid::new_v4().to_string();
    let submitted = jobs.iter().map(|job| job.run(scheduler, &config, &session));
    let written = watching(
        scheduler,
        &prefix,
        &planned_tasks,
        cluster.stall_timeout,
        futures::future::try_join_all(submitted),
    )
    .await?;
    let written: HashMap<Table, Written> = jobs.iter().map(|j| j.table).zip(written).collect();
    commit(lake, opts, planned, written, started).await
}

/// The scheduler's status, if it answers and has executors.
async fn connect(scheduler: &SchedulerAddress) -> Result<ClusterStatus> {
    let status = fetch_status(scheduler, STATUS_TIMEOUT).await?;
    if status.slots() == 0 {
        return Err(ClusterError::NoExecutors {
            address: scheduler.clone(),
        });
    }
    Ok(status)
}

/// The session settings of a run's jobs: the lake's location and storage options, one
/// partition of the work list per task, room for plans that list many objects.
fn job_config(lake: &Lake) -> SessionConfig {
    options::session_config()
        .with_option_extension(PinpipeOptions::for_lake(lake))
        .set_usize("ballista.scheduler.max_partitions_per_task", 1)
        .with_ballista_grpc_client_max_message_size(crate::scheduler::MAX_MESSAGE_BYTES as usize)
}

/// The data files of `table` (at `path` in the lake) as work items of `kind`.
fn data_files(table: &DeltaTable, path: &str, kind: WorkKind) -> Result<Vec<WorkItem>> {
    let snapshot = table.snapshot().map_err(LakeError::from)?;
    snapshot
        .log_data()
        .iter()
        .map(|file| {
            let relative = file.path();
            if relative.contains("://") || relative.starts_with('/') {
                return Err(ClusterError::Lake(LakeError::InvalidOptions(format!(
                    "{path} holds a file outside its folder ({relative}); the cluster reads \
                     tables whose files are inside them"
                ))));
            }
            Ok(WorkItem {
                kind,
                path: format!("{path}/{relative}"),
                seq: -1,
                size: u64::try_from(file.size()).unwrap_or_default(),
            })
        })
        .collect()
}

/// How big a job's tasks are.
#[derive(Clone, Copy, Debug)]
struct Sizing {
    /// Task slots of the cluster.
    slots: usize,
    /// Bytes per first-stage task, when set.
    task_bytes: Option<u64>,
}

/// One table's job.
struct TableJob {
    table: Table,
    name: String,
    plan: Arc<dyn ExecutionPlan>,
    /// First-stage tasks and shuffle partitions.
    tasks: u64,
}

impl TableJob {
    fn new(
        planned: &PlannedTable,
        existing: Vec<WorkItem>,
        quarantine: &[WorkItem],
        opts: &BatchOptions,
        sizing: Sizing,
        name: String,
    ) -> Result<TableJob> {
        let table = planned.table;
        let mut items: Vec<WorkItem> = planned
            .objects
            .iter()
            .enumerate()
            .map(|(seq, object)| WorkItem {
                kind: WorkKind::RawObject,
                path: object.path.clone(),
                seq: i64::try_from(seq).unwrap_or(i64::MAX),
                size: object.size,
            })
            .collect();
        let raw_bytes: u64 = items.iter().map(|i| i.size).sum();
        let existing_bytes: u64 = existing.iter().map(|i| i.size).sum();
        items.extend(existing);
        items.extend(quarantine.iter().cloned());
        let total: u64 = items.iter().map(|i| i.size).sum();
        let per_task = sizing
            .task_bytes
            .unwrap_or_else(|| task_bytes(total, sizing.slots));
        let groups = group_by_bytes(items, per_task);
        let partitions =
            shuffle_partitions(raw_bytes + PARQUET_EXPANSION * existing_bytes, sizing.slots);
        let spec = TablePlan {
            table,
            table_path: table_path(&opts.tables_dir, table),
            topic: opts.topic(table),
            limits: opts.read_limits,
            partitions,
        };
        let plan = table_plan(&spec, &groups)?;
        Ok(TableJob {
            table,
            name,
            plan,
            tasks: (groups.len() + partitions) as u64,
        })
    }

    /// Submits the job and waits for what it wrote.
    async fn run(
        &self,
        scheduler: &SchedulerAddress,
        config: &SessionConfig,
        session: &str,
    ) -> Result<Written> {
        let failed = |source| ClusterError::Job {
            job: self.name.clone(),
            source,
        };
        let config = config.clone().with_ballista_job_name(&self.name);
        let codec = codec::physical_codec();
        let stream = execute_physical_plan::<PhysicalPlanNode>(
            scheduler.grpc_url(),
            &config.ballista_config(),
            Arc::clone(&self.plan),
            codec.as_ref(),
            session.to_owned(),
            config,
        )
        .await
        .map_err(failed)?;
        let rows = collect(stream).await.map_err(failed)?;
        Written::from_rows(&rows).map_err(failed)
    }
}

/// Commits what the jobs wrote, in the order of the module documentation.
async fn commit(
    lake: &Lake,
    opts: &BatchOptions,
    planned: Planned,
    mut written: HashMap<Table, Written>,
    started: Instant,
) -> Result<BatchReport> {
    let Planned {
        mut manifest,
        manifest_path,
        quarantine,
        mut commits,
        tables,
        objects_listed,
        objects_ignored,
    } = planned;
    // Check everything before the first commit: a job's output missing an object read would
    // leave its rows out.
    let mut read: Vec<(PlannedTable, Written, Vec<RawObject>)> = Vec::new();
    for table in tables {
        let out = written.remove(&table.table).unwrap_or_default();
        let objects = objects_read(&table, &out)?;
        read.push((table, out, objects));
    }
    let mut reports = Vec::with_capacity(read.len());
    let mut quarantine_files = Vec::new();
    for (table, out, objects) in &mut read {
        let path = table_path(&opts.tables_dir, table.table);
        for (task, rows) in &out.dropped {
            TaskOutputDropped {
                table: path.clone(),
                task: task.clone(),
                rows: *rows,
            }
            .emit();
        }
        for object in &out.objects {
            ObjectRead {
                table: table.table.name(),
                topic: table.topic.clone(),
                path: object.path.clone(),
                records: object.records as usize,
                rejected: object.rejected as usize,
                bytes: object.size,
            }
            .emit();
        }
        let had_rows = !pinpipe_lake::delta::is_empty(&table.clean)?;
        let changed = out.inserted + out.updated > 0;
        if !objects.is_empty() && (changed || opts.full_refresh) {
            let files = std::mem::take(&mut out.table_files);
            if let Some(commit) =
                commit_files(&table.clean, &path, files, had_rows || opts.full_refresh).await?
            {
                TableCommitted {
                    table: commit.path.clone(),
                    version: commit.version,
                    inserted: out.inserted as usize,
                    updated: out.updated as usize,
                    duration: started.elapsed(),
                }
                .emit();
                commits.push(commit);
            }
        }
        quarantine_files.append(&mut out.quarantine_files);
        reports.push(TableReport {
            table: table.table,
            path,
            objects_read: objects.len(),
            records_read: out.objects.iter().map(|o| o.records as usize).sum(),
            rows_inserted: out.inserted as usize,
            rows_updated: out.updated as usize,
            rejected: out.objects.iter().map(|o| o.rejected as usize).sum(),
            quarantined: out.quarantined.values().sum::<u64>() as usize,
        });
    }
    if let Some(commit) =
        commit_files(&quarantine, QUARANTINE_PATH, quarantine_files, false).await?
    {
        commits.push(commit);
    }
    for (table, out, objects) in &read {
        for (reason, records) in &out.quarantined {
            if let Some(kind) = CleanError::KINDS.iter().find(|k| **k == reason.as_str()) {
                RecordsQuarantined {
                    component: "batch",
                    table: table.table.name(),
                    reason: kind,
                    records: *records,
                }
                .emit();
            }
        }
        manifest.record(table.table, objects.iter());
    }
    if read.iter().any(|(_, _, objects)| !objects.is_empty()) {
        manifest.save(&lake.store(), &manifest_path).await?;
    }
    Ok(BatchReport {
        objects_listed,
        objects_read: reports.iter().map(|t| t.objects_read).sum(),
        objects_ignored,
        records_read: reports.iter().map(|t| t.records_read).sum(),
        tables: reports,
        commits,
        duration: started.elapsed(),
    })
}

/// The planned objects of `table` with their sizes as read, or an error if the job's output
/// does not account for each exactly once.
/// Every new row of a table job comes from a record it read (fewer when a key repeats): more
/// means some task's output came back twice, and its files would be committed twice.
fn new_rows_were_read(table: Table, out: &Written) -> Result<()> {
    let records: u64 = out
        .objects
        .iter()
        .map(|o| o.records.saturating_sub(o.rejected))
        .sum();
    let rows = out.inserted + out.updated;
    if rows > records {
        return Err(ClusterError::OutputTwice {
            job: table.name().to_owned(),
            rows,
            records,
        });
    }
    Ok(())
}

fn objects_read(table: &PlannedTable, out: &Written) -> Result<Vec<RawObject>> {
    let mut sizes: HashMap<&str, u64> = HashMap::new();
    for object in &out.objects {
        if sizes.insert(object.path.as_str(), object.size).is_some() {
            return Err(ClusterError::Internal(format!(
                "the job read {} twice",
                object.path
            )));
        }
    }
    new_rows_were_read(table.table, out)?;
    if sizes.len() != table.objects.len() {
        return Err(ClusterError::Internal(format!(
            "the {} job read {} objects of {} planned; nothing was committed",
            table.table,
            sizes.len(),
            table.objects.len()
        )));
    }
    table
        .objects
        .iter()
        .map(|object| {
            let size = sizes.get(object.path.as_str()).copied().ok_or_else(|| {
                ClusterError::Internal(format!("the job did not read {}", object.path))
            })?;
            Ok(RawObject {
                size,
                ..object.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use pinpipe_model::Table;

    use super::new_rows_were_read;
    use crate::error::ClusterError;
    use crate::wide::ObjectRead;
    use crate::write::Written;

    fn written(records: u64, rejected: u64, inserted: u64, updated: u64) -> Written {
        Written {
            inserted,
            updated,
            objects: vec![ObjectRead {
                path: "raw/topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000000.json".into(),
                seq: 0,
                records,
                rejected,
                size: 1,
            }],
            ..Written::default()
        }
    }

    /// A job whose output says it wrote more new rows than it read records (an executor lost
    /// after a task finished, and the task's output handed back twice) commits nothing.
    #[test]
    fn more_new_rows_than_records_read_is_refused() {
        assert!(new_rows_were_read(Table::Pin, &written(1000, 0, 0, 1000)).is_ok());
        assert!(new_rows_were_read(Table::Pin, &written(1000, 10, 400, 500)).is_ok());
        let twice = new_rows_were_read(Table::Pin, &written(1000, 0, 0, 1504));
        assert!(
            matches!(
                twice,
                Err(ClusterError::OutputTwice {
                    rows: 1504,
                    records: 1000,
                    ..
                })
            ),
            "{twice:?}"
        );
        let shown = twice.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.contains("nothing was committed"), "{shown}");
    }
}
