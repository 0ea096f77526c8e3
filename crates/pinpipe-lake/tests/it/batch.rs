//! The batch job end to end on the real peer rows and on small hand-made objects; what touches the
//! raw layout, the manifest or the Delta tables' storage runs on every backend.

use deltalake::arrow::datatypes::{DataType, Field};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use pinpipe_lake::delta::QUARANTINE_PATH;
use pinpipe_lake::manifest::manifest_path;
use pinpipe_lake::raw::ReadLimits;
use pinpipe_lake::{BatchOptions, run_batch};
use pinpipe_model::{Table, quarantine_schema};

use crate::common::{
    Backend, PEER_DEPLOYMENTS, TestLake, TestResult, backend_tests, peer_lines, put_peer_fixtures,
};

/// The batch manifest's record of the pin objects read: path → size.
async fn manifest_sizes(lake: &TestLake) -> TestResult<std::collections::BTreeMap<String, u64>> {
    let manifest: serde_json::Value =
        serde_json::from_str(&lake.get_text(&manifest_path("tables")).await?)?;
    let pins = manifest["tables"]["pin"]
        .as_object()
        .ok_or("no pin objects")?;
    Ok(pins
        .iter()
        .map(|(path, size)| (path.clone(), size.as_u64().unwrap_or_default()))
        .collect())
}

/// A pin record with the fields that matter here.
pub fn pin(ind: i64, title: &str) -> String {
    serde_json::json!({
        "index": ind, "unique_id": format!("00000000-0000-4000-8000-{ind:012}"), "title": title,
        "description": "d", "poster_name": "p", "follower_count": "1k", "tag_list": "a,b",
        "is_image_or_video": "image", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1,
        "save_location": "Local save in /data/art", "category": "art"
    })
    .to_string()
}

async fn title_of(lake: &TestLake, ind: i64) -> TestResult<String> {
    let rows = lake
        .rows(&format!("SELECT title FROM pin WHERE ind = {ind}"))
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .cloned()
        .ok_or("no such pin")?)
}

async fn table_versions(lake: &TestLake) -> TestResult<Vec<u64>> {
    let mut versions = Vec::new();
    for path in ["tables/pin", "tables/geo", "tables/user", QUARANTINE_PATH] {
        versions.push(lake.version(path).await?);
    }
    Ok(versions)
}

backend_tests! {
    async fn peer_rows_end_to_end_idempotent_and_incremental(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        let layout = put_peer_fixtures(&lake).await?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_listed, 12);
        assert_eq!(report.objects_read, 12);
        assert_eq!(report.objects_ignored, 0);
        assert_eq!(report.records_read, 2061 + 2092 + 2104);
        assert_eq!(report.rejected(), 6);

        // One row per key.
        assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 1058);
        assert_eq!(lake.number("SELECT COUNT(*) FROM geo").await?, 1059);
        assert_eq!(lake.number("SELECT COUNT(*) FROM \"user\"").await?, 1060);
        for t in ["pin", "geo", "\"user\""] {
            assert_eq!(
                lake.number(&format!("SELECT COUNT(*) - COUNT(DISTINCT ind) FROM {t}"))
                    .await?,
                0
            );
        }
        let inserted: Vec<usize> = report.tables.iter().map(|t| t.rows_inserted).collect();
        assert_eq!(inserted, vec![1058, 1059, 1060]);

        // The records of other tables inside the user topic are quarantined with their source and offset.
        let quarantine = lake
            .rows(
                "SELECT \"table\", source, position, reason FROM quarantine ORDER BY source, position",
            )
            .await?;
        assert_eq!(quarantine.len(), 6);
        assert!(quarantine.iter().all(|r| r[0] == "user"));
        let (user_objects, _) = &layout[&Table::User];
        let chemi5t: Vec<&Vec<String>> = quarantine
            .iter()
            .filter(|r| r[1] == user_objects[0])
            .collect();
        assert_eq!(chemi5t.len(), 4);
        assert!(chemi5t.iter().all(|r| r[3] == "pin record in user topic"));
        let reasons: Vec<&str> = quarantine.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(
            reasons
                .iter()
                .filter(|r| **r == "pin record in user topic")
                .count(),
            5
        );
        assert_eq!(
            reasons
                .iter()
                .filter(|r| **r == "geo record in user topic")
                .count(),
            1
        );
        let raw_of_first = lake
            .rows(&format!(
                "SELECT raw FROM quarantine WHERE source = '{}' ORDER BY position LIMIT 1",
                user_objects[0]
            ))
            .await?;
        assert!(
            raw_of_first[0][0].contains("\"index\""),
            "raw text is kept whole"
        );

        // Running again on the same input writes nothing.
        let versions = table_versions(&lake).await?;
        let again = lake.batch().await?;
        assert!(again.is_noop(), "{again:?}");
        assert_eq!(again.objects_read, 0);
        assert_eq!(table_versions(&lake).await?, versions);

        // One new object: only it is read; its copy of a known key replaces the old one.
        let (_, next_offset) = layout[&Table::Pin];
        let new_path = lake
            .put_raw(
                Table::Pin,
                0,
                next_offset,
                &[pin(6717, "Changed title"), pin(99_999, "New pin")],
            )
            .await?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_read, 1);
        assert_eq!(report.records_read, 2);
        assert_eq!(
            (
                report.tables[0].rows_inserted,
                report.tables[0].rows_updated
            ),
            (1, 1)
        );
        assert_eq!(report.commits.len(), 1);
        assert_eq!(report.commits[0].path, "tables/pin");
        assert_eq!(report.commits[0].version, versions[0] + 1);
        assert_eq!(
            manifest_sizes(&lake).await?.get(new_path.as_str()).copied(),
            Some(lake.lake.store().head(&Path::from(new_path.as_str())).await?.size)
        );
        assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 1059);
        assert_eq!(title_of(&lake, 6717).await?, "Changed title");
        assert_eq!(title_of(&lake, 99_999).await?, "New pin");
        Ok(())
    }
}

