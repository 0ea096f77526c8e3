//! The stream job: embedded streams of several shards → `stream/*` and the quarantine, exactly
//! once, with its positions in the tables' Delta logs.

use deltalake::TableProperty;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryFromArrow;
use deltalake::operations::create::CreateBuilder;
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, PutRecord, Streams, shard_sequence_number};
use pinpipe_lake::delta::{QUARANTINE_PATH, transaction_version};
use pinpipe_lake::stream::{Checkpoint, app_id};
use pinpipe_lake::{StreamOptions, StreamReport, run_stream, stream_lag};
use pinpipe_model::Table;
use serde_json::json;

use crate::batch::pin;
use crate::common::{Backend, TestLake, TestResult};

/// Shards of each test stream.
pub const SHARDS: u32 = 3;

/// A lake and an embedded bus with the three streams, in one temporary directory.
pub struct StreamLake {
    pub lake: TestLake,
    pub bus: EmbeddedBus,
}

impl StreamLake {
    pub async fn new() -> TestResult<StreamLake> {
        StreamLake::on(&Backend::Local).await
    }

    /// A lake on `backend`, and a bus in the test's temporary directory.
    pub async fn on(backend: &Backend) -> TestResult<StreamLake> {
        let lake = TestLake::on(backend)?;
        let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
        for table in Table::ALL {
            bus.create_stream(&stream(table), SHARDS).await?;
        }
        Ok(StreamLake { lake, bus })
    }

    /// Puts `records` (partition key, data) on `table`'s stream.
    pub async fn put(&self, table: Table, records: &[(String, String)]) -> TestResult {
        let records = records
            .iter()
            .map(|(key, data)| PutRecord::new(data.clone().into_bytes(), key.clone()))
            .collect();
        for outcome in self.bus.put_records(&stream(table), records).await? {
            outcome?;
        }
        Ok(())
    }

    /// Puts pins, keyed by their `ind`.
    pub async fn put_pins(&self, pins: &[(i64, &str)]) -> TestResult {
        let records: Vec<(String, String)> = pins
            .iter()
            .map(|(ind, title)| (ind.to_string(), pin(*ind, title)))
            .collect();
        self.put(Table::Pin, &records).await
    }

    /// Runs the stream job until the streams are drained.
    pub async fn once(&self, max_records_per_shard: usize) -> TestResult<StreamReport> {
        let opts = StreamOptions {
            once: true,
            max_records_per_shard,
            ..StreamOptions::default()
        };
        Ok(run_stream(&self.lake.lake, &self.bus, &opts, std::future::pending()).await?)
    }

