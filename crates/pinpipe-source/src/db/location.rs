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
    /// A PostgreSQL database: the `postgres://` or `postgresql://` URL, for sqlx.
    Postgres(String),
    /// A MySQL or MariaDB database: the `mysql://` or `mariadb://` URL, for sqlx.
    Mysql(String),
}

/// Parses `sqlite://path`, `sqlite:path`, `sqlite::memory:`, `:memory:`, a plain file path, or a
/// `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL (schemes in any case).
///
/// `sqlite:///abs/path` is the absolute path `/abs/path`; `sqlite://rel/path` is relative. A query string
/// after a `sqlite:` URL (`?mode=rwc`, as sqlx writes them) is ignored. Server URLs are checked when
/// connecting.
pub(crate) fn parse(url: &str) -> Result<Location> {
    let unsupported = |reason: String| SourceError::UnsupportedUrl {
        url: redact_url(url),
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
        return match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Location::Postgres(url.to_owned())),
            "mysql" | "mariadb" => Ok(Location::Mysql(url.to_owned())),
            other => Err(unsupported(format!(
                "unknown scheme {other:?}; use a file path or a sqlite://, postgres:// or mysql:// URL"
            ))),
        };
    }
    Ok(Location::SqliteFile(PathBuf::from(url)))
}

/// What stands in messages for a password.
const MASK: &str = "***";

/// `url` with its password masked, for messages and logs: the password of `user:password@host`
/// and a `password=` query parameter become `***`. Anything but a password is kept as given.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = rest
        .split_once('?')
        .map_or((rest, None), |(b, q)| (b, Some(q)));
    let mut out = format!("{scheme}://");
    match before_query.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => out.push_str(&format!("{user}:{MASK}")),
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
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
    fn server_urls() {
        let pg = "postgres://u:pw@localhost:5432/db";
        assert_eq!(parse(pg).ok(), Some(Location::Postgres(pg.into())));
        let pg = "PostgreSQL://localhost/db";
        assert_eq!(parse(pg).ok(), Some(Location::Postgres(pg.into())));
        let my = "mysql://root@127.0.0.1:3306/pinterest";
        assert_eq!(parse(my).ok(), Some(Location::Mysql(my.into())));
        let my = "mariadb://root@127.0.0.1/pinterest";
        assert_eq!(parse(my).ok(), Some(Location::Mysql(my.into())));
    }

    #[test]
    fn other_urls_are_refused_with_a_reason() {
        let err = parse("ftp://user:hunter2@x/y").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                r#"unsupported source database URL "ftp://user:***@x/y": unknown scheme "ftp"; use a file path or a sqlite://, postgres:// or mysql:// URL"#
            )
        );
        assert!(parse("").is_err());
        assert!(parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_masked() {
        let r = redact_url;
        assert_eq!(
            r("postgres://app:s3cret@db:5432/pins"),
            "postgres://app:***@db:5432/pins"
        );
        assert_eq!(
            r("mysql://app:p@ss@db/pins?ssl-mode=required"),
            "mysql://app:***@db/pins?ssl-mode=required"
        );
        assert_eq!(
            r("postgres://db/pins?user=app&password=s3cret&sslmode=disable"),
            "postgres://db/pins?user=app&password=***&sslmode=disable"
        );
        assert_eq!(
            r("mysql://root@127.0.0.1:3306/x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(r("./source.db"), "./source.db");
    }
}
