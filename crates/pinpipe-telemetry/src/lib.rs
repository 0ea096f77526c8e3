//! Telemetry of pinpipe: every event a user may need is one struct whose single `emit()` both
//! writes the log line (through `tracing`, with the same field names everywhere) and updates the
//! Prometheus metrics of the process, as Vector's `internal_events` do. Logs and numbers cannot
//! drift apart, because nothing else writes either.
//!
//! ```text
//!  component ── ObjectWritten { .. }.emit() ──┬─► tracing::info!(topic, partition, records, …)
//!                                             ├─► pinpipe_sink_records_total += records, …
//!                                             └─► listeners (progress bars, the web UI)
//! ```
//!
//! - One module per component ([`gateway`], [`sink`], [`stream`], [`batch`], [`cluster`],
//!   [`schedule`], [`lake`]) holds its events; [`started`] the one that starts every job and
//!   puts its counters at zero; [`Event`] wraps them all for listeners.
//! - [`metrics`] holds every metric family of the process; [`render`] writes those of the parts
//!   the process runs in Prometheus's text format and [`serve_metrics`] serves them on `/metrics` for the processes
//!   that have no HTTP server of their own.
//! - [`retry`] is the one backoff policy every component retries with.
//! - [`listen`] lets a consumer (the CLI's progress bars) see every event without a callback of
//!   its own in the components.

pub mod batch;
pub mod cluster;
pub mod gateway;
pub mod lake;
mod listen;
pub mod metrics;
pub mod retry;
pub mod schedule;
mod serve;
pub mod sink;
pub mod started;
pub mod stream;

pub use listen::{Listener, listen};
pub use metrics::{GatewayTotals, gateway_totals, render};
pub use serve::{metrics_router, serve_metrics};

/// Every event, for [`listen`]ers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// See [`gateway::GatewayStarted`].
    GatewayStarted(gateway::GatewayStarted),
    /// See [`gateway::RequestServed`].
    RequestServed(gateway::RequestServed),
    /// See [`gateway::ConnectionClosed`].
    ConnectionClosed(gateway::ConnectionClosed),
    /// See [`BackendUnavailable`].
    BackendUnavailable(BackendUnavailable),
    /// See [`retry::Retrying`].
    Retrying(retry::Retrying),
    /// See [`sink::ObjectWritten`].
    ObjectWritten(sink::ObjectWritten),
    /// See [`sink::OffsetsCommitted`].
    OffsetsCommitted(sink::OffsetsCommitted),
    /// See [`sink::PartitionLag`].
    PartitionLag(sink::PartitionLag),
    /// See [`stream::MicroBatchCommitted`].
    MicroBatchCommitted(stream::MicroBatchCommitted),
    /// See [`stream::ShardLag`].
    ShardLag(stream::ShardLag),
    /// See [`RecordsQuarantined`].
    RecordsQuarantined(RecordsQuarantined),
    /// See [`batch::ObjectsPlanned`].
    ObjectsPlanned(batch::ObjectsPlanned),
    /// See [`batch::ObjectRead`].
    ObjectRead(batch::ObjectRead),
    /// See [`batch::ObjectSkipped`].
    ObjectSkipped(batch::ObjectSkipped),
    /// See [`batch::TableCommitted`].
    TableCommitted(batch::TableCommitted),
    /// See [`cluster::TaskFinished`].
    TaskFinished(cluster::TaskFinished),
    /// See [`cluster::JobProgress`].
    JobProgress(cluster::JobProgress),
    /// See [`cluster::SlotsRecovered`].
    SlotsRecovered(cluster::SlotsRecovered),
    /// See [`cluster::TaskOutputDropped`].
    TaskOutputDropped(cluster::TaskOutputDropped),
    /// See [`schedule::SchedulerStarted`].
    SchedulerStarted(schedule::SchedulerStarted),
    /// See [`schedule::WaitingForLock`].
    WaitingForLock(schedule::WaitingForLock),
    /// See [`schedule::RunStarted`].
    RunStarted(schedule::RunStarted),
    /// See [`schedule::RunRetrying`].
    RunRetrying(schedule::RunRetrying),
    /// See [`schedule::RunFinished`].
    RunFinished(schedule::RunFinished),
    /// See [`schedule::RunFailed`].
    RunFailed(schedule::RunFailed),
    /// See [`schedule::RunAbandoned`].
    RunAbandoned(schedule::RunAbandoned),
    /// See [`schedule::RunSkipped`].
    RunSkipped(schedule::RunSkipped),
    /// See [`schedule::IntervalNotEnded`].
    IntervalNotEnded(schedule::IntervalNotEnded),
    /// See [`schedule::Sleeping`].
    Sleeping(schedule::Sleeping),
    /// See [`lake::FilesCompacted`].
    FilesCompacted(lake::FilesCompacted),
    /// See [`lake::FilesVacuumed`].
    FilesVacuumed(lake::FilesVacuumed),
    /// See [`lake::UnfinishedUploadsDeleted`].
    UnfinishedUploadsDeleted(lake::UnfinishedUploadsDeleted),
    /// See [`started::JobStarted`].
    JobStarted(started::JobStarted),
}

/// A backend (the bus, Kafka, Kinesis, the lake's object store) did not answer or refused for a
/// reason that may pass; the caller answered 503 or will try again.
#[derive(Clone, Debug)]
pub struct BackendUnavailable {
    /// Which component saw it: `gateway`, `sink`, `stream`, `batch`.
    pub component: &'static str,
    /// Which backend: `bus`, `kafka`, `kinesis`, `lake`.
    pub backend: &'static str,
    /// The error, with its causes.
    pub error: String,
}

impl BackendUnavailable {
    /// Logs a warning and counts `pinpipe_backend_errors_total{component, backend}`.
    pub fn emit(self) {
        tracing::warn!(
            component = self.component,
            backend = self.backend,
            error = %self.error,
            "backend unavailable"
        );
        metrics::get()
            .backend_errors
            .get_or_create(&metrics::ComponentBackend {
                component: self.component,
                backend: self.backend,
            })
            .inc();
        listen::dispatch(Event::BackendUnavailable(self));
    }
}

/// Records that could not be read as their table's rows went to the quarantine.
#[derive(Clone, Debug)]
pub struct RecordsQuarantined {
    /// Which job: `batch` or `stream`.
    pub component: &'static str,
    /// The table the records were meant for (`pin`, `geo`, `user`).
    pub table: &'static str,
    /// The kind of reason (`invalid_json`, `missing_key`, …).
    pub reason: &'static str,
    /// How many.
    pub records: u64,
}

impl RecordsQuarantined {
    /// Logs at info and counts `pinpipe_quarantined_records_total{component, table, reason}`.
    pub fn emit(self) {
        tracing::info!(
            component = self.component,
            table = self.table,
            reason = self.reason,
            records = self.records,
            "records quarantined"
        );
        metrics::get()
            .quarantined
            .get_or_create(&metrics::Quarantine {
                component: self.component,
                table: self.table,
                reason: self.reason,
            })
            .inc_by(self.records);
        listen::dispatch(Event::RecordsQuarantined(self));
    }
}

/// A duration as logged: milliseconds, to the microsecond (`0.027`, not `0.026732000000000002`).
pub(crate) fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_milliseconds_stop_at_the_microsecond() {
        let logged = super::millis(std::time::Duration::from_nanos(26_732_481));
        assert_eq!(logged.to_string(), "26.732");
    }
}
