//! A value computed at most once per interval, however many requests ask for it at once.
//!
//! Kept here rather than taken from a cache crate (moka, cached): the UI holds four values, each
//! one slot, and needs only "younger than N seconds, else one caller recomputes while the others
//! wait for it" — a mutex around a timestamped value.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// A value recomputed when older than its time to live (see the module documentation).
pub struct Cached<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    /// An empty cache whose values live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Cached {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached value if younger than the time to live, else the value `compute` gives (kept
    /// only if it is `Ok`, so an error is retried by the next caller).
    pub async fn get_or_try<E, F>(&self, compute: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = compute().await?;
        *slot = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_are_kept_for_their_time_to_live_and_errors_not_at_all() {
        let cache = Cached::new(Duration::from_millis(50));
        let first: Result<u32, ()> = cache.get_or_try(|| async { Ok(1) }).await;
        let second: Result<u32, ()> = cache.get_or_try(|| async { Ok(2) }).await;
        assert_eq!((first, second), (Ok(1), Ok(1)));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let failed: Result<u32, &str> = cache.get_or_try(|| async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        let third: Result<u32, ()> = cache.get_or_try(|| async { Ok(3) }).await;
        assert_eq!(third, Ok(3));
    }
}
