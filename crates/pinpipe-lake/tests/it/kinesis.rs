//! The stream job on Kinesis (kinesalite): every shard read with shard iterators, positions as
//! Kinesis sequence numbers in the tables' Delta log, and a second run resuming from them.

use pinpipe_bus::kinesis::{Credentials, KinesisBus, KinesisOptions};
use pinpipe_bus::{PutRecord, ReadFrom, ReadLimit, Streams};
use pinpipe_lake::stream::Checkpoint;
use pinpipe_lake::{StreamOptions, StreamReport, run_stream};
use pinpipe_model::Table;
use pinpipe_testkit::{Server, unique_name};

use crate::batch::pin;
use crate::common::{TestLake, TestResult};

/// Shards of the pin stream.
const SHARDS: u32 = 2;

async fn kinesis(endpoint: String) -> TestResult<KinesisBus> {
    Ok(KinesisBus::connect(KinesisOptions {
        region: Some("us-east-1".to_owned()),
        endpoint_url: Some(endpoint),
        credentials: Some(Credentials::new("pinpipe", "pinpipe", None, None, "test")),
    })
    .await?)
}

async fn put(kinesis: &KinesisBus, stream: &str, records: &[(i64, String)]) -> TestResult {
    let records = records
        .iter()
        .map(|(key, data)| PutRecord::new(data.clone().into_bytes(), key.to_string()))
        .collect();
    for outcome in kinesis.put_records(stream, records).await? {
        outcome?;
    }
    Ok(())
}

async fn once(
    lake: &TestLake,
    kinesis: &KinesisBus,
    opts: &StreamOptions,
) -> TestResult<StreamReport> {
    Ok(run_stream(&lake.lake, kinesis, opts, std::future::pending()).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_job_follows_kinesis_and_resumes_from_its_delta_checkpoint() -> TestResult {
    let Some(endpoint) = Server::Kinesis.address() else {
        return Ok(());
    };
    let kinesis = kinesis(endpoint).await?;
    let opts = StreamOptions {
        stream_prefix: unique_name("ks"),
        once: true,
        max_records_per_shard: 7,
        ..StreamOptions::default()
    };
    for table in Table::ALL {
        kinesis
            .create_stream(&opts.stream_name(table), SHARDS)
            .await?;
    }
    let stream = opts.stream_name(Table::Pin);
    let lake = TestLake::new()?;

    let first: Vec<(i64, String)> = (0..30)
        .map(|i| (i, pin(i, &format!("first {i}"))))
        .collect();
    put(&kinesis, &stream, &first).await?;
    let report = once(&lake, &kinesis, &opts).await?;
    assert_eq!(report.records_read, 30);
    assert_eq!(
        lake.number("SELECT COUNT(DISTINCT ind) FROM stream_pin")
            .await?,
        30
    );

    // The positions are Kinesis sequence numbers: nothing is left after them in either shard.
    let delta = lake.lake.require_table("stream/pin").await?;
    let checkpoint = Checkpoint::load(&delta, &stream).await?;
    assert_eq!(
        checkpoint.positions.len(),
        SHARDS as usize,
        "{checkpoint:?}"
    );
    for (shard, sequence) in &checkpoint.positions {
        let after = kinesis
            .read_shard(
                &stream,
                shard,
                ReadFrom::After(sequence),
                ReadLimit::records(10),
            )
            .await?;
        assert!(after.is_empty(), "{shard} has records after its position");
    }

    // A new run reads only what came after: an update, a new key and a record it rejects.
    put(
        &kinesis,
        &stream,
        &[
            (3, pin(3, "again")),
            (100, pin(100, "new")),
            (7, "not json".to_owned()),
        ],
    )
    .await?;
    let report = once(&lake, &kinesis, &opts).await?;
    assert_eq!(
        (
            report.records_read,
            report.rows_inserted,
            report.rows_updated,
            report.quarantined
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(
        lake.rows("SELECT title FROM stream_pin WHERE ind = 3")
            .await?,
        vec![vec!["again".to_owned()]]
    );
    assert_eq!(lake.number("SELECT COUNT(*) FROM stream_pin").await?, 31);

    // Nothing new: nothing read, nothing committed.
    let report = once(&lake, &kinesis, &opts).await?;
    assert_eq!((report.records_read, report.commits), (0, 0));

    for table in Table::ALL {
        kinesis.delete_stream(&opts.stream_name(table)).await?;
    }
    Ok(())
}
