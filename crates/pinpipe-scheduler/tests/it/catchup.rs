//! Which intervals run on start, with and without catch-up, and following the schedule.

use pinpipe_scheduler::history::Claim;
use pinpipe_scheduler::{Handled, Interval, RunKind, RunRecord, RunStatus, Scheduler, TestClock};
use pinpipe_telemetry::Event;

use crate::common::{Events, TestJob, daily, day, lock, scheduler, t, until};

fn ran(handled: &[Handled]) -> Vec<String> {
    handled
        .iter()
        .map(|h| match h {
            Handled::Ran(r) => format!("ran {} {}", r.interval, r.status),
            Handled::Skipped(r) => format!("skipped {} {}", r.interval, r.status),
        })
        .collect()
}

#[tokio::test]
async fn with_catchup_every_missed_interval_runs_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, _) = scheduler(dir.path(), daily(true, Some("2024-01-01")), job, &clock);
    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        [
            "ran 2024-01-01 00:00 → 2024-01-02 00:00 success",
            "ran 2024-01-02 00:00 → 2024-01-03 00:00 success",
            "ran 2024-01-03 00:00 → 2024-01-04 00:00 success",
        ]
    );
    assert_eq!(
        *lock(&log),
        [day("2024-01-01"), day("2024-01-02"), day("2024-01-03")]
    );
    assert!(
        handled
            .iter()
            .all(|h| h.record().kind == RunKind::Scheduled)
    );

    // Nothing is due again until the next interval ends.
    assert!(s.run_due().await.expect("runs").is_empty());
    // Stopped for two days: on start, both missed days run, from the last success on.
    clock.set(t("2024-01-06 00:00"));
    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        [
            "ran 2024-01-04 00:00 → 2024-01-05 00:00 success",
            "ran 2024-01-05 00:00 → 2024-01-06 00:00 success",
        ]
    );
    assert_eq!(lock(&log).len(), 5, "no interval twice");
}

#[tokio::test]
async fn without_catchup_only_the_latest_interval_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, _) = scheduler(dir.path(), daily(false, Some("2024-01-01")), job, &clock);
    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        ["ran 2024-01-03 00:00 → 2024-01-04 00:00 success"]
    );
    // On a later start the latest interval is already done: it is not run again.
    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        ["skipped 2024-01-03 00:00 → 2024-01-04 00:00 success"]
    );
    clock.set(t("2024-01-08 12:00"));
    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        ["ran 2024-01-07 00:00 → 2024-01-08 00:00 success"]
    );
    assert_eq!(*lock(&log), [day("2024-01-03"), day("2024-01-07")]);
}

#[tokio::test]
async fn nothing_runs_before_the_start_date() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    for catchup in [true, false] {
        let (s, _) = scheduler(
            dir.path(),
            daily(catchup, Some("2024-01-05")),
            TestJob::new(),
            &clock,
        );
        assert!(s.due().expect("due").is_empty(), "catchup {catchup}");
    }
    // A start date inside an interval: the first interval starts at the next firing time.
    let (s, _) = scheduler(
        dir.path(),
        daily(true, Some("2024-01-02 06:00")),
        TestJob::new(),
        &clock,
    );
    assert_eq!(s.due().expect("due"), [day("2024-01-03")]);
}

#[tokio::test]
async fn catchup_without_a_start_date_or_a_success_runs_the_latest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let (s, _) = scheduler(dir.path(), daily(true, None), TestJob::new(), &clock);
    assert_eq!(s.due().expect("due"), [day("2024-01-03")]);
    // A manual run does not move the schedule.
    let manual = s.trigger().await.expect("trigger");
    assert_eq!(manual.kind, RunKind::Manual);
    assert_eq!(manual.interval.start, t("2024-01-04 01:00"));
    assert_eq!(manual.interval.end, manual.interval.start);
    assert_eq!(s.due().expect("due"), [day("2024-01-03")]);
}

#[tokio::test]
async fn following_runs_each_interval_as_it_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, events) = scheduler(dir.path(), daily(false, None), job, &clock);
    let test = async {
        clock.wait_for_sleepers(1).await;
        assert_eq!(*lock(&log), [day("2024-01-03")]);
        assert_eq!(sleeping_until(&events).as_deref(), Some("2024-01-05 00:00"));
        clock.set(t("2024-01-04 23:59"));
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        assert_eq!(lock(&log).len(), 1, "not before the interval ends");
        clock.set(t("2024-01-05"));
        until("the second run", || lock(&log).len() == 2).await;
        until("sleeping again", || {
            sleeping_until(&events).as_deref() == Some("2024-01-06 00:00")
        })
        .await;
        assert_eq!(*lock(&log), [day("2024-01-03"), day("2024-01-04")]);
    };
    tokio::select! {
        result = s.follow() => panic!("follow ended: {result:?}"),
        () = test => {}
    }
    let runs = s.history().list(None, 10).expect("list");
    assert!(runs.iter().all(|r| r.status == RunStatus::Success));
    assert_eq!(runs.len(), 2);
}

