//! One function per promise of the bus traits; each takes the backend under test. Topic functions
//! take only a [`Topics`] and stream functions only a [`Streams`], so a backend of one kind (Kafka,
//! Kinesis) runs them, and all use unique topic, group and stream names, so backends on a shared
//! server can run them side by side.

use std::sync::Arc;
use std::time::Duration;

use pinpipe_bus::{
    BusError, ProduceRecord, PutRecord, ReadFrom, ReadLimit, RecordError, Streams, Topics,
};
use pinpipe_testkit::unique_name;

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

pub async fn produce_assigns_contiguous_offsets_per_partition(topics: Arc<dyn Topics>) {
    let topic = unique_name("orders");
    topics.create_topic(&topic, 2).await.expect("create");
    let mut records = values(&["a", "b", "c"]);
    for (record, partition) in records.iter_mut().zip([0, 1, 0]) {
        record.partition = Some(partition);
    }
    let first = topics.produce(&topic, records).await.expect("produce");
    assert_eq!(offsets(&first), vec![(0, 0), (1, 0), (0, 1)]);
    let info = topics.describe_topic(&topic).await.expect("describe");
    assert_eq!(
        info.partitions
            .iter()
            .map(|p| p.high_watermark)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    let read = topics.read(&topic, 0, 1, 10).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].offset, read[0].value.as_slice()), (1, &b"c"[..]));
}

pub async fn keyed_records_stay_in_one_partition(topics: Arc<dyn Topics>) {
    let topic = unique_name("keyed");
    topics.create_topic(&topic, 4).await.expect("create");
    let records: Vec<ProduceRecord> = (0..10)
        .map(|i| ProduceRecord {
            key: Some(b"same-key".to_vec()),
            value: format!("{i}").into_bytes(),
            partition: None,
        })
        .collect();
    let produced = topics.produce(&topic, records).await.expect("produce");
    let partitions: std::collections::BTreeSet<i32> =
        offsets(&produced).into_iter().map(|(p, _)| p).collect();
    assert_eq!(partitions.len(), 1, "one key, one partition");
    let expected = pinpipe_bus::kafka_partition_for_key(b"same-key", 4);
    assert_eq!(partitions.into_iter().next(), Some(expected));
}

pub async fn records_fail_alone(topics: Arc<dyn Topics>) {
    let topic = unique_name("limits");
    topics.create_topic(&topic, 1).await.expect("create");
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
    let produced = topics.produce(&topic, records).await.expect("produce");
    assert_eq!(produced[0].as_ref().map(|p| p.offset), Ok(0));
    assert!(matches!(produced[1], Err(RecordError::TooLarge { .. })));
    assert_eq!(produced[2], Err(RecordError::PartitionNotFound(9)));
    assert_eq!(produced[3].as_ref().map(|p| p.offset), Ok(1));
}

pub async fn consumer_resumes_from_committed_offsets(topics: Arc<dyn Topics>) {
    let topic = unique_name("events");
    let group = unique_name("g");
    topics.create_topic(&topic, 1).await.expect("create");
    topics
        .produce(&topic, values(&["0", "1", "2", "3"]))
        .await
        .expect("produce");
    let names = vec![topic.clone()];
    let mut consumer = topics.consumer(&group, &names).await.expect("consumer");
    let got = consumer
        .poll(ReadLimit::records(2), Duration::from_secs(1))
        .await
        .expect("poll");
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0, 1]);
    consumer.commit(&topic, 0, 2).await.expect("commit");
    drop(consumer);
    let mut again = topics.consumer(&group, &names).await.expect("consumer");
    let got = again
        .poll(ReadLimit::records(10), Duration::from_secs(1))
        .await
        .expect("poll");
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3],
        "resumes at the commit"
    );
    let mut other = topics
        .consumer(&unique_name("other-group"), &names)
        .await
        .expect("consumer");
    let got = other
        .poll(ReadLimit::records(10), Duration::from_secs(1))
        .await
        .expect("poll");
    assert_eq!(got.len(), 4, "groups are independent");
}

pub async fn consumer_sees_records_appended_later(topics: Arc<dyn Topics>) {
    let topic = unique_name("later");
    topics.create_topic(&topic, 1).await.expect("create");
    let names = vec![topic.clone()];
    let mut consumer = topics
        .consumer(&unique_name("g"), &names)
        .await
        .expect("consumer");
    assert!(
        consumer
            .poll(ReadLimit::records(10), Duration::from_millis(50))
            .await
            .expect("poll")
            .is_empty()
    );
    let producer = Arc::clone(&topics);
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        producer
            .produce(&topic, values(&["x"]))
            .await
            .expect("produce");
    });
    let got = consumer
        .poll(ReadLimit::records(10), Duration::from_secs(5))
        .await
        .expect("poll");
    assert_eq!(got.len(), 1, "a waiting poll wakes up for new records");
    task.await.expect("task");
}

