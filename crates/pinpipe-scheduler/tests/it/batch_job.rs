//! The real job: `pinpipe batch` on a lake laid out from the `edges` golden set, run by the
//! scheduler; the history records the raw objects processed and the Delta versions written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use pinpipe_lake::{BatchOptions, Lake};
use pinpipe_scheduler::{BatchJob, Cron, RunStatus, Schedule, Scheduler, TestClock};

use crate::common::t;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The latest version of each Delta table under `lake`, from the commit files in `_delta_log`.
fn delta_versions(lake: &Path) -> BTreeMap<String, u64> {
    ["tables/pin", "tables/geo", "tables/user", "quarantine"]
        .into_iter()
        .map(|table| {
            let latest = std::fs::read_dir(lake.join(table).join("_delta_log"))
                .expect("delta log")
                .filter_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".json")?.parse::<u64>().ok()
                })
                .max()
                .expect("a commit");
            (table.to_owned(), latest)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_records_objects_and_delta_versions() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/golden/edges");
    let dir = tempfile::tempdir().expect("temp dir");
    let lake_dir = dir.path().join("lake");
    copy_dir(&fixture.join("raw"), &lake_dir.join("raw"));
    let lake = Lake::open(&lake_dir.to_string_lossy(), HashMap::new()).expect("lake");
    let job = BatchJob::new(lake, BatchOptions::default());
    let schedule = Schedule::new(Cron::parse("@daily").expect("cron"));
    let clock = TestClock::new(t("2024-01-04 01:00"));
    let scheduler = Scheduler::new(dir.path(), schedule, job)
        .expect("scheduler")
        .with_clock(clock.clone());

    let run = scheduler.trigger().await.expect("trigger");
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.error);
    assert_eq!(run.objects, Some(8), "the edges set has 8 raw objects");
    assert_eq!(run.versions, delta_versions(&lake_dir));
    assert_eq!(
        scheduler.history().get(run.id).expect("get").versions,
        run.versions
    );
    for expected in std::fs::read_dir(fixture.join("expected")).expect("expected") {
        let expected = expected.expect("entry").path();
        let name = expected.file_name().expect("name");
        assert_eq!(
            std::fs::read_to_string(lake_dir.join("results").join(name)).expect("result"),
            std::fs::read_to_string(&expected).expect("expected"),
            "{}",
            expected.display()
        );
    }
    assert!(lake_dir.join("results/report.html").exists());

    // The next run finds nothing new: no objects, no table written.
    clock.set(t("2024-01-04 02:00"));
    let again = scheduler.trigger().await.expect("trigger");
    assert_eq!(again.status, RunStatus::Success, "{:?}", again.error);
    assert_eq!((again.objects, again.versions.len()), (Some(0), 0));
}
