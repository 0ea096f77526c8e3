//! [`SourceDb`]: the source database that stands in for the original's RDS MySQL (SPEC §1).
//!
//! Callers see one type; the backend sits behind the small blocking [`Store`] trait, chosen by the URL
//! given to [`SourceDb::open`]: SQLite ([`sqlite`], the embedded default) or PostgreSQL and
//! MySQL/MariaDB ([`server`], sqlx). The tables and their SQL are written once ([`schema`]), per
//! dialect, and rows map to and from values once ([`row`]), so every backend stores and returns the
//! same [`Post`]s.

mod location;
mod row;
mod schema;
mod server;
mod sqlite;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, Postgres};

use self::location::Location;
pub use self::location::redact_url;
use self::schema::Dialect;
use self::server::ServerStore;

use crate::error::Result;
use crate::import::{self, ImportSummary};
use crate::synth::Generator;

/// [`SourceDb::init`] reports progress after every this many rows (and after the last).
pub const PROGRESS_EVERY: u64 = 10_000;

/// One post: a key's row from each of the three tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// The `pinterest_data` row.
    pub pin: PinPost,
    /// The `geolocation_data` row.
    pub geo: GeoRecord,
    /// The `user_data` row.
    pub user: UserRecord,
}

impl Post {
    /// The post's key (`index` of the pin row).
    pub fn key(&self) -> i64 {
        self.pin.index
    }
}

/// How many rows each table holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    /// Rows in `pinterest_data`.
    pub pin: u64,
    /// Rows in `geolocation_data`.
    pub geo: u64,
    /// Rows in `user_data`.
    pub user: u64,
}

/// Receives rows inside one write transaction of a [`Store`]; each write replaces a row with the same key.
pub(crate) trait RowSink {
    /// Writes a `pinterest_data` row.
    fn pin(&mut self, row: &PinPost) -> Result<()>;
    /// Writes a `geolocation_data` row.
    fn geo(&mut self, row: &GeoRecord) -> Result<()>;
    /// Writes a `user_data` row.
    fn user(&mut self, row: &UserRecord) -> Result<()>;

    /// Writes the three rows of a post.
    fn post(&mut self, post: &Post) -> Result<()> {
        self.pin(&post.pin)?;
        self.geo(&post.geo)?;
        self.user(&post.user)
    }
}

/// The rows a write transaction receives: a closure given the [`RowSink`].
pub(crate) type Fill<'a> = &'a mut dyn FnMut(&mut dyn RowSink) -> Result<()>;

