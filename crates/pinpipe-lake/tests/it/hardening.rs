//! What must not happen under poison input, full disks and streams re-created under running jobs:
//! memory bounded by bytes whatever an object holds, jobs that stop cleanly on a full disk and
//! lose nothing, a re-created stream read from its start.

use std::time::Duration;

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, PutRecord, Streams, Topics};
use pinpipe_lake::raw::ReadLimits;
use pinpipe_lake::sink::{SinkError, SinkOptions, run_sink};
use pinpipe_lake::{BatchOptions, Lake, StreamOptions, run_batch, run_stream};
use pinpipe_model::Table;
use pinpipe_testkit::Tmpfs;
use serde_json::json;

use crate::batch::pin;
use crate::common::{TestLake, TestResult};
use crate::stream::{SHARDS, StreamLake, stream};

/// A pin whose description is `size` bytes of letters that do not compress.
fn big_pin(ind: i64, size: usize) -> String {
    let mut state = u64::try_from(ind)
        .unwrap_or_default()
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        | 1;
    let description: String = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + u8::try_from(state % 26).unwrap_or_default())
        })
        .collect();
    json!({"index": ind, "unique_id": format!("u{ind}"), "title": "big",
           "description": description, "category": "art"})
    .to_string()
}

#[tokio::test]
async fn one_huge_object_goes_through_in_pieces_of_bounded_size() -> TestResult {
    let lake = TestLake::new()?;
    // 300 records of 200 KB (60 MB) in one object, with a few records over the record limit and
    // bytes that are not UTF-8.
    let mut lines: Vec<String> = (0..300).map(|i| big_pin(i, 200_000)).collect();
    lines[7] = big_pin(7, 3_000_000);
    lines[8] = "{\"index\": 8, \"title\": \"\u{FFFD}\"}".to_owned();
    lake.put_raw(Table::Pin, 0, 0, &lines).await?;
    let options = BatchOptions {
        read_limits: ReadLimits {
            max_piece_bytes: 2 * 1024 * 1024,
            max_record_bytes: 1024 * 1024,
        },
        max_bytes_in_memory: 8 * 1024 * 1024,
        ..BatchOptions::default()
    };
    let report = lake.batch_with(&options).await?;
    assert_eq!(report.records_read, 300);
    assert_eq!(report.tables[0].rows_inserted, 299);
    assert_eq!(report.tables[0].rejected, 1);
    // Written as many files, committed once.
    assert!(lake.files("tables/pin").await? >= 5);
    let reason = format!(
        "record of {} bytes is over the limit of 1048576 bytes (its first 1024 bytes are kept)",
        lines[7].len()
    );
    assert_eq!(
        lake.rows("SELECT reason, length(raw) FROM quarantine")
            .await?,
        vec![vec![reason, "1024".to_owned()]]
    );
    assert_eq!(
        lake.number("SELECT COUNT(*) FROM pin WHERE length(description) = 200000")
            .await?,
        298
    );
    Ok(())
}

