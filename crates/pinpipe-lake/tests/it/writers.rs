//! Concurrent writers on every backend: Delta commits are conditional creations of the next log
//! entry, so writers racing for the same table version lose cleanly, reload and try again.

use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use pinpipe_lake::delta::{OnConflict, ensure_clean_table, upsert};
use pinpipe_lake::session::new_session;
use pinpipe_model::{Table, TableBuilder};

use crate::batch::pin;
use crate::common::{Backend, TestLake, TestResult, backend_tests};

/// Writers racing in each test.
const WRITERS: i64 = 4;

/// Merges the pins `keys` into `table` (`tables/pin`), retrying when another writer committed
/// since `table` was loaded; returns the version of its commit.
async fn merge_pins(mut table: DeltaTable, keys: Vec<i64>, title: String) -> TestResult<u64> {
    let mut builder = TableBuilder::new(Table::Pin);
    for (i, key) in keys.iter().enumerate() {
        builder.push_raw(&pin(*key, &title), "test", i64::try_from(i)?);
    }
    let (rows, rejected) = builder.finish();
    assert!(rejected.is_empty(), "{rejected:?}");
    let merged = upsert(
        &new_session()?,
        &mut table,
        "tables/pin",
        rows,
        CommitProperties::default(),
        OnConflict::Retry,
    )
    .await?;
    assert_eq!(merged.inserted + merged.updated, keys.len());
    Ok(merged.commit.ok_or("the merge committed nothing")?.version)
}

backend_tests! {
    /// Writers race to create the same table, then to merge overlapping keys into it: every
    /// writer succeeds, each with a version of its own, and no row is lost or doubled.
    async fn racing_writers_all_commit_and_lose_nothing(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        let creators: Vec<_> = (0..WRITERS)
            .map(|_| {
                let lake = lake.lake.clone();
                tokio::spawn(async move { ensure_clean_table(&lake, "tables", Table::Pin).await })
            })
            .collect();
        let mut created = 0;
        for creator in creators {
            let (table, commit) = creator.await??;
            assert_eq!(table.version(), Some(0));
            created += usize::from(commit.is_some());
        }
        assert_eq!(created, 1, "one creation commit, the others open it");

        // Every writer loads version 0 before any merges, so all but the first to commit lose
        // at least once and go through the retry. Writer w merges keys 10w..10w+20: each key but
        // the first ten and the last ten is written by two writers.
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let table = lake.lake.require_table("tables/pin").await?;
            let keys = (w * 10..w * 10 + 20).collect();
            writers.push(tokio::spawn(merge_pins(table, keys, format!("writer {w}"))));
        }
        let mut versions = Vec::new();
        for writer in writers {
            versions.push(writer.await??);
        }
        versions.sort_unstable();
        let last = u64::try_from(WRITERS)?;
        assert_eq!(versions, (1..=last).collect::<Vec<u64>>(), "one version per writer");
        assert_eq!(lake.version("tables/pin").await?, last);
        let keys = (WRITERS * 10 + 10).to_string();
        assert_eq!(
            lake.rows("SELECT COUNT(*), COUNT(DISTINCT ind), MIN(ind), MAX(ind) FROM pin")
                .await?,
            vec![vec![keys.clone(), keys, "0".to_owned(), (WRITERS * 10 + 9).to_string()]]
        );
        // A key written twice holds the copy of one of its two writers.
        let titles = lake.rows("SELECT title FROM pin WHERE ind = 15").await?;
        assert!(
            titles == [["writer 0"]] || titles == [["writer 1"]],
            "{titles:?}"
        );
        Ok(())
    }
}
