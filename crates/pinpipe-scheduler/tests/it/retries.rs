//! A failing run is retried after the retry delay, then marked failed with its attempts and error.

use pinpipe_scheduler::{Handled, RunStatus, Schedule, TestClock};
use pinpipe_telemetry::Event;

use crate::common::{TestJob, daily, day, lock, scheduler, t};

fn only_run(handled: Vec<Handled>) -> pinpipe_scheduler::RunRecord {
    match handled.as_slice() {
        [Handled::Ran(run)] => run.clone(),
        other => panic!("expected one run, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_run_is_retried_then_succeeds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::auto_advancing(t("2024-01-04 01:00"));
    let job = TestJob::new().failing("2024-01-03", 2);
    let log = job.log.clone();
    let (s, events) = scheduler(dir.path(), daily(false, None), job, &clock);
    let run = only_run(s.run_due().await.expect("runs"));
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.attempts, 3);
    assert_eq!(run.error, None);
    assert_eq!(run.started_at, Some(t("2024-01-04 01:00")));
    assert_eq!(
        run.ended_at,
        Some(t("2024-01-04 01:02")),
        "two retry delays of a minute"
    );
    assert_eq!(lock(&log).len(), 3);
    let retries: Vec<(u32, String)> = lock(&events)
        .iter()
        .filter_map(|e| match e {
            Event::RunRetrying(e) => Some((e.attempt, format!("{} @ {}", e.error, e.at))),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        [
            (
                1,
                "attempt 1 of 2024-01-03 00:00 → 2024-01-04 00:00 failed @ 2024-01-04 01:01"
                    .to_owned()
            ),
            (
                2,
                "attempt 2 of 2024-01-03 00:00 → 2024-01-04 00:00 failed @ 2024-01-04 01:02"
                    .to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn a_run_failing_every_attempt_is_marked_failed_with_its_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::auto_advancing(t("2024-01-04 01:00"));
    let job = TestJob::new().failing("2024-01-03", 100);
    let log = job.log.clone();
    let (s, events) = scheduler(dir.path(), daily(false, None), job, &clock);
    let run = only_run(s.run_due().await.expect("runs"));
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.attempts, 3, "the first attempt and 2 retries");
    assert_eq!(
        run.error.as_deref(),
        Some("attempt 3 of 2024-01-03 00:00 → 2024-01-04 00:00 failed")
    );
    assert_eq!(run.objects, None);
    assert!(run.versions.is_empty());
    assert_eq!(run.ended_at, Some(t("2024-01-04 01:02")));
    assert_eq!(s.history().get(run.id).expect("get"), run, "as recorded");
    assert_eq!(lock(&log).len(), 3);
    let last = lock(&events).last().cloned();
    let Some(Event::RunFailed(failed)) = last else {
        panic!("the last event is not the failure: {last:?}")
    };
    assert_eq!((failed.run_id, failed.attempts), (run.id, 3));
    assert_eq!(
        failed.duration,
        std::time::Duration::from_secs(120),
        "two retry delays"
    );
    assert_eq!(
        failed.line(),
        format!(
            "run {} [2024-01-03 00:00 → 2024-01-04 00:00]: failed after 3 attempt(s): attempt 3 of \
             2024-01-03 00:00 → 2024-01-04 00:00 failed",
            run.id
        )
    );

    // The scheduler does not run a failed interval again by itself.
    let again = s.run_due().await.expect("runs");
    assert!(matches!(again.as_slice(), [Handled::Skipped(r)] if r.id == run.id));
    assert_eq!(lock(&log).len(), 3);
}

#[tokio::test]
async fn without_retries_one_attempt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::auto_advancing(t("2024-01-04 01:00"));
    let schedule = Schedule {
        retries: 0,
        ..daily(false, None)
    };
    let job = TestJob::new().failing("2024-01-03", 1);
    let log = job.log.clone();
    let (s, _) = scheduler(dir.path(), schedule, job, &clock);
    let run = only_run(s.run_due().await.expect("runs"));
    assert_eq!((run.status, run.attempts), (RunStatus::Failed, 1));
    assert_eq!(*lock(&log), [day("2024-01-03")]);
}
