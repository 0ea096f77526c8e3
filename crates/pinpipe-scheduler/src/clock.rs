//! [`Clock`]: where the scheduler reads the time and how it waits for a time to come.
//!
//! Schedule time (which intervals are due, when the next one ends, how long a retry waits) always
//! comes from a `Clock`: [`SystemClock`] in production, [`TestClock`] in tests, which only moves
//! when the test moves it (or, [auto-advancing](TestClock::auto_advancing), jumps to whatever
//! time a sleeper waits for), so days of schedule pass in milliseconds.
//!
//! The cross-process [lock](crate::lock) does not use it: a lease is about whether another
//! process is alive, which only the system clock can tell.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// A future returned by [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current time that can wait for a later time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`now`](Clock::now) is at or after `deadline` (at once if it already is).
    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_>;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// The longest single nap: a long sleep wakes up now and then to look at the clock again, so a
/// suspended machine or a corrected clock does not delay a run by the whole sleep.
const MAX_NAP: Duration = Duration::from_secs(30);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(async move {
            while let Ok(left) = (deadline - Utc::now()).to_std() {
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(MAX_NAP)).await;
            }
        })
    }
}

/// A clock that tests move: it stands still until [`set`](TestClock::set) or
/// [`advance`](TestClock::advance) moves it; sleepers wake once it reaches their deadline.
/// Clones share the same time.
#[derive(Clone, Debug)]
pub struct TestClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
    auto_advance: bool,
}

impl TestClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> TestClock {
        TestClock {
            now: Arc::new(watch::Sender::new(start)),
            auto_advance: false,
        }
    }

    /// A clock at `start` that jumps forward to a sleeper's deadline as soon as it sleeps (as
    /// tokio's paused time does): retry delays pass at once, and still show in the times recorded.
    pub fn auto_advancing(start: DateTime<Utc>) -> TestClock {
        TestClock {
            auto_advance: true,
            ..TestClock::new(start)
        }
    }

    /// Sets the time to `t` and wakes the sleepers whose deadline it reaches.
    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        self.now.send_modify(|t| *t += by);
    }

    /// How many sleepers are waiting now.
    pub fn sleepers(&self) -> usize {
        self.now.receiver_count()
    }

    /// Waits (in real time) until at least `n` sleepers are waiting: a test's way to know the code
    /// under test has finished what it does before its next sleep.
    pub async fn wait_for_sleepers(&self, n: usize) {
        while self.sleepers() < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        if self.auto_advance {
            self.now.send_if_modified(|t| {
                let later = deadline > *t;
                if later {
                    *t = deadline;
                }
                later
            });
        }
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so this cannot fail while the future exists.
            let _ = now.wait_for(|t| *t >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_test_clock_wakes_sleepers_when_moved() {
        let clock = TestClock::new(start());
        let deadline = start() + TimeDelta::hours(1);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move {
                clock.sleep_until(deadline).await;
                clock.now()
            }
        });
        clock.wait_for_sleepers(1).await;
        clock.advance(TimeDelta::minutes(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished(), "woke before its deadline");
        clock.advance(TimeDelta::minutes(45));
        let woke_at = sleeper.await.unwrap_or_default();
        assert_eq!(woke_at, start() + TimeDelta::minutes(75));
        assert_eq!(clock.sleepers(), 0);
    }

    #[tokio::test]
    async fn a_past_deadline_does_not_wait() {
        let clock = TestClock::new(start());
        clock.sleep_until(start()).await;
        clock.sleep_until(start() - TimeDelta::days(1)).await;
        SystemClock
            .sleep_until(Utc::now() - TimeDelta::seconds(1))
            .await;
    }

    #[tokio::test]
    async fn an_auto_advancing_clock_jumps_to_the_deadline() {
        let clock = TestClock::auto_advancing(start());
        clock.sleep_until(start() + TimeDelta::minutes(5)).await;
        assert_eq!(clock.now(), start() + TimeDelta::minutes(5));
        clock.sleep_until(start()).await;
        assert_eq!(
            clock.now(),
            start() + TimeDelta::minutes(5),
            "never backwards"
        );
    }

    #[tokio::test]
    async fn the_system_clock_sleeps() {
        let before = std::time::Instant::now();
        SystemClock
            .sleep_until(Utc::now() + TimeDelta::milliseconds(30))
            .await;
        assert!(before.elapsed() >= Duration::from_millis(25));
    }
}
