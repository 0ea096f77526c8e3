//! Table upkeep: optimize compacts and keeps the rows, vacuum deletes only what is unreferenced
//! and older than the retention, and neither disturbs a running stream job. The stream job, optimize
//! and vacuum also run on every backend.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use deltalake::kernel::transaction::CommitProperties;
use pinpipe_lake::delta::{OnConflict, upsert};
use pinpipe_lake::session::new_session;
use pinpipe_lake::upkeep::{TableSet, VacuumOptions, optimize, vacuum};
use pinpipe_lake::{LakeError, StreamOptions, run_stream};
use pinpipe_model::{Table, TableBuilder};

use crate::batch::pin;
use crate::common::{Backend, TestLake, TestResult, backend_tests};
use crate::stream::StreamLake;

/// The parquet files in a table's folder.
fn parquet_files(table_dir: &Path) -> TestResult<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(table_dir)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    files.sort();
    Ok(files)
}

async fn active_files(lake: &TestLake, path: &str) -> TestResult<usize> {
    Ok(lake
        .lake
        .require_table(path)
        .await?
        .get_file_uris()?
        .count())
}

const ALL_PINS: &str = "SELECT * FROM stream_pin ORDER BY ind";

/// A stream table grown by several micro-batches of new keys: one small file each.
async fn fragmented(backend: &Backend) -> TestResult<StreamLake> {
    let s = StreamLake::on(backend).await?;
    for round in 0..5i64 {
        let pins: Vec<(i64, String)> = (0..20)
            .map(|i| (round * 100 + i, format!("pin {round} {i}")))
            .collect();
        let pins: Vec<(i64, &str)> = pins.iter().map(|(i, t)| (*i, t.as_str())).collect();
        s.put_pins(&pins).await?;
        s.once(1000).await?;
    }
    Ok(s)
}