/// A backend of the source database. Methods are blocking (callable from any thread, inside a tokio
/// runtime or not); each write is one transaction, rolled back when `fill` fails.
pub(crate) trait Store: Send + Sync {
    /// Drops and recreates the three tables, then writes `fill`'s rows as a bulk load.
    fn replace_all(&self, fill: Fill<'_>) -> Result<()>;
    /// Writes `fill`'s rows into the existing tables.
    fn upsert(&self, fill: Fill<'_>) -> Result<()>;
    /// The keys present in all three tables, ascending.
    fn keys(&self) -> Result<Vec<i64>>;
    /// The post with this key, if all three tables hold it.
    fn fetch(&self, key: i64) -> Result<Option<Post>>;
    /// How many rows each table holds.
    fn row_counts(&self) -> Result<RowCounts>;
}

/// The source database: three tables keyed alike (SPEC §1), filled with synthetic rows by [`init`] or
/// with real rows by [`import_dir`], and read by the emulator.
///
/// [`init`]: SourceDb::init
/// [`import_dir`]: SourceDb::import_dir
pub struct SourceDb {
    store: Arc<dyn Store>,
    url: String,
}

impl fmt::Debug for SourceDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceDb")
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

impl SourceDb {
    /// Opens the database at `url` and creates the three tables when missing:
    /// - SQLite: `sqlite://path`, `sqlite:path` or a plain file path (the file and its parent
    ///   directories are created), or `sqlite::memory:` for a private in-memory database;
    /// - PostgreSQL: `postgres://user:password@host:port/database` (or `postgresql://`);
    /// - MySQL or MariaDB: `mysql://user:password@host:port/database` (or `mariadb://`).
    ///
    /// A server database must exist; up to 4 connections are opened as needed. A server that cannot be
    /// reached within 10 s, or refuses the login, is a [`SourceError::Connect`] or
    /// [`SourceError::ConnectTimeout`] naming the URL with its password masked ([`redact_url`]).
    ///
    /// [`SourceError::Connect`]: crate::SourceError::Connect
    /// [`SourceError::ConnectTimeout`]: crate::SourceError::ConnectTimeout
    pub fn open(url: &str) -> Result<SourceDb> {
        let store: Arc<dyn Store> = match location::parse(url)? {
            Location::SqliteFile(path) => Arc::new(sqlite::SqliteStore::open_file(&path)?),
            Location::SqliteMemory => Arc::new(sqlite::SqliteStore::open_memory()?),
            Location::Postgres(url) => {
                Arc::new(ServerStore::<Postgres>::open(&url, Dialect::Postgres)?)
            }
            Location::Mysql(url) => Arc::new(ServerStore::<MySql>::open(&url, Dialect::Mysql)?),
        };
        Ok(SourceDb {
            store,
            url: url.to_owned(),
        })
    }

    /// Opens the database at `url` to read it. A SQLite file is opened read-only and must exist
    /// ([`SourceError::Missing`](crate::SourceError::Missing) otherwise): a mistyped path leaves
    /// no empty database (or folders) behind. A server database is opened as [`SourceDb::open`]
    /// opens it, its tables created when missing.
    pub fn open_existing(url: &str) -> Result<SourceDb> {
        let Location::SqliteFile(path) = location::parse(url)? else {
            return SourceDb::open(url);
        };
        if !path
            .try_exists()
            .map_err(|e| crate::SourceError::io(&path, e))?
        {
            return Err(crate::SourceError::Missing { path });
        }
        Ok(SourceDb {
            store: Arc::new(sqlite::SqliteStore::open_existing_file(&path)?),
            url: url.to_owned(),
        })
    }

    /// The URL this database was opened with, password included (see [`redact_url`] for messages).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops and recreates the three tables and fills them with `rows` synthetic posts, keys
    /// `0..rows`, deterministic in `seed` (see [`crate::synth`]). `progress` is called with the number
    /// of rows written after every [`PROGRESS_EVERY`] rows and after the last.
    pub fn init(&mut self, rows: u64, seed: u64, progress: &mut dyn FnMut(u64)) -> Result<()> {
        self.store.replace_all(&mut |sink| {
            let mut written = 0;
            for post in Generator::new(rows, seed) {
                sink.post(&post)?;
                written += 1;
                if written % PROGRESS_EVERY == 0 || written == rows {
                    progress(written);
                }
            }
            Ok(())
        })
    }

    /// Loads real rows exported from a deployment of the original (see [`crate::import`]), replacing rows
    /// with the same key. Nothing is written when any file has an error.
    pub fn import_dir(&mut self, dir: &Path) -> Result<ImportSummary> {
        let loaded = import::load_dir(dir)?;
        self.store.upsert(&mut |sink| loaded.write(sink))?;
        Ok(loaded.summary)
    }

    /// Writes `posts`, replacing rows with the same key (tests and small hand-made sources).
    pub fn insert_posts(&mut self, posts: &[Post]) -> Result<()> {
        self.store
            .upsert(&mut |sink| posts.iter().try_for_each(|post| sink.post(post)))
    }

    /// The keys present in all three tables, ascending: the posts the emulator can send.
    pub fn keys(&self) -> Result<Vec<i64>> {
        self.store.keys()
    }

    /// The post with this key, datetimes as `YYYY-MM-DD HH:MM:SS`; `None` unless all three tables hold it.
    pub fn fetch(&self, key: i64) -> Result<Option<Post>> {
        self.store.fetch(key)
    }

    /// How many rows each table holds.
    pub fn row_counts(&self) -> Result<RowCounts> {
        self.store.row_counts()
    }

    /// A shared handle on the backend, for blocking reads on other threads (the emulator's reader).
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}
