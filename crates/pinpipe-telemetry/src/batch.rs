//! Events of the batch job (`pinpipe batch`, and the runs of `pinpipe schedule`).

use std::time::Duration;

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Table, TableOp, Topic};

/// A table's new raw objects were listed and are about to be read.
#[derive(Clone, Debug)]
pub struct ObjectsPlanned {
    /// The table (`pin`, `geo`, `user`).
    pub table: &'static str,
    /// Objects to read.
    pub objects: usize,
    /// Their total size.
    pub bytes: u64,
}

impl ObjectsPlanned {
    /// Logs at info.
    pub fn emit(self) {
        tracing::info!(
            table = self.table,
            objects = self.objects,
            bytes = self.bytes,
            "raw objects to read"
        );
        dispatch(Event::ObjectsPlanned(self));
    }
}

/// A raw object was read and cleaned.
#[derive(Clone, Debug)]
pub struct ObjectRead {
    /// The table (`pin`, `geo`, `user`).
    pub table: &'static str,
    /// The topic whose records it holds (`pinpipe.pin`): the metrics count by topic, as the sink's
    /// do, and by the table's path in the lake only once rows are committed.
    pub topic: String,
    /// The object's path in the lake.
    pub path: String,
    /// Records in it.
    pub records: usize,
    /// Of those, rejected.
    pub rejected: usize,
    /// Its size.
    pub bytes: u64,
}

impl ObjectRead {
    /// Logs at debug and counts `pinpipe_batch_objects_read_total`, `_records_total` and
    /// `_bytes_total`.
    pub fn emit(self) {
        tracing::debug!(
            table = self.table,
            path = %self.path,
            records = self.records,
            rejected = self.rejected,
            "raw object read"
        );
        let m = metrics::get();
        let topic = Topic {
            topic: self.topic.clone(),
        };
        m.batch_objects.get_or_create(&topic).inc();
        m.batch_records
            .get_or_create(&topic)
            .inc_by(self.records as u64);
        m.batch_bytes.get_or_create(&topic).inc_by(self.bytes);
        dispatch(Event::ObjectRead(self));
    }
}

/// An object below a topic's folder does not follow the raw layout and was not read.
#[derive(Clone, Debug)]
pub struct ObjectSkipped {
    /// The object's path in the lake.
    pub path: String,
    /// Why its name does not follow the layout.
    pub reason: String,
}

impl ObjectSkipped {
    /// Logs a warning.
    pub fn emit(self) {
        tracing::warn!(path = %self.path, reason = %self.reason, "skipping object off the raw layout");
        dispatch(Event::ObjectSkipped(self));
    }
}

/// Rows were committed to a table of the lake.
#[derive(Clone, Debug)]
pub struct TableCommitted {
    /// The table's path in the lake (`tables/pin`, `quarantine`).
    pub table: String,
    /// The Delta version written.
    pub version: u64,
    /// Rows inserted.
    pub inserted: usize,
    /// Rows replaced.
    pub updated: usize,
    /// Time to write and commit them.
    pub duration: Duration,
}

impl TableCommitted {
    /// Logs at info and counts `pinpipe_batch_commits_total`, `_rows_total` and
    /// `_commit_duration_seconds`.
    pub fn emit(self) {
        tracing::info!(
            table = %self.table,
            version = self.version,
            inserted = self.inserted,
            updated = self.updated,
            duration_ms = crate::millis(self.duration),
            "table committed"
        );
        let m = metrics::get();
        m.batch_commits
            .get_or_create(&Table {
                table: self.table.clone(),
            })
            .inc();
        for (op, rows) in [("inserted", self.inserted), ("updated", self.updated)] {
            m.batch_rows
                .get_or_create(&TableOp {
                    table: self.table.clone(),
                    op,
                })
                .inc_by(rows as u64);
        }
        m.batch_commit_duration.observe(self.duration.as_secs_f64());
        dispatch(Event::TableCommitted(self));
    }
}
