//! The lake of pinpipe: object storage, the batch job, the Delta tables, the nine analyses and the report.
//!
//! ```text
//!                 Lake::open("./pinpipe-data/lake" | "file://…" | "s3://bucket/prefix")
//!                   │ one root URL + storage options → object store and Delta table URIs
//!                   ▼
//!  raw/topics/<prefix>.<table>/partition=<p>/<topic>+<p>+<offset>.json      (written by the sink)
//!                   │ raw: list, order by (partition, offset), read, clean (pinpipe-model)
//!                   ▼
//!  batch ──rows, last copy per ind──► MERGE ─► tables/pin, tables/geo, tables/user   (Delta)
//!        ──rejects─────────────────► MERGE ─► quarantine                            (Delta)
//!        ──objects done────────────► _pinpipe/batch/tables/manifest.json
//!                   │
//!                   ▼
//!  analyses (DataFusion SQL) ─► results/*.csv ─► report ─► results/report.html
//!  query (ad-hoc SQL over every table)
//!
//!  streams streaming-<prefix>-pin|geo|user (pinpipe-bus)
//!                   │ stream: micro-batches every trigger, cleaned by the same TableBuilder
//!                   ▼
//!  rows + shard positions (Delta txn) ─► one commit ─► stream/pin, stream/geo, stream/user
//!  rejects ───────────────────────────► quarantine
//!
//!  upkeep: optimize (compact small files), vacuum (delete unreferenced files after a retention)
//! ```
//!
//! - [`Lake`] ([`location`]): where the lake is, a local directory or S3; the one place object
//!   store access and table URIs come from, and where S3 settings and safe concurrent Delta commits
//!   (conditional put) are explained.
//! - [`raw`]: the raw layout of SPEC §4, and reading an object into cleaned rows and rejects.
//! - [`run_batch`] ([`batch`]): raw → cleaned Delta tables and quarantine, incremental and idempotent;
//!   [`manifest`] remembers what it has read, [`delta`] does the idempotent writes.
//! - [`run_analyses`] ([`analyses`]): the nine analyses of SPEC §6, written as CSV ([`csv`]).
//! - [`query`](query::query): ad-hoc SQL over every table of the lake.
//! - [`write_report`] ([`report`]): one self-contained HTML page with charts and tables.
//! - [`run_stream`] ([`stream`]): the streams → `stream/*` and quarantine, exactly once, with
//!   [`stream_lag`] for how far behind it is.
//! - [`upkeep`]: compacting and vacuuming the tables, safe beside a running stream job;
//!   [`unfinished`]: the files of uploads a killed process left on a local lake.
//! - [`LakeError`] ([`error`]): one error type, by what a caller can do about it.
//!
//! Every query and merge runs in one DataFusion session shape ([`session`]): two partitions and a
//! spilling memory pool, so millions of rows fit a small machine.

pub mod analyses;
pub mod batch;
pub mod chunks;
pub mod csv;
pub mod delta;
mod durable;
pub mod error;
pub mod location;
pub mod manifest;
pub mod query;
pub mod raw;
pub mod report;
pub mod session;
pub mod sink;
pub mod stream;
pub mod unfinished;
pub mod upkeep;

pub use analyses::{AnalysisResult, RESULTS_DIR, run_analyses, text_rows};
pub use batch::{BatchOptions, BatchReport, TableReport, run_batch};
pub use delta::Commit;
pub use error::{LakeError, Result};
pub use location::{DEFAULT_LOCATION, Lake};
pub use query::{BATCH_TABLES_DIR, STREAM_TABLES_DIR, lake_session, query, query_stream};
pub use report::{LakeSummary, QuarantineCount, REPORT_PATH, lake_summary, write_report};
pub use stream::{ShardLag, StreamOptions, StreamReport, run_stream, stream_lag};
