//! The SQLite backend of the source database (rusqlite, bundled SQLite).
//!
//! One connection behind a mutex, so a [`SourceDb`](crate::SourceDb) can be read from the emulator's
//! reader thread. A file database runs in WAL mode; bulk loads turn `synchronous` off for their one
//! transaction and use prepared statements.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};

use super::schema::{self, GEO_TABLE, PIN_TABLE, USER_TABLE};
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

    /// Opens a private in-memory database.
    pub(crate) fn open_memory() -> Result<SqliteStore> {
        SqliteStore::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(schema::CREATE_TABLES)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// The connection; a panic while it was held cannot leave it half-written (transactions roll back).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `fill` in `tx` with prepared upserts, then commits.
fn write_in(tx: Transaction<'_>, fill: Fill<'_>) -> Result<()> {
    {
        let mut sink = SqliteSink {
            pin: tx.prepare_cached(schema::UPSERT_PIN)?,
            geo: tx.prepare_cached(schema::UPSERT_GEO)?,
            user: tx.prepare_cached(schema::UPSERT_USER)?,
        };
        fill(&mut sink)?;
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn replace_all(&self, fill: Fill<'_>) -> Result<()> {
        let mut conn = self.conn();
        conn.execute_batch(schema::DROP_TABLES)?;
        conn.execute_batch(schema::CREATE_TABLES)?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
        let loaded = conn
            .transaction()
            .map_err(SourceError::from)
            .and_then(|tx| write_in(tx, fill));
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
        conn.execute_batch(schema::CREATE_TABLES)?;
        write_in(conn.transaction()?, fill)
    }

    fn keys(&self) -> Result<Vec<i64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(schema::SELECT_KEYS)?;
        let keys = stmt
            .query_map([], |row| row.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(keys)
    }

    fn fetch(&self, key: i64) -> Result<Option<Post>> {
        let conn = self.conn();
        let Some(pin) = read_row(&conn, schema::SELECT_PIN, PIN_TABLE, key, pin_from_row)? else {
            return Ok(None);
        };
        let Some(geo) = read_row(&conn, schema::SELECT_GEO, GEO_TABLE, key, geo_from_row)? else {
            return Ok(None);
        };
        let Some(user) = read_row(&conn, schema::SELECT_USER, USER_TABLE, key, user_from_row)?
        else {
            return Ok(None);
        };
        Ok(Some(Post { pin, geo, user }))
    }

    fn row_counts(&self) -> Result<RowCounts> {
        let conn = self.conn();
        let count = |table: &str| -> Result<u64> {
            let n: i64 =
                conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(RowCounts {
            pin: count(PIN_TABLE)?,
            geo: count(GEO_TABLE)?,
            user: count(USER_TABLE)?,
        })
    }
}

/// The row of `table` with this key, read by `sql` and `map`; a value of the wrong type is a
/// [`SourceError::BadRow`].
fn read_row<T>(
    conn: &Connection,
    sql: &str,
    table: &'static str,
    key: i64,
    map: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_row([key], map).optional().map_err(|e| match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => SourceError::BadRow {
            table,
            key,
            message: e.to_string(),
        },
        e => SourceError::Sqlite(e),
    })
}

fn pin_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PinPost> {
    Ok(PinPost {
        index: row.get(0)?,
        unique_id: row.get(1)?,
        title: row.get(2)?,
        description: row.get(3)?,
        poster_name: row.get(4)?,
        follower_count: row.get(5)?,
        tag_list: row.get(6)?,
        is_image_or_video: row.get(7)?,
        image_src: row.get(8)?,
        downloaded: row.get(9)?,
        save_location: row.get(10)?,
        category: row.get(11)?,
    })
}

fn geo_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<GeoRecord> {
    Ok(GeoRecord {
        ind: row.get(0)?,
        timestamp: row.get::<_, SqlDateTime>(1)?.0,
        latitude: row.get(2)?,
        longitude: row.get(3)?,
        country: row.get(4)?,
    })
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        ind: row.get(0)?,
        first_name: row.get(1)?,
        last_name: row.get(2)?,
        age: row.get(3)?,
        date_joined: row.get::<_, SqlDateTime>(4)?.0,
    })
}

/// A `DATETIME` column read back as `YYYY-MM-DD HH:MM:SS`: text in any accepted form, or Unix seconds
/// (how other SQLite tools sometimes store datetimes).
struct SqlDateTime(String);

impl FromSql for SqlDateTime {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = match value {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(datetime::canonical)
                .ok_or_else(|| {
                    let shown = String::from_utf8_lossy(bytes).into_owned();
                    FromSqlError::Other(format!("not a datetime: {shown:?}").into())
                })?,
            ValueRef::Integer(secs) => datetime::from_unix_seconds(secs).ok_or_else(|| {
                FromSqlError::Other(format!("datetime out of range: {secs}").into())
            })?,
            _ => return Err(FromSqlError::InvalidType),
        };
        Ok(SqlDateTime(text))
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
        self.pin.execute(params![
            p.index,
            p.unique_id,
            p.title,
            p.description,
            p.poster_name,
            p.follower_count,
            p.tag_list,
            p.is_image_or_video,
            p.image_src,
            p.downloaded,
            p.save_location,
            p.category,
        ])?;
        Ok(())
    }

    fn geo(&mut self, g: &GeoRecord) -> Result<()> {
        self.geo.execute(params![
            g.ind,
            g.timestamp,
            g.latitude,
            g.longitude,
            g.country
        ])?;
        Ok(())
    }

    fn user(&mut self, u: &UserRecord) -> Result<()> {
        self.user.execute(params![
            u.ind,
            u.first_name,
            u.last_name,
            u.age,
            u.date_joined
        ])?;
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
