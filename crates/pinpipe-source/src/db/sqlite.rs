//! The SQLite backend of the source database (rusqlite, bundled SQLite).
//!
//! One connection behind a mutex, so a [`SourceDb`](crate::SourceDb) can be read from the emulator's
//! reader thread. A file database runs in WAL mode; bulk loads turn `synchronous` off for their one
//! transaction and use prepared statements.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, OpenFlags, ToSql, Transaction, params_from_iter};

use super::row::{self, Columns, Value};
use super::schema::{Dialect, GEO, PIN, Sql, Target, USER};
use super::{Fill, Post, RowCounts, RowSink, Store};
use crate::datetime;
use crate::error::{Result, SourceError};

/// Page cache for a bulk load, in KiB (SQLite's negative `cache_size`).
const BULK_CACHE_KIB: i64 = 256 * 1024;
/// SQLite's default page cache, in KiB.
const DEFAULT_CACHE_KIB: i64 = 2000;

/// A SQLite source database.
pub(crate) struct SqliteStore {
    conn: Mutex<Connection>,
    sql: Sql,
}

impl SqliteStore {
    /// Opens (creating) the database file at `path`, its parent directories and its tables.
    pub(crate) fn open_file(path: &Path) -> Result<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| SourceError::io(parent, e))?;
        }
        let open_error = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        SqliteStore::with_connection(conn)
    }

    /// Opens the existing database file at `path` read-only: no folder, file or table is made.
    pub(crate) fn open_existing_file(path: &Path) -> Result<SqliteStore> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| SourceError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            sql: Sql::new(Dialect::Sqlite),
        })
    }

    /// Opens a private in-memory database.
    pub(crate) fn open_memory() -> Result<SqliteStore> {
        SqliteStore::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            sql: Sql::new(Dialect::Sqlite),
        };
        store.create_tables(&store.conn())?;
        Ok(store)
    }

    /// The connection; a panic while it was held cannot leave it half-written (transactions roll back).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn create_tables(&self, conn: &Connection) -> Result<()> {
        self.sql
            .create_tables
            .iter()
            .try_for_each(|sql| conn.execute_batch(sql))?;
        Ok(())
    }

    /// Runs `fill` in `tx` with prepared upserts, then commits.
    fn write_in(&self, tx: Transaction<'_>, fill: Fill<'_>) -> Result<()> {
        {
            let mut sink = SqliteSink {
                pin: tx.prepare_cached(&self.sql.upsert(&PIN, Target::Live, 1))?,
                geo: tx.prepare_cached(&self.sql.upsert(&GEO, Target::Live, 1))?,
                user: tx.prepare_cached(&self.sql.upsert(&USER, Target::Live, 1))?,
            };
            fill(&mut sink)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    /// The old tables are dropped in the transaction that fills the new ones: a load that fails
    /// or is interrupted (Ctrl-C) leaves the old rows as they were.
    fn replace_all(&self, fill: Fill<'_>) -> Result<()> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
        let loaded = conn
            .transaction()
            .map_err(SourceError::from)
            .and_then(|tx| {
                self.sql
                    .drop_tables
                    .iter()
                    .try_for_each(|sql| tx.execute_batch(sql))?;
                self.create_tables(&tx)?;
                self.write_in(tx, fill)
            });
        let restored = conn
            .pragma_update(None, "synchronous", "NORMAL")
            .and_then(|()| conn.pragma_update(None, "cache_size", -DEFAULT_CACHE_KIB));
        loaded?;
        restored?;
        // Fold the bulk load into the database file now and empty the WAL, rather than leave a WAL as
        // large as the database while this connection stays open. A no-op in memory.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn upsert(&self, fill: Fill<'_>) -> Result<()> {
        let mut conn = self.conn();
        self.create_tables(&conn)?;
        self.write_in(conn.transaction()?, fill)
    }

    fn keys(&self) -> Result<Vec<i64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&self.sql.select_keys)?;
        let keys = stmt
            .query_map([], |row| row.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(keys)
    }

    fn fetch(&self, key: i64) -> Result<Option<Post>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&self.sql.select_post)?;
        let mut rows = stmt.query([key])?;
        rows.next()?
            .map(|row| row::post_from(&SqliteRow(row), key))
            .transpose()
    }

    fn row_counts(&self) -> Result<RowCounts> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&self.sql.count_rows)?;
        let counts = stmt.query_row([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))?;
        Ok(row::counts_from(counts))
    }
}

/// A rusqlite result row read as [`Columns`].
struct SqliteRow<'r, 's>(&'r rusqlite::Row<'s>);

