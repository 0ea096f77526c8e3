//! One function per promise of the bus traits; each takes the backend under test.

use std::sync::Arc;
use std::time::Duration;

use pinpipe_bus::{BusError, ProduceRecord, PutRecord, RecordError, Streams, Topics};

pub fn values(values: &[&str]) -> Vec<ProduceRecord> {
    values
        .iter()
        .map(|v| ProduceRecord {
            value: v.as_bytes().to_vec(),
            ..ProduceRecord::default()
        })
        .collect()
}

fn offsets(results: &[Result<pinpipe_bus::Produced, RecordError>]) -> Vec<(i32, i64)> {
    results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|p| (p.partition, p.offset))
                .expect("produced")
        })
        .collect()
}

pub async fn produce_assigns_contiguous_offsets_per_partition(
    topics: Arc<dyn Topics>,
    _: Arc<dyn Streams>,
) {
    topics.create_topic("orders", 2).await.expect("create");
    let mut records = values(&["a", "b", "c"]);
    for (record, partition) in records.iter_mut().zip([0, 1, 0]) {
        record.partition = Some(partition);
    }
    let first = topics.produce("orders", records).await.expect("produce");
    assert_eq!(offsets(&first), vec![(0, 0), (1, 0), (0, 1)]);
    let info = topics.describe_topic("orders").await.expect("describe");
    assert_eq!(
        info.partitions
            .iter()
            .map(|p| p.high_watermark)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    let read = topics.read("orders", 0, 1, 10).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].offset, read[0].value.as_slice()), (1, &b"c"[..]));
}

pub async fn keyed_records_stay_in_one_partition(topics: Arc<dyn Topics>, _: Arc<dyn Streams>) {
    topics.create_topic("keyed", 4).await.expect("create");
    let records: Vec<ProduceRecord> = (0..10)
        .map(|i| ProduceRecord {
            key: Some(b"same-key".to_vec()),
            value: format!("{i}").into_bytes(),
            partition: None,
        })
        .collect();
    let produced = topics.produce("keyed", records).await.expect("produce");
    let partitions: std::collections::BTreeSet<i32> =
        offsets(&produced).into_iter().map(|(p, _)| p).collect();
    assert_eq!(partitions.len(), 1, "one key, one partition");
    let expected = pinpipe_bus::kafka_partition_for_key(b"same-key", 4);
    assert_eq!(partitions.into_iter().next(), Some(expected));
}

pub async fn records_fail_alone(topics: Arc<dyn Topics>, _: Arc<dyn Streams>) {
    topics.create_topic("limits", 1).await.expect("create");
    let mut records = values(&["ok"]);
    records.push(ProduceRecord {
        value: vec![b'x'; 1024 * 1024 + 1],
        ..ProduceRecord::default()
    });
    records.push(ProduceRecord {
        value: b"wrong partition".to_vec(),
        partition: Some(9),
        ..ProduceRecord::default()
    });
    records.extend(values(&["also ok"]));
    let produced = topics.produce("limits", records).await.expect("produce");
    assert_eq!(produced[0].as_ref().map(|p| p.offset), Ok(0));
    assert!(matches!(produced[1], Err(RecordError::TooLarge { .. })));
    assert_eq!(produced[2], Err(RecordError::PartitionNotFound(9)));
    assert_eq!(produced[3].as_ref().map(|p| p.offset), Ok(1));
}

pub async fn consumer_resumes_from_committed_offsets(topics: Arc<dyn Topics>, _: Arc<dyn Streams>) {
    topics.create_topic("events", 1).await.expect("create");
    topics
        .produce("events", values(&["0", "1", "2", "3"]))
        .await
        .expect("produce");
    let names = vec!["events".to_owned()];
    let mut consumer = topics.consumer("g", &names).await.expect("consumer");
    let got = consumer
        .poll(2, Duration::from_secs(1))
        .await
        .expect("poll");
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0, 1]);
    consumer.commit("events", 0, 2).await.expect("commit");
    drop(consumer);
    let mut again = topics.consumer("g", &names).await.expect("consumer");
    let got = again.poll(10, Duration::from_secs(1)).await.expect("poll");
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3],
        "resumes at the commit"
    );
    let mut other = topics
        .consumer("other-group", &names)
        .await
        .expect("consumer");
    let got = other.poll(10, Duration::from_secs(1)).await.expect("poll");
    assert_eq!(got.len(), 4, "groups are independent");
}

