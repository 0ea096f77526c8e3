//! The data model of pinpipe: what a record is, how it is cleaned, and what the cleaned tables look like.
//!
//! Every other crate speaks in these terms, so this crate has no I/O and depends only on serde and Arrow.
//!
//! ```text
//!  source DB / emulator          raw topics (JSON lines)            cleaned tables (Arrow)
//!  PinPost, GeoRecord,  ──wire──►  {"index":…, "title":…}  ──TableBuilder──►  RecordBatch with Table::schema()
//!  UserRecord (records)                                          │
//!                                                                └──rejects──►  Rejected ─► quarantine_batch()
//! ```
//!
//! - [`PinPost`], [`GeoRecord`], [`UserRecord`]: the source rows exactly as the original sends them (SPEC §1/§2).
//! - [`Table`]: the three cleaned tables, their names and Arrow schemas (SPEC §5 column order).
//! - [`TableBuilder`]: the cleaning rules of SPEC §5 applied row by row into Arrow builders. The batch and
//!   the stream path share it, so both produce the same rows from the same records.
//! - [`Rejected`], [`quarantine_schema`], [`quarantine_batch`]: records that cannot be read as their table's
//!   row, with a reason ([`CleanError`]'s text), so that a bad record never fails a run and is never lost.
//! - [`SENTINELS`], [`parse_follower_count`], [`parse_utc_micros`]: the rules as plain functions and data.

mod builder;
mod clean;
mod datetime;
mod error;
mod fields;
mod json;
mod quarantine;
mod records;
mod rules;
mod schema;
mod table;
#[cfg(test)]
mod test_support;

pub use builder::TableBuilder;
pub use datetime::parse_utc_micros;
pub use error::CleanError;
pub use quarantine::{Rejected, quarantine_batch, quarantine_schema};
pub use records::{GeoRecord, PinPost, UserRecord};
pub use rules::{SAVE_LOCATION_PREFIX, SENTINELS, is_sentinel, parse_follower_count};
pub use table::Table;
