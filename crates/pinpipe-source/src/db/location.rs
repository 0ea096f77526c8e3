//! Where a source database lives: the `url` of [`SourceDb::open`](crate::SourceDb::open) parsed into a
//! [`Location`] of one backend.

use std::path::PathBuf;

use crate::error::{Result, SourceError};

/// A parsed source database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A SQLite database file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`sqlite::memory:` or `:memory:`), gone when closed.
    SqliteMemory,
}

/// Schemes of backends planned but not built yet (sqlx), so their URLs get a clear message.
const PLANNED: &[&str] = &["postgres", "postgresql", "mysql", "mariadb"];

/// Parses `sqlite://path`, `sqlite:path`, `sqlite::memory:`, `:memory:` or a plain file path.
///
/// `sqlite:///abs/path` is the absolute path `/abs/path`; `sqlite://rel/path` is relative. A query string
/// after a `sqlite:` URL (`?mode=rwc`, as sqlx writes them) is ignored.
pub(crate) fn parse(url: &str) -> Result<Location> {
    let unsupported = |reason: String| SourceError::UnsupportedUrl {
        url: url.to_owned(),
        reason,
    };
    if url.is_empty() {
        return Err(unsupported("the URL is empty".into()));
    }
    if url == ":memory:" {
        return Ok(Location::SqliteMemory);
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.split_once('?').map_or(rest, |(path, _query)| path);
        let path = rest.strip_prefix("//").unwrap_or(rest);
        return match path {
            ":memory:" => Ok(Location::SqliteMemory),
            "" => Err(unsupported("the sqlite URL names no file".into())),
            _ => Ok(Location::SqliteFile(PathBuf::from(path))),
        };
    }
    if let Some((scheme, _)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let reason = if PLANNED.contains(&scheme.as_str()) {
            format!("{scheme} is planned but not built yet; use a sqlite:// URL or a file path")
        } else {
            format!("unknown scheme {scheme:?}; use a sqlite:// URL or a file path")
        };
        return Err(unsupported(reason));
    }
    Ok(Location::SqliteFile(PathBuf::from(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str) -> Location {
        Location::SqliteFile(PathBuf::from(p))
    }

    #[test]
    fn sqlite_urls_and_paths() {
        assert_eq!(parse("sqlite:///tmp/a.db").ok(), Some(file("/tmp/a.db")));
        assert_eq!(parse("sqlite://data/a.db").ok(), Some(file("data/a.db")));
        assert_eq!(parse("sqlite:data/a.db").ok(), Some(file("data/a.db")));
        assert_eq!(parse("sqlite:a.db?mode=rwc").ok(), Some(file("a.db")));
        assert_eq!(
            parse("./pinpipe-data/source.db").ok(),
            Some(file("./pinpipe-data/source.db"))
        );
        assert_eq!(parse("sqlite::memory:").ok(), Some(Location::SqliteMemory));
        assert_eq!(parse(":memory:").ok(), Some(Location::SqliteMemory));
    }

    #[test]
    fn other_backends_are_refused_with_a_reason() {
        let err = parse("postgres://u@localhost/db")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("postgres is planned")));
        let err = parse("ftp://x/y").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("unknown scheme")));
        assert!(parse("").is_err());
        assert!(parse("sqlite://").is_err());
    }
}