backend_tests! {
    async fn delta_tables_have_the_spec_schema_and_a_standard_protocol(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        lake.put_raw(Table::Pin, 0, 0, &[pin(1, "t")]).await?;
        lake.batch().await?;
        let mut expected: Vec<(String, _)> = Table::ALL
            .iter()
            .map(|t| (format!("tables/{}", t.name()), t.schema()))
            .collect();
        expected.push((QUARANTINE_PATH.to_owned(), quarantine_schema()));
        let shape = |f: &Field| -> (String, DataType, bool) {
            (f.name().clone(), f.data_type().clone(), f.is_nullable())
        };
        for (path, schema) in expected {
            let table = lake.lake.require_table(&path).await?;
            let state = table.snapshot()?;
            let written = state.snapshot().arrow_schema();
            let got: Vec<_> = written.fields().iter().map(|f| shape(f)).collect();
            let want: Vec<_> = schema.fields().iter().map(|f| shape(f)).collect();
            assert_eq!(got, want, "{path}");
            assert_eq!(state.protocol().min_reader_version(), 1, "{path}");
            assert_eq!(state.protocol().min_writer_version(), 2, "{path}");
            assert!(state.metadata().partition_columns().is_empty());
        }
        Ok(())
    }
}

/// The batch job's metrics name what they count as the sink's and the stream job's do: records
/// read by topic, rows committed by the table's path in the lake; and they start at zero.
#[tokio::test]
async fn metrics_count_reads_by_topic_and_rows_by_table_path_from_zero() -> TestResult {
    let lake = TestLake::on(&Backend::Local)?;
    lake.put_raw(Table::Pin, 0, 0, &[pin(1, "t")]).await?;
    lake.batch().await?;
    let metrics = pinpipe_telemetry::render();
    for series in [
        r#"pinpipe_batch_objects_read_total{topic="pinpipe.pin"}"#,
        r#"pinpipe_batch_records_total{topic="pinpipe.pin"}"#,
        r#"pinpipe_batch_bytes_total{topic="pinpipe.pin"}"#,
        r#"pinpipe_batch_commits_total{table="tables/pin"}"#,
        r#"pinpipe_batch_rows_total{table="tables/pin",op="inserted"}"#,
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from:\n{metrics}"
        );
    }
    assert!(!metrics.contains(r#"{table="pin"}"#), "{metrics}");
    // Every series the run can count is there from its start, at zero when nothing was counted:
    // user records have no coordinates, so this one can only be there at zero.
    assert!(
        metrics.contains(
            r#"pinpipe_quarantined_records_total{component="batch",table="user",reason="half_coordinates"} 0"#
        ),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn the_copy_that_arrived_last_wins() -> TestResult {
    let lake = TestLake::new()?;
    // Partition 1 comes after partition 0, whatever the offsets; within an object, later lines win.
    lake.put_raw(
        Table::Pin,
        1,
        0,
        &[pin(2, "p1"), pin(3, "p1 first"), pin(3, "p1 last")],
    )
    .await?;
    lake.put_raw(Table::Pin, 0, 10, &[pin(1, "p0 o10"), pin(2, "p0 o10")])
        .await?;
    lake.put_raw(Table::Pin, 0, 0, &[pin(1, "p0 o0")]).await?;
    let report = lake.batch().await?;
    assert_eq!(report.tables[0].records_read, 6);
    assert_eq!(report.tables[0].rows_inserted, 3);
    assert_eq!(title_of(&lake, 1).await?, "p0 o10");
    assert_eq!(title_of(&lake, 2).await?, "p1");
    assert_eq!(title_of(&lake, 3).await?, "p1 last");
    Ok(())
}

/// Options that hold only a few rows in memory at a time.
fn small_budget() -> BatchOptions {
    BatchOptions {
        max_bytes_in_memory: 40 * 1024,
        read_limits: ReadLimits {
            max_piece_bytes: 16 * 1024,
            ..ReadLimits::default()
        },
        ..BatchOptions::default()
    }
}

async fn same_tables(a: &TestLake, b: &TestLake) -> TestResult {
    for sql in [
        "SELECT * FROM pin ORDER BY ind",
        "SELECT * FROM geo ORDER BY ind",
        "SELECT * FROM \"user\" ORDER BY ind",
        "SELECT * FROM quarantine ORDER BY source, position",
    ] {
        assert_eq!(a.rows(sql).await?, b.rows(sql).await?, "{sql}");
    }
    Ok(())
}

#[tokio::test]
async fn a_new_table_written_in_many_files_gets_one_commit_and_the_last_copies() -> TestResult {
    let whole = TestLake::new()?;
    let small = TestLake::new()?;
    put_peer_fixtures(&whole).await?;
    put_peer_fixtures(&small).await?;
    whole.batch().await?;
    let report = small.batch_with(&small_budget()).await?;
    for path in ["tables/pin", "tables/geo", "tables/user"] {
        // Created, then written once.
        assert_eq!(
            report.commits.iter().filter(|c| c.path == path).count(),
            2,
            "{path}: {report:?}"
        );
        assert!(small.files(path).await? >= 3, "{path}");
    }
    // The deployments share keys, so earlier files lost rows to later copies and were written
    // again without them: the tables are those of a run that held everything at once.
    same_tables(&whole, &small).await
}

#[tokio::test]
async fn a_table_with_rows_takes_one_merge_per_chunk() -> TestResult {
    let whole = TestLake::new()?;
    let small = TestLake::new()?;
    for lake in [&whole, &small] {
        // Rows in every table first (on another partition), then the rest to merge.
        for table in Table::ALL {
            let first = peer_lines(PEER_DEPLOYMENTS[0], table)?;
            lake.put_raw(table, 1, 0, &first).await?;
        }
        lake.batch().await?;
        put_peer_fixtures(lake).await?;
    }
    whole.batch().await?;
    let report = small.batch_with(&small_budget()).await?;
    for path in ["tables/pin", "tables/geo", "tables/user"] {
        assert!(
            report.commits.iter().filter(|c| c.path == path).count() >= 3,
            "{path}: {report:?}"
        );
    }
    same_tables(&whole, &small).await
}

backend_tests! {
    async fn a_crash_before_the_manifest_is_written_is_harmless(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        put_peer_fixtures(&lake).await?;
        lake.batch().await?;
        let before = lake.rows("SELECT * FROM pin ORDER BY ind").await?;
        // As if the run had crashed after its Delta commits, before recording its objects.
        lake.lake
            .store()
            .delete(&Path::from(manifest_path("tables")))
            .await?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_read, 12);
        assert_eq!(
            report.tables.iter().map(|t| t.rows_inserted).sum::<usize>(),
            0
        );
        assert_eq!(
            report.tables.iter().map(|t| t.quarantined).sum::<usize>(),
            0
        );
        assert_eq!(lake.rows("SELECT * FROM pin ORDER BY ind").await?, before);
        assert_eq!(lake.number("SELECT COUNT(*) FROM quarantine").await?, 6);
        assert!(lake.batch().await?.is_noop());
        Ok(())
    }
}

#[tokio::test]
async fn a_rewritten_object_is_read_again() -> TestResult {
    let lake = TestLake::new()?;
    lake.put_raw(Table::Pin, 0, 0, &[pin(1, "a")]).await?;
    lake.batch().await?;
    // The sink wrote the object again after a crash, now with one more record.
    lake.put_raw(Table::Pin, 0, 0, &[pin(1, "a"), pin(2, "b")])
        .await?;
    let report = lake.batch().await?;
    assert_eq!(report.objects_read, 1);
    assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 2);
    assert!(lake.batch().await?.is_noop());
    Ok(())
}

backend_tests! {
    async fn a_deleted_table_is_rebuilt_from_raw(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        put_peer_fixtures(&lake).await?;
        lake.batch().await?;
        lake.delete_below("tables/geo").await?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_read, 4, "only the geo objects");
        assert_eq!(lake.number("SELECT COUNT(*) FROM geo").await?, 1059);
        Ok(())
    }
}

