//! The source side of pinpipe: the database that stands in for the original's RDS MySQL, the synthetic
//! rows that fill it, the importer of real exported rows, and the emulator that posts rows to the gateway.
//!
//! ```text
//!  init (synth::Generator) ──┐
//!                            ├──► SourceDb (SQLite, PostgreSQL, MySQL) ─────keys/fetch──► emulate ──HTTP──► gateway
//!  import_dir (JSON exports) ┘     pinterest_data, geolocation_data, user_data            batch: POST /topics/<prefix>.<t>
//!                                                                                         stream: PUT /streams/streaming-<prefix>-<t>/record
//! ```
//!
//! - [`SourceDb`]: the three tables of SPEC §1 behind one type; [`SourceDb::init`] fills them with
//!   [`synth`] rows deterministic in a seed, [`SourceDb::import_dir`] with real rows ([`import`]).
//! - [`emulate`]: SPEC §2, picking seeded random keys and sending each key's three rows on the batch
//!   path, the stream path or both, with rate limiting, bounded concurrency and retries.

mod datetime;
mod db;
pub mod emulator;
mod error;
pub mod import;
pub mod synth;

pub use db::{PROGRESS_EVERY, Post, RowCounts, SourceDb, redact_url};
pub use emulator::{
    EmulatorConfig, EmulatorProgress, EmulatorSummary, Paths, StreamApi, emulate, emulate_until,
};
pub use error::{Result, SourceError};
pub use import::ImportSummary;
pub use synth::{CATEGORIES, DEFAULT_ROWS};
