//! Counting what the emulator did: a tally turns events into the [`EmulatorProgress`] a progress bar
//! shows and the [`EmulatorSummary`] a run ends with.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::retry::Delivery;

/// Counts so far, given to the progress callback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EmulatorProgress {
    /// Posts whose records were all handed out for sending.
    pub posts: u64,
    /// The posts the run will send (`count`), `None` when it runs until stopped.
    pub target: Option<u64>,
    /// Records handed out for sending (each counted once, however often retried).
    pub records_sent: u64,
    /// Records the gateway acknowledged.
    pub acknowledged: u64,
    /// Records that failed for good.
    pub failed: u64,
    /// Retries made so far.
    pub retries: u64,
    /// Records sent and not yet acknowledged or failed.
    pub in_flight: u64,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmulatorSummary {
    /// Posts sent.
    pub posts: u64,
    /// Records sent (three per post and path).
    pub records_sent: u64,
    /// Records acknowledged.
    pub acknowledged: u64,
    /// Records that failed for good (`acknowledged + failed == records_sent`).
    pub failed: u64,
    /// Failed records by reason (`"HTTP 404 (40401)"`, `"connection failed"`, …).
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Retries made.
    pub retries: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// Posts per second over the run.
    pub posts_per_second: f64,
    /// Acknowledged records per second over the run.
    pub records_per_second: f64,
}

/// The running counts of one emulator run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    progress: EmulatorProgress,
    failed_by_reason: BTreeMap<String, u64>,
}

impl Tally {
    /// A tally for a run of `target` posts (`None`: until stopped).
    pub(crate) fn new(target: Option<u64>) -> Tally {
        Tally {
            progress: EmulatorProgress {
                target,
                ..EmulatorProgress::default()
            },
            failed_by_reason: BTreeMap::new(),
        }
    }

    /// A record was handed out for sending.
    pub(crate) fn record_sent(&mut self) {
        self.progress.records_sent += 1;
        self.progress.in_flight += 1;
    }

    /// All records of a post were handed out.
    pub(crate) fn post_sent(&mut self) {
        self.progress.posts += 1;
    }

    /// A record ended.
    pub(crate) fn record_done(&mut self, delivery: &Delivery) {
        self.progress.in_flight = self.progress.in_flight.saturating_sub(1);
        self.progress.retries += u64::from(delivery.retries);
        match &delivery.result {
            Ok(()) => self.progress.acknowledged += 1,
            Err(reason) => {
                self.progress.failed += 1;
                *self.failed_by_reason.entry(reason.clone()).or_default() += 1;
            }
        }
    }

    /// The counts so far.
    pub(crate) fn progress(&self) -> &EmulatorProgress {
        &self.progress
    }

    /// The summary of a run that took `elapsed`.
    pub(crate) fn finish(self, elapsed: Duration) -> EmulatorSummary {
        let p = self.progress;
        let per_second = |n: u64| {
            let secs = elapsed.as_secs_f64();
            if secs > 0.0 { n as f64 / secs } else { 0.0 }
        };
        EmulatorSummary {
            posts: p.posts,
            records_sent: p.records_sent,
            acknowledged: p.acknowledged,
            failed: p.failed,
            failed_by_reason: self.failed_by_reason,
            retries: p.retries,
            elapsed,
            posts_per_second: per_second(p.posts),
            records_per_second: per_second(p.acknowledged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(result: Result<(), &str>, retries: u32) -> Delivery {
        Delivery {
            result: result.map_err(str::to_owned),
            retries,
        }
    }

    #[test]
    fn accounting() {
        let mut tally = Tally::new(Some(2));
        for _ in 0..2 {
            for _ in 0..3 {
                tally.record_sent();
            }
            tally.post_sent();
        }
        assert_eq!(tally.progress().in_flight, 6);
        tally.record_done(&done(Ok(()), 0));
        tally.record_done(&done(Ok(()), 2));
        tally.record_done(&done(Err("HTTP 404 (40401)"), 0));
        tally.record_done(&done(Err("HTTP 404 (40401)"), 0));
        tally.record_done(&done(Err("connection failed"), 5));
        tally.record_done(&done(Ok(()), 0));
        assert_eq!(
            tally.progress(),
            &EmulatorProgress {
                posts: 2,
                target: Some(2),
                records_sent: 6,
                acknowledged: 3,
                failed: 3,
                retries: 7,
                in_flight: 0,
            }
        );
        let summary = tally.finish(Duration::from_secs(2));
        assert_eq!(summary.posts, 2);
        assert_eq!(summary.acknowledged + summary.failed, summary.records_sent);
        assert_eq!(summary.failed_by_reason.get("HTTP 404 (40401)"), Some(&2));
        assert_eq!(summary.failed_by_reason.get("connection failed"), Some(&1));
        assert_eq!(summary.posts_per_second, 1.0);
        assert_eq!(summary.records_per_second, 1.5);
        assert_eq!(
            Tally::new(None).finish(Duration::ZERO).posts_per_second,
            0.0
        );
    }
}
