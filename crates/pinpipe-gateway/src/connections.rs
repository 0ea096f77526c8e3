//! The gateway's open connections: what each is waiting for, since when, and who closes it.
//!
//! Every connection is in one of three phases:
//!
//! ```text
//!   accepted ─► Waiting ──first request byte──► (head arriving) ──headers──► Reading ──body──► Busy
//!                  ▲                                                                           │
//!                  └────────────────────────────── response ◄──────────────────────────────────┘
//! ```
//!
//! *Waiting* and *Reading* wait on the client; *Busy* waits on the gateway (the bus). A janitor
//! closes connections that wait on their client too long: no request within the keep-alive
//! timeout (the header timeout on a new connection), headers not complete within the header
//! timeout of their first byte, a body not read within the body timeout (the handler answers 408
//! first; this is the backstop). At the connection cap, the connection that has waited longest
//! on its client is closed to make room, so a flood of slow clients cannot lock others out.
//!
//! Kept here rather than in hyper: hyper's own header timeout starts when a connection becomes
//! idle and cannot tell a keep-alive wait from a slow header, and it has no connection cap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pinpipe_telemetry::gateway::CloseReason;
use tokio::sync::Notify;

const WAITING: u8 = 0;
const READING: u8 = 1;
const BUSY: u8 = 2;

/// No time recorded.
const NEVER: u64 = u64::MAX;

/// The timeouts the janitor enforces.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From the first byte of a request to the end of its headers.
    pub header: Duration,
    /// From the end of the headers to the end of the body (plus a grace for the 408).
    pub body: Duration,
    /// From the end of a response to the first byte of the next request.
    pub keep_alive: Duration,
}

/// One open connection.
pub struct Connection {
    phase: AtomicU8,
    /// Milliseconds since the registry's epoch when the phase began.
    since: AtomicU64,
    /// When the first byte of the next request arrived, [`NEVER`] before it.
    head_started: AtomicU64,
    /// Requests answered on this connection.
    served: AtomicU64,
    /// Why the gateway closes this connection, once it does.
    closing: Mutex<Option<CloseReason>>,
    close: Notify,
    epoch: Instant,
}

impl Connection {
    fn now(&self) -> u64 {
        millis(self.epoch)
    }

    fn enter(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Bytes arrived from the client: the head of a request starts, if one was awaited.
    pub fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Relaxed) == WAITING
            && self.head_started.load(Ordering::Relaxed) == NEVER
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
        }
    }

    /// A request's headers arrived; its body is read next.
    pub fn request_started(&self) {
        self.head_started.store(NEVER, Ordering::Relaxed);
        self.enter(READING);
    }

    /// The request's body is read; the gateway works on it.
    pub fn busy(&self) {
        self.enter(BUSY);
    }

    /// The request is answered; the connection waits for the next one.
    pub fn request_finished(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NEVER, Ordering::Relaxed);
        self.enter(WAITING);
    }

    /// Resolves once the gateway decided to close this connection.
    pub async fn closed(&self) {
        self.close.notified().await;
    }

    /// Why the gateway closed this connection, if it did.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.closing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shut(&self, reason: CloseReason) {
        let mut closing = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        if closing.is_none() {
            *closing = Some(reason);
            // notify_one keeps the wake-up for a connection task not yet waiting.
            self.close.notify_one();
        }
    }

    /// Since when this connection has waited on its client, if it does: the instant to compare
    /// when choosing whom to evict.
    fn waiting_on_client_since(&self) -> Option<u64> {
        match self.phase.load(Ordering::Relaxed) {
            BUSY => None,
            _ => Some(self.since.load(Ordering::Relaxed)),
        }
    }

    /// The timeout this connection has run over at `now`, if any.
    fn overdue(&self, now: u64, timeouts: &Timeouts) -> Option<CloseReason> {
        let over = |since: u64, limit: Duration| {
            now.saturating_sub(since) > u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
        };
        let since = self.since.load(Ordering::Relaxed);
        match self.phase.load(Ordering::Relaxed) {
            WAITING => match self.head_started.load(Ordering::Relaxed) {
                NEVER => {
                    // A new connection that sends nothing is a slow header, not an idle client.
                    let fresh = self.served.load(Ordering::Relaxed) == 0;
                    let limit = if fresh {
                        timeouts.header
                    } else {
                        timeouts.keep_alive
                    };
                    over(since, limit).then_some(if fresh {
                        CloseReason::SlowHeaders
                    } else {
                        CloseReason::Idle
                    })
                }
                started => over(started, timeouts.header).then_some(CloseReason::SlowHeaders),
            },
            READING => over(since, timeouts.body + BODY_GRACE).then_some(CloseReason::SlowBody),
            _ => None,
        }
    }
}

