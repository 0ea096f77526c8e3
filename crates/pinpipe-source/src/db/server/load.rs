//! Writes to a server in one transaction: rows gathered on the caller's thread into multi-row upserts
//! of up to [`BATCH_ROWS`] rows, run in order by a [`session`] task on the worker.
//!
//! ```text
//!  caller thread (fill)                                  worker
//!  RowSink ─► Batch per table ─► Step::Run(sql, args) ─► session: BEGIN, execute…, COMMIT/ROLLBACK
//!                 ◄──────────── one reply per step ──────┘
//! ```
//!
//! At most one batch is in flight: the caller fills the next batch while the server writes the last,
//! and memory stays bounded however many rows `fill` writes.

use std::collections::HashSet;
use std::sync::mpsc as std_mpsc;

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use sqlx::{Database, Pool};
use tokio::sync::mpsc;

use super::Server;
use super::worker::stopped;
use crate::db::RowSink;
use crate::db::row::{self, Value};
use crate::db::schema::{Sql, TABLES, Table, Target};
use crate::error::{Result, SourceError};

/// Rows per multi-row statement.
pub(crate) const BATCH_ROWS: usize = 1000;
/// A statement is sent early once its values reach this many bytes (MariaDB's default
/// `max_allowed_packet` is 16 MiB).
const BATCH_BYTES: usize = 4 << 20;

/// Where the session's answer to a step goes.
type Reply = std_mpsc::SyncSender<sqlx::Result<()>>;

/// What the caller asks of a session.
pub(crate) enum Step<DB: Database> {
    /// Execute `sql` with `args` in the transaction.
    Run {
        sql: String,
        args: DB::Arguments,
        done: Reply,
    },
    /// Commit (or roll back) and end.
    Finish { commit: bool, done: Reply },
}

impl<DB: Database> Step<DB> {
    fn reply(self, result: sqlx::Result<()>) {
        let (Step::Run { done, .. } | Step::Finish { done, .. }) = self;
        // The caller waits for the reply unless it gave up (an error of its own); then nobody listens.
        let _ = done.send(result);
    }
}

/// The worker side of a write: one transaction on one pooled connection, running `steps` in order.
/// A failed step ends the session and rolls back, as does the caller hanging up without finishing.
pub(crate) async fn session<DB: Server>(
    pool: Pool<DB>,
    mut steps: mpsc::UnboundedReceiver<Step<DB>>,
) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            if let Some(step) = steps.recv().await {
                step.reply(Err(e));
            }
            return;
        }
    };
    while let Some(step) = steps.recv().await {
        match step {
            Step::Run { sql, args, done } => {
                let result = DB::execute(&mut tx, sql, args).await;
                let failed = result.is_err();
                let _ = done.send(result);
                if failed {
                    break;
                }
            }
            Step::Finish { commit, done } => {
                let result = if commit {
                    tx.commit().await
                } else {
                    tx.rollback().await
                };
                let _ = done.send(result);
                return;
            }
        }
    }
    // Best effort: the connection is reset before reuse even if this fails.
    let _ = tx.rollback().await;
}

/// The rows of one table waiting for their statement.
struct Batch<DB: Database> {
    table: &'static Table,
    rows: usize,
    bytes: usize,
    args: DB::Arguments,
    keys: HashSet<i64>,
}

/// The caller side of a write: a [`RowSink`] that batches rows and hands statements to a [`session`].
pub(crate) struct Loader<'s, DB: Server> {
    sql: &'s Sql,
    target: Target,
    url: &'s str,
    steps: mpsc::UnboundedSender<Step<DB>>,
    batches: [Batch<DB>; 3],
    in_flight: Option<std_mpsc::Receiver<sqlx::Result<()>>>,
}

