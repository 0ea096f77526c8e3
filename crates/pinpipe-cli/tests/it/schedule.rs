//! The scheduler as a user runs it: `runs trigger|list|show|backfill`, `schedule` until SIGTERM,
//! and `airflow-dag` printing a DAG file that Python compiles.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{interrupt, pinpipe, python, repo_root, terminate};

/// A data directory whose lake holds the raw objects of the `edges` golden set.
fn edges_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("lake")).expect("lake dir");
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("fixtures/golden/edges/raw"))
        .arg(dir.path().join("lake"))
        .status();
    assert!(status.is_ok_and(|s| s.success()), "copy the fixture");
    dir
}

fn output(command: &mut Command) -> Output {
    command
        .stderr(Stdio::piped())
        .output()
        .expect("run pinpipe")
}

fn stdout(command: &mut Command) -> String {
    let out = output(command);
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn runs(data_dir: &Path) -> Vec<Value> {
    stdout(pinpipe(data_dir).args(["runs", "list", "--format", "json"]))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn runs_are_triggered_backfilled_and_listed() {
    let dir = edges_data_dir();
    let empty = stdout(pinpipe(dir.path()).args(["runs", "list"]));
    assert!(empty.contains("no runs yet"), "{empty}");

    let triggered = stdout(pinpipe(dir.path()).args(["runs", "trigger"]));
    assert!(
        triggered.contains("run 1 [")
            && triggered.contains("success after 1 attempt(s): 8 raw objects"),
        "{triggered}"
    );
    let list = runs(dir.path());
    assert_eq!(list.len(), 1);
    let run = &list[0];
    assert_eq!(run["kind"], "manual");
    assert_eq!(run["status"], "success");
    assert_eq!(run["objects"], 8);
    assert_eq!(run["interval"]["start"], run["interval"]["end"]);
    for table in ["tables/pin", "tables/geo", "tables/user", "quarantine"] {
        assert!(run["versions"][table].is_u64(), "{table} in {run}");
    }
    let shown = stdout(pinpipe(dir.path()).args(["runs", "show", "1"]));
    assert!(shown.contains("objects:        8"), "{shown}");
    assert!(shown.contains("status:         success"), "{shown}");
    let missing = output(pinpipe(dir.path()).args(["runs", "show", "42"]));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run with id 42"));

    let backfill = stdout(pinpipe(dir.path()).args([
        "runs",
        "backfill",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-02",
    ]));
    assert!(
        backfill.contains("2 intervals, 2 ran (2 succeeded, 0 failed), 0 skipped"),
        "{backfill}"
    );
    let again = stdout(pinpipe(dir.path()).args([
        "runs",
        "backfill",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-03",
    ]));
    assert!(
        again.contains("3 intervals, 1 ran (1 succeeded, 0 failed), 2 skipped"),
        "{again}"
    );
    let list = runs(dir.path());
    assert_eq!(list.len(), 4);
    // The run claimed last first, though the manual run's interval is later.
    assert_eq!(list[0]["interval"]["start"], "2024-01-03T00:00:00Z");
    assert_eq!(list[0]["kind"], "backfill");
    assert_eq!(list[0]["objects"], 0, "nothing new since the first run");
    assert_eq!(list[3]["kind"], "manual");
    let table = stdout(pinpipe(dir.path()).args(["runs", "list"]));
    assert!(
        table.contains("2024-01-01 00:00 → 2024-01-02 00:00"),
        "{table}"
    );
}

#[test]
fn schedule_runs_the_latest_interval_and_stops_on_sigterm() {
    let dir = edges_data_dir();
    let child = pinpipe(dir.path())
        .args(["schedule", "--cron", "@hourly", "--retries", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pinpipe schedule");
    let deadline = Instant::now() + Duration::from_secs(60);
    let list = loop {
        let list = runs(dir.path());
        if list.iter().any(|r| r["status"] == "success") {
            break list;
        }
        assert!(Instant::now() < deadline, "no successful run: {list:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "scheduled");
    assert_eq!(list[0]["objects"], 8);
    terminate(&child);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit: {:?}", out.status);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("next run at"), "{printed}");
    assert!(printed.contains("stopped"), "{printed}");
}

/// A reader of its output that goes away (`| head -n1`, a pager that quit) does not stop the
/// scheduler: its run finishes, it keeps running, and it stops cleanly when told.
#[test]
fn schedule_outlives_a_closed_stdout() {
    let dir = edges_data_dir();
    let mut child = pinpipe(dir.path())
        .args(["schedule", "--cron", "@hourly", "--retries", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pinpipe schedule");
    drop(child.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = runs(dir.path());
        if list.iter().any(|r| r["status"] == "success") {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the scheduler ended: {list:?}"
        );
        assert!(Instant::now() < deadline, "no successful run: {list:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    terminate(&child);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit: {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A run over a table whose Delta log is garbage fails naming the table, and without a
/// backtrace in its error even when `RUST_BACKTRACE` asks for panics' backtraces.
#[test]
fn a_run_over_an_unreadable_table_names_it_without_a_backtrace() {
    let dir = edges_data_dir();
    let log = dir.path().join("lake/tables/pin/_delta_log");
    std::fs::create_dir_all(&log).expect("log dir");
    std::fs::write(log.join("00000000000000000000.json"), "not a commit\n").expect("garbage");
    let out = output(
        pinpipe(dir.path())
            .args(["runs", "trigger", "--retries", "0"])
            .env("RUST_BACKTRACE", "1"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(r#"Delta table "tables/pin" cannot be read"#),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
    // Said by pinpipe, naming the table: not also by delta-rs's kernel, once per file it failed
    // in, as a bare `ERROR error=Json error: …`.
    assert!(!stderr.contains("ERROR error="), "{stderr}");
    let error = runs(dir.path())[0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("tables/pin") && !error.contains("backtrace"),
        "{error}"
    );
}

/// A malformed date or duration flag is a command-line mistake, refused before anything runs
/// (exit 2), as any other; not a failure of the command (exit 1).
#[test]
fn malformed_date_and_duration_flags_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (args, said) in [
        (
            &["runs", "backfill", "--from", "2024-01-01", "--to", "bad"][..],
            "invalid value 'bad' for '--to <DATE>'",
        ),
        (
            &["lake", "vacuum", "--retention", "1x"][..],
            "invalid value '1x' for '--retention <DURATION>'",
        ),
        (
            &["lake", "optimize", "--every", "500ms"][..],
            "must be at least 1s",
        ),
    ] {
        let out = output(pinpipe(dir.path()).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
}

/// A backfill of four years of hourly runs: 35,064 intervals.
const FOUR_YEARS_HOURLY: [&str; 8] = [
    "runs",
    "backfill",
    "--cron",
    "@hourly",
    "--from",
    "2020-01-01",
    "--to",
    "2024-01-01",
];

/// A backfill of more than 1,000 intervals runs only with `--yes`: without it, it says how to go
/// on and runs nothing.
#[test]
fn a_huge_backfill_needs_yes() {
    let dir = edges_data_dir();
    let out = output(pinpipe(dir.path()).args(FOUR_YEARS_HOURLY));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("more than 1000 intervals; nothing was run: pass --yes"),
        "{stderr}"
    );
    assert!(runs(dir.path()).is_empty());
}

/// Ctrl-C stops a backfill at once and releases the scheduler's lock: the next command runs
/// without waiting a minute for the lease of a process that is gone.
#[test]
fn an_interrupted_backfill_releases_the_lock() {
    let dir = edges_data_dir();
    let child = pinpipe(dir.path())
        .args(FOUR_YEARS_HOURLY)
        .arg("--yes")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a long backfill");
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs(dir.path()).len() < 3 {
        assert!(Instant::now() < deadline, "the backfill did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    interrupt(&child);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let triggered = stdout(pinpipe(dir.path()).args(["runs", "trigger"]));
    assert!(triggered.contains("success"), "{triggered}");
    assert!(
        !triggered.contains("waiting for the lock"),
        "the lock was still held: {triggered}"
    );
}

/// A bad cron expression is a settings mistake, found when the settings load: exit 2, as for
/// any invalid setting.
#[test]
fn a_bad_cron_expression_names_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = output(pinpipe(dir.path()).args(["schedule", "--cron", "0 25 * * *"]));
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("hour field \"25\"") && error.contains("out of bounds"),
        "{error}"
    );
}

/// A start date after which the schedule never fires is a settings mistake too (exit 2), for
/// every command that reads the schedule.
#[test]
fn a_start_date_with_no_interval_after_it_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = output(pinpipe(dir.path()).args([
        "schedule",
        "--cron",
        "@daily",
        "--start-date",
        "9000-01-01",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("no interval after it"), "{error}");
}

#[test]
fn airflow_dag_is_python_that_runs_this_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dag = stdout(
        pinpipe(dir.path())
            .args([
                "--topic-prefix",
                "shop",
                "airflow-dag",
                "--schedule",
                "30 6 * * MON-FRI",
                "--dag-id",
                "shop_batch",
                "--retries",
                "3",
                "--retry-delay",
                "90s",
                "--start-date",
                "2024-03-01",
            ])
            .env("PINPIPE_STORAGE_OPTIONS__AWS_REGION", "eu-west-1")
            .env("PINPIPE_STORAGE_OPTIONS__AWS_SECRET_ACCESS_KEY", "hunter2"),
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_pinpipe"))
        .canonicalize()
        .expect("binary path");
    let data_dir = dir.path().canonicalize().expect("data dir");
    let command = format!(
        "COMMAND = \"{} --data-dir {} --lake {} --topic-prefix shop batch\"",
        binary.display(),
        data_dir.display(),
        data_dir.join("lake").display()
    );
    for expected in [
        command.as_str(),
        "dag_id=\"shop_batch\",",
        "schedule=\"30 6 * * MON-FRI\",",
        "\"retries\": 3,",
        "\"retry_delay\": timedelta(seconds=90),",
        "start_date=datetime(2024, 3, 1, 0, 0, tzinfo=timezone.utc),",
        "catchup=False,",
        "\"PINPIPE_STORAGE_OPTIONS__AWS_REGION\": \"eu-west-1\",",
        "#   PINPIPE_STORAGE_OPTIONS__AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(dag.contains(expected), "{expected:?} missing from\n{dag}");
    }
    assert!(!dag.contains("hunter2"));

    let file = dir.path().join("shop_batch.py");
    std::fs::write(&file, &dag).expect("write the DAG");
    let compiled = Command::new(python())
        .args(["-m", "py_compile"])
        .arg(&file)
        .output()
        .expect("run python");
    assert!(
        compiled.status.success(),
        "py_compile: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
}
