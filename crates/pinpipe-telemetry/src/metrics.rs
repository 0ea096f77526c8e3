//! Every metric family of a pinpipe process, and their label sets.
//!
//! A process shows the shared families and those of the parts it runs ([`Part`], [`runs`]). A
//! family without labels is on `/metrics` from then on; a labelled one shows once it has a series:
//! the jobs put theirs at zero when they start ([`crate::started`]), the gateway's by route and
//! code appear with their first request. Names follow Prometheus's conventions: `pinpipe_` and
//! the component, base units (`_seconds`, `_bytes`), `_total` for counters.

use std::hash::Hash;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A route of the gateway and the status it answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    /// The route template, e.g. `/topics/{topic}`.
    pub route: String,
    /// The HTTP status.
    pub status: u16,
}

/// A route of the gateway.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The route template.
    pub route: String,
}

/// A route and the topic or stream it wrote to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteTarget {
    /// The route template.
    pub route: String,
    /// The topic or stream.
    pub target: String,
}

/// An error code of the gateway's answers (REST Proxy's `error_code`, or the HTTP status on the
/// Kinesis routes).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Code {
    /// The code.
    pub code: u32,
}

/// Why the gateway closed a connection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// `idle`, `slow_headers`, `slow_body`, `evicted`.
    pub reason: &'static str,
}

/// A component.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Component {
    /// `gateway`, `sink`, `stream`, `batch`, `schedule`.
    pub component: &'static str,
}

/// A component and a backend it uses.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentBackend {
    /// The component.
    pub component: &'static str,
    /// `bus`, `kafka`, `kinesis`, `lake`.
    pub backend: &'static str,
}

/// Where quarantined records came from and why.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Quarantine {
    /// `batch` or `stream`.
    pub component: &'static str,
    /// `pin`, `geo` or `user`.
    pub table: &'static str,
    /// The kind of reason.
    pub reason: &'static str,
}

/// A topic.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Topic {
    /// The topic.
    pub topic: String,
}

/// A topic partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

/// A stream.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Stream {
    /// The stream.
    pub stream: String,
}

/// A stream shard.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamShard {
    /// The stream.
    pub stream: String,
    /// The shard, e.g. `shardId-000000000000`.
    pub shard: String,
}

/// A table of the lake (`pin`, `stream/geo`, `quarantine`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Table {
    /// The table's path in the lake.
    pub table: String,
}

/// A table and what happened to its rows.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableOp {
    /// The table's path in the lake.
    pub table: String,
    /// `inserted` or `updated`.
    pub op: &'static str,
}

/// An executor of the cluster and how its tasks ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExecutorTasks {
    /// The executor's id.
    pub executor: String,
    /// `succeeded` or `failed`.
    pub outcome: &'static str,
}

/// An executor of the cluster.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Executor {
    /// The executor's id.
    pub executor: String,
}

/// A schedule and a run state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScheduleState {
    /// The schedule's name.
    pub schedule: String,
    /// `started`, `succeeded` or `failed`.
    pub state: &'static str,
}

/// A schedule.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Schedule {
    /// The schedule's name.
    pub schedule: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Latency buckets from 0.5 ms to about 65 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// Every metric family of the process.
