//! Test lakes on each backend (a temporary directory, or a unique prefix on the S3 test server), raw
//! objects, and reading tables back.
//!
//! [`backend_tests!`] runs one test body against every backend, as object_store's integration suite
//! runs one suite per store: each `async fn name(backend: Backend)` becomes a module `name` with
//! the tests `local` and `s3`.

use std::collections::HashMap;
use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use pinpipe_lake::raw::object_path;
use pinpipe_lake::{BatchOptions, BatchReport, Lake, query, run_batch, text_rows};
use pinpipe_model::Table;
use pinpipe_testkit::Server;
use tempfile::TempDir;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs each test body against every [`Backend`]: `async fn name(backend: Backend) -> TestResult
/// { … }` becomes `mod name { #[tokio::test] async fn local() …; #[tokio::test] async fn s3() … }`.
/// The S3 test returns early when the developer chose to skip server tests.
macro_rules! backend_tests {
    ($(
        $(#[doc = $doc:literal])*
        async fn $name:ident($backend:ident: $backend_type:ty) -> $result:ty $body:block
    )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn body($backend: $backend_type) -> $result $body

            #[tokio::test(flavor = "multi_thread")]
            async fn local() -> $result {
                body($crate::common::Backend::Local).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn s3() -> $result {
                match $crate::common::Backend::s3() {
                    Some(backend) => body(backend).await,
                    None => Ok(()),
                }
            }
        }
    )*};
}
pub(crate) use backend_tests;

/// Where a test lake lives.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A temporary directory.
    Local,
    /// A unique prefix in the test bucket of the S3 server at `endpoint`.
    S3 {
        /// The server's address, `http://host:port`.
        endpoint: String,
    },
}

impl Backend {
    /// The S3 test server, `None` when server tests are skipped.
    pub fn s3() -> Option<Backend> {
        Server::S3
            .address()
            .map(|endpoint| Backend::S3 { endpoint })
    }

