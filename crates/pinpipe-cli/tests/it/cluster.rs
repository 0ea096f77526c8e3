//! The batch job on a Ballista cluster of our own binary (`pinpipe batch --cluster`): the same
//! results as the single-process job — the nine CSVs, every table row and the quarantine — with
//! a local lake and with the lake on S3, incremental runs included; both executors at work; and
//! an executor killed with SIGKILL in the middle of a run.
//!
//! The cluster is the one in `PINPIPE_TEST_CLUSTER` (scripts/test starts it with
//! scripts/cluster), else one the test starts. Its executors run without `AWS_*` variables: the
//! lake's storage options come with each job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use pinpipe_testkit::{Server as Real, s3_bucket, unique_name};
use serde_json::Value;
use tempfile::TempDir;

use crate::process::{free_port, pinpipe, python, repo_root, run, terminate};

/// The golden raw layout.
fn golden() -> PathBuf {
    repo_root().join("fixtures/golden/peer")
}

/// A cluster of `pinpipe cluster` processes this test started, stopped when dropped.
struct OwnCluster {
    address: String,
    scheduler: Child,
    /// Each executor with its Flight port.
    executors: Vec<(Child, u16)>,
    dir: TempDir,
}

impl OwnCluster {
    /// A scheduler and `executors` executors (two tasks at once each), all registered.
    fn start(executors: usize) -> OwnCluster {
        let dir = TempDir::new().expect("temp dir");
        let address = format!("127.0.0.1:{}", free_port());
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let scheduler = pinpipe(dir.path())
            .args(["cluster", "scheduler", "--listen", &address])
            .stdout(Stdio::null())
            .stderr(log("scheduler.log"))
            .spawn()
            .expect("start a scheduler");
        let executors = (0..executors)
            .map(|i| {
                let (port, grpc_port) = (free_port(), free_port());
                let mut command = pinpipe(dir.path());
                for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("AWS_")) {
                    command.env_remove(var);
                }
                let child = command
                    .args(["cluster", "executor", "--scheduler", &address])
                    .args(["--listen", &format!("127.0.0.1:{port}")])
                    .args(["--grpc-port", &grpc_port.to_string(), "--concurrency", "2"])
                    .stdout(Stdio::null())
                    .stderr(log(&format!("executor{i}.log")))
                    .spawn()
                    .expect("start an executor");
                (child, port)
            })
            .collect();
        let cluster = OwnCluster {
            address: format!("df://{address}"),
            scheduler,
            executors,
            dir,
        };
        cluster.wait_registered();
        cluster
    }

    fn wait_registered(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let registered = cluster_status(&self.address).ok().map(|s| {
                executors(&s)
                    .iter()
                    .filter(|e| e["state"] == "registered")
                    .count()
            });
            if registered == Some(self.executors.len()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the executors did not register with {}", self.address);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let executors = self.executors.iter_mut().map(|(child, _)| child);
        for child in executors.chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An executor stopped with SIGTERM (as a service manager stops it) after a job leaves no work
/// directory behind: its shuffle and spill files and the directory made for them are gone, and
/// it logs no error on the way.
#[test]
fn a_stopped_executor_leaves_no_work_directory() {
    let mut cluster = OwnCluster::start(1);
    let lake = TestLake::local();
    lake.put_raw(&golden().join("raw"), first_part);
    lake.batch(Some(&cluster.address));
    let (executor, port) = &mut cluster.executors[0];
    let work_dir = cluster.dir.path().join(format!("executor-{port}"));
    assert!(work_dir.is_dir(), "{} while it runs", work_dir.display());
    terminate(executor);
    let deadline = Instant::now() + Duration::from_secs(30);
    while executor.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the executor did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!work_dir.exists(), "{} is left behind", work_dir.display());
    let log = std::fs::read_to_string(cluster.dir.path().join("executor0.log")).expect("log");
    assert!(!log.contains(" ERROR "), "{log}");
}

/// The test cluster: `PINPIPE_TEST_CLUSTER`, or one started for this test (kept alive by the
/// returned guard).
fn test_cluster() -> (String, Option<OwnCluster>) {
    match std::env::var("PINPIPE_TEST_CLUSTER") {
        Ok(address) if !address.is_empty() => (address, None),
        _ => {
            let own = OwnCluster::start(2);
            (own.address.clone(), Some(own))
        }
    }
}

/// `pinpipe cluster status --format json` of the scheduler at `address`.
fn cluster_status(address: &str) -> Result<Value, String> {
    let dir = TempDir::new().map_err(|e| e.to_string())?;
    let output = pinpipe(dir.path())
        .args([
            "cluster",
            "status",
            "--scheduler",
            address,
            "--format",
            "json",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
}

fn executors(status: &Value) -> Vec<Value> {
    status["executors"].as_array().cloned().unwrap_or_default()
}

/// Tasks completed so far per registered executor.
fn tasks_completed(address: &str) -> HashMap<String, u64> {
    let status = cluster_status(address).expect("cluster status");
    executors(&status)
        .iter()
        .filter(|e| e["state"] == "registered")
        .map(|e| {
            let id = e["id"].as_str().unwrap_or_default().to_owned();
            (id, e["tasks_completed"].as_u64().unwrap_or_default())
        })
        .collect()
}

/// Where a test lake lives, and how `pinpipe` is pointed at it.
struct TestLake {
    dir: TempDir,
    location: String,
    /// The S3 server, for an S3 lake.
    s3: Option<String>,
}

impl TestLake {
    fn local() -> TestLake {
        let dir = TempDir::new().expect("temp dir");
        let location = dir.path().join("lake").display().to_string();
        TestLake {
            dir,
            location,
            s3: None,
        }
    }

    /// A lake under a unique prefix of the S3 test server, `None` when server tests are skipped.
    fn s3() -> Option<TestLake> {
        let endpoint = Real::S3.address()?;
        Some(TestLake {
            dir: TempDir::new().expect("temp dir"),
            location: format!("s3://{}/{}", s3_bucket(), unique_name("cluster")),
            s3: Some(endpoint),
        })
    }

    /// `pinpipe` on this lake; storage options in a config file, none in the environment.
    fn pinpipe(&self) -> Command {
        let mut command = pinpipe(self.dir.path());
        for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("AWS_")) {
            command.env_remove(var);
        }
        if let Some(endpoint) = &self.s3 {
            let config = self.dir.path().join("pinpipe.toml");
            std::fs::write(
                &config,
                format!(
                    "lake = \"{}\"\n[storage_options]\nAWS_ENDPOINT_URL = \"{endpoint}\"\n\
                     AWS_ALLOW_HTTP = \"true\"\nAWS_REGION = \"us-east-1\"\n\
                     AWS_ACCESS_KEY_ID = \"pinpipe\"\nAWS_SECRET_ACCESS_KEY = \"pinpipe\"\n",
                    self.location
                ),
            )
            .expect("write config");
            command.arg("--config").arg(config);
        } else {
            command.args(["--lake", &self.location]);
        }
        command
    }

    /// The lake, opened here for the test's own reads and writes.
    fn open(&self) -> pinpipe_lake::Lake {
        let options: HashMap<String, String> = match &self.s3 {
            Some(endpoint) => [
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "pinpipe"),
                ("AWS_SECRET_ACCESS_KEY", "pinpipe"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
            None => HashMap::new(),
        };
        pinpipe_lake::Lake::open(&self.location, options).expect("open lake")
    }

    /// Copies the raw objects below `raw` (a `topics/` tree's parent) whose lake path `keep`
    /// accepts into the lake.
    fn put_raw(&self, raw: &Path, keep: impl Fn(&str) -> bool) {
        let mut files = Vec::new();
        walk(raw, &mut files);
        let store = self.open().store();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            for file in files {
                let relative = file.strip_prefix(raw).expect("below raw");
                let path = format!("raw/{}", relative.display());
                if !keep(&path) {
                    continue;
                }
                let bytes = std::fs::read(&file).expect("read fixture");
                store
                    .put(&ObjectPath::from(path.as_str()), bytes.into())
                    .await
                    .expect("put raw object");
            }
        });
    }

    /// The text of the object at `path` in the lake.
    fn text(&self, path: &str) -> String {
        let store = self.open().store();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let got = store
                .get(&ObjectPath::from(path))
                .await
                .expect("get object");
            let bytes = got.bytes().await.expect("read object");
            String::from_utf8(bytes.to_vec()).expect("utf-8")
        })
    }

    /// `pinpipe batch`, on the cluster at `cluster` if given; its standard output.
    fn batch(&self, cluster: Option<&str>) -> String {
        let mut command = self.pinpipe();
        command.arg("batch");
        if let Some(address) = cluster {
            command.args(["--cluster", address]);
            // A stuck cluster fails the test in a minute rather than after the default 5.
            command.env("PINPIPE_BATCH__CLUSTER_STALL_TIMEOUT", "60s");
        }
        run(&mut command)
    }

    /// Every row of the tables and the quarantine, as JSON lines in a fixed order.
    fn rows(&self) -> Vec<(&'static str, String)> {
        [
            ("pin", "SELECT * FROM pin ORDER BY ind"),
            ("geo", "SELECT * FROM geo ORDER BY ind"),
            ("user", "SELECT * FROM \"user\" ORDER BY ind"),
            (
                "quarantine",
                "SELECT * FROM quarantine ORDER BY source, position",
            ),
        ]
        .map(|(table, sql)| {
            let out = run(self.pinpipe().args(["query", "--format", "json", sql]));
            (table, out)
        })
        .to_vec()
    }

    /// The nine CSVs, by file name.
    fn results(&self) -> Vec<(String, String)> {
        expected_files()
            .into_iter()
            .map(|name| {
                let text = self.text(&format!("results/{name}"));
                (name, text)
            })
            .collect()
    }
}

