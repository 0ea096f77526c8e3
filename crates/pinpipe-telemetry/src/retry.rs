//! Retrying: one backoff policy for every component ([`backoff`], on the `backon` crate), and
//! the [`Retrying`] event each wait emits.
//!
//! A component retries with `backon`'s `Retryable`: `(|| work()).retry(backoff(min, max))
//! .when(|e| transient(e)).notify(|e, delay| Retrying { .. }.emit())`.

use std::time::Duration;

pub use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

use crate::listen::dispatch;
use crate::{Event, metrics};

/// Waits doubling from `min` up to `max`, without jitter (so runs are reproducible), as many as
/// it takes; `.with_max_times(n)` bounds them.
pub fn backoff(min: Duration, max: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .without_max_times()
}

/// A component will try again something that failed with an error that may pass.
#[derive(Clone, Debug)]
pub struct Retrying {
    /// Which component: `sink`, `stream`, `schedule`, `emulate`.
    pub component: &'static str,
    /// What is being retried (an object path, a micro-batch, a run).
    pub what: String,
    /// The error, with its causes.
    pub error: String,
    /// Failed attempts so far.
    pub attempt: u32,
    /// How long until the next attempt.
    pub delay: std::time::Duration,
}

impl Retrying {
    /// Logs a warning and counts `pinpipe_retries_total{component}`.
    pub fn emit(self) {
        tracing::warn!(
            component = self.component,
            what = %self.what,
            error = %self.error,
            attempt = self.attempt,
            delay_ms = u64::try_from(self.delay.as_millis()).unwrap_or(u64::MAX),
            "retrying"
        );
        metrics::get()
            .retries
            .get_or_create(&metrics::Component {
                component: self.component,
            })
            .inc();
        dispatch(Event::Retrying(self));
    }
}
