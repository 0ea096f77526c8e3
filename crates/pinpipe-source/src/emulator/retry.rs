//! Retrying one record: [`Backoff`], the waits between attempts, and [`deliver`], the loop that
//! attempts a record until it is acknowledged, fails for good, or runs out of retries.

use std::future::Future;
use std::time::Duration;

use super::response::Verdict;

/// Exponential backoff without jitter (so runs are reproducible): `initial`, then doubling, at most
/// `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling up to 5 s: 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, … s.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1_u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The waits of `retries` retries, in order.
    pub fn schedule(&self, retries: u32) -> Vec<Duration> {
        (0..retries).map(|r| self.delay(r)).collect()
    }
}

/// How one record ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// `Ok` when acknowledged, else why it failed.
    pub result: Result<(), String>,
    /// Retries made after the first attempt.
    pub retries: u32,
}

/// Attempts a record until `attempt` acknowledges it, fails it for good, or asks for a retry after
/// `max_retries` retries (the record then fails with the last reason). Waits `backoff` between attempts.
pub(crate) async fn deliver<F, Fut>(mut attempt: F, backoff: Backoff, max_retries: u32) -> Delivery
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Verdict>,
{
    let mut retries = 0;
    loop {
        let verdict = attempt().await;
        let result = match verdict {
            Verdict::Acknowledged => Ok(()),
            Verdict::Failed(reason) => Err(reason),
            Verdict::Retry(reason) if retries >= max_retries => Err(reason),
            Verdict::Retry(reason) => {
                tracing::debug!(%reason, retry = retries + 1, "retrying a record");
                tokio::time::sleep(backoff.delay(retries)).await;
                retries += 1;
                continue;
            }
        };
        return Delivery { result, retries };
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    #[test]
    fn schedule_doubles_up_to_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(
            Backoff::default().schedule(9),
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(3200),
                ms(5000),
                ms(5000),
                ms(5000)
            ]
        );
        assert_eq!(Backoff::default().delay(40), ms(5000));
        assert_eq!(Backoff::default().delay(u32::MAX), ms(5000));
    }

    fn scripted(verdicts: &[Verdict]) -> impl FnMut() -> std::future::Ready<Verdict> {
        let mut left: VecDeque<Verdict> = verdicts.iter().cloned().collect();
        move || std::future::ready(left.pop_front().unwrap_or(Verdict::Acknowledged))
    }

    const FAST: Backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(2),
    };

    #[tokio::test]
    async fn retries_then_acknowledges() {
        let busy = Verdict::Retry("HTTP 503".into());
        let got = deliver(scripted(&[busy.clone(), busy]), FAST, 5).await;
        assert_eq!(
            got,
            Delivery {
                result: Ok(()),
                retries: 2
            }
        );
    }

    #[tokio::test]
    async fn gives_up_after_max_retries() {
        let busy = Verdict::Retry("HTTP 503".into());
        let got = deliver(scripted(&[busy.clone(), busy.clone(), busy]), FAST, 2).await;
        assert_eq!(
            got,
            Delivery {
                result: Err("HTTP 503".into()),
                retries: 2
            }
        );
    }

    #[tokio::test]
    async fn failures_are_not_retried() {
        let got = deliver(
            scripted(&[Verdict::Failed("HTTP 404 (40401)".into())]),
            FAST,
            5,
        )
        .await;
        assert_eq!(
            got,
            Delivery {
                result: Err("HTTP 404 (40401)".into()),
                retries: 0
            }
        );
    }
}