backend_tests! {
    async fn objects_off_the_layout_and_bad_records_never_stop_a_run(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        lake.put_text("raw/topics/pinpipe.geo/partition=0/notes.txt", "hello")
            .await?;
        lake.put_text(
            "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+0000000000.json.tmp",
            "{}",
        )
        .await?;
        lake.put_raw(Table::Geo, 0, 0, &[
            r#"{"ind": 1, "country": "Chad", "latitude": 1.5, "longitude": -2, "timestamp": "2020-01-01 00:00:00"}"#.to_owned(),
            "{not json".to_owned(),
            r#"{"ind": 2, "timestamp": "yesterday"}"#.to_owned(),
            "[1]".to_owned(),
        ])
        .await?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_ignored, 2);
        assert_eq!(lake.number("SELECT COUNT(*) FROM geo").await?, 1);
        let positions = lake
            .rows("SELECT position FROM quarantine ORDER BY position")
            .await?;
        assert_eq!(
            positions,
            vec![
                vec!["1".to_owned()],
                vec!["2".to_owned()],
                vec!["3".to_owned()]
            ]
        );
        let coordinates = lake.rows("SELECT coordinates FROM geo").await?;
        assert_eq!(coordinates, vec![vec!["[1.5, -2.0]".to_owned()]]);
        Ok(())
    }
}

