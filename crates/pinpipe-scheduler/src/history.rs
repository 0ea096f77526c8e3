//! The run history: one row per run in the `runs` table of the scheduler database.
//!
//! | column | what |
//! |---|---|
//! | `id` | the run's number |
//! | `name` | the schedule (Airflow's DAG id), e.g. `pinpipe_batch` |
//! | `kind` | `scheduled`, `backfill` or `manual` (Airflow's run type) |
//! | `interval_start`, `interval_end` | the [`Interval`] it covers; a manual run's is the instant it was asked for |
//! | `queued_at`, `started_at`, `ended_at` | when it was claimed, first started, and finished |
//! | `status` | `queued`, `running`, `success`, `failed` |
//! | `attempts` | tries so far, retries included |
//! | `objects` | raw objects the job processed |
//! | `rows`, `rejected` | rows the job wrote, records it quarantined |
//! | `versions` | Delta table versions written, JSON: `{"tables/pin": 3, …}` |
//! | `error` | the last attempt's error |
//!
//! `(name, interval_start)` is unique, and a run is only [claimed](History::claim) by a process
//! holding the [lock](crate::lock), so an interval never runs twice: a second claim finds the
//! first one's row.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use crate::db::{self, parse_time_text, time_text};
use crate::error::{Result, SchedulerError};
use crate::interval::Interval;
use crate::job::JobOutcome;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('scheduled', 'backfill', 'manual')),
    interval_start TEXT NOT NULL,
    interval_end TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    objects INTEGER,
    versions TEXT,
    error TEXT,
    rows INTEGER,
    rejected INTEGER,
    UNIQUE (name, interval_start)
);
";

/// Columns added since the first version of the table, added to older databases on open.
const ADDED_COLUMNS: [(&str, &str); 3] = [
    ("rows", "INTEGER"),
    ("rejected", "INTEGER"),
    ("retry_at", "TEXT"),
];

const COLUMNS: &str = "id, name, kind, interval_start, interval_end, queued_at, started_at, \
                       ended_at, status, attempts, objects, versions, error, rows, rejected, \
                       retry_at";

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Claimed, not started yet.
    Queued,
    /// An attempt is running, or the run waits to retry.
    Running,
    /// The job succeeded.
    Success,
    /// Every attempt failed.
    Failed,
}

/// Why a run happened (Airflow's run type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Its interval came due on the schedule (or was caught up on start).
    Scheduled,
    /// Asked for by a backfill over a date range.
    Backfill,
    /// Asked for by hand (`runs trigger`).
    Manual,
}

macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $type {
            /// The name stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $text),* }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = SchedulerError;

            fn from_str(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($type::$variant),)*
                    other => Err(SchedulerError::Corrupt(format!(
                        concat!("unknown ", stringify!($type), " {:?}"), other
                    ))),
                }
            }
        }
    };
}

text_enum!(RunStatus { Queued => "queued", Running => "running", Success => "success", Failed => "failed" });
text_enum!(RunKind { Scheduled => "scheduled", Backfill => "backfill", Manual => "manual" });

/// How many runs the history holds ([`History::counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// Runs in all.
    pub total: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
}

/// One run as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run's number.
    pub id: i64,
    /// The schedule's name.
    pub name: String,
    /// Why it ran.
    pub kind: RunKind,
    /// The interval it covers.
    pub interval: Interval,
    /// When it was claimed.
    pub queued_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (success or final failure).
    pub ended_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: RunStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Raw objects processed, once it succeeded.
    pub objects: Option<u64>,
    /// Rows written, once it succeeded.
    pub rows: Option<u64>,
    /// Records quarantined, once it succeeded.
    pub rejected: Option<u64>,
    /// Delta table versions written, by table path.
    pub versions: BTreeMap<String, u64>,
    /// The last attempt's error.
    pub error: Option<String>,
    /// When the next attempt starts, while the run waits to retry (it is `running` meanwhile).
    pub retry_at: Option<DateTime<Utc>>,
}

/// What [`History::claim`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The interval is the caller's to run: a new row, or one left queued or running by a process
    /// that stopped (resumed), or a failed one being run again.
    Run(RunRecord),
    /// The interval already has a run that is not to be repeated.
    Done(RunRecord),
}

