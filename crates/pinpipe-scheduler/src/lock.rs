//! One run at a time across processes on one data directory: a lease row in the scheduler
//! database.
//!
//! Taking the lock is one `BEGIN IMMEDIATE` transaction on the `leases` table: if the row is
//! missing, expired, or our own, write our owner and an expiry `ttl` ahead; otherwise someone else
//! holds it and we wait, looking again every `poll`. While a [`Lease`] lives, a task pushes the
//! expiry forward every `ttl / 4`; dropping it deletes the row. A process that dies without
//! releasing (SIGKILL, power loss) stops the heartbeat, so its lease expires after `ttl` and the
//! next process takes over.
//!
//! Expiry is measured on the system clock, never a [test clock](crate::clock::TestClock): it is
//! about whether another process is alive.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::task::JoinHandle;

use crate::db::{self, parse_time_text, time_text};
use crate::error::Result;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
";

/// How the lock behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockOptions {
    /// How long a lease lasts without a heartbeat (default 60 s): how long others wait for a
    /// process that died holding it.
    pub ttl: Duration,
    /// How often a waiting process looks again (default 1 s).
    pub poll: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            ttl: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        }
    }
}

/// Who holds a lock someone else is waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's owner id (`pid <pid> #<n>`).
    pub owner: String,
    /// When it took the lock.
    pub since: DateTime<Utc>,
    /// When its lease runs out unless renewed.
    pub expires: DateTime<Utc>,
}

/// A named lock in the scheduler database, with this process's owner id.
#[derive(Debug)]
pub struct Lock {
    conn: Arc<Mutex<Connection>>,
    name: String,
    owner: String,
    options: LockOptions,
}

/// Held lock; released when dropped.
#[derive(Debug)]
pub struct Lease {
    conn: Arc<Mutex<Connection>>,
    name: String,
    owner: String,
    heartbeat: JoinHandle<()>,
}

/// Tells locks of the same process apart.
static LOCKS: AtomicU64 = AtomicU64::new(0);