pub struct Metrics {
    pub(crate) requests: Family<RouteStatus, Counter>,
    pub(crate) request_records: Family<RouteTarget, Counter>,
    pub(crate) request_records_refused: Family<RouteTarget, Counter>,
    pub(crate) request_bytes: Family<Route, Counter>,
    pub(crate) request_errors: Family<Code, Counter>,
    pub(crate) request_duration: Histograms<Route>,
    pub(crate) connections: Gauge,
    pub(crate) connections_closed: Family<Reason, Counter>,
    pub(crate) backend_errors: Family<ComponentBackend, Counter>,
    pub(crate) retries: Family<Component, Counter>,
    pub(crate) quarantined: Family<Quarantine, Counter>,
    pub(crate) sink_records: Family<Topic, Counter>,
    pub(crate) sink_bytes: Family<Topic, Counter>,
    pub(crate) sink_objects: Family<Topic, Counter>,
    pub(crate) sink_write_duration: Histogram,
    pub(crate) sink_commits: Family<Topic, Counter>,
    pub(crate) sink_lag: Family<TopicPartition, Gauge>,
    pub(crate) stream_records: Family<Stream, Counter>,
    pub(crate) stream_bytes: Family<Stream, Counter>,
    pub(crate) stream_commits: Family<Table, Counter>,
    pub(crate) stream_rows: Family<TableOp, Counter>,
    pub(crate) stream_commit_duration: Histogram,
    pub(crate) stream_lag: Family<StreamShard, Gauge>,
    pub(crate) batch_objects: Family<Topic, Counter>,
    pub(crate) batch_records: Family<Topic, Counter>,
    pub(crate) batch_bytes: Family<Topic, Counter>,
    pub(crate) batch_commits: Family<Table, Counter>,
    pub(crate) batch_rows: Family<TableOp, Counter>,
    pub(crate) batch_commit_duration: Histogram,
    pub(crate) runs: Family<ScheduleState, Counter>,
    pub(crate) last_success: Family<Schedule, FloatGauge>,
    pub(crate) run_duration: Histograms<Schedule>,
    pub(crate) files_compacted: Family<Table, Counter>,
    pub(crate) files_vacuumed: Family<Table, Counter>,
    pub(crate) cluster_tasks: Family<ExecutorTasks, Counter>,
    pub(crate) cluster_task_setup: Histogram,
    pub(crate) cluster_task_work: Histogram,
    pub(crate) cluster_slots_recovered: Family<Executor, Counter>,
    /// The gateway's counters summed over their labels (not exported: the families are), for
    /// [`gateway_totals`].
    pub(crate) gateway_records: Counter,
    pub(crate) gateway_requests: Counter,
    pub(crate) gateway_errors: Counter,
}

/// The gateway's counters summed over their labels: what the web UI shows of this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GatewayTotals {
    /// Records acknowledged.
    pub records_total: u64,
    /// Requests answered.
    pub requests_total: u64,
    /// Error answers.
    pub errors_total: u64,
    /// Client connections open now.
    pub connections: i64,
}

/// The gateway's totals so far in this process.
pub fn gateway_totals() -> GatewayTotals {
    let m = get();
    GatewayTotals {
        records_total: m.gateway_records.get(),
        requests_total: m.gateway_requests.get(),
        errors_total: m.gateway_errors.get(),
        connections: m.connections.get(),
    }
}