/// The run history in the scheduler database.
#[derive(Debug)]
pub struct History {
    conn: Mutex<Connection>,
}

impl History {
    /// Opens the history in the scheduler database at `path`, creating it if needed.
    pub fn open(path: &Path) -> Result<History> {
        let conn = db::open(path, SCHEMA)?;
        add_columns(&conn)?;
        Ok(History {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the guard cannot leave the connection half-changed (each change is
        // one statement or one transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims `interval` of schedule `name` for a run of `kind`. Call only while holding the lock:
    /// a row left `queued` or `running` then belongs to a process that stopped, and is resumed.
    /// A `failed` row runs again only if `rerun_failed`; a `success` row never does.
    pub fn claim(
        &self,
        name: &str,
        interval: Interval,
        kind: RunKind,
        rerun_failed: bool,
        now: DateTime<Utc>,
    ) -> Result<Claim> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE name = ?1 AND interval_start = ?2"),
                params![name, time_text(interval.start)],
                raw,
            )
            .optional()?
            .map(RawRun::parse)
            .transpose()?;
        let claim = match existing {
            None => {
                tx.execute(
                    "INSERT INTO runs (name, kind, interval_start, interval_end, queued_at, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued')",
                    params![
                        name,
                        kind.as_str(),
                        time_text(interval.start),
                        time_text(interval.end),
                        time_text(now)
                    ],
                )?;
                Claim::Run(get(&tx, tx.last_insert_rowid())?)
            }
            Some(run) => match run.status {
                RunStatus::Success => Claim::Done(run),
                RunStatus::Failed if !rerun_failed => Claim::Done(run),
                RunStatus::Failed => {
                    tx.execute(
                        "UPDATE runs SET status = 'queued', kind = ?2, queued_at = ?3,
                             started_at = NULL, ended_at = NULL, objects = NULL, versions = NULL,
                             rows = NULL, rejected = NULL,
                             error = NULL, retry_at = NULL
                         WHERE id = ?1",
                        params![run.id, kind.as_str(), time_text(now)],
                    )?;
                    Claim::Run(get(&tx, run.id)?)
                }
                RunStatus::Queued | RunStatus::Running => {
                    tracing::warn!(run = run.id, interval = %run.interval, status = %run.status,
                        "resuming a run left unfinished by a process that stopped");
                    Claim::Run(run)
                }
            },
        };
        tx.commit()?;
        Ok(claim)
    }

    /// Marks the start of an attempt of run `id`; returns the attempt's number.
    pub fn start_attempt(&self, id: i64, now: DateTime<Utc>) -> Result<u32> {
        let conn = self.conn();
        let attempts: u32 = conn.query_row(
            "UPDATE runs SET status = 'running', attempts = attempts + 1,
                 started_at = coalesce(started_at, ?2), retry_at = NULL
             WHERE id = ?1 RETURNING attempts",
            params![id, time_text(now)],
            |row| row.get(0),
        )?;
        Ok(attempts)
    }

    /// Records the error of an attempt that will be retried at `retry_at`.
    pub fn note_retry(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE runs SET error = ?2, retry_at = ?3 WHERE id = ?1",
            params![id, error, time_text(retry_at)],
        )?;
        Ok(())
    }

    /// Records that run `id` succeeded with `outcome`.
    pub fn succeed(&self, id: i64, now: DateTime<Utc>, outcome: &JobOutcome) -> Result<RunRecord> {
        let versions = serde_json::to_string(&outcome.versions)
            .map_err(|e| SchedulerError::Corrupt(format!("versions: {e}")))?;
        let conn = self.conn();
        conn.execute(
            "UPDATE runs SET status = 'success', ended_at = ?2, objects = ?3, versions = ?4,
                 rows = ?5, rejected = ?6, error = NULL, retry_at = NULL
             WHERE id = ?1",
            params![
                id,
                time_text(now),
                i64::try_from(outcome.objects).unwrap_or(i64::MAX),
                versions,
                i64::try_from(outcome.rows).unwrap_or(i64::MAX),
                i64::try_from(outcome.rejected).unwrap_or(i64::MAX)
            ],
        )?;
        get(&conn, id)
    }

    /// Records that run `id` failed for good with `error`.
    pub fn fail(&self, id: i64, now: DateTime<Utc>, error: &str) -> Result<RunRecord> {
        let conn = self.conn();
        conn.execute(
            "UPDATE runs SET status = 'failed', ended_at = ?2, error = ?3, retry_at = NULL
             WHERE id = ?1",
            params![id, time_text(now), error],
        )?;
        get(&conn, id)
    }

    /// The run with this id.
    pub fn get(&self, id: i64) -> Result<RunRecord> {
        get(&self.conn(), id)
    }

    /// The runs queued or running first, then the others most recently claimed first (a run
    /// claimed again to retry a failed interval comes back to the top), at most `limit`; all
    /// schedules unless `name`. By claim rather than interval: a backfill of last year ran after
    /// yesterday's scheduled run, and a manual run's interval is the moment it was triggered.
    pub fn list(&self, name: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM runs WHERE ?1 IS NULL OR name = ?1
             ORDER BY status IN ('queued', 'running') DESC, queued_at DESC, id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![name, limit], raw)?;
        rows.map(|row| row?.parse()).collect()
    }

