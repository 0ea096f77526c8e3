//! The start of a job (the sink, the stream job, a batch run), which puts its counters at zero.
//!
//! Prometheus computes `rate()` and `increase()` from the samples it has: a series that first
//! appears at 5 looks as if it had always been 5, so an alert on `increase(…quarantined…) > 0`
//! would miss the first quarantined records of a process. Every series a job can count is
//! therefore on `/metrics` at 0 from its start.

use crate::Event;
use crate::listen::dispatch;
use crate::metrics::{self, Part, Quarantine, Stream, Table, TableOp, Topic, zero};

/// Which job started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// `pinpipe sink`: topics into raw objects.
    Sink,
    /// `pinpipe stream`: streams into the stream tables.
    Stream,
    /// A batch run: raw objects into the tables.
    Batch,
}

impl Job {
    /// The `component` label of its metrics.
    pub fn component(self) -> &'static str {
        match self {
            Job::Sink => "sink",
            Job::Stream => "stream",
            Job::Batch => "batch",
        }
    }
}

/// A job started, reading `inputs` and writing `tables`.
#[derive(Clone, Debug)]
pub struct JobStarted {
    /// The job.
    pub job: Job,
    /// The topics (sink, batch) or streams (stream job) it reads.
    pub inputs: Vec<String>,
    /// The paths in the lake of the tables it writes (`tables/pin`); none for the sink.
    pub tables: Vec<String>,
    /// The tables its records are meant for (`pin`, `geo`, `user`), by which it counts the
    /// records it quarantines; none for the sink.
    pub quarantine_tables: &'static [&'static str],
    /// The kinds of reason it quarantines records for (`invalid_json`, …).
    pub quarantine_reasons: &'static [&'static str],
}

impl JobStarted {
    /// Logs at info, shows the job's families on `/metrics` ([`metrics::runs`]) and puts every
    /// counter the job can count at zero: by input, by table (and row operation), and the
    /// quarantine's by table and reason.
    pub fn emit(self) {
        let component = self.job.component();
        tracing::info!(component, inputs = ?self.inputs, tables = ?self.tables, "job started");
        metrics::runs(match self.job {
            Job::Sink => Part::Sink,
            Job::Stream => Part::Stream,
            Job::Batch => Part::Batch,
        });
        let m = metrics::get();
        for input in &self.inputs {
            let topic = Topic {
                topic: input.clone(),
            };
            match self.job {
                Job::Sink => {
                    for family in [
                        &m.sink_records,
                        &m.sink_bytes,
                        &m.sink_objects,
                        &m.sink_commits,
                    ] {
                        zero(family, &topic);
                    }
                }
                Job::Stream => {
                    let stream = Stream {
                        stream: input.clone(),
                    };
                    zero(&m.stream_records, &stream);
                    zero(&m.stream_bytes, &stream);
                }
                Job::Batch => {
                    for family in [&m.batch_objects, &m.batch_records, &m.batch_bytes] {
                        zero(family, &topic);
                    }
                }
            }
        }
        let by_table = match self.job {
            Job::Sink => None,
            Job::Stream => Some((&m.stream_commits, &m.stream_rows)),
            Job::Batch => Some((&m.batch_commits, &m.batch_rows)),
        };
        if let Some((commits, rows)) = by_table {
            for table in &self.tables {
                zero(
                    commits,
                    &Table {
                        table: table.clone(),
                    },
                );
                for op in ["inserted", "updated"] {
                    zero(
                        rows,
                        &TableOp {
                            table: table.clone(),
                            op,
                        },
                    );
                }
            }
        }
        for table in self.quarantine_tables {
            for reason in self.quarantine_reasons {
                zero(
                    &m.quarantined,
                    &Quarantine {
                        component,
                        table,
                        reason,
                    },
                );
            }
        }
        dispatch(Event::JobStarted(self));
    }
}

#[cfg(test)]
mod tests {
    use super::{Job, JobStarted};

    #[test]
    fn a_started_job_shows_its_counters_at_zero() {
        JobStarted {
            job: Job::Sink,
            inputs: vec!["started.pin".into()],
            tables: Vec::new(),
            quarantine_tables: &[],
            quarantine_reasons: &[],
        }
        .emit();
        JobStarted {
            job: Job::Stream,
            inputs: vec!["streaming-started-pin".into()],
            tables: vec!["stream/pin".into()],
            quarantine_tables: &["geo"],
            quarantine_reasons: &["datetime"],
        }
        .emit();
        let text = crate::render();
        for series in [
            r#"pinpipe_sink_records_total{topic="started.pin"} 0"#,
            r#"pinpipe_sink_objects_written_total{topic="started.pin"} 0"#,
            r#"pinpipe_stream_records_total{stream="streaming-started-pin"} 0"#,
            r#"pinpipe_stream_commits_total{table="stream/pin"} 0"#,
            r#"pinpipe_stream_rows_total{table="stream/pin",op="updated"} 0"#,
            r#"pinpipe_quarantined_records_total{component="stream",table="geo",reason="datetime"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == series), "{series} in:\n{text}");
        }
    }
}
