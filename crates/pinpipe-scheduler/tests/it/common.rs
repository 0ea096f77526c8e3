//! Test jobs that record what they ran and fail on demand, schedulers on a test clock, and waiting
//! for a condition.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinpipe_scheduler::{
    Cron, Interval, Job, JobOutcome, LockOptions, Schedule, Scheduler, TestClock, parse_time,
};
use pinpipe_telemetry::{Event, Listener};
use tokio::sync::Semaphore;

/// A point in time, e.g. `t("2024-01-04 01:00")`.
pub fn t(text: &str) -> DateTime<Utc> {
    parse_time(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The daily interval starting at midnight of `date`.
pub fn day(date: &str) -> Interval {
    let start = t(date);
    Interval {
        start,
        end: start + chrono::TimeDelta::days(1),
    }
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `@daily` schedule with the given catch-up and start date, 2 retries a minute apart.
pub fn daily(catchup: bool, start_date: Option<&str>) -> Schedule {
    Schedule {
        catchup,
        start_date: start_date.map(t),
        retry_delay: Duration::from_secs(60),
        ..Schedule::new(Cron::parse("@daily").unwrap_or_else(|e| panic!("{e}")))
    }
}

/// A job that records the interval of every attempt in a log (which jobs may share), fails the
/// first attempts of the intervals it is told to, and can be held open until the test lets it go.
#[derive(Default)]
pub struct TestJob {
    pub log: Arc<Mutex<Vec<Interval>>>,
    failures: Mutex<HashMap<DateTime<Utc>, u32>>,
    hold: Option<Arc<Semaphore>>,
}

impl TestJob {
    pub fn new() -> TestJob {
        TestJob::default()
    }

    /// Shares `log` with other jobs.
    pub fn logging_to(mut self, log: &Arc<Mutex<Vec<Interval>>>) -> TestJob {
        self.log = log.clone();
        self
    }

    /// Fails the first `times` attempts of the interval starting at `start`.
    pub fn failing(self, start: &str, times: u32) -> TestJob {
        lock(&self.failures).insert(t(start), times);
        self
    }

    /// Each attempt waits for a permit of `gate` before it ends.
    pub fn held_by(mut self, gate: &Arc<Semaphore>) -> TestJob {
        self.hold = Some(gate.clone());
        self
    }
}

impl Job for TestJob {
    async fn run(&self, interval: &Interval) -> Result<JobOutcome, String> {
        let attempt = {
            let mut log = lock(&self.log);
            log.push(*interval);
            log.iter().filter(|i| *i == interval).count()
        };
        if let Some(gate) = &self.hold {
            gate.acquire().await.map_err(|e| e.to_string())?.forget();
        }
        let mut failures = lock(&self.failures);
        if let Some(left) = failures.get_mut(&interval.start).filter(|n| **n > 0) {
            *left -= 1;
            return Err(format!("attempt {attempt} of {interval} failed"));
        }
        Ok(JobOutcome {
            objects: 1,
            versions: [("tables/pin".to_owned(), attempt as u64)].into(),
            ..JobOutcome::default()
        })
    }
}

/// The events of one test's schedule, as they were emitted (collected until dropped).
pub struct Events {
    events: Arc<Mutex<Vec<Event>>>,
    _listener: Listener,
}

impl std::ops::Deref for Events {
    type Target = Mutex<Vec<Event>>;

    fn deref(&self) -> &Self::Target {
        &self.events
    }
}

/// The schedule's name in events: tests run side by side in one process, each in its own
/// directory, so each names its schedule after the directory.
pub fn schedule_name(dir: &Path) -> String {
    format!("test {}", dir.display())
}

/// The schedule a scheduler event belongs to.
fn schedule_of(event: &Event) -> Option<&str> {
    Some(match event {
        Event::WaitingForLock(e) => &e.schedule,
        Event::RunStarted(e) => &e.schedule,
        Event::RunRetrying(e) => &e.schedule,
        Event::RunFinished(e) => &e.schedule,
        Event::RunFailed(e) => &e.schedule,
        Event::RunSkipped(e) => &e.schedule,
        Event::IntervalNotEnded(e) => &e.schedule,
        Event::Sleeping(e) => &e.schedule,
        _ => return None,
    })
}

/// A scheduler over `dir` on `clock`, its schedule named [`schedule_name`], collecting its
/// events; the lock is looked at every 10 ms.
pub fn scheduler(
    dir: &Path,
    schedule: Schedule,
    job: TestJob,
    clock: &TestClock,
) -> (Scheduler<TestJob>, Events) {
    let name = schedule_name(dir);
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let wanted = name.clone();
    let listener = pinpipe_telemetry::listen(move |e| {
        if schedule_of(e) == Some(wanted.as_str()) {
            lock(&sink).push(e.clone());
        }
    });
    let schedule = Schedule { name, ..schedule };
    let scheduler = Scheduler::new(dir, schedule, job)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_clock(clock.clone())
        .with_lock_options(LockOptions {
            ttl: Duration::from_secs(10),
            poll: Duration::from_millis(10),
        });
    let events = Events {
        events,
        _listener: listener,
    };
    (scheduler, events)
}

/// Waits (in real time, 20 s at most) until `condition` holds.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
