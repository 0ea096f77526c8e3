//! The PostgreSQL and MySQL/MariaDB backends of the source database (sqlx): one [`ServerStore`]
//! generic over the sqlx driver ([`Server`]: what the store needs of a driver, which both have); all
//! that differs between the two is SQL text, written per [`Dialect`].
//!
//! ```text
//!  caller (any thread)            Worker thread: current-thread tokio runtime
//!  Store::fetch ──job──────────►  pool (≤ 4 connections) ──► server
//!       ◄────────── std channel ─┘
//!  Store::upsert ─► Loader ─steps─► load::session (one transaction)
//! ```
//!
//! [`Store`] is blocking and sqlx is async: each store owns a [`Worker`], a thread of its
//! own running a small tokio runtime that owns the connections. Callers may be plain threads,
//! `spawn_blocking` threads or async tasks: none of them ever enters a runtime.

mod load;
mod worker;

use std::future::Future;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::pool::PoolOptions;
use sqlx::{
    Arguments, AssertSqlSafe, ColumnIndex, ConnectOptions, Connection, Database, Decode, Encode,
    Executor, IntoArguments, Pool, Row, Type,
};
use tokio::sync::mpsc;

use self::load::Loader;
use self::worker::Worker;
use super::row::{self, Columns, Value};
use super::schema::{Dialect, Sql, Target};
use super::{Fill, Post, RowCounts, Store};
use crate::datetime;
use crate::db::location::redact_url;
use crate::error::{Result, SourceError};