/// The file names of the nine golden CSVs, sorted.
fn expected_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden().join("expected"))
        .expect("expected CSVs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The golden objects of a first run: two of the five of each topic.
fn first_part(path: &str) -> bool {
    path.ends_with("+0000000000.json") || path.ends_with("+0000000500.json")
}

/// The single-process job and the cluster, each in two runs (two objects of five per topic,
/// then the rest), on lakes made by `make`: the same rows and quarantine after each run, the
/// golden CSVs at the end; and both executors at work. A third lake takes its first run from
/// the single-process job and its second from the cluster, which reads the tables and the
/// quarantine that job wrote. Returns the cluster's lake and the cluster.
fn same_as_single_process(make: impl Fn() -> TestLake) -> (TestLake, String, Option<OwnCluster>) {
    let (cluster, own) = test_cluster();
    let raw = golden().join("raw");
    let (single, clustered, mixed) = (make(), make(), make());
    let before = tasks_completed(&cluster);
    for lake in [&single, &clustered, &mixed] {
        lake.put_raw(&raw, first_part);
    }
    single.batch(None);
    clustered.batch(Some(&cluster));
    mixed.batch(None);
    let first = single.rows();
    assert_eq!(clustered.rows(), first, "after the first run");
    assert!(
        first
            .iter()
            .any(|(table, rows)| *table == "quarantine" && rows.contains("\"reason\"")),
        "the first run quarantines records: {first:?}"
    );
    for lake in [&single, &clustered, &mixed] {
        lake.put_raw(&raw, |path| !first_part(path));
    }
    single.batch(None);
    clustered.batch(Some(&cluster));
    mixed.batch(Some(&cluster));
    let second = single.rows();
    assert_eq!(clustered.rows(), second, "after the second run");
    assert_eq!(
        mixed.rows(),
        second,
        "the cluster after the single-process job"
    );
    let results = clustered.results();
    assert_eq!(results, single.results());
    for (name, text) in &results {
        let expected =
            std::fs::read_to_string(golden().join("expected").join(name)).expect("expected CSV");
        assert!(
            *text == expected,
            "{name} differs from the golden one:\n{text}"
        );
    }
    let after = tasks_completed(&cluster);
    let busy: Vec<&String> = after
        .iter()
        .filter(|(id, n)| **n > before.get(*id).copied().unwrap_or_default())
        .map(|(id, _)| id)
        .collect();
    assert!(
        busy.len() >= 2,
        "executors that completed tasks: {busy:?} of {after:?}"
    );
    (clustered, cluster, own)
}

#[test]
fn the_same_as_one_process_on_a_local_lake() {
    let (lake, cluster, _own) = same_as_single_process(TestLake::local);
    // A third run, with nothing new, leaves the tables as they are. Checked on this lake only:
    // a run on the cluster costs seconds of both cores in a debug build, and what it finds to do
    // is listed by the same code whatever the storage.
    let out = lake.batch(Some(&cluster));
    assert!(out.contains("no new raw objects"), "{out}");
}

#[test]
fn the_same_as_one_process_with_the_lake_on_s3() {
    if TestLake::s3().is_none() {
        return;
    }
    same_as_single_process(|| TestLake::s3().expect("the S3 server"));
}

#[test]
fn a_missing_cluster_is_named_with_what_to_start() {
    let lake = TestLake::local();
    lake.put_raw(&golden().join("raw"), |_| true);
    let failed = |cluster: &str| -> String {
        let output = lake
            .pinpipe()
            .args(["batch", "--cluster", cluster])
            .output()
            .expect("run pinpipe");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let port = free_port();
    let stderr = failed(&format!("df://127.0.0.1:{port}"));
    assert!(
        stderr.contains(&format!("df://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "pinpipe cluster scheduler --listen 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    let alone = OwnCluster::start(0);
    let stderr = failed(&alone.address);
    assert!(stderr.contains("has no executors"), "{stderr}");
    assert!(
        stderr.contains("pinpipe cluster executor --scheduler"),
        "{stderr}"
    );
}

/// For each table of the local `lake` (by its path in the lake), every Delta version holds one row per key and either no
/// row or all of them (`expected`): no partial table, no duplicate (checked by the Python
/// deltalake reader, which knows nothing of pinpipe).
fn check_versions(lake: &TestLake, expected: &[(&str, usize)]) {
    let script = r#"
import json, os, sys
from deltalake import DeltaTable
lake, expected = sys.argv[1], json.loads(sys.argv[2])
problems = []
for table, n in expected.items():
    latest = DeltaTable(f"{lake}/{table}").version()
    for v in range(latest + 1):
        t = DeltaTable(f"{lake}/{table}", version=v).to_pyarrow_table()
        if table == "quarantine":
            keys = set(zip(t.column("source").to_pylist(), t.column("position").to_pylist()))
        else:
            keys = set(t.column("ind").to_pylist())
        if t.num_rows != len(keys):
            problems.append(f"{table} v{v}: {t.num_rows} rows for {len(keys)} keys")
        if t.num_rows not in (0, n):
            problems.append(f"{table} v{v}: {t.num_rows} rows, expected 0 or {n}")
print("\n".join(problems))
sys.stdout.flush()
os._exit(1 if problems else 0)
"#;
    let expected: HashMap<&str, usize> = expected.iter().copied().collect();
    let output = Command::new(python())
        .args(["-c", script, &lake.location])
        .arg(serde_json::to_string(&expected).expect("json"))
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "Delta versions: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Within 30 s of a run's end, every registered executor of the cluster at `address` shows all
/// its task slots free: none stays lost to the tasks a dead executor's stage cancelled.
fn all_slots_free_soon(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cluster_status(address).expect("cluster status");
        let registered: Vec<Value> = executors(&status)
            .into_iter()
            .filter(|e| e["state"] == "registered")
            .collect();
        if !registered.is_empty() && registered.iter().all(|e| e["slots_free"] == e["vcores"]) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "an idle cluster still has busy slots: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Row counts of the tables and the quarantine of `lake`, by their paths in the lake.
fn counts(lake: &TestLake) -> Vec<(&'static str, usize)> {
    let path = |table| match table {
        "pin" => "tables/pin",
        "geo" => "tables/geo",
        "user" => "tables/user",
        _ => "quarantine",
    };
    lake.rows()
        .into_iter()
        .map(|(table, lines)| (path(table), lines.lines().count()))
        .collect()
}

#[test]
fn an_executor_killed_mid_run_leaves_no_partial_commit() {
    let cluster = OwnCluster::start(2);
    // Enough objects that the run is still going when the first tasks are done.
    let input = TempDir::new().expect("temp dir");
    let generated = input.path().join("lake");
    run(pinpipe(input.path())
        .args(["--lake", &generated.display().to_string()])
        .args(["bench", "raw", "--posts", "30000", "--flush-size", "500"]));
    let raw = generated.join("raw");
    let (single, clustered) = (TestLake::local(), TestLake::local());
    single.put_raw(&raw, |_| true);
    clustered.put_raw(&raw, |_| true);
    single.batch(None);

    let mut batch = clustered
        .pinpipe()
        .args(["batch", "--cluster", &cluster.address])
        // A job that waits on the lost executor's work fails the run rather than hang the test.
        .env("PINPIPE_BATCH__CLUSTER_STALL_TIMEOUT", "60s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the batch");
    let port = loop {
        let status = cluster_status(&cluster.address).expect("cluster status");
        let worked = executors(&status)
            .into_iter()
            .find(|e| e["tasks_completed"].as_u64().unwrap_or_default() > 0);
        if let Some(executor) = worked {
            break executor["port"].as_u64().expect("a port");
        }
        assert!(
            batch.try_wait().expect("batch").is_none(),
            "the run ended before any task did"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        batch.try_wait().expect("batch").is_none(),
        "the run ended before an executor could be killed: give it more input"
    );
    let mut cluster = cluster;
    let victim = cluster
        .executors
        .iter_mut()
        .find(|(_, p)| u64::from(*p) == port)
        .expect("the executor that worked");
    victim.0.kill().expect("SIGKILL");
    let _ = victim.0.wait();
    let output = batch.wait_with_output().expect("the batch ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    if !output.status.success() {
        assert!(stderr.contains("error:"), "a failed run says why: {stderr}");
        eprintln!("the run with a killed executor failed, as it may: {stderr}");
    }
    let expected = counts(&single);
    check_versions(&clustered, &expected);
    all_slots_free_soon(&cluster.address);

    clustered.batch(Some(&cluster.address));
    assert_eq!(clustered.rows(), single.rows());
    assert_eq!(clustered.results(), single.results());
    check_versions(&clustered, &expected);
}
