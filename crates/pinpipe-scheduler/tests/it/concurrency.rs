//! Two schedulers on one data directory: one waits for the other's run, and no interval runs twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinpipe_scheduler::{Handled, RunStatus, TestClock};
use pinpipe_telemetry::Event;
use tokio::sync::Semaphore;

use crate::common::{TestJob, daily, day, lock, scheduler, t, until};

#[tokio::test]
async fn a_second_scheduler_waits_for_the_lock_and_skips_what_ran() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Semaphore::new(0));
    let (a, _) = scheduler(
        dir.path(),
        daily(false, None),
        TestJob::new().logging_to(&log).held_by(&gate),
        &clock,
    );
    let (b, b_events) = scheduler(
        dir.path(),
        daily(false, None),
        TestJob::new().logging_to(&log),
        &clock,
    );
    let second = async {
        until("a's run to start", || lock(&log).len() == 1).await;
        b.run_due().await
    };
    let release = async {
        until("b to wait", || {
            lock(&b_events)
                .iter()
                .any(|e| matches!(e, Event::WaitingForLock(_)))
        })
        .await;
        // b keeps waiting while a's run goes on.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(lock(&log).len(), 1);
        gate.add_permits(1);
    };
    let (first, second, ()) = tokio::join!(a.run_due(), second, release);
    let first = first.expect("a runs");
    let second = second.expect("b runs");
    assert!(matches!(first.as_slice(), [Handled::Ran(r)] if r.status == RunStatus::Success));
    assert!(
        matches!(second.as_slice(), [Handled::Skipped(r)] if r.id == first[0].record().id),
        "{second:?}"
    );
    assert_eq!(*lock(&log), [day("2024-01-03")], "the interval ran once");
    let waited = lock(&b_events)
        .iter()
        .find_map(|e| match e {
            Event::WaitingForLock(e) => Some(e.owner.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(
        waited.starts_with(&format!("pid {} #", std::process::id())),
        "{waited}"
    );
}

#[tokio::test]
async fn two_schedulers_catching_up_run_each_interval_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-11 00:00"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Semaphore::new(0));
    let schedule = daily(true, Some("2024-01-01"));
    let (a, _) = scheduler(
        dir.path(),
        schedule.clone(),
        TestJob::new().logging_to(&log).held_by(&gate),
        &clock,
    );
    let (b, _) = scheduler(
        dir.path(),
        schedule,
        TestJob::new().logging_to(&log).held_by(&gate),
        &clock,
    );
    // Let the runs through one at a time, slowly, so that both schedulers compete for each.
    let release = async {
        for n in 1..=10 {
            until("a run to start", || lock(&log).len() == n).await;
            tokio::time::sleep(Duration::from_millis(15)).await;
            gate.add_permits(1);
        }
    };
    let (ra, rb, ()) = tokio::join!(a.run_due(), b.run_due(), release);
    let (ra, rb) = (ra.expect("a runs"), rb.expect("b runs"));
    let mut ran: Vec<_> = lock(&log).clone();
    ran.sort();
    let expected: Vec<_> = (1..=10).map(|d| day(&format!("2024-01-{d:02}"))).collect();
    assert_eq!(ran, expected, "every interval exactly once");
    let ran_by = |handled: &[Handled]| {
        handled
            .iter()
            .filter(|h| matches!(h, Handled::Ran(_)))
            .count()
    };
    assert_eq!(ran_by(&ra) + ran_by(&rb), 10);
    let history = a.history().list(None, 100).expect("list");
    assert_eq!(history.len(), 10);
    assert!(
        history
            .iter()
            .all(|r| r.status == RunStatus::Success && r.attempts == 1)
    );
}
