//! [`KinesisBus`] against a real Kinesis API (kinesalite in CI) at the address in
//! `PINPIPE_TEST_KINESIS`: the whole `Streams` conformance suite, then what Kinesis itself
//! promises (MD5 routing that matches our partitioner, resuming after a sequence number, Kinesis's
//! batch limits) and how an endpoint that is not there fails.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pinpipe_bus::kinesis::{Credentials, KinesisBus, KinesisOptions};
use pinpipe_bus::{
    BusError, PutRecord, ReadFrom, ReadLimit, RecordError, Streams, shard_for_partition_key,
    shard_hash_range, shard_id,
};
use pinpipe_testkit::{Server, unique_name};

use crate::conformance;

/// Options for `endpoint`, with the region and credentials the test server takes, given here
/// rather than through the process environment.
fn options(endpoint: String) -> KinesisOptions {
    KinesisOptions {
        region: Some("us-east-1".to_owned()),
        endpoint_url: Some(endpoint),
        credentials: Some(Credentials::new(
            "pinpipe",
            "pinpipe",
            None,
            None,
            "pinpipe-test",
        )),
    }
}

/// The bus on the test server; `None` when server tests are skipped.
async fn kinesis() -> Option<KinesisBus> {
    let address = Server::Kinesis.address()?;
    Some(
        KinesisBus::connect(options(address))
            .await
            .expect("connect"),
    )
}

macro_rules! kinesis_suite {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let Some(bus) = kinesis().await else { return };
            conformance::$name(Arc::new(bus)).await;
        }
    )*};
}

streams_conformance!(kinesis_suite);

fn keyed(key: &str, data: &str) -> PutRecord {
    PutRecord::new(data.as_bytes().to_vec(), key)
}

fn data(records: &[pinpipe_bus::StreamRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
        .collect()
}

#[tokio::test]
async fn kinesis_routes_keys_as_our_partitioner_does() {
    let Some(bus) = kinesis().await else { return };
    let stream = unique_name("routing");
    bus.create_stream(&stream, 4).await.expect("create");
    let described = bus.describe_stream(&stream).await.expect("describe");
    for (shard, index) in described.shards.iter().zip(0..) {
        let (start, end) = shard_hash_range(index, 4);
        assert_eq!(
            (
                shard.starting_hash_key.clone(),
                shard.ending_hash_key.clone()
            ),
            (start.to_string(), end.to_string()),
            "{}",
            shard.shard_id
        );
        assert_eq!(shard.records, None, "Kinesis does not count records");
    }
    let keys: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    let put = bus
        .put_records(&stream, keys.iter().map(|k| keyed(k, "{}")).collect())
        .await
        .expect("put");
    let mut used = std::collections::BTreeSet::new();
    for (key, result) in keys.iter().zip(&put) {
        let shard = &result.as_ref().expect("put").shard_id;
        assert_eq!(shard, &shard_id(shard_for_partition_key(key, 4)), "{key}");
        used.insert(shard.clone());
    }
    assert_eq!(used.len(), 4, "the keys spread over every shard");
    bus.delete_stream(&stream).await.expect("delete");
}

#[tokio::test]
async fn reads_resume_after_a_sequence_number() {
    let Some(bus) = kinesis().await else { return };
    let stream = unique_name("resume");
    bus.create_stream(&stream, 1).await.expect("create");
    let shard = shard_id(0);
    let records = ["0", "1", "2", "3", "4"].map(|d| keyed("k", d)).to_vec();
    bus.put_records(&stream, records).await.expect("put");

    let first = bus
        .read_shard(&stream, &shard, ReadFrom::Oldest, ReadLimit::records(2))
        .await
        .expect("read");
    assert_eq!(
        data(&first),
        ["0", "1"],
        "at most max records, oldest first"
    );
    assert_eq!(first[0].partition_key, "k");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .expect("clock");
    assert!(
        (now_ms - first[0].arrival_ms).abs() < 600_000,
        "arrival time {} is near now {now_ms}",
        first[0].arrival_ms
    );

    let rest = bus
        .read_shard(
            &stream,
            &shard,
            ReadFrom::After(&first[1].sequence_number),
            ReadLimit::records(100),
        )
        .await
        .expect("read on");
    assert_eq!(data(&rest), ["2", "3", "4"]);
    let last = &rest[2].sequence_number;
    assert!(
        bus.read_shard(
            &stream,
            &shard,
            ReadFrom::After(last),
            ReadLimit::records(100)
        )
        .await
        .expect("read at the end")
        .is_empty()
    );
    bus.put_records(&stream, vec![keyed("k", "5")])
        .await
        .expect("put more");
    let more = bus
        .read_shard(
            &stream,
            &shard,
            ReadFrom::After(last),
            ReadLimit::records(100),
        )
        .await
        .expect("read the new record");
    assert_eq!(data(&more), ["5"]);
    bus.delete_stream(&stream).await.expect("delete");
}

#[tokio::test]
async fn big_puts_are_split_into_calls_and_oversized_records_fail_alone() {
    let Some(bus) = kinesis().await else { return };
    let stream = unique_name("bulk");
    bus.create_stream(&stream, 1).await.expect("create");
    // More than one PutRecords call (500 records) and more than one GetRecords page (10 000).
    let count = 10_050;
    let mut records: Vec<PutRecord> = (0..count).map(|i| keyed("k", &i.to_string())).collect();
    records.insert(3, keyed("k", &"x".repeat(1024 * 1024)));
    let put = bus.put_records(&stream, records).await.expect("put");
    assert_eq!(put.len(), count + 1);
    assert!(matches!(put[3], Err(RecordError::TooLarge { .. })));
    assert!(
        put.iter().enumerate().all(|(i, r)| i == 3 || r.is_ok()),
        "the other records are stored"
    );
    let read = bus
        .read_shard(
            &stream,
            &shard_id(0),
            ReadFrom::Oldest,
            ReadLimit::records(count + 10),
        )
        .await
        .expect("read");
    let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    assert_eq!(data(&read), expected, "every record, in order");
    bus.delete_stream(&stream).await.expect("delete");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_quickly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    // The listener is closed again: nothing answers on the port.
    let bus = KinesisBus::connect(options(format!("http://127.0.0.1:{port}")))
        .await
        .expect("connect does not call the endpoint");
    let started = Instant::now();
    let error = bus.list_streams().await.expect_err("nothing listens");
    assert!(
        matches!(&error, BusError::Unavailable { .. })
            && pinpipe_bus::with_causes(&error).contains(&port.to_string()),
        "{error}"
    );
    let error = bus
        .put_records("any", vec![keyed("k", "1")])
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, BusError::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed after {:?}",
        started.elapsed()
    );
}