/// Before its start date the scheduler runs nothing and says it sleeps until the end of the
/// first interval from that date, not until the schedule's next firing time (which runs nothing).
#[tokio::test]
async fn following_before_the_start_date_sleeps_until_the_first_interval_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, events) = scheduler(
        dir.path(),
        daily(false, Some("2024-03-01 06:00")),
        job,
        &clock,
    );
    let test = async {
        clock.wait_for_sleepers(1).await;
        assert!(lock(&log).is_empty(), "nothing runs before the start date");
        assert_eq!(sleeping_until(&events).as_deref(), Some("2024-03-03 00:00"));
        clock.set(t("2024-03-03"));
        until("the first run", || lock(&log).len() == 1).await;
        assert_eq!(*lock(&log), [day("2024-03-02")]);
    };
    tokio::select! {
        result = s.follow() => panic!("follow ended: {result:?}"),
        () = test => {}
    }
}

/// A start date past the end of cron's calendar would never run: following it is an error that
/// says so, not a quiet stop.
#[tokio::test]
async fn a_schedule_that_never_runs_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let (s, _events) = scheduler(
        dir.path(),
        daily(false, Some("9000-01-01 00:00")),
        job,
        &clock,
    );
    let error = s.follow().await.expect_err("no interval ever ends");
    assert!(
        error
            .to_string()
            .contains("no interval to run after 9000-01-01"),
        "{error}"
    );
}

#[tokio::test]
async fn a_run_cut_short_is_resumed_on_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let job = TestJob::new();
    let log = job.log.clone();
    let (s, _) = scheduler(dir.path(), daily(false, None), job, &clock);
    // What a process killed during its run of January 1 leaves behind.
    let claim = s
        .history()
        .claim(
            &s.schedule().name,
            day("2024-01-01"),
            RunKind::Scheduled,
            false,
            t("2024-01-02 00:00"),
        )
        .expect("claim");
    let Claim::Run(cut) = claim else {
        panic!("{claim:?}")
    };
    s.history()
        .start_attempt(cut.id, t("2024-01-02 00:00"))
        .expect("attempt");

    let handled = s.run_due().await.expect("runs");
    assert_eq!(
        ran(&handled),
        [
            "ran 2024-01-01 00:00 → 2024-01-02 00:00 success",
            "ran 2024-01-03 00:00 → 2024-01-04 00:00 success",
        ]
    );
    let resumed = handled[0].record();
    assert_eq!((resumed.id, resumed.attempts), (cut.id, 2));
    assert_eq!(*lock(&log), [day("2024-01-01"), day("2024-01-03")]);
}

/// Until when the scheduler sleeps, if its last event is sleeping.
fn sleeping_until(events: &Events) -> Option<String> {
    match lock(events).last() {
        Some(Event::Sleeping(e)) => Some(e.until.clone()),
        _ => None,
    }
}

/// A manual run claimed and started at 00:30 by a process that was then killed: left running.
fn interrupted_manual_run(s: &Scheduler<TestJob>) -> RunRecord {
    let claimed = s
        .history()
        .claim(
            &s.schedule().name,
            Interval::at(t("2024-01-04 00:30")),
            RunKind::Manual,
            false,
            t("2024-01-04 00:30"),
        )
        .expect("claim");
    let Claim::Run(run) = claimed else {
        panic!("expected a run: {claimed:?}");
    };
    s.history()
        .start_attempt(run.id, t("2024-01-04 00:30"))
        .expect("start");
    run
}

/// `pinpipe schedule` resumes a manual run its process left running, as any unfinished run.
#[tokio::test]
async fn a_scheduler_resumes_a_manual_run_its_process_left_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let (s, _) = scheduler(dir.path(), daily(false, None), TestJob::new(), &clock);
    let killed = interrupted_manual_run(&s);
    s.run_due().await.expect("run due");
    let resumed = s.history().get(killed.id).expect("the run");
    assert_eq!(resumed.status, RunStatus::Success, "{resumed:?}");
}

/// A manual run whose process was killed is marked failed by the next trigger, which holds the
/// lock: a user who only triggers would see it running for good (`pinpipe schedule` resumes it
/// instead, above).
#[tokio::test]
async fn a_trigger_fails_a_manual_run_its_process_left_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let (s, _) = scheduler(dir.path(), daily(false, None), TestJob::new(), &clock);
    let history = s.history();
    let killed = interrupted_manual_run(&s);
    let manual = s.trigger().await.expect("trigger");
    assert_eq!(manual.status, RunStatus::Success);
    assert_eq!(
        s.run_due().await.expect("run due").len(),
        1,
        "only the interval due; the abandoned run is not resumed"
    );
    let killed = history.get(killed.id).expect("the killed run");
    assert_eq!(killed.status, RunStatus::Failed);
    assert!(
        killed
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{killed:?}"
    );
}