    /// The storage options of the S3 test server: passed to the lake, never set in the process
    /// environment, so that tests do not interfere.
    pub fn s3_options(endpoint: &str) -> HashMap<String, String> {
        [
            ("AWS_ACCESS_KEY_ID", "pinpipe"),
            ("AWS_SECRET_ACCESS_KEY", "pinpipe"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// A test lake: in a temporary directory (removed when dropped), or under a unique prefix of the
/// S3 test bucket. `dir` is there for both, for what a test keeps beside the lake (a bus file).
pub struct TestLake {
    pub dir: TempDir,
    pub lake: Lake,
}

impl TestLake {
    /// A lake in a temporary directory.
    pub fn new() -> TestResult<TestLake> {
        TestLake::on(&Backend::Local)
    }

    /// A new, empty lake on `backend`.
    pub fn on(backend: &Backend) -> TestResult<TestLake> {
        let dir = tempfile::tempdir()?;
        let lake = match backend {
            Backend::Local => {
                Lake::open(&dir.path().join("lake").to_string_lossy(), HashMap::new())?
            }
            Backend::S3 { endpoint } => {
                let location = format!(
                    "s3://{}/{}",
                    pinpipe_testkit::s3_bucket(),
                    pinpipe_testkit::unique_name("lake")
                );
                Lake::open(&location, Backend::s3_options(endpoint))?
            }
        };
        Ok(TestLake { dir, lake })
    }

    /// The lake's directory on disk (local lakes only).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    /// Deletes every object below `prefix` (e.g. a table's folder), on any backend.
    pub async fn delete_below(&self, prefix: &str) -> TestResult {
        let store = self.lake.store();
        let locations = store
            .list(Some(&Path::from(prefix)))
            .map_ok(|meta| meta.location)
            .boxed();
        store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// Copies the files below the local folder `from` to `to` in the lake, on any backend.
    pub async fn upload_dir(&self, from: &std::path::Path, to: &str) -> TestResult {
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let target = format!("{to}/{name}");
            if entry.file_type()?.is_dir() {
                Box::pin(self.upload_dir(&entry.path(), &target)).await?;
            } else {
                self.put_bytes(&target, std::fs::read(entry.path())?)
                    .await?;
            }
        }
        Ok(())
    }

    /// Writes a raw object of `table`'s topic (prefix `pinpipe`) holding `lines`; returns its path.
    pub async fn put_raw(
        &self,
        table: Table,
        partition: u32,
        offset: i64,
        lines: &[String],
    ) -> TestResult<String> {
        let path = object_path(&format!("pinpipe.{}", table.name()), partition, offset);
        let mut text = lines.join("\n");
        text.push('\n');
        self.put_text(&path, &text).await?;
        Ok(path)
    }

    pub async fn put_text(&self, path: &str, text: &str) -> TestResult {
        self.put_bytes(path, text.as_bytes().to_vec()).await
    }

    pub async fn put_bytes(&self, path: &str, bytes: Vec<u8>) -> TestResult {
        self.lake
            .store()
            .put(&Path::from(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get_text(&self, path: &str) -> TestResult<String> {
        let bytes = self
            .lake
            .store()
            .get(&Path::from(path))
            .await?
            .bytes()
            .await?;
        Ok(String::from_utf8(bytes.to_vec())?)
    }

    /// Runs the batch job with `opts`.
    pub async fn batch_with(&self, opts: &BatchOptions) -> TestResult<BatchReport> {
        Ok(run_batch(&self.lake, opts).await?)
    }

    /// Runs the batch job with default options.
    pub async fn batch(&self) -> TestResult<BatchReport> {
        self.batch_with(&BatchOptions::default()).await
    }

    /// The number of data files of the Delta table at `path`.
    pub async fn files(&self, path: &str) -> TestResult<usize> {
        let table = self.lake.require_table(path).await?;
        Ok(table.snapshot()?.log_data().num_files())
    }

    /// The rows of `sql` over the lake, as text.
    pub async fn rows(&self, sql: &str) -> TestResult<Vec<Vec<String>>> {
        Ok(text_rows(&query(&self.lake, sql).await?)?)
    }

    /// A single number from `sql`.
    pub async fn number(&self, sql: &str) -> TestResult<i64> {
        let rows = self.rows(sql).await?;
        let cell = rows.first().and_then(|r| r.first()).ok_or("no rows")?;
        Ok(cell.parse()?)
    }

    /// The current version of the Delta table at `path`.
    pub async fn version(&self, path: &str) -> TestResult<u64> {
        let table = self.lake.require_table(path).await?;
        Ok(table.version().ok_or("no version")?)
    }
}

/// The real rows of one deployment's topic in `fixtures/peer-raw` (REST Proxy envelopes unwrapped).
pub fn peer_lines(deployment: &str, table: Table) -> TestResult<Vec<String>> {
    let dir = fixtures_dir().join("peer-raw").join(deployment);
    if deployment == "RegnixS" {
        let text = std::fs::read_to_string(dir.join(format!("{}_consumer.json", table.name())))?;
        let envelopes: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        return envelopes
            .iter()
            .map(|e| Ok(e.get("value").ok_or("envelope without value")?.to_string()))
            .collect();
    }
    let text = std::fs::read_to_string(dir.join(format!("{}.jsonl", table.name())))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

pub const PEER_DEPLOYMENTS: [&str; 4] = ["chemi5t", "54F-A", "ChefData", "RegnixS"];

/// Lays out every peer deployment as consecutive raw objects of partition 0 of each topic.
/// Returns, per table, the object paths in order and the next free offset.
pub async fn put_peer_fixtures(lake: &TestLake) -> TestResult<HashMap<Table, (Vec<String>, i64)>> {
    let mut layout = HashMap::new();
    for table in Table::ALL {
        let mut offset = 0;
        let mut paths = Vec::new();
        for deployment in PEER_DEPLOYMENTS {
            let lines = peer_lines(deployment, table)?;
            paths.push(lake.put_raw(table, 0, offset, &lines).await?);
            offset += i64::try_from(lines.len())?;
        }
        layout.insert(table, (paths, offset));
    }
    Ok(layout)
}

/// The repository's `fixtures` folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