pub async fn consumer_sees_records_appended_later(topics: Arc<dyn Topics>, _: Arc<dyn Streams>) {
    topics.create_topic("later", 1).await.expect("create");
    let names = vec!["later".to_owned()];
    let mut consumer = topics.consumer("g", &names).await.expect("consumer");
    assert!(
        consumer
            .poll(10, Duration::from_millis(50))
            .await
            .expect("poll")
            .is_empty()
    );
    let producer = Arc::clone(&topics);
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        producer
            .produce("later", values(&["x"]))
            .await
            .expect("produce");
    });
    let got = consumer
        .poll(10, Duration::from_secs(5))
        .await
        .expect("poll");
    assert_eq!(got.len(), 1, "a waiting poll wakes up for new records");
    task.await.expect("task");
}

pub async fn topic_errors_are_typed(topics: Arc<dyn Topics>, _: Arc<dyn Streams>) {
    assert!(matches!(
        topics.produce("missing", values(&["a"])).await,
        Err(BusError::TopicNotFound(_))
    ));
    assert!(matches!(
        topics.create_topic("../x", 1).await,
        Err(BusError::InvalidName { .. })
    ));
    topics.create_topic("once", 1).await.expect("create");
    assert!(matches!(
        topics.create_topic("once", 1).await,
        Err(BusError::AlreadyExists(_))
    ));
    assert!(matches!(
        topics.read("once", 5, 0, 1).await,
        Err(BusError::PartitionNotFound { .. })
    ));
    assert!(matches!(
        topics.create_topic("zero", 0).await,
        Err(BusError::InvalidRequest(_))
    ));
}

pub async fn streams_put_read_and_resume_by_sequence_number(
    _: Arc<dyn Topics>,
    streams: Arc<dyn Streams>,
) {
    streams.create_stream("clicks", 2).await.expect("create");
    let records: Vec<PutRecord> = (0..20)
        .map(|i| PutRecord {
            data: format!("{{\"n\":{i}}}").into_bytes(),
            partition_key: format!("key-{i}"),
        })
        .collect();
    let put = streams.put_records("clicks", records).await.expect("put");
    let mut by_shard: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (i, result) in put.iter().enumerate() {
        let result = result.as_ref().expect("put");
        let shard =
            pinpipe_bus::shard_id(pinpipe_bus::shard_for_partition_key(&format!("key-{i}"), 2));
        assert_eq!(result.shard_id, shard);
        by_shard
            .entry(shard)
            .or_default()
            .push(result.sequence_number.clone());
    }
    for (shard, sequence_numbers) in by_shard {
        let all = streams
            .read_shard("clicks", &shard, None, 100)
            .await
            .expect("read");
        assert_eq!(
            all.iter()
                .map(|r| r.sequence_number.clone())
                .collect::<Vec<_>>(),
            sequence_numbers
        );
        let rest = streams
            .read_shard("clicks", &shard, Some(&sequence_numbers[0]), 100)
            .await
            .expect("read after");
        assert_eq!(
            rest.len(),
            sequence_numbers.len() - 1,
            "reading after a sequence number skips it"
        );
    }
}

pub async fn stream_lifecycle(_: Arc<dyn Topics>, streams: Arc<dyn Streams>) {
    streams.create_stream("temp", 3).await.expect("create");
    assert!(
        streams
            .list_streams()
            .await
            .expect("list")
            .contains(&"temp".to_owned())
    );
    let described = streams.describe_stream("temp").await.expect("describe");
    assert_eq!(described.shards.len(), 3);
    assert_eq!(described.shards[0].starting_hash_key, "0");
    assert_eq!(described.shards[2].ending_hash_key, u128::MAX.to_string());
    streams.delete_stream("temp").await.expect("delete");
    assert!(matches!(
        streams.describe_stream("temp").await,
        Err(BusError::StreamNotFound(_))
    ));
    assert!(matches!(
        streams
            .put_records(
                "temp",
                vec![PutRecord {
                    data: b"1".to_vec(),
                    partition_key: "k".into()
                }]
            )
            .await,
        Err(BusError::StreamNotFound(_))
    ));
}