impl<'s, DB: Server> Loader<'s, DB> {
    /// A loader writing `sql`'s upserts into `target` through the session listening on `steps`;
    /// errors name `url`.
    pub(crate) fn new(
        sql: &'s Sql,
        target: Target,
        url: &'s str,
        steps: mpsc::UnboundedSender<Step<DB>>,
    ) -> Self {
        Loader {
            sql,
            target,
            url,
            steps,
            batches: TABLES.map(|table| Batch {
                table,
                rows: 0,
                bytes: 0,
                args: DB::Arguments::default(),
                keys: HashSet::new(),
            }),
            in_flight: None,
        }
    }

    /// Writes what is left, runs `finally`, and commits; on an error, rolls back and returns it.
    pub(crate) fn commit(mut self, finally: &[String]) -> Result<()> {
        let flushed = (0..self.batches.len())
            .try_for_each(|t| self.flush(t))
            .and_then(|()| {
                finally
                    .iter()
                    .try_for_each(|sql| self.run(sql.clone(), DB::Arguments::default()))
            });
        match flushed.and_then(|()| self.wait()) {
            Ok(()) => self.finish(true),
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Rolls back everything written, and waits until it is.
    pub(crate) fn rollback(mut self) {
        // The write already failed; what matters is that nothing is left half-done.
        let _ = self.wait().and_then(|()| self.finish(false));
    }

    fn finish(&mut self, commit: bool) -> Result<()> {
        let (done, reply) = std_mpsc::sync_channel(1);
        self.send(Step::Finish { commit, done })?;
        self.in_flight = Some(reply);
        self.wait()
    }

    /// Adds a row of table `t` with key `key`; sends its batch when full.
    fn push(&mut self, t: usize, key: i64, values: &[Value<'_>]) -> Result<()> {
        // A key twice in one statement: PostgreSQL refuses, so the earlier copy goes first.
        if self.batches[t].keys.contains(&key) {
            self.flush(t)?;
        }
        let batch = &mut self.batches[t];
        for value in values {
            DB::bind(&mut batch.args, value).map_err(|e| SourceError::BadRow {
                table: batch.table.name,
                key,
                message: e.to_string(),
            })?;
            batch.bytes += value.size();
        }
        batch.keys.insert(key);
        batch.rows += 1;
        if batch.rows >= BATCH_ROWS || batch.bytes >= BATCH_BYTES {
            self.flush(t)?;
        }
        Ok(())
    }

    /// Sends table `t`'s batch, once the one before it is written.
    fn flush(&mut self, t: usize) -> Result<()> {
        let batch = &mut self.batches[t];
        if batch.rows == 0 {
            return Ok(());
        }
        let sql = self.sql.upsert(batch.table, self.target, batch.rows);
        let args = std::mem::take(&mut batch.args);
        batch.rows = 0;
        batch.bytes = 0;
        batch.keys.clear();
        self.run(sql, args)
    }

    /// Sends a statement, once the one before it is written.
    fn run(&mut self, sql: String, args: DB::Arguments) -> Result<()> {
        self.wait()?;
        let (done, reply) = std_mpsc::sync_channel(1);
        self.send(Step::Run { sql, args, done })?;
        self.in_flight = Some(reply);
        Ok(())
    }

    fn send(&self, step: Step<DB>) -> Result<()> {
        self.steps.send(step).map_err(|_| stopped())
    }

    /// Waits for the step in flight, if any, and returns its error.
    fn wait(&mut self) -> Result<()> {
        let Some(reply) = self.in_flight.take() else {
            return Ok(());
        };
        reply
            .recv()
            .map_err(|_| stopped())?
            .map_err(|source| SourceError::Server {
                url: self.url.to_owned(),
                source,
            })
    }
}

impl<DB: Server> RowSink for Loader<'_, DB> {
    fn pin(&mut self, p: &PinPost) -> Result<()> {
        self.push(0, p.index, &row::pin_values(p))
    }

    fn geo(&mut self, g: &GeoRecord) -> Result<()> {
        self.push(1, g.ind, &row::geo_values(g)?)
    }

    fn user(&mut self, u: &UserRecord) -> Result<()> {
        self.push(2, u.ind, &row::user_values(u)?)
    }
}