impl Metrics {
    fn new() -> Self {
        Metrics {
            requests: Family::default(),
            request_records: Family::default(),
            request_records_refused: Family::default(),
            request_bytes: Family::default(),
            request_errors: Family::default(),
            request_duration: Family::new_with_constructor(latency),
            connections: Gauge::default(),
            connections_closed: Family::default(),
            backend_errors: Family::default(),
            retries: Family::default(),
            quarantined: Family::default(),
            sink_records: Family::default(),
            sink_bytes: Family::default(),
            sink_objects: Family::default(),
            sink_write_duration: latency(),
            sink_commits: Family::default(),
            sink_lag: Family::default(),
            stream_records: Family::default(),
            stream_bytes: Family::default(),
            stream_commits: Family::default(),
            stream_rows: Family::default(),
            stream_commit_duration: latency(),
            stream_lag: Family::default(),
            batch_objects: Family::default(),
            batch_records: Family::default(),
            batch_bytes: Family::default(),
            batch_commits: Family::default(),
            batch_rows: Family::default(),
            batch_commit_duration: latency(),
            runs: Family::default(),
            last_success: Family::default(),
            run_duration: Family::new_with_constructor(latency),
            files_compacted: Family::default(),
            files_vacuumed: Family::default(),
            cluster_tasks: Family::default(),
            cluster_task_setup: latency(),
            cluster_task_work: latency(),
            cluster_slots_recovered: Family::default(),
            gateway_records: Counter::default(),
            gateway_requests: Counter::default(),
            gateway_errors: Counter::default(),
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Puts the series of `family` with `labels` on `/metrics`, at zero if it is new (see
/// [`crate::started`] for why).
pub(crate) fn zero<S: Clone + Hash + Eq, M, C: MetricConstructor<M>>(
    family: &Family<S, M, C>,
    labels: &S,
) {
    drop(family.get_or_create(labels));
}

/// The process's metrics.
pub(crate) fn get() -> &'static Metrics {
    &METRICS
}

/// A part of pinpipe that a process may run, with metric families of its own: a process shows on
/// `/metrics` the shared families and those of the parts it runs ([`runs`]), so that the
/// gateway's does not list the sink's histograms at zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `pinpipe serve`.
    Gateway,
    /// The sink.
    Sink,
    /// The stream job.
    Stream,
    /// The batch job.
    Batch,
    /// `pinpipe schedule`.
    Schedule,
    /// `pinpipe cluster scheduler`.
    Cluster,
}

impl Part {
    const ALL: [Part; 6] = [
        Part::Gateway,
        Part::Sink,
        Part::Stream,
        Part::Batch,
        Part::Schedule,
        Part::Cluster,
    ];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn register(self, r: &mut Registry, m: &Metrics) {
        match self {
            Part::Gateway => register_gateway(r, m),
            Part::Sink => register_sink(r, m),
            Part::Stream => register_stream(r, m),
            Part::Batch => register_batch(r, m),
            Part::Schedule => register_schedule(r, m),
            Part::Cluster => register_cluster(r, m),
        }
    }
}

/// The parts this process runs, one bit each.
static RUNNING: AtomicU8 = AtomicU8::new(0);

/// Shows `part`'s families on this process's `/metrics` from now on.
pub fn runs(part: Part) {
    RUNNING.fetch_or(part.bit(), Ordering::Relaxed);
}

/// Every metric of the process in Prometheus's text format: the shared families, then those of
/// each part the process runs. The registry is built for each call, from families that live as
/// long as the process: a part may start after the first scrape.
pub fn render() -> String {
    let m = get();
    let running = RUNNING.load(Ordering::Relaxed);
    let mut registry = Registry::with_prefix("pinpipe");
    register_shared(&mut registry, m);
    for part in Part::ALL {
        if running & part.bit() != 0 {
            part.register(&mut registry, m);
        }
    }
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// The families every process shows: failures of backends, retries, the quarantine, lake maintenance.
fn register_shared(r: &mut Registry, m: &Metrics) {
    r.register(
        "backend_errors",
        "Failures of a backend that may pass (unavailable, timed out), by component and backend",
        m.backend_errors.clone(),
    );
    r.register(
        "retries",
        "Retries of failed work, by component",
        m.retries.clone(),
    );
    r.register(
        "quarantined_records",
        "Records written to the quarantine, by job, table and kind of reason",
        m.quarantined.clone(),
    );
    r.register(
        "lake_files_compacted",
        "Small files rewritten by optimize, by table",
        m.files_compacted.clone(),
    );
    r.register(
        "lake_files_vacuumed",
        "Unreferenced files deleted by vacuum, by table",
        m.files_vacuumed.clone(),
    );
}

/// The gateway's families (`pinpipe serve`).
fn register_gateway(r: &mut Registry, m: &Metrics) {
    r.register(
        "gateway_requests",
        "HTTP requests answered, by route and status",
        m.requests.clone(),
    );
    r.register(
        "gateway_records",
        "Records acknowledged, by route and topic or stream",
        m.request_records.clone(),
    );
    r.register(
        "gateway_records_refused",
        "Records refused one by one inside answered calls (too large, no such partition), by \
         route and topic or stream",
        m.request_records_refused.clone(),
    );
    r.register(
        "gateway_request_bytes",
        "Request body bytes of acknowledged requests, by route",
        m.request_bytes.clone(),
    );
    r.register(
        "gateway_errors",
        "Error answers by REST Proxy error code (HTTP status on the Kinesis routes)",
        m.request_errors.clone(),
    );
    r.register(
        "gateway_request_duration_seconds",
        "Time to answer a request, by route",
        m.request_duration.clone(),
    );
    r.register(
        "gateway_connections",
        "Client connections open now",
        m.connections.clone(),
    );
    r.register(
        "gateway_connections_closed",
        "Connections the gateway closed itself, by reason",
        m.connections_closed.clone(),
    );
}

/// The sink's families.
fn register_sink(r: &mut Registry, m: &Metrics) {
    r.register(
        "sink_records",
        "Records written to raw objects, by topic",
        m.sink_records.clone(),
    );
    r.register(
        "sink_bytes",
        "Bytes written to raw objects, by topic",
        m.sink_bytes.clone(),
    );
    r.register(
        "sink_objects_written",
        "Raw objects written, by topic",
        m.sink_objects.clone(),
    );
    r.register(
        "sink_write_duration_seconds",
        "Time to write one raw object, retries included",
        m.sink_write_duration.clone(),
    );
    r.register(
        "sink_offset_commits",
        "Consumer group offset commits, by topic",
        m.sink_commits.clone(),
    );
    r.register(
        "sink_lag_records",
        "Records in a topic partition not yet written by the sink",
        m.sink_lag.clone(),
    );
}

/// The stream job's families.
fn register_stream(r: &mut Registry, m: &Metrics) {
    r.register(
        "stream_records",
        "Records read by the stream job, by stream",
        m.stream_records.clone(),
    );
    r.register(
        "stream_bytes",
        "Bytes of records read by the stream job, by stream",
        m.stream_bytes.clone(),
    );
    r.register(
        "stream_commits",
        "Micro-batches committed, by table",
        m.stream_commits.clone(),
    );
    r.register(
        "stream_rows",
        "Rows written by the stream job, by table and inserted/updated",
        m.stream_rows.clone(),
    );
    r.register(
        "stream_commit_duration_seconds",
        "Time to commit one micro-batch",
        m.stream_commit_duration.clone(),
    );
    r.register(
        "stream_lag_records",
        "Records in a stream shard not yet committed by the stream job",
        m.stream_lag.clone(),
    );
}

/// The batch job's families.
fn register_batch(r: &mut Registry, m: &Metrics) {
    r.register(
        "batch_objects_read",
        "Raw objects read by the batch job, by topic",
        m.batch_objects.clone(),
    );
    r.register(
        "batch_records",
        "Records read by the batch job, by topic",
        m.batch_records.clone(),
    );
    r.register(
        "batch_bytes",
        "Bytes of raw objects read by the batch job, by topic",
        m.batch_bytes.clone(),
    );
    r.register(
        "batch_commits",
        "Delta commits written by the batch job, by table",
        m.batch_commits.clone(),
    );
    r.register(
        "batch_rows",
        "Rows written by the batch job, by table and inserted/updated",
        m.batch_rows.clone(),
    );
    r.register(
        "batch_commit_duration_seconds",
        "Time to write and commit one table's rows",
        m.batch_commit_duration.clone(),
    );
}

/// The scheduler's families (`pinpipe schedule`).
fn register_schedule(r: &mut Registry, m: &Metrics) {
    r.register(
        "schedule_runs",
        "Scheduled batch runs by schedule and state: attempts started (a retry is one more), \
         runs succeeded, runs failed; not to be summed over states",
        m.runs.clone(),
    );
    r.register(
        "schedule_last_success_timestamp_seconds",
        "When the last run of a schedule succeeded (Unix time)",
        m.last_success.clone(),
    );
    r.register(
        "schedule_run_duration_seconds",
        "Wall time of finished runs, by schedule",
        m.run_duration.clone(),
    );
}

/// The cluster scheduler's families (`pinpipe cluster scheduler`).
fn register_cluster(r: &mut Registry, m: &Metrics) {
    r.register(
        "cluster_tasks",
        "Tasks finished on the cluster's executors, by executor and outcome (scheduler)",
        m.cluster_tasks.clone(),
    );
    r.register(
        "cluster_task_setup_seconds",
        "Time from a task's launch on an executor to the start of its work (scheduler)",
        m.cluster_task_setup.clone(),
    );
    r.register(
        "cluster_task_work_seconds",
        "Time a task worked on an executor (scheduler)",
        m.cluster_task_work.clone(),
    );
    r.register(
        "cluster_slots_recovered",
        "Task slots the scheduler had lost track of and gave back to an idle executor (scheduler)",
        m.cluster_slots_recovered.clone(),
    );
}