backend_tests! {
    async fn an_empty_lake_gets_empty_tables(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        let report = lake.batch().await?;
        assert_eq!(report.objects_listed, 0);
        assert_eq!(report.commits.len(), 4, "the four tables are created");
        assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 0);
        assert!(lake.batch().await?.is_noop());
        Ok(())
    }
}

#[test]
fn the_jobs_can_be_spawned_on_a_runtime() -> TestResult {
    fn send<T: Send>(_: T) {}
    let lake = TestLake::new()?;
    let opts = BatchOptions::default();
    send(run_batch(&lake.lake, &opts));
    send(pinpipe_lake::run_analyses(&lake.lake, "tables"));
    send(pinpipe_lake::query(&lake.lake, "SELECT 1"));
    send(pinpipe_lake::write_report(&lake.lake, "tables", &[]));
    Ok(())
}

#[tokio::test]
async fn bad_options_are_refused_before_anything_is_written() -> TestResult {
    let lake = TestLake::new()?;
    for opts in [
        BatchOptions {
            topic_prefix: "../x".into(),
            ..BatchOptions::default()
        },
        BatchOptions {
            tables_dir: "/".into(),
            ..BatchOptions::default()
        },
        BatchOptions {
            tables_dir: "a/../..".into(),
            ..BatchOptions::default()
        },
        BatchOptions {
            max_bytes_in_memory: 0,
            ..BatchOptions::default()
        },
        BatchOptions {
            max_bytes_in_memory: 4 * 1024 * 1024 * 1024,
            ..BatchOptions::default()
        },
    ] {
        let err = run_batch(&lake.lake, &opts).await;
        assert!(
            matches!(err, Err(pinpipe_lake::LakeError::InvalidOptions(_))),
            "{opts:?}: {err:?}"
        );
    }
    assert!(lake.lake.open_table(QUARANTINE_PATH).await?.is_none());
    Ok(())
}