    /// The versions of the stream tables and the quarantine.
    pub async fn versions(&self) -> TestResult<Vec<u64>> {
        let mut versions = Vec::new();
        for path in ["stream/pin", "stream/geo", "stream/user", QUARANTINE_PATH] {
            versions.push(self.lake.version(path).await?);
        }
        Ok(versions)
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

pub fn stream(table: Table) -> String {
    StreamOptions::default().stream_name(table)
}

fn geo(ind: i64, country: &str) -> String {
    json!({"ind": ind, "timestamp": "2020-01-02 03:04:05", "latitude": 1.5, "longitude": -2.25,
           "country": country})
    .to_string()
}

fn user(ind: i64, first: &str) -> String {
    json!({"ind": ind, "first_name": first, "last_name": "Last ", "age": "33",
           "date_joined": "2016-05-06 07:08:09"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_land_once_per_key_exactly_once_across_runs() -> TestResult {
    let s = StreamLake::new().await?;
    let first: Vec<(i64, String)> = (0..40).map(|i| (i, format!("first {i}"))).collect();
    let second: Vec<(i64, String)> = (0..40)
        .step_by(2)
        .map(|i| (i, format!("second {i}")))
        .collect();
    for batch in [&first, &second] {
        let pins: Vec<(i64, &str)> = batch.iter().map(|(i, t)| (*i, t.as_str())).collect();
        s.put_pins(&pins).await?;
    }
    let geos: Vec<(String, String)> = (0..10).map(|i| (i.to_string(), geo(i, "Chile"))).collect();
    let users: Vec<(String, String)> = (0..10)
        .map(|i| (i.to_string(), user(i, "Ada")))
        .chain([("5".to_owned(), user(5, "Grace"))])
        .collect();
    s.put(Table::Geo, &geos).await?;
    s.put(Table::User, &users).await?;
    let bad = [
        ("x".to_owned(), "not json".to_owned()),
        ("y".to_owned(), json!({"index": "seven"}).to_string()),
    ];
    s.put(Table::Pin, &bad).await?;
    s.put(Table::User, &[("7".to_owned(), pin(7, "a pin"))])
        .await?;

    // Seven records per shard per micro-batch: several micro-batches per table.
    let report = s.once(7).await?;
    assert_eq!(report.records_read, 40 + 20 + 2 + 10 + 11 + 1);
    assert_eq!(report.rejected, 3);
    assert_eq!(report.quarantined, 3);
    let lake = &s.lake;
    assert_eq!(
        lake.rows("SELECT COUNT(*), COUNT(DISTINCT ind) FROM stream_pin")
            .await?,
        vec![vec!["40".to_owned(), "40".to_owned()]]
    );
    assert_eq!(
        lake.rows("SELECT ind, title, follower_count, save_location, downloaded FROM stream_pin WHERE ind IN (2, 3) ORDER BY ind")
            .await?,
        vec![
            row(&["2", "second 2", "1000", "/data/art", "true"]),
            row(&["3", "first 3", "1000", "/data/art", "true"]),
        ],
        "the last copy wins, cleaned as the batch job cleans"
    );
    assert_eq!(
        lake.rows("SELECT ind, country, coordinates[1], coordinates[2], CAST(\"timestamp\" AS VARCHAR) FROM stream_geo WHERE ind = 4")
            .await?,
        vec![row(&["4", "Chile", "1.5", "-2.25", "2020-01-02T03:04:05Z"])]
    );
    assert_eq!(
        lake.rows("SELECT user_name, age FROM stream_user WHERE ind = 5")
            .await?,
        vec![row(&["Grace Last", "33"])]
    );
    assert_eq!(lake.number("SELECT COUNT(*) FROM stream_user").await?, 10);
    assert_eq!(
        lake.rows("SELECT \"table\", source, reason FROM quarantine ORDER BY \"table\", reason")
            .await?
            .into_iter()
            .map(|r| (
                r[0].clone(),
                r[1].starts_with("streaming-pinpipe-"),
                r[2].clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "pin".into(),
                true,
                "invalid JSON: expected ident at line 1 column 2".into()
            ),
            (
                "pin".into(),
                true,
                "non-integer key \"index\": \"seven\"".into()
            ),
            ("user".into(), true, "pin record in user topic".into()),
        ]
    );

    // The positions are in the Delta log: the sequence number of the last record of every shard,
    // next to the micro-batch number of the commit that wrote them.
    for table in Table::ALL {
        let delta = lake
            .lake
            .require_table(&format!("stream/{}", table.name()))
            .await?;
        let checkpoint = Checkpoint::load(&delta, &stream(table)).await?;
        assert_eq!(
            checkpoint.batch,
            transaction_version(&delta, &app_id(&stream(table))).await?
        );
        for shard in s.bus.describe_stream(&stream(table)).await?.shards {
            let records = shard.records.expect("the embedded log counts records");
            let expected = (records > 0)
                .then(|| shard_sequence_number(&shard.shard_id, records - 1))
                .flatten();
            assert_eq!(
                checkpoint.position(&shard.shard_id),
                expected.as_deref(),
                "{table} {}",
                shard.shard_id
            );
        }
    }
    let lag = stream_lag(&lake.lake, &s.bus, &StreamOptions::default()).await?;
    assert_eq!(lag.len(), 3 * SHARDS as usize);
    assert!(lag.iter().all(|l| l.lag == Some(0)), "{lag:?}");

    // Nothing new: no commit at all.
    let versions = s.versions().await?;
    let again = s.once(7).await?;
    assert_eq!((again.records_read, again.commits), (0, 0));
    assert_eq!(s.versions().await?, versions);

    // New records are merged in; a micro-batch of rejects only still moves the position on.
    s.put_pins(&[(3, "third 3"), (100, "new")]).await?;
    s.put(Table::Geo, &[("9".to_owned(), "[]".to_owned())])
        .await?;
    let more = s.once(7).await?;
    assert_eq!(
        (more.records_read, more.rows_inserted, more.rows_updated),
        (3, 1, 1)
    );
    assert_eq!(more.quarantined, 1);
    assert_eq!(lake.number("SELECT COUNT(*) FROM stream_pin").await?, 41);
    assert_eq!(
        lake.rows("SELECT title FROM stream_pin WHERE ind = 3")
            .await?,
        vec![vec!["third 3".to_owned()]]
    );
    assert_eq!(lake.number("SELECT COUNT(*) FROM stream_geo").await?, 10);
    let lag = stream_lag(&lake.lake, &s.bus, &StreamOptions::default()).await?;
    assert!(lag.iter().all(|l| l.lag == Some(0)), "{lag:?}");
    let versions = s.versions().await?;
    assert_eq!(s.once(7).await?.commits, 0);
    assert_eq!(s.versions().await?, versions);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn positions_are_read_back_from_the_log_not_from_memory() -> TestResult {
    let s = StreamLake::new().await?;
    s.put_pins(&[(1, "a"), (2, "b")]).await?;
    s.once(100).await?;
    // Someone rewinds nothing, adds one record: a new job instance starts from the log.
    s.put_pins(&[(1, "c")]).await?;
    let report = s.once(100).await?;
    assert_eq!(report.records_read, 1, "only the new record is read");
    assert_eq!(
        s.lake
            .rows("SELECT ind, title FROM stream_pin ORDER BY ind")
            .await?,
        vec![
            vec!["1".to_owned(), "c".to_owned()],
            vec!["2".to_owned(), "b".to_owned()]
        ]
    );
    // A table deleted by hand starts over from the start of every shard.
    std::fs::remove_dir_all(s.lake.root().join("stream/pin"))?;
    let report = s.once(100).await?;
    assert_eq!(report.records_read, 3);
    assert_eq!(s.lake.number("SELECT COUNT(*) FROM stream_pin").await?, 2);
    Ok(())
}

/// A stream table's log does not grow without bound: the job leaves delta-rs's expired-log
/// cleanup to the commits that write a checkpoint, and there it still deletes what expired.
#[tokio::test(flavor = "multi_thread")]
async fn expired_log_files_are_deleted_when_a_checkpoint_is_written() -> TestResult {
    let s = StreamLake::new().await?;
    // stream/pin as a user may tune it: a checkpoint every 3 commits, logs kept for no time.
    let columns = StructType::try_from_arrow(Table::Pin.schema().as_ref())?;
    CreateBuilder::new()
        .with_location(s.lake.lake.table_uri("stream/pin"))
        .with_table_name("pin")
        .with_columns(columns.fields().cloned())
        .with_configuration_property(TableProperty::CheckpointInterval, Some("3"))
        .with_configuration_property(
            TableProperty::LogRetentionDuration,
            Some("interval 0 seconds"),
        )
        .await?;
    for ind in 1..=7 {
        s.put_pins(&[(ind, "t"), (1, "first key again")]).await?;
        s.once(100).await?;
    }
    assert_eq!(s.lake.number("SELECT COUNT(*) FROM stream_pin").await?, 7);
    let version = s.lake.version("stream/pin").await?;
    let log = s.lake.root().join("stream/pin/_delta_log");
    let mut commits = Vec::new();
    let mut checkpoints = Vec::new();
    for entry in std::fs::read_dir(&log)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let number = |suffix: &str| name.strip_suffix(suffix)?.parse::<u64>().ok();
        if let Some(v) = number(".json") {
            commits.push(v);
        } else if let Some(v) = number(".checkpoint.parquet") {
            checkpoints.push(v);
        }
    }
    let last_checkpoint = *checkpoints.iter().max().ok_or("no checkpoint written")?;
    assert!(
        last_checkpoint >= 5,
        "version {version}, checkpoints {checkpoints:?}"
    );
    commits.sort_unstable();
    assert_eq!(
        commits,
        (last_checkpoint..=version).collect::<Vec<_>>(),
        "commit files left: those from the last checkpoint on"
    );
    Ok(())
}

/// A micro-batch that replaces keys rewrites only the data files holding them, so that what it
/// costs does not grow with the table (a MERGE reads every file to find them); the job's index of
/// where each key is follows its own commits.
#[tokio::test(flavor = "multi_thread")]
async fn replacing_keys_rewrites_only_the_files_that_hold_them() -> TestResult {
    let s = StreamLake::new().await?;
    // Five micro-batches of four new keys: five files.
    for round in 0..5 {
        let pins: Vec<(i64, String)> = (0..4)
            .map(|i| (round * 10 + i, format!("first {}", round * 10 + i)))
            .collect();
        let refs: Vec<(i64, &str)> = pins.iter().map(|(i, t)| (*i, t.as_str())).collect();
        s.put_pins(&refs).await?;
        s.once(1000).await?;
    }
    let before = s.lake.version("stream/pin").await?;

    // Key 21 twice (one shard, one record a micro-batch: two micro-batches, the second rewriting
    // the file the first wrote), and a new key (in the first, from another shard).
    s.put_pins(&[(21, "replaced"), (21, "replaced again"), (100, "new")])
        .await?;
    let report = s.once(1).await?;
    assert_eq!((report.rows_inserted, report.rows_updated), (1, 2));

    let log = s.lake.root().join("stream/pin/_delta_log");
    let mut removes = Vec::new();
    for version in before + 1..=s.lake.version("stream/pin").await? {
        let commit = std::fs::read_to_string(log.join(format!("{version:020}.json")))?;
        let actions: Vec<serde_json::Value> = commit
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let count = |kind: &str| actions.iter().filter(|a| a.get(kind).is_some()).count();
        assert_eq!(count("add"), 1, "version {version}: one file written");
        removes.push(count("remove"));
    }
    assert_eq!(removes, [1, 1], "one file rewritten per micro-batch");

    assert_eq!(s.lake.number("SELECT COUNT(*) FROM stream_pin").await?, 21);
    assert_eq!(
        s.lake
            .rows("SELECT ind, title FROM stream_pin WHERE ind BETWEEN 20 AND 23 OR ind = 100 ORDER BY ind")
            .await?,
        [
            ["20", "first 20"],
            ["21", "replaced again"],
            ["22", "first 22"],
            ["23", "first 23"],
            ["100", "new"],
        ]
        .map(|row| row.map(str::to_owned).to_vec())
        .to_vec()
    );
    Ok(())
}
