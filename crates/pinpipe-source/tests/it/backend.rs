//! The backends the conformance suite runs on, each test on a fresh database of its own, and the
//! [`conformance!`] macro that runs one test body on every backend (as object_store's integration
//! suite does).
//!
//! SQLite uses a file in a temporary directory. PostgreSQL and MySQL use the servers at
//! `pinpipe_testkit::Server::{Postgres, Mysql}.address()` (an admin URL): each test creates a database
//! named `src_<random>` there and drops it at the end.

use pinpipe_source::{SourceDb, SourceError};
use pinpipe_testkit::Server;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection};

/// A backend of the source database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// A fresh database on one backend; dropping it drops the database.
pub struct TestDb {
    /// The database, opened.
    pub db: SourceDb,
    /// Its URL, to open it again.
    pub url: String,
    /// Dropped after `db`, which closes its connections first.
    _cleanup: Cleanup,
}

enum Cleanup {
    /// The SQLite file's directory, removed when dropped.
    Dir { _dir: tempfile::TempDir },
    Database {
        backend: Backend,
        admin: String,
        name: String,
    },
}

impl Backend {
    /// A fresh, empty database; `None` when server tests are skipped (`PINPIPE_SKIP_SERVER_TESTS=1`).
    pub fn open(self) -> Result<Option<TestDb>, SourceError> {
        let server = match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
                let url = format!("sqlite://{}", dir.path().join("nested/source.db").display());
                return Ok(Some(TestDb {
                    db: SourceDb::open(&url)?,
                    url,
                    _cleanup: Cleanup::Dir { _dir: dir },
                }));
            }
            Backend::Postgres => Server::Postgres,
            Backend::Mysql => Server::Mysql,
        };
        let Some(admin) = server.address() else {
            return Ok(None);
        };
        let name = pinpipe_testkit::unique_name("src").replace('-', "_");
        admin_sql(self, &admin, format!("CREATE DATABASE {name}"))?;
        let cleanup = Cleanup::Database {
            backend: self,
            admin: admin.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin, &name);
        let db = SourceDb::open(&url)?;
        Ok(Some(TestDb {
            db,
            url,
            _cleanup: cleanup,
        }))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Database {
            backend,
            admin,
            name,
        } = self
        {
            let drop = match backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            if let Err(e) = admin_sql(*backend, admin, drop) {
                eprintln!("could not drop the test database {name}: {e}");
            }
        }
    }
}

/// Runs `body` on a fresh database of `backend`; passes when the backend's server tests are skipped.
pub fn run(
    backend: Backend,
    body: fn(&mut TestDb) -> Result<(), SourceError>,
) -> Result<(), SourceError> {
    match backend.open()? {
        Some(mut db) => body(&mut db),
        None => Ok(()),
    }
}

/// Runs each test body (`fn name(db) { … }`, `db: &mut TestDb`) on SQLite, PostgreSQL and MySQL: a
/// module per body with a test per backend (`name::sqlite`, `name::postgres`, `name::mysql`).
macro_rules! conformance {
    ($($(#[doc = $doc:literal])* fn $name:ident($db:ident) $body:block)*) => {$(
        $(#[doc = $doc])*
        mod $name {
            use super::*;
            use crate::backend::{Backend, TestDb, run};

            fn body($db: &mut TestDb) -> Result<(), SourceError> $body

            #[test]
            fn sqlite() -> Result<(), SourceError> {
                run(Backend::Sqlite, body)
            }

            #[test]
            fn postgres() -> Result<(), SourceError> {
                run(Backend::Postgres, body)
            }

            #[test]
            fn mysql() -> Result<(), SourceError> {
                run(Backend::Mysql, body)
            }
        }
    )*};
}
pub(crate) use conformance;

/// `admin` (a server URL) naming database `name` instead of its own.
pub fn with_database(admin: &str, name: &str) -> String {
    let (scheme, rest) = admin.split_once("://").unwrap_or(("", admin));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{scheme}://{authority}/{name}{query}")
}

/// Runs one statement on the server at `admin`, on a thread and runtime of its own (the caller may
/// be inside a runtime).
fn admin_sql(backend: Backend, admin: &str, sql: String) -> Result<(), SourceError> {
    let shown = pinpipe_source::redact_url(admin);
    let admin = admin.to_owned();
    let work = move || -> Result<(), sqlx::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let sql = sqlx::raw_sql(AssertSqlSafe(sql));
            match backend {
                Backend::Postgres => {
                    let mut conn = PgConnection::connect(&admin).await?;
                    sql.execute(&mut conn).await?;
                    conn.close().await
                }
                _ => {
                    let mut conn = MySqlConnection::connect(&admin).await?;
                    sql.execute(&mut conn).await?;
                    conn.close().await
                }
            }
        })
    };
    std::thread::spawn(work)
        .join()
        .map_err(|_| SourceError::Config(format!("admin statement on {shown} panicked")))?
        .map_err(|source| SourceError::Server { url: shown, source })
}

/// Maps an I/O error of the test harness.
pub fn io_error(what: &str, e: std::io::Error) -> SourceError {
    SourceError::Io {
        path: what.into(),
        source: e,
    }
}