fn locked(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // Each use is one statement or one transaction: a panic elsewhere cannot leave it half-done.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lock {
    /// The lock `name` in the scheduler database at `path`.
    pub fn open(path: &Path, name: &str, options: LockOptions) -> Result<Lock> {
        let conn = db::open(path, SCHEMA)?;
        Ok(Lock {
            conn: Arc::new(Mutex::new(conn)),
            name: name.to_owned(),
            owner: format!(
                "pid {} #{}",
                std::process::id(),
                LOCKS.fetch_add(1, Ordering::Relaxed) + 1
            ),
            options,
        })
    }

    /// Changes how the lock behaves from the next [`acquire`](Lock::acquire) on.
    pub fn set_options(&mut self, options: LockOptions) {
        self.options = options;
    }

    /// This lock's owner id, as others see it while we hold the lock.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Takes the lock if it is free; otherwise says who holds it. Call it inside a Tokio runtime:
    /// the lease renews itself on a task.
    pub fn try_acquire(&self) -> Result<Result<Lease, Holder>> {
        let now = Utc::now();
        let ttl = TimeDelta::from_std(self.options.ttl).unwrap_or(TimeDelta::MAX);
        let expires = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut conn = locked(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, String, String)> = tx
            .query_row(
                "SELECT owner, acquired_at, expires_at FROM leases WHERE name = ?1",
                params![self.name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        if let Some((owner, since, until)) = current {
            let holder = Holder {
                owner,
                since: parse_time_text(&since)?,
                expires: parse_time_text(&until)?,
            };
            if holder.owner != self.owner {
                if holder.expires > now {
                    return Ok(Err(holder));
                }
                tracing::warn!(lock = %self.name, owner = %holder.owner, expired = %holder.expires,
                    "taking over a lock whose holder stopped renewing it");
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO leases (name, owner, acquired_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![self.name, self.owner, time_text(now), time_text(expires)],
        )?;
        tx.commit()?;
        drop(conn);
        Ok(Ok(Lease {
            heartbeat: tokio::spawn(heartbeat(
                self.conn.clone(),
                self.name.clone(),
                self.owner.clone(),
                self.options.ttl,
            )),
            conn: self.conn.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
        }))
    }

    /// Takes the lock, waiting as long as another process holds it; `on_wait` hears of each new
    /// holder waited for.
    pub async fn acquire(&self, on_wait: &(dyn Fn(&Holder) + Sync)) -> Result<Lease> {
        let mut waited_for: Option<String> = None;
        loop {
            match self.try_acquire()? {
                Ok(lease) => return Ok(lease),
                Err(holder) => {
                    if waited_for.as_deref() != Some(holder.owner.as_str()) {
                        tracing::info!(lock = %self.name, holder = %holder.owner,
                            expires = %holder.expires, "waiting for the lock");
                        on_wait(&holder);
                        waited_for = Some(holder.owner);
                    }
                }
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }
}

/// Pushes the lease's expiry forward every `ttl / 4` until aborted.
async fn heartbeat(conn: Arc<Mutex<Connection>>, name: String, owner: String, ttl: Duration) {
    let every = ttl / 4;
    let ttl = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
    loop {
        tokio::time::sleep(every).await;
        let now = Utc::now();
        let expires = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let renewed = locked(&conn).execute(
            "UPDATE leases SET expires_at = ?3 WHERE name = ?1 AND owner = ?2",
            params![name, owner, time_text(expires)],
        );
        match renewed {
            Ok(1) => {}
            Ok(_) => tracing::error!(lock = %name, %owner,
                "lost the lock: another process took it over after our lease expired"),
            Err(e) => {
                tracing::warn!(lock = %name, error = %e, "cannot renew the lock; will try again")
            }
        }
    }
}

impl Lease {
    /// The owner id this lease is held under.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let released = locked(&self.conn).execute(
            "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
            params![self.name, self.owner],
        );
        if let Err(e) = released {
            tracing::warn!(lock = %self.name, error = %e,
                "cannot release the lock; it frees itself when the lease expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(ttl_ms: u64) -> LockOptions {
        LockOptions {
            ttl: Duration::from_millis(ttl_ms),
            poll: Duration::from_millis(10),
        }
    }

    fn held(result: Result<Result<Lease, Holder>>) -> Lease {
        match result {
            Ok(Ok(lease)) => lease,
            Ok(Err(holder)) => panic!("held by {holder:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn one_holder_at_a_time() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("scheduler.db");
        let a = Lock::open(&path, "batch", options(60_000))?;
        let b = Lock::open(&path, "batch", options(60_000))?;
        assert_ne!(a.owner(), b.owner());
        let lease = held(a.try_acquire());
        assert_eq!(lease.owner(), a.owner());
        let holder = b.try_acquire()?.err().map(|h| h.owner);
        assert_eq!(holder.as_deref(), Some(a.owner()));
        // Another lock name is free.
        held(Lock::open(&path, "other", options(60_000))?.try_acquire());
        drop(lease);
        held(b.try_acquire());
        Ok(())
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_it_is_released() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("scheduler.db");
        let a = Lock::open(&path, "batch", options(60_000))?;
        let b = Lock::open(&path, "batch", options(60_000))?;
        let lease = held(a.try_acquire());
        let waits = Mutex::new(Vec::new());
        let on_wait = |h: &Holder| locked_vec(&waits).push(h.owner.clone());
        let (got, ()) = tokio::join!(b.acquire(&on_wait), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(lease);
        });
        assert_eq!(got?.owner(), b.owner());
        assert_eq!(*locked_vec(&waits), [a.owner().to_owned()], "told once");
        Ok(())
    }

    #[tokio::test]
    async fn heartbeats_keep_a_lease() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("scheduler.db");
        let a = Lock::open(&path, "batch", options(200))?;
        let b = Lock::open(&path, "batch", options(200))?;
        let _lease = held(a.try_acquire());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(b.try_acquire()?.is_err(), "renewed by its heartbeat");
        Ok(())
    }

    #[tokio::test]
    async fn the_lease_of_a_dead_holder_expires() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("scheduler.db");
        let b = Lock::open(&path, "batch", options(60_000))?;
        // What a killed process leaves: its row, no heartbeat.
        locked(&b.conn).execute(
            "INSERT INTO leases VALUES ('batch', 'pid 1 #1', ?1, ?2)",
            params![
                time_text(Utc::now()),
                time_text(Utc::now() + TimeDelta::milliseconds(150))
            ],
        )?;
        let holder = b.try_acquire()?.err().map(|h| h.owner);
        assert_eq!(holder.as_deref(), Some("pid 1 #1"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        held(b.try_acquire());
        Ok(())
    }

    fn locked_vec<T>(m: &Mutex<Vec<T>>) -> MutexGuard<'_, Vec<T>> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}