pub async fn topic_errors_are_typed(topics: Arc<dyn Topics>) {
    assert!(matches!(
        topics
            .produce(&unique_name("missing"), values(&["a"]))
            .await,
        Err(BusError::TopicNotFound(_))
    ));
    assert!(matches!(
        topics.create_topic("../x", 1).await,
        Err(BusError::InvalidName { .. })
    ));
    let topic = unique_name("once");
    topics.create_topic(&topic, 1).await.expect("create");
    assert!(matches!(
        topics.create_topic(&topic, 1).await,
        Err(BusError::AlreadyExists(_))
    ));
    assert!(matches!(
        topics.read(&topic, 5, 0, 1).await,
        Err(BusError::PartitionNotFound { .. })
    ));
    assert!(matches!(
        topics.create_topic(&unique_name("zero"), 0).await,
        Err(BusError::InvalidRequest(_))
    ));
}

pub async fn streams_put_read_and_resume_by_sequence_number(streams: Arc<dyn Streams>) {
    let stream = unique_name("clicks");
    streams.create_stream(&stream, 2).await.expect("create");
    let records: Vec<PutRecord> = (0..20)
        .map(|i| PutRecord::new(format!("{{\"n\":{i}}}").into_bytes(), format!("key-{i}")))
        .collect();
    let put = streams.put_records(&stream, records).await.expect("put");
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
    let described = streams.describe_stream(&stream).await.expect("describe");
    for shard in &described.shards {
        let put_here = by_shard.get(&shard.shard_id).map_or(0, Vec::len);
        if let Some(records) = shard.records {
            assert_eq!(records, put_here as i64, "{}", shard.shard_id);
        }
    }
    for (shard, sequence_numbers) in by_shard {
        let all = streams
            .read_shard(&stream, &shard, ReadFrom::Oldest, ReadLimit::records(100))
            .await
            .expect("read");
        assert_eq!(
            all.iter()
                .map(|r| r.sequence_number.clone())
                .collect::<Vec<_>>(),
            sequence_numbers
        );
        let rest = streams
            .read_shard(
                &stream,
                &shard,
                ReadFrom::After(&sequence_numbers[0]),
                ReadLimit::records(100),
            )
            .await
            .expect("read after");
        assert_eq!(
            rest.len(),
            sequence_numbers.len() - 1,
            "reading after a sequence number skips it"
        );
    }
    streams.delete_stream(&stream).await.expect("delete");
}

pub async fn stream_lifecycle(streams: Arc<dyn Streams>) {
    let stream = unique_name("temp");
    streams.create_stream(&stream, 3).await.expect("create");
    assert!(
        streams
            .list_streams()
            .await
            .expect("list")
            .contains(&stream)
    );
    let described = streams.describe_stream(&stream).await.expect("describe");
    assert_eq!(described.shards.len(), 3);
    assert_eq!(described.shards[0].starting_hash_key, "0");
    assert_eq!(described.shards[2].ending_hash_key, u128::MAX.to_string());
    for (shard, index) in described.shards.iter().zip(0..) {
        let (start, end) = pinpipe_bus::shard_hash_range(index, 3);
        assert_eq!(shard.shard_id, pinpipe_bus::shard_id(index));
        assert_eq!(
            (
                shard.starting_hash_key.as_str(),
                shard.ending_hash_key.as_str()
            ),
            (start.to_string().as_str(), end.to_string().as_str()),
            "hash keys split as Kinesis splits them"
        );
    }
    streams.delete_stream(&stream).await.expect("delete");
    assert!(matches!(
        streams.describe_stream(&stream).await,
        Err(BusError::StreamNotFound(_))
    ));
    assert!(matches!(
        streams
            .put_records(&stream, vec![PutRecord::new(b"1".to_vec(), "k")])
            .await,
        Err(BusError::StreamNotFound(_))
    ));
}

pub async fn stream_errors_are_typed(streams: Arc<dyn Streams>) {
    let missing = unique_name("missing");
    let first_shard = pinpipe_bus::shard_id(0);
    assert!(matches!(
        streams.describe_stream(&missing).await,
        Err(BusError::StreamNotFound(_))
    ));
    assert!(matches!(
        streams.delete_stream(&missing).await,
        Err(BusError::StreamNotFound(_))
    ));
    assert!(matches!(
        streams
            .read_shard(
                &missing,
                &first_shard,
                ReadFrom::Oldest,
                ReadLimit::records(1)
            )
            .await,
        Err(BusError::StreamNotFound(_))
    ));
    assert!(matches!(
        streams.create_stream("../x", 1).await,
        Err(BusError::InvalidName { .. })
    ));
    assert!(matches!(
        streams.create_stream(&missing, 0).await,
        Err(BusError::InvalidRequest(_))
    ));
    let stream = unique_name("once");
    streams.create_stream(&stream, 1).await.expect("create");
    assert!(matches!(
        streams.create_stream(&stream, 1).await,
        Err(BusError::AlreadyExists(_))
    ));
    assert!(matches!(
        streams
            .read_shard(
                &stream,
                &pinpipe_bus::shard_id(7),
                ReadFrom::Oldest,
                ReadLimit::records(1)
            )
            .await,
        Err(BusError::ShardNotFound { .. })
    ));
    assert!(matches!(
        streams
            .read_shard(
                &stream,
                &first_shard,
                ReadFrom::After("not-a-sequence-number"),
                ReadLimit::records(1)
            )
            .await,
        Err(BusError::InvalidRequest(_))
    ));
    streams.delete_stream(&stream).await.expect("delete");
}
