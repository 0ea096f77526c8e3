//! Importing real rows exported from deployments of the original into the source database
//! ([`SourceDb::import_dir`](crate::SourceDb::import_dir)).
//!
//! Every file is read before anything is written, so an error leaves the database as it was. Within an
//! import a key seen again replaces the earlier record (files by directory name, then pin, geo, user;
//! records in file order); in the database, a key already there is replaced too.
//!
//! A record of another table in a file (the real user topics hold pin and geo records) is skipped and
//! counted by reason. A record of the file's own table that cannot be read is an error naming the file,
//! the line and the problem: `user.jsonl:17: missing "ind"`.

mod files;
mod record;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use serde::Serialize;
use serde_json::Value;

use self::files::{Position, location};
use self::record::{Kind, Row};
use crate::db::{RowCounts, RowSink};
use crate::error::{Result, SourceError};

/// What an import read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// Records read (every line or array element that was not blank).
    pub records: u64,
    /// Distinct keys written per table.
    pub rows: RowCounts,
    /// Records replaced by a later record with the same key in the same import.
    pub duplicates: u64,
    /// Records not imported, by reason (`"pin record in user file"`).
    pub skipped: BTreeMap<String, u64>,
}

/// The rows of an import, read and checked, not yet written.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pins: BTreeMap<i64, PinPost>,
    geos: BTreeMap<i64, GeoRecord>,
    users: BTreeMap<i64, UserRecord>,
    /// What was read.
    pub(crate) summary: ImportSummary,
}

impl Loaded {
    /// Writes the rows, in key order per table.
    pub(crate) fn write(&self, sink: &mut dyn RowSink) -> Result<()> {
        self.pins.values().try_for_each(|p| sink.pin(p))?;
        self.geos.values().try_for_each(|g| sink.geo(g))?;
        self.users.values().try_for_each(|u| sink.user(u))
    }

    /// Keeps `row`, replacing an earlier row with its key.
    fn keep(&mut self, row: Row) {
        let replaced = match row {
            Row::Pin(p) => self.pins.insert(p.index, p).is_some(),
            Row::Geo(g) => self.geos.insert(g.ind, g).is_some(),
            Row::User(u) => self.users.insert(u.ind, u).is_some(),
        };
        self.summary.duplicates += u64::from(replaced);
    }

    fn skip(&mut self, reason: String) {
        *self.summary.skipped.entry(reason).or_default() += 1;
    }
}

/// Reads and checks every export file under `dir`.
pub(crate) fn load_dir(dir: &Path) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    for file in files::find(dir)? {
        files::read(&file, &mut |position, value| {
            loaded.summary.records += 1;
            accept(&mut loaded, file.kind, &file.path, position, value)
        })?;
        loaded.summary.files.push(file.path);
    }
    loaded.summary.rows = RowCounts {
        pin: loaded.pins.len() as u64,
        geo: loaded.geos.len() as u64,
        user: loaded.users.len() as u64,
    };
    Ok(loaded)
}

/// Keeps, skips or refuses one record of a `kind` file.
fn accept(
    loaded: &mut Loaded,
    kind: Kind,
    path: &Path,
    position: Position,
    value: Value,
) -> Result<()> {
    let error = |message: String| SourceError::Import {
        location: location(path, position),
        message,
    };
    let Value::Object(object) = value else {
        return Err(error(format!("not a JSON object: {value}")));
    };
    match record::detect(&object) {
        Some(other) if other != kind => {
            loaded.skip(format!("{other} record in {kind} file"));
            Ok(())
        }
        _ => {
            let row = record::parse(kind, &object).map_err(error)?;
            loaded.keep(row);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let written = std::fs::write(dir.join(name), text);
        assert!(written.is_ok(), "{written:?}");
    }

    const USER: &str = r#"{"ind": 1, "first_name": "A", "last_name": "B", "age": 20, "date_joined": "2015-10-24 11:23:51"}"#;

    #[test]
    fn later_records_win_and_foreign_ones_are_skipped() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SourceError::io("tempdir", e))?;
        let second = USER.replace("\"A\"", "\"C\"");
        let pin_in_user = r#"{"ind": null, "index": 5, "title": "x"}"#;
        write(
            dir.path(),
            "user.jsonl",
            &format!("{USER}\n\n{pin_in_user}\n{second}\n"),
        );
        let loaded = load_dir(dir.path())?;
        assert_eq!(loaded.summary.records, 3);
        assert_eq!(loaded.summary.duplicates, 1);
        assert_eq!(loaded.summary.rows.user, 1);
        assert_eq!(
            loaded.summary.skipped.get("pin record in user file"),
            Some(&1)
        );
        assert_eq!(
            loaded.users.get(&1).map(|u| u.first_name.as_str()),
            Some("C")
        );
        Ok(())
    }

    #[test]
    fn errors_name_file_and_line() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SourceError::io("tempdir", e))?;
        let broken = r#"{"first_name": "A", "last_name": "B", "age": 20, "date_joined": "2015-10-24 11:23:51"}"#;
        write(dir.path(), "user.jsonl", &format!("{USER}\n{broken}\n"));
        let err = load_dir(dir.path()).err().map(|e| e.to_string());
        let expected = format!(
            "{}:2: missing \"ind\"",
            dir.path().join("user.jsonl").display()
        );
        assert_eq!(err, Some(expected));

        write(dir.path(), "user.jsonl", "{\"ind\": 1,\n[1]\n");
        let err = load_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("user.jsonl:1: invalid JSON"), "{err}");

        write(dir.path(), "user.jsonl", "[1]\n");
        let err = load_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.ends_with("user.jsonl:1: not a JSON object: [1]"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn an_export_file_that_is_a_directory_is_an_error_not_skipped() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SourceError::io("tempdir", e))?;
        write(dir.path(), "user.jsonl", &format!("{USER}\n"));
        std::fs::create_dir(dir.path().join("pin.jsonl"))
            .map_err(|e| SourceError::io("mkdir", e))?;
        let err = load_dir(dir.path()).err().map(|e| e.to_string());
        let expected = format!("{}: not a file", dir.path().join("pin.jsonl").display());
        assert_eq!(err, Some(expected));
        Ok(())
    }

    #[test]
    fn consumer_layout() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SourceError::io("tempdir", e))?;
        let text = format!(
            r#"[{{"topic": "x.user", "key": null, "value": {USER}, "partition": 0, "offset": 0}},
               {{"topic": "x.user", "key": null, "partition": 0, "offset": 1}}]"#
        );
        write(dir.path(), "user_consumer.json", &text);
        let err = load_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.ends_with(r#"user_consumer.json: record 2: no "value" in the consumer record"#),
            "{err}"
        );
        write(dir.path(), "user_consumer.json", "[{]");
        let err = load_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("user_consumer.json:1:"), "{err}");
        Ok(())
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir();
        let err = dir
            .ok()
            .and_then(|d| load_dir(d.path()).err())
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no pin.jsonl"), "{err}");
    }
}