    /// How many runs there are, and how many of them failed; all schedules unless `name`.
    pub fn counts(&self, name: Option<&str>) -> Result<RunCounts> {
        let (total, failed): (i64, i64) = self.conn().query_row(
            "SELECT count(*), coalesce(sum(status = 'failed'), 0) FROM runs
             WHERE ?1 IS NULL OR name = ?1",
            params![name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(RunCounts {
            total: u64::try_from(total).unwrap_or_default(),
            failed: u64::try_from(failed).unwrap_or_default(),
        })
    }

    /// Marks the manual runs of schedule `name` left `queued` or `running` as failed with `error`,
    /// and returns them. Only under the scheduler's lock: then no live process runs them.
    pub fn fail_unfinished_manual(
        &self,
        name: &str,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let ids: Vec<i64> = conn
            .prepare(
                "UPDATE runs SET status = 'failed', ended_at = ?2, error = ?3, retry_at = NULL
                 WHERE name = ?1 AND kind = 'manual' AND status IN ('queued', 'running')
                 RETURNING id",
            )?
            .query_map(params![name, time_text(now), error], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.into_iter().map(|id| get(&conn, id)).collect()
    }

    /// The runs of schedule `name` left `queued` or `running`, oldest interval first: while no
    /// process holds the lock, these were cut short by a process that stopped.
    pub fn unfinished(&self, name: &str) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM runs WHERE name = ?1 AND status IN ('queued', 'running')
             ORDER BY interval_start"
        ))?;
        let rows = statement.query_map(params![name], raw)?;
        rows.map(|row| row?.parse()).collect()
    }

    /// The end of the latest interval of schedule `name` that a scheduled or backfill run
    /// completed successfully (manual runs do not move the schedule, as in Airflow).
    pub fn last_success_end(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        let text: Option<String> = self.conn().query_row(
            "SELECT max(interval_end) FROM runs
             WHERE name = ?1 AND status = 'success' AND kind != 'manual'",
            params![name],
            |row| row.get(0),
        )?;
        text.as_deref().map(parse_time_text).transpose()
    }
}

fn get(conn: &Connection, id: i64) -> Result<RunRecord> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
        params![id],
        raw,
    )
    .optional()?
    .ok_or(SchedulerError::RunNotFound(id))?
    .parse()
}

/// Adds the [`ADDED_COLUMNS`] a database made by an older pinpipe lacks.
fn add_columns(conn: &Connection) -> Result<()> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info('runs')")?;
    let existing: Vec<String> = statement
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (column, kind) in ADDED_COLUMNS {
        if !existing.iter().any(|c| c == column) {
            // Two processes may both add it: the second one's "duplicate column" is harmless.
            match conn.execute_batch(&format!("ALTER TABLE runs ADD COLUMN {column} {kind}")) {
                Err(e) if e.to_string().contains("duplicate column") => {}
                added => added?,
            }
        }
    }
    Ok(())
}

/// A row as SQLite returns it, before its text is read as times, statuses and JSON.
struct RawRun {
    id: i64,
    name: String,
    kind: String,
    interval_start: String,
    interval_end: String,
    queued_at: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    status: String,
    attempts: u32,
    objects: Option<i64>,
    versions: Option<String>,
    error: Option<String>,
    rows: Option<i64>,
    rejected: Option<i64>,
    retry_at: Option<String>,
}