impl Columns for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Result<i64, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }

    fn float(&self, i: usize) -> Result<f64, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }

    fn text(&self, i: usize) -> Result<String, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }

    /// Text in any accepted form, or Unix seconds (how other SQLite tools sometimes store datetimes).
    fn datetime(&self, i: usize) -> Result<String, String> {
        match self.0.get_ref(i).map_err(|e| e.to_string())? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(datetime::canonical)
                .ok_or_else(|| {
                    let shown = String::from_utf8_lossy(bytes);
                    format!("not a datetime: {shown:?}")
                }),
            ValueRef::Integer(secs) => datetime::from_unix_seconds(secs)
                .ok_or_else(|| format!("datetime out of range: {secs}")),
            other => Err(format!("not a datetime: {:?}", other.data_type())),
        }
    }
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Int(n) => ToSqlOutput::from(*n),
            Value::Float(x) => ToSqlOutput::from(*x),
            Value::Text(s) => ToSqlOutput::from(*s),
            Value::DateTime(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// The prepared upserts of one write transaction.
struct SqliteSink<'t> {
    pin: CachedStatement<'t>,
    geo: CachedStatement<'t>,
    user: CachedStatement<'t>,
}

impl RowSink for SqliteSink<'_> {
    fn pin(&mut self, p: &PinPost) -> Result<()> {
        self.pin.execute(params_from_iter(row::pin_values(p)))?;
        Ok(())
    }

    fn geo(&mut self, g: &GeoRecord) -> Result<()> {
        self.geo.execute(params_from_iter(row::geo_values(g)?))?;
        Ok(())
    }

    fn user(&mut self, u: &UserRecord) -> Result<()> {
        self.user.execute(params_from_iter(row::user_values(u)?))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(key: i64) -> Post {
        Post {
            pin: PinPost {
                index: key,
                unique_id: "bc5ab9ee-505e-44f6-92ba-677fe4fdf3e3".into(),
                title: "〚 Уютные 〛 ✨".into(),
                description: "Cozy…\u{a0}".into(),
                poster_name: "Nicki ".into(),
                follower_count: "136k".into(),
                tag_list: "a,b".into(),
                is_image_or_video: "image".into(),
                image_src: "Image src error.".into(),
                downloaded: 0,
                save_location: "Local save in /data/art".into(),
                category: "art".into(),
            },
            geo: GeoRecord {
                ind: key,
                timestamp: "2019-09-27 19:06:43".into(),
                latitude: -71.6607,
                longitude: -149.206,
                country: "Cote d'Ivoire".into(),
            },
            user: UserRecord {
                ind: key,
                first_name: "Abigail".into(),
                last_name: "Ali".into(),
                age: 20,
                date_joined: "2015-10-24 11:23:51".into(),
            },
        }
    }

    fn upsert(store: &SqliteStore, posts: &[Post]) -> Result<()> {
        store.upsert(&mut |sink| posts.iter().try_for_each(|p| sink.post(p)))
    }

    #[test]
    fn round_trip_and_replace() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        upsert(&store, &[post(3), post(1)])?;
        assert_eq!(store.fetch(3)?, Some(post(3)));
        let mut changed = post(3);
        changed.pin.title = "second".into();
        upsert(&store, &[changed.clone()])?;
        assert_eq!(store.fetch(3)?, Some(changed));
        assert_eq!(store.keys()?, vec![1, 3]);
        assert_eq!(store.fetch(2)?, None);
        assert_eq!(
            store.row_counts()?,
            RowCounts {
                pin: 2,
                geo: 2,
                user: 2
            }
        );
        Ok(())
    }

    #[test]
    fn keys_need_all_three_tables() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        upsert(&store, &[post(1), post(2)])?;
        store
            .conn()
            .execute("DELETE FROM user_data WHERE ind = 2", [])?;
        assert_eq!(store.keys()?, vec![1]);
        assert_eq!(store.fetch(2)?, None);
        Ok(())
    }

    #[test]
    fn datetimes_read_back_canonical() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        upsert(&store, &[post(1), post(2)])?;
        let conn = store.conn();
        conn.execute(
            "UPDATE geolocation_data SET timestamp = '2019-09-27T19:06:43Z' WHERE ind = 1",
            [],
        )?;
        conn.execute(
            "UPDATE user_data SET date_joined = 1445685831 WHERE ind = 1",
            [],
        )?;
        conn.execute(
            "UPDATE geolocation_data SET timestamp = 'soon' WHERE ind = 2",
            [],
        )?;
        drop(conn);
        let got = store.fetch(1)?;
        assert_eq!(got, Some(post(1)));
        let err = store
            .fetch(2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("geolocation_data row 2"), "{err}");
        assert!(err.contains("not a datetime"), "{err}");
        Ok(())
    }

    #[test]
    fn replace_all_drops_old_rows() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        upsert(&store, &[post(7)])?;
        store.replace_all(&mut |sink| sink.post(&post(1)))?;
        assert_eq!(store.keys()?, vec![1]);
        Ok(())
    }

    #[test]
    fn a_failed_replacement_keeps_the_old_rows() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        upsert(&store, &[post(7)])?;
        let result = store.replace_all(&mut |sink| {
            sink.post(&post(1))?;
            Err(SourceError::EmptySource)
        });
        assert!(result.is_err());
        assert_eq!(store.keys()?, vec![7]);
        Ok(())
    }

    #[test]
    fn a_failed_fill_writes_nothing() -> Result<()> {
        let store = SqliteStore::open_memory()?;
        let result = store.upsert(&mut |sink| {
            sink.post(&post(1))?;
            Err(SourceError::EmptySource)
        });
        assert!(result.is_err());
        assert_eq!(store.row_counts()?, RowCounts::default());
        Ok(())
    }
}
