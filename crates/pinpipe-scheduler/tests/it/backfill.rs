//! Backfill over a date range: intervals already successful are skipped, failed ones run again,
//! intervals not yet over are left out.

use pinpipe_scheduler::{Handled, RunKind, RunStatus, Schedule, SchedulerError, TestClock};
use pinpipe_telemetry::Event;

use crate::common::{TestJob, daily, day, lock, scheduler, t};

fn summary(handled: &[Handled]) -> Vec<String> {
    handled
        .iter()
        .map(|h| match h {
            Handled::Ran(r) => format!("ran {} {}", r.interval.start.date_naive(), r.status),
            Handled::Skipped(r) => {
                format!("skipped {} {}", r.interval.start.date_naive(), r.status)
            }
        })
        .collect()
}

#[tokio::test]
async fn backfill_runs_each_interval_of_the_range_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::auto_advancing(t("2024-01-10 00:30"));
    let no_retries = Schedule {
        retries: 0,
        ..daily(false, None)
    };

    // A first backfill: the 4th fails.
    let (s, _) = scheduler(
        dir.path(),
        no_retries.clone(),
        TestJob::new().failing("2024-01-04", 1),
        &clock,
    );
    let handled = s
        .backfill(t("2024-01-02"), t("2024-01-04"))
        .await
        .expect("backfill");
    assert_eq!(
        summary(&handled),
        [
            "ran 2024-01-02 success",
            "ran 2024-01-03 success",
            "ran 2024-01-04 failed"
        ]
    );
    assert!(handled.iter().all(|h| h.record().kind == RunKind::Backfill));

    // A wider one: the successful days are skipped, the failed one runs again.
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, events) = scheduler(dir.path(), no_retries, job, &clock);
    let handled = s
        .backfill(t("2024-01-01"), t("2024-01-05"))
        .await
        .expect("backfill");
    assert_eq!(
        summary(&handled),
        [
            "ran 2024-01-01 success",
            "skipped 2024-01-02 success",
            "skipped 2024-01-03 success",
            "ran 2024-01-04 success",
            "ran 2024-01-05 success"
        ]
    );
    assert_eq!(
        *lock(&log),
        [day("2024-01-01"), day("2024-01-04"), day("2024-01-05")]
    );
    let rerun = handled[3].record();
    assert_eq!(rerun.attempts, 2, "attempts count over the run's life");
    assert_eq!(rerun.error, None);
    let skipped = lock(&events)
        .iter()
        .filter(|e| matches!(e, Event::RunSkipped(_)))
        .count();
    assert_eq!(skipped, 2);

    // Intervals that have not ended are left out.
    let handled = s
        .backfill(t("2024-01-08"), t("2024-01-20"))
        .await
        .expect("backfill");
    assert_eq!(
        summary(&handled),
        ["ran 2024-01-08 success", "ran 2024-01-09 success"]
    );
    assert!(
        matches!(lock(&events).last(), Some(Event::IntervalNotEnded(e))
            if e.interval == day("2024-01-10").to_string()),
        "{:?}",
        lock(&events).last()
    );

    // A backfill moves the catch-up point like a scheduled run.
    let caught_up = s
        .history()
        .last_success_end(&s.schedule().name)
        .expect("history");
    assert_eq!(caught_up, Some(t("2024-01-10")));
    let runs = s.history().list(None, 100).expect("list");
    assert_eq!(runs.len(), 7);
    assert!(runs.iter().all(|r| r.status == RunStatus::Success));
}

#[tokio::test]
async fn a_backfill_ending_before_it_starts_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-10"));
    let (s, _) = scheduler(dir.path(), daily(false, None), TestJob::new(), &clock);
    let error = s
        .backfill(t("2024-01-05"), t("2024-01-01"))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, SchedulerError::InvalidRequest(_)),
        "{error}"
    );
    assert!(error.to_string().contains("before the start"), "{error}");
}
