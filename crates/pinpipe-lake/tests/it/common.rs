//! Test lakes in temporary directories, raw objects, and reading tables back.

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use pinpipe_lake::raw::object_path;
use pinpipe_lake::{BatchOptions, BatchReport, Lake, query, run_batch, text_rows};
use pinpipe_model::Table;
use tempfile::TempDir;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A lake in a temporary directory, removed when dropped.
pub struct TestLake {
    pub dir: TempDir,
    pub lake: Lake,
}

impl TestLake {
    pub fn new() -> TestResult<TestLake> {
        let dir = tempfile::tempdir()?;
        let lake = Lake::open(&dir.path().join("lake").to_string_lossy(), HashMap::new())?;
        Ok(TestLake { dir, lake })
    }

    /// The lake's directory on disk.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("lake")
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
        self.lake
            .store()
            .put(
                &Path::from(path),
                PutPayload::from(text.as_bytes().to_vec()),
            )
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

    /// Runs the batch job with default options except `max_records_per_commit`.
    pub async fn batch_with(&self, max_records_per_commit: usize) -> TestResult<BatchReport> {
        let opts = BatchOptions {
            max_records_per_commit,
            ..BatchOptions::default()
        };
        Ok(run_batch(&self.lake, &opts, &|_| {}).await?)
    }

    pub async fn batch(&self) -> TestResult<BatchReport> {
        self.batch_with(BatchOptions::default().max_records_per_commit)
            .await
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