/// How long after the body timeout the janitor closes a connection whose handler did not.
const BODY_GRACE: Duration = Duration::from_secs(1);

fn millis(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Every open connection.
pub struct Connections {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    /// Signalled whenever a connection is removed.
    freed: Notify,
    epoch: Instant,
}

impl Connections {
    pub fn new() -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            freed: Notify::new(),
            epoch: Instant::now(),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection; returns its id and handle.
    pub fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            phase: AtomicU8::new(WAITING),
            since: AtomicU64::new(millis(self.epoch)),
            head_started: AtomicU64::new(NEVER),
            served: AtomicU64::new(0),
            closing: Mutex::new(None),
            close: Notify::new(),
            epoch: self.epoch,
        });
        self.open().insert(id, Arc::clone(&connection));
        (id, connection)
    }

    /// Forgets a connection that ended.
    pub fn remove(&self, id: u64) {
        self.open().remove(&id);
        self.freed.notify_waiters();
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.open().len()
    }

    /// Closes the connection that has waited longest on its client; `false` if every
    /// connection is busy on the gateway's side.
    pub fn evict_one(&self) -> bool {
        let victim = self
            .open()
            .values()
            .filter(|c| c.close_reason().is_none())
            .filter_map(|c| {
                c.waiting_on_client_since()
                    .map(|since| (since, Arc::clone(c)))
            })
            .min_by_key(|(since, _)| *since)
            .map(|(_, c)| c);
        match victim {
            Some(connection) => {
                connection.shut(CloseReason::Evicted);
                true
            }
            None => false,
        }
    }

    /// Waits until a connection is removed, or `limit` passes.
    pub async fn wait_for_room(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.freed.notified()).await;
    }

    /// Closes every connection that has run over a timeout.
    pub fn close_overdue(&self, timeouts: &Timeouts) {
        let now = millis(self.epoch);
        for connection in self.open().values() {
            if let Some(reason) = connection.overdue(now, timeouts) {
                connection.shut(reason);
            }
        }
    }

    /// Runs [`Connections::close_overdue`] a few times per shortest timeout, forever.
    pub async fn janitor(self: Arc<Self>, timeouts: Timeouts) {
        let shortest = timeouts.header.min(timeouts.body).min(timeouts.keep_alive);
        let tick = (shortest / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.close_overdue(&timeouts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header: Duration::from_millis(100),
        body: Duration::from_millis(100),
        keep_alive: Duration::from_millis(300),
    };

    #[test]
    fn a_silent_new_connection_is_a_slow_header() {
        let registry = Connections::new();
        let (_, c) = registry.add();
        let at = |ms| millis(registry.epoch) + ms;
        assert_eq!(c.overdue(at(50), &TIMEOUTS), None);
        assert_eq!(
            c.overdue(at(150), &TIMEOUTS),
            Some(CloseReason::SlowHeaders)
        );
    }

    #[test]
    fn keep_alive_is_longer_than_the_header_timeout() {
        let registry = Connections::new();
        let (_, c) = registry.add();
        c.request_started();
        c.busy();
        c.request_finished();
        let at = |ms| millis(registry.epoch) + ms;
        assert_eq!(c.overdue(at(200), &TIMEOUTS), None);
        assert_eq!(c.overdue(at(400), &TIMEOUTS), Some(CloseReason::Idle));
        c.bytes_arrived();
        assert_eq!(
            c.overdue(at(150), &TIMEOUTS),
            Some(CloseReason::SlowHeaders)
        );
    }

    #[test]
    fn busy_connections_are_never_timed_out_or_evicted() {
        let registry = Connections::new();
        let (_, c) = registry.add();
        c.request_started();
        c.busy();
        assert_eq!(c.overdue(u64::MAX / 2, &TIMEOUTS), None);
        assert!(!registry.evict_one());
        let (_, waiting) = registry.add();
        assert!(registry.evict_one());
        assert_eq!(waiting.close_reason(), Some(CloseReason::Evicted));
        assert_eq!(c.close_reason(), None);
    }
}
