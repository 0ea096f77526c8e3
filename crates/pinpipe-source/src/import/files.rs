//! Finding export files in a directory and reading their records.
//!
//! Two layouts, both as public deployments of the original left them (see `fixtures/peer-raw/`):
//! - `pin.jsonl`, `geo.jsonl`, `user.jsonl`: one JSON object per line (blank lines are skipped);
//! - `pin_consumer.json`, `geo_consumer.json`, `user_consumer.json`: what a REST Proxy consumer returned,
//!   a JSON array of `{"topic", "key", "value", "partition", "offset"}` whose `value` is the record.
//!
//! A directory holding none of them is searched one level further down, subdirectories in name order,
//! so a folder of deployments imports in one go.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::record::Kind;
use crate::error::{Result, SourceError};

/// How deep below the given directory export files are looked for.
const MAX_DEPTH: usize = 2;

/// How a file holds its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON object per line.
    JsonLines,
    /// A JSON array of REST Proxy consumer records.
    Consumer,
}

/// An export file of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableFile {
    /// The table its records belong to.
    pub kind: Kind,
    /// Where it is.
    pub path: PathBuf,
    /// How it holds its records.
    pub format: Format,
}

/// Where a record is in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// 1-based line of a JSON lines file.
    Line(usize),
    /// 1-based element of a consumer array.
    Record(usize),
}

/// `path:line` or `path: record N`, as errors name a record.
pub(crate) fn location(path: &Path, position: Position) -> String {
    match position {
        Position::Line(n) => format!("{}:{n}", path.display()),
        Position::Record(n) => format!("{}: record {n}", path.display()),
    }
}

/// The export files under `dir`, in import order: by directory, then pin, geo, user.
pub(crate) fn find(dir: &Path) -> Result<Vec<TableFile>> {
    let mut found = Vec::new();
    collect(dir, 0, &mut found)?;
    if found.is_empty() {
        return Err(SourceError::NothingToImport(dir.to_path_buf()));
    }
    Ok(found)
}

fn collect(dir: &Path, depth: usize, found: &mut Vec<TableFile>) -> Result<()> {
    let before = found.len();
    for kind in Kind::ALL {
        for (suffix, format) in [
            (".jsonl", Format::JsonLines),
            ("_consumer.json", Format::Consumer),
        ] {
            let path = dir.join(format!("{}{suffix}", kind.name()));
            if path.is_file() {
                found.push(TableFile { kind, path, format });
            } else if path.exists() {
                return Err(import_error(path.display().to_string(), "not a file"));
            }
        }
    }
    if found.len() > before || depth >= MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))?;
    let mut subdirs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| SourceError::io(dir, e))?.path();
        if path.is_dir() {
            subdirs.push(path);
        }
    }
    subdirs.sort();
    subdirs
        .iter()
        .try_for_each(|sub| collect(sub, depth + 1, found))
}

/// Calls `each` with every record of `file` and where it is; stops at the first error.
pub(crate) fn read(
    file: &TableFile,
    each: &mut dyn FnMut(Position, Value) -> Result<()>,
) -> Result<()> {
    match file.format {
        Format::JsonLines => read_lines(&file.path, each),
        Format::Consumer => read_consumer(&file.path, each),
    }
}

fn import_error(location: String, message: impl Into<String>) -> SourceError {
    SourceError::Import {
        location,
        message: message.into(),
    }
}

fn read_lines(path: &Path, each: &mut dyn FnMut(Position, Value) -> Result<()>) -> Result<()> {
    let reader = BufReader::new(File::open(path).map_err(|e| SourceError::io(path, e))?);
    for (i, line) in reader.lines().enumerate() {
        let position = Position::Line(i + 1);
        let line = line.map_err(|e| import_error(location(path, position), e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| import_error(location(path, position), format!("invalid JSON: {e}")))?;
        each(position, value)?;
    }
    Ok(())
}

fn read_consumer(path: &Path, each: &mut dyn FnMut(Position, Value) -> Result<()>) -> Result<()> {
    let reader = BufReader::new(File::open(path).map_err(|e| SourceError::io(path, e))?);
    let records: Vec<Value> = serde_json::from_reader(reader).map_err(|e| {
        let at = format!("{}:{}:{}", path.display(), e.line(), e.column());
        import_error(at, format!("not a JSON array of consumer records: {e}"))
    })?;
    for (i, record) in records.into_iter().enumerate() {
        let position = Position::Record(i + 1);
        let value = match record {
            Value::Object(mut envelope) => envelope.remove("value").ok_or_else(|| {
                import_error(
                    location(path, position),
                    r#"no "value" in the consumer record"#,
                )
            })?,
            _ => {
                return Err(import_error(
                    location(path, position),
                    "a consumer record is not a JSON object",
                ));
            }
        };
        each(position, value)?;
    }
    Ok(())
}