/// The most connections a store opens.
const MAX_CONNECTIONS: u32 = 4;
/// How long connecting may take, and waiting for a free connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the store needs of a sqlx driver; PostgreSQL and MySQL have it all.
pub(crate) trait Server: Database {
    /// Runs `sql` with `args` on `conn`.
    fn execute(
        conn: &mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// The rows of `sql` with `args` on `conn`.
    fn fetch_all(
        conn: &mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send;

    /// Adds `value` to `args`.
    fn bind(args: &mut Self::Arguments, value: &Value<'_>) -> Result<(), BoxDynError>;

    /// Column `i` of `row` as an integer.
    fn int(row: &Self::Row, i: usize) -> sqlx::Result<i64>;
    /// Column `i` of `row` as a double.
    fn float(row: &Self::Row, i: usize) -> sqlx::Result<f64>;
    /// Column `i` of `row` as text.
    fn text(row: &Self::Row, i: usize) -> sqlx::Result<String>;
}

impl<DB> Server for DB
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn execute(
        conn: &mut DB::Connection,
        sql: String,
        args: DB::Arguments,
    ) -> sqlx::Result<()> {
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn fetch_all(
        conn: &mut DB::Connection,
        sql: String,
        args: DB::Arguments,
    ) -> sqlx::Result<Vec<DB::Row>> {
        sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(conn)
            .await
    }

    fn bind(args: &mut DB::Arguments, value: &Value<'_>) -> Result<(), BoxDynError> {
        match value {
            Value::Int(n) => args.add(*n),
            Value::Float(x) => args.add(*x),
            Value::Text(s) => args.add(*s),
            Value::DateTime(s) => args.add(s.as_str()),
        }
    }

    fn int(row: &DB::Row, i: usize) -> sqlx::Result<i64> {
        row.try_get(i)
    }

    fn float(row: &DB::Row, i: usize) -> sqlx::Result<f64> {
        row.try_get(i)
    }

    fn text(row: &DB::Row, i: usize) -> sqlx::Result<String> {
        row.try_get(i)
    }
}

/// A source database on a PostgreSQL or MySQL/MariaDB server.
pub(crate) struct ServerStore<DB: Server> {
    pool: Pool<DB>,
    sql: Sql,
    /// The URL, its password masked, for errors.
    url: String,
    worker: Worker,
}

impl<DB: Server> ServerStore<DB> {
    /// Connects to the database at `url` (within [`CONNECT_TIMEOUT`]) and creates the three tables
    /// when missing, in `dialect`.
    pub(crate) fn open(url: &str, dialect: Dialect) -> Result<Self> {
        let shown = redact_url(url);
        let options: <DB::Connection as Connection>::Options =
            url.parse().map_err(|source| SourceError::Connect {
                url: shown.clone(),
                source,
            })?;
        let sql = Sql::new(dialect);
        let worker = Worker::start(DB::NAME)?;
        let create_tables = sql.create_tables.clone();
        let url = shown.clone();
        let pool = worker.run(async move {
            let connect_error = |source| SourceError::Connect {
                url: url.clone(),
                source,
            };
            let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
                .await
                .map_err(|_| SourceError::ConnectTimeout {
                    url: url.clone(),
                    seconds: CONNECT_TIMEOUT.as_secs(),
                })?
                .map_err(connect_error)?;
            for statement in create_tables {
                DB::execute(&mut conn, statement, DB::Arguments::default())
                    .await
                    .map_err(|source| SourceError::Server {
                        url: url.clone(),
                        source,
                    })?;
            }
            conn.close().await.map_err(connect_error)?;
            Ok::<_, SourceError>(
                PoolOptions::<DB>::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options),
            )
        })??;
        Ok(ServerStore {
            pool,
            sql,
            url: shown,
            worker,
        })
    }

    fn error(&self, source: sqlx::Error) -> SourceError {
        SourceError::Server {
            url: self.url.clone(),
            source,
        }
    }

    /// The rows of `sql` with `args`, on a pooled connection.
    fn query(&self, sql: &str, args: DB::Arguments) -> Result<Vec<DB::Row>> {
        let pool = self.pool.clone();
        let sql = sql.to_owned();
        self.worker
            .run(async move {
                let mut conn = pool.acquire().await?;
                DB::fetch_all(&mut conn, sql, args).await
            })?
            .map_err(|e| self.error(e))
    }

    /// Runs each statement, on one pooled connection.
    fn execute_each(&self, statements: &[String]) -> Result<()> {
        let pool = self.pool.clone();
        let statements = statements.to_vec();
        self.worker
            .run(async move {
                let mut conn = pool.acquire().await?;
                for statement in statements {
                    DB::execute(&mut conn, statement, DB::Arguments::default()).await?;
                }
                Ok(())
            })?
            .map_err(|e| self.error(e))
    }

    /// Writes `fill`'s rows into `target` in one transaction ([`load`]), then runs `finally` in
    /// the same transaction before it commits.
    fn load(&self, target: Target, fill: Fill<'_>, finally: &[String]) -> Result<()> {
        let (steps, queue) = mpsc::unbounded_channel();
        self.worker.spawn(load::session(self.pool.clone(), queue))?;
        let mut loader = Loader::<DB>::new(&self.sql, target, &self.url, steps);
        match fill(&mut loader) {
            Ok(()) => loader.commit(finally),
            Err(e) => {
                loader.rollback();
                Err(e)
            }
        }
    }
}

impl<DB: Server> Store for ServerStore<DB> {
    /// The rows are loaded into staging tables, which replace the tables only once they are full
    /// ([`Sql::swap_staged`]): a load that fails or is interrupted (Ctrl-C) leaves the old rows as
    /// they were, and the staging tables for the next replacement to drop.
    fn replace_all(&self, fill: Fill<'_>) -> Result<()> {
        self.execute_each(&self.sql.stage_tables)?;
        self.load(Target::Staged, fill, &self.sql.swap_staged)
    }

    fn upsert(&self, fill: Fill<'_>) -> Result<()> {
        self.execute_each(&self.sql.create_tables)?;
        self.load(Target::Live, fill, &[])
    }

    fn keys(&self) -> Result<Vec<i64>> {
        let rows = self.query(&self.sql.select_keys, DB::Arguments::default())?;
        rows.iter()
            .map(|row| DB::int(row, 0))
            .collect::<sqlx::Result<Vec<i64>>>()
            .map_err(|e| self.error(e))
    }

    fn fetch(&self, key: i64) -> Result<Option<Post>> {
        let mut args = DB::Arguments::default();
        DB::bind(&mut args, &Value::Int(key)).map_err(|e| self.error(sqlx::Error::Encode(e)))?;
        let rows = self.query(&self.sql.select_post, args)?;
        rows.first()
            .map(|row| row::post_from(&ServerRow::<DB>(row), key))
            .transpose()
    }

    fn row_counts(&self) -> Result<RowCounts> {
        let rows = self.query(&self.sql.count_rows, DB::Arguments::default())?;
        let Some(row) = rows.first() else {
            return Ok(RowCounts::default());
        };
        let count = |i| DB::int(row, i).map_err(|e| self.error(e));
        Ok(row::counts_from([count(0)?, count(1)?, count(2)?]))
    }
}

impl<DB: Server> Drop for ServerStore<DB> {
    /// Closes the connections on the runtime that owns them; the worker then stops.
    fn drop(&mut self) {
        let pool = self.pool.clone();
        let _ = self.worker.run(async move { pool.close().await });
    }
}

/// A sqlx result row read as [`Columns`].
struct ServerRow<'r, DB: Database>(&'r DB::Row);

impl<DB: Server> Columns for ServerRow<'_, DB> {
    fn int(&self, i: usize) -> Result<i64, String> {
        DB::int(self.0, i).map_err(|e| e.to_string())
    }

    fn float(&self, i: usize) -> Result<f64, String> {
        DB::float(self.0, i).map_err(|e| e.to_string())
    }

    fn text(&self, i: usize) -> Result<String, String> {
        DB::text(self.0, i).map_err(|e| e.to_string())
    }

    /// The dialect's SQL formats datetimes as text already; this checks it did.
    fn datetime(&self, i: usize) -> Result<String, String> {
        let text = self.text(i)?;
        datetime::canonical(&text).ok_or_else(|| format!("not a datetime: {text:?}"))
    }
}