#[tokio::test]
async fn a_stream_created_again_is_read_from_its_start() -> TestResult {
    let s = StreamLake::new().await?;
    let pins: Vec<(i64, String)> = (0..30).map(|i| (i, format!("old {i}"))).collect();
    let refs: Vec<(i64, &str)> = pins.iter().map(|(i, t)| (*i, t.as_str())).collect();
    s.put_pins(&refs).await?;
    s.put(Table::Pin, &[("bad".to_owned(), "not json".to_owned())])
        .await?;
    s.once(1000).await?;

    // Another process (another handle on the same bus file) deletes and creates the stream
    // again; it gets fewer records than the old one had, from offset 0 again.
    let other = EmbeddedBus::open(s.lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    other.delete_stream(&stream(Table::Pin)).await?;
    other.create_stream(&stream(Table::Pin), SHARDS).await?;
    // This gateway's bus still has the old stream cached: its records must reach the new one.
    let new: Vec<(i64, String)> = (100..105).map(|i| (i, format!("new {i}"))).collect();
    let refs: Vec<(i64, &str)> = new.iter().map(|(i, t)| (*i, t.as_str())).collect();
    s.put_pins(&refs).await?;
    s.put(
        Table::Pin,
        &[("bad".to_owned(), "not json either".to_owned())],
    )
    .await?;

    let report = s.once(1000).await?;
    assert_eq!(
        report.records_read, 6,
        "every record of the new stream, none skipped"
    );
    assert_eq!(
        s.lake
            .number("SELECT COUNT(*) FROM stream_pin WHERE title LIKE 'new %'")
            .await?,
        5
    );
    // The new stream's bad record is quarantined too, though the old one's was at the same
    // offset of the same shard.
    assert_eq!(
        s.lake
            .number("SELECT COUNT(*) FROM quarantine WHERE raw LIKE 'not json%'")
            .await?,
        2
    );
    Ok(())
}

#[tokio::test]
async fn records_put_into_a_deleted_stream_are_refused_not_lost() -> TestResult {
    let s = StreamLake::new().await?;
    s.put_pins(&[(1, "cached")]).await?;
    let other = EmbeddedBus::open(s.lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    other.delete_stream(&stream(Table::Pin)).await?;
    let put = s
        .bus
        .put_records(
            &stream(Table::Pin),
            vec![PutRecord::new(
                pin(2, "into the void").into_bytes(),
                "2".to_owned(),
            )],
        )
        .await;
    assert!(
        matches!(put, Err(pinpipe_bus::BusError::StreamNotFound(_))),
        "{put:?}"
    );
    Ok(())
}

/// Records of ~20 KB on each topic, as the sink will see them.
async fn produce(bus: &EmbeddedBus, per_topic: usize) -> TestResult {
    for table in Table::ALL {
        let topic = format!("pinpipe.{}", table.name());
        bus.create_topic(&topic, 1).await?;
        let records = (0..per_topic)
            .map(|i| ProduceRecord {
                key: None,
                value: big_pin(i64::try_from(i).unwrap_or_default(), 20_000).into_bytes(),
                partition: None,
            })
            .collect();
        for outcome in bus.produce(&topic, records).await? {
            outcome?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stops_the_sink_and_the_batch_job_and_loses_nothing() -> TestResult {
    let Some(disk) = Tmpfs::mount(64) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let bus = EmbeddedBus::open(dir.path().join("bus.db"), EmbeddedOptions::default())?;
    produce(&bus, 200).await?;
    let lake = Lake::open(
        &disk.path().join("lake").to_string_lossy(),
        Default::default(),
    )?;
    let options = SinkOptions {
        flush_size: 20,
        once: true,
        rotate_interval: Duration::from_millis(100),
        ..SinkOptions::for_prefix("pinpipe")
    };
    // 12 MB of records, 6 MB of room.
    let ballast = disk.ballast_leaving(6);
    let stopped = run_sink(&bus, lake.store(), &options, std::future::pending()).await;
    match stopped {
        Err(e @ SinkError::DiskFull { .. }) => {
            assert!(e.to_string().contains("disk is full"), "{e}");
        }
        other => panic!("the sink on a full disk: {other:?}"),
    }
    std::fs::remove_file(&ballast)?;
    run_sink(&bus, lake.store(), &options, std::future::pending()).await?;

    // Every record in the raw layout exactly once: the batch job reads 200 distinct keys.
    let ballast = disk.ballast_leaving(1);
    let failed = run_batch(&lake, &BatchOptions::default()).await;
    match failed {
        // Not retried: a full disk waits for someone to free space (the stream job retried
        // nine times over ten seconds before it stopped).
        Err(e) => assert!(e.is_disk_full() && !e.is_retryable(), "{e}"),
        Ok(report) => panic!("the batch job on a full disk: {report:?}"),
    }
    std::fs::remove_file(&ballast)?;
    let report = run_batch(&lake, &BatchOptions::default()).await?;
    assert_eq!(report.records_read, 600, "{report:?}");
    let tables = TestLake {
        dir,
        lake: lake.clone(),
    };
    for table in ["pin", "geo", "\"user\""] {
        assert_eq!(
            tables
                .number(&format!("SELECT COUNT(DISTINCT ind) FROM {table}"))
                .await?,
            if table == "pin" { 200 } else { 0 },
            "{table}"
        );
    }
    assert_eq!(tables.number("SELECT COUNT(*) FROM quarantine").await?, 400);

    // The stream job stops on a full disk too, and picks up where it was.
    let streams = StreamLake::new().await?;
    for i in 0..50 {
        streams
            .bus
            .put_records(
                &stream(Table::Pin),
                vec![PutRecord::new(
                    big_pin(i, 20_000).into_bytes(),
                    i.to_string(),
                )],
            )
            .await?
            .remove(0)?;
    }
    let ballast = disk.ballast_leaving(0);
    let opts = StreamOptions {
        once: true,
        ..StreamOptions::default()
    };
    let failed = run_stream(&lake, &streams.bus, &opts, std::future::pending()).await;
    assert!(
        failed
            .as_ref()
            .is_err_and(pinpipe_lake::LakeError::is_disk_full),
        "{failed:?}"
    );
    std::fs::remove_file(&ballast)?;
    let report = run_stream(&lake, &streams.bus, &opts, std::future::pending()).await?;
    assert_eq!(report.rows_inserted, 50, "{report:?}");
    Ok(())
}