backend_tests! {
    async fn optimize_compacts_small_files_and_keeps_the_rows(backend: Backend) -> TestResult {
        let s = fragmented(&backend).await?;
        let lake = &s.lake;
        let before_rows = lake.rows(ALL_PINS).await?;
        let before_files = active_files(lake, "stream/pin").await?;
        assert!(before_files >= 5, "{before_files} files");

        let done = optimize(&lake.lake, TableSet::Stream).await?;
        let pin = done
            .iter()
            .find(|t| t.path == "stream/pin")
            .ok_or("stream/pin optimized")?;
        assert_eq!(pin.files_before, before_files);
        assert!(pin.version.is_some());
        assert_eq!(active_files(lake, "stream/pin").await?, 1);
        assert_eq!(lake.rows(ALL_PINS).await?, before_rows);

        // Nothing left to compact: no commit.
        let version = lake.version("stream/pin").await?;
        let again = optimize(&lake.lake, TableSet::Stream).await?;
        assert!(again.iter().all(|t| t.version.is_none()), "{again:?}");
        assert_eq!(lake.version("stream/pin").await?, version);
        // The stream job goes on from the compacted table.
        s.put_pins(&[(1, "after optimize")]).await?;
        assert_eq!(s.once(1000).await?.records_read, 1);
        assert_eq!(lake.number("SELECT COUNT(*) FROM stream_pin").await?, 100);
        // The files optimize replaced are within the retention: vacuum keeps them.
        let vacuumed = vacuum(&lake.lake, TableSet::Stream, &VacuumOptions::default()).await?;
        assert_eq!(vacuumed.len(), 3);
        assert!(vacuumed.iter().all(|t| t.files.is_empty()), "{vacuumed:?}");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vacuum_deletes_only_unreferenced_files_older_than_the_retention() -> TestResult {
    let s = fragmented(&Backend::Local).await?;
    let lake = &s.lake;
    optimize(&lake.lake, TableSet::Stream).await?;
    let rows = lake.rows(ALL_PINS).await?;
    let dir = lake.root().join("stream/pin");
    let tombstoned = parquet_files(&dir)?.len();
    assert!(
        tombstoned >= 6,
        "compacted files stay on disk until vacuumed"
    );

    // Files never committed (a writer that crashed): one old, one recent.
    let old = "part-00000-dead-old.c000.snappy.parquet";
    let recent = "part-00000-dead-new.c000.snappy.parquet";
    std::fs::write(dir.join(old), b"orphan")?;
    std::fs::write(dir.join(recent), b"orphan")?;
    std::fs::File::options()
        .write(true)
        .open(dir.join(old))?
        .set_modified(SystemTime::now() - Duration::from_secs(8 * 24 * 3600))?;

    // Shorter than the tables' delta.deletedFileRetentionDuration (7 days): refused.
    let short = VacuumOptions {
        retention: Duration::from_secs(3600),
        dry_run: false,
    };
    let refused = vacuum(&lake.lake, TableSet::Stream, &short).await;
    assert!(
        matches!(refused, Err(LakeError::InvalidOptions(_))),
        "{refused:?}"
    );

    let dry = VacuumOptions {
        dry_run: true,
        ..VacuumOptions::default()
    };
    let listed = vacuum(&lake.lake, TableSet::Stream, &dry).await?;
    let pin = listed
        .iter()
        .find(|t| t.path == "stream/pin")
        .ok_or("stream/pin")?;
    assert_eq!(pin.files.len(), 1, "{:?}", pin.files);
    assert!(pin.files[0].ends_with(old), "{:?}", pin.files);
    assert!(dir.join(old).exists(), "a dry run deletes nothing");

    let deleted = vacuum(&lake.lake, TableSet::Stream, &VacuumOptions::default()).await?;
    let pin = deleted
        .iter()
        .find(|t| t.path == "stream/pin")
        .ok_or("stream/pin")?;
    assert_eq!(pin.files.len(), 1);
    assert!(!dir.join(old).exists());
    assert!(dir.join(recent).exists(), "recent files are kept");
    assert_eq!(
        parquet_files(&dir)?.len(),
        tombstoned + 1,
        "files removed by a commit within the retention are kept"
    );
    assert!(dir.join("_delta_log").exists());
    assert_eq!(lake.rows(ALL_PINS).await?, rows);

    // With a table retention of 1 s, files removed more than 2 s ago go, the rest stay.
    for path in ["stream/pin", "stream/geo", "stream/user"] {
        let table = lake.lake.require_table(path).await?;
        table
            .set_tbl_properties()
            .with_properties(HashMap::from([(
                "delta.deletedFileRetentionDuration".to_owned(),
                "interval 1 second".to_owned(),
            )]))
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let seconds = VacuumOptions {
        retention: Duration::from_secs(2),
        dry_run: false,
    };
    vacuum(&lake.lake, TableSet::Stream, &seconds).await?;
    assert_eq!(
        parquet_files(&dir)?.len(),
        active_files(lake, "stream/pin").await?,
        "only the files of the current version are left"
    );
    assert_eq!(lake.rows(ALL_PINS).await?, rows);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn optimize_beside_a_running_stream_job_loses_and_doubles_nothing() -> TestResult {
    let s = Arc::new(StreamLake::new().await?);
    let opts = StreamOptions {
        trigger: Duration::from_millis(20),
        ..StreamOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let job = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            run_stream(&s.lake.lake, &s.bus, &opts, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let producing = Arc::new(AtomicBool::new(true));
    let compactor = {
        let s = Arc::clone(&s);
        let producing = Arc::clone(&producing);
        tokio::spawn(async move {
            let mut runs = 0;
            while producing.load(Ordering::Relaxed) {
                optimize(&s.lake.lake, TableSet::Stream).await?;
                runs += 1;
            }
            Ok::<_, LakeError>(runs)
        })
    };
    let mut expected = HashMap::new();
    for round in 0..30i64 {
        let pins: Vec<(i64, String)> = (0..15)
            .map(|i| ((round * 7 + i) % 60, format!("r{round} i{i}")))
            .collect();
        for (ind, title) in &pins {
            expected.insert(*ind, title.clone());
        }
        let pins: Vec<(i64, &str)> = pins.iter().map(|(i, t)| (*i, t.as_str())).collect();
        s.put_pins(&pins).await?;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    producing.store(false, Ordering::Relaxed);
    let runs = compactor.await??;
    assert!(runs >= 2, "optimize ran {runs} times");
    let _ = stop.send(());
    job.await??;
    s.once(1000).await?;

    let mut expected: Vec<Vec<String>> = expected
        .into_iter()
        .map(|(ind, title)| vec![ind.to_string(), title])
        .collect();
    expected.sort_by_key(|r| r[0].parse::<i64>().unwrap_or_default());
    assert_eq!(
        s.lake
            .rows("SELECT ind, title FROM stream_pin ORDER BY ind")
            .await?,
        expected,
        "each key once, its last copy"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_planned_before_an_optimize_is_planned_again() -> TestResult {
    let s = fragmented(&Backend::Local).await?;
    let lake = &s.lake;
    let mut stale = lake.lake.require_table("stream/pin").await?;
    optimize(&lake.lake, TableSet::Stream).await?;
    let mut builder = TableBuilder::new(Table::Pin);
    builder.push_raw(&pin(3, "replaced"), "test", 0);
    builder.push_raw(&pin(1000, "new"), "test", 1);
    let (rows, _) = builder.finish();
    let ctx = new_session()?;
    let (path, props) = ("stream/pin", CommitProperties::default);

    let failed = upsert(
        &ctx,
        &mut stale,
        path,
        rows.clone(),
        props(),
        OnConflict::Fail,
    )
    .await;
    assert!(
        failed.as_ref().is_err_and(LakeError::is_commit_conflict),
        "{failed:?}"
    );
    let merged = upsert(&ctx, &mut stale, path, rows, props(), OnConflict::Retry).await?;
    assert_eq!((merged.inserted, merged.updated), (1, 1));
    assert_eq!(
        lake.rows("SELECT COUNT(*), COUNT(DISTINCT ind) FROM stream_pin")
            .await?,
        vec![vec!["101".to_owned(), "101".to_owned()]]
    );
    assert_eq!(
        lake.rows("SELECT title FROM stream_pin WHERE ind = 3")
            .await?,
        vec![vec!["replaced".to_owned()]]
    );
    Ok(())
}

/// A process killed in the middle of an upload leaves `<name>#<n>` beside the object it was
/// writing, which object_store's listings do not show, so no table's vacuum finds it. Vacuum
/// deletes it once it is older than the retention, and nothing else.
#[tokio::test]
async fn vacuum_deletes_the_uploads_a_killed_process_left() -> TestResult {
    use futures::TryStreamExt;
    use pinpipe_lake::unfinished::remove_unfinished;

    let lake = TestLake::new()?;
    let partition = "raw/topics/pinpipe.pin/partition=0";
    let dir = lake.root().join(partition);
    std::fs::create_dir_all(&dir)?;
    let object = dir.join("pinpipe.pin+0+0000000000.json");
    std::fs::write(&object, "{}\n")?;
    let stale = dir.join("pinpipe.pin+0+0000000001.json#3");
    std::fs::write(&stale, "{\"partial")?;
    std::fs::File::options()
        .write(true)
        .open(&stale)?
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))?;
    let fresh = lake.root().join("tables/pin/part-00001.parquet#9");
    std::fs::create_dir_all(fresh.parent().expect("a folder"))?;
    std::fs::write(&fresh, "being written")?;

    let listed: Vec<String> = lake
        .lake
        .store()
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await?;
    assert_eq!(
        listed,
        [format!("{partition}/pinpipe.pin+0+0000000000.json")]
    );

    let hour = Duration::from_secs(3600);
    // Outside the folders pinpipe writes: a file of the user's, named so by chance.
    let theirs = lake.root().join("notes#2");
    std::fs::write(&theirs, "mine")?;
    std::fs::File::options()
        .write(true)
        .open(&theirs)?
        .set_modified(SystemTime::now() - Duration::from_secs(30 * 24 * 3600))?;

    let would = remove_unfinished(&lake.lake, hour, true).await?;
    assert_eq!(
        would.files,
        [format!("{partition}/pinpipe.pin+0+0000000001.json#3")]
    );
    assert!(stale.exists(), "a dry run deletes nothing");
    let removed = remove_unfinished(&lake.lake, hour, false).await?;
    assert_eq!(removed, would);
    assert_eq!(removed.bytes, 9);
    assert!(!stale.exists());
    assert!(fresh.exists(), "an upload younger than the retention stays");
    assert!(object.exists());
    assert!(theirs.exists(), "only pinpipe's folders are looked at");
    Ok(())
}