/// Reads a row selected with [`COLUMNS`].
fn raw(row: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: row.get(2)?,
        interval_start: row.get(3)?,
        interval_end: row.get(4)?,
        queued_at: row.get(5)?,
        started_at: row.get(6)?,
        ended_at: row.get(7)?,
        status: row.get(8)?,
        attempts: row.get(9)?,
        objects: row.get(10)?,
        versions: row.get(11)?,
        error: row.get(12)?,
        rows: row.get(13)?,
        rejected: row.get(14)?,
        retry_at: row.get(15)?,
    })
}

impl RawRun {
    fn parse(self) -> Result<RunRecord> {
        let optional_time = |text: Option<String>| text.as_deref().map(parse_time_text).transpose();
        let versions = match self.versions {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                SchedulerError::Corrupt(format!("run {}: versions {json:?}: {e}", self.id))
            })?,
            None => BTreeMap::new(),
        };
        let count = |what: &str, n: Option<i64>| {
            n.map(|n| {
                u64::try_from(n)
                    .map_err(|_| SchedulerError::Corrupt(format!("run {}: {what} {n}", self.id)))
            })
            .transpose()
        };
        Ok(RunRecord {
            id: self.id,
            name: self.name,
            kind: self.kind.parse()?,
            interval: Interval {
                start: parse_time_text(&self.interval_start)?,
                end: parse_time_text(&self.interval_end)?,
            },
            queued_at: parse_time_text(&self.queued_at)?,
            started_at: optional_time(self.started_at)?,
            ended_at: optional_time(self.ended_at)?,
            status: self.status.parse()?,
            attempts: self.attempts,
            objects: count("objects", self.objects)?,
            rows: count("rows", self.rows)?,
            rejected: count("rejected", self.rejected)?,
            versions,
            error: self.error,
            retry_at: optional_time(self.retry_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + hour * 3600, 0).unwrap_or_default()
    }

    fn hour(h: i64) -> Interval {
        Interval {
            start: at(h),
            end: at(h + 1),
        }
    }

    fn open() -> (tempfile::TempDir, History) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let history =
            History::open(&dir.path().join("scheduler.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, history)
    }

    fn run(claim: Claim) -> RunRecord {
        match claim {
            Claim::Run(run) => run,
            Claim::Done(run) => panic!("expected to run, found {run:?}"),
        }
    }

    #[test]
    fn a_run_is_recorded_through_its_life() -> Result<()> {
        let (_dir, history) = open();
        let queued = run(history.claim("dag", hour(0), RunKind::Scheduled, false, at(1))?);
        assert_eq!(queued.status, RunStatus::Queued);
        assert_eq!(queued.attempts, 0);
        assert_eq!(history.start_attempt(queued.id, at(1))?, 1);
        history.note_retry(queued.id, "boom", at(2))?;
        let waiting = history.get(queued.id)?;
        assert_eq!(waiting.retry_at, Some(at(2)));
        assert_eq!(waiting.error.as_deref(), Some("boom"));
        assert_eq!(history.start_attempt(queued.id, at(2))?, 2);
        assert_eq!(history.get(queued.id)?.retry_at, None, "no longer waiting");
        let outcome = JobOutcome {
            objects: 8,
            rows: 1000,
            rejected: 2,
            versions: BTreeMap::from([("tables/pin".to_owned(), 3), ("quarantine".to_owned(), 1)]),
        };
        let done = history.succeed(queued.id, at(3), &outcome)?;
        assert_eq!(done.status, RunStatus::Success);
        assert_eq!(done.attempts, 2);
        assert_eq!(done.started_at, Some(at(1)), "the first attempt's start");
        assert_eq!(done.ended_at, Some(at(3)));
        assert_eq!(done.objects, Some(8));
        assert_eq!((done.rows, done.rejected), (Some(1000), Some(2)));
        assert_eq!(done.versions, outcome.versions);
        assert_eq!(done.error, None);
        assert_eq!(history.get(done.id)?, done);
        assert!(matches!(
            history.get(99),
            Err(SchedulerError::RunNotFound(99))
        ));
        Ok(())
    }

    #[test]
    fn an_interval_is_claimed_once() -> Result<()> {
        let (_dir, history) = open();
        let first = run(history.claim("dag", hour(0), RunKind::Scheduled, false, at(1))?);
        history.succeed(first.id, at(1), &JobOutcome::default())?;
        let again = history.claim("dag", hour(0), RunKind::Backfill, true, at(2))?;
        assert!(
            matches!(again, Claim::Done(ref r) if r.id == first.id),
            "{again:?}"
        );
        // Another schedule's interval is its own.
        run(history.claim("other", hour(0), RunKind::Scheduled, false, at(2))?);
        Ok(())
    }

    #[test]
    fn failed_runs_run_again_only_when_asked() -> Result<()> {
        let (_dir, history) = open();
        let first = run(history.claim("dag", hour(0), RunKind::Scheduled, false, at(1))?);
        history.start_attempt(first.id, at(1))?;
        history.fail(first.id, at(1), "boom")?;
        let skipped = history.claim("dag", hour(0), RunKind::Scheduled, false, at(2))?;
        assert!(matches!(skipped, Claim::Done(ref r) if r.status == RunStatus::Failed));
        let again = run(history.claim("dag", hour(0), RunKind::Backfill, true, at(2))?);
        assert_eq!(again.id, first.id);
        assert_eq!(again.kind, RunKind::Backfill);
        assert_eq!(
            (again.status, again.error, again.ended_at),
            (RunStatus::Queued, None, None)
        );
        assert_eq!(again.attempts, 1, "attempts count over the run's life");
        Ok(())
    }

    #[test]
    fn an_unfinished_run_is_resumed() -> Result<()> {
        let (_dir, history) = open();
        let first = run(history.claim("dag", hour(0), RunKind::Scheduled, false, at(1))?);
        history.start_attempt(first.id, at(1))?;
        let unfinished: Vec<i64> = history.unfinished("dag")?.iter().map(|r| r.id).collect();
        assert_eq!(unfinished, [first.id]);
        let resumed = run(history.claim("dag", hour(0), RunKind::Scheduled, false, at(5))?);
        assert_eq!((resumed.id, resumed.status), (first.id, RunStatus::Running));
        history.succeed(resumed.id, at(5), &JobOutcome::default())?;
        assert!(history.unfinished("dag")?.is_empty());
        Ok(())
    }

    #[test]
    fn listing_and_the_last_success() -> Result<()> {
        let (_dir, history) = open();
        assert_eq!(history.last_success_end("dag")?, None);
        for h in [0, 1, 2] {
            let r = run(history.claim("dag", hour(h), RunKind::Scheduled, false, at(h + 1))?);
            if h < 2 {
                history.succeed(r.id, at(h + 1), &JobOutcome::default())?;
            }
        }
        let manual =
            run(history.claim("dag", Interval::at(at(9)), RunKind::Manual, false, at(9))?);
        history.succeed(manual.id, at(9), &JobOutcome::default())?;
        assert_eq!(
            history.last_success_end("dag")?,
            Some(at(2)),
            "manual runs do not count"
        );
        // Run 3 is still queued: first; then the most recently claimed.
        let listed: Vec<i64> = history.list(None, 10)?.iter().map(|r| r.id).collect();
        assert_eq!(listed, [3, 4, 2, 1]);
        // Claimed again (a failed interval run anew), a run comes back to the top.
        history.fail(3, at(10), "broken")?;
        run(history.claim("dag", hour(2), RunKind::Backfill, true, at(11))?);
        let listed: Vec<i64> = history.list(None, 10)?.iter().map(|r| r.id).collect();
        assert_eq!(listed, [3, 4, 2, 1]);
        // A run under way (here one resumed) comes first, however long ago it was claimed.
        history.succeed(3, at(12), &JobOutcome::default())?;
        history.start_attempt(1, at(13))?;
        let listed: Vec<i64> = history.list(None, 10)?.iter().map(|r| r.id).collect();
        assert_eq!(listed, [1, 3, 4, 2]);
        assert_eq!(
            history.counts(Some("dag"))?,
            RunCounts {
                total: 4,
                failed: 0
            }
        );
        assert_eq!(history.list(Some("dag"), 2)?.len(), 2);
        assert!(history.list(Some("other"), 10)?.is_empty());
        Ok(())
    }
}
