//! Two sinks of one consumer group on Kafka (tansu in CI): the group splits the partitions
//! between them, and a member that joins or leaves moves them. Each sink drops what it had
//! buffered for a partition it lost and commits nothing for it, so the raw layout still holds
//! every record exactly once, in objects that follow each other with no gap and no overlap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pinpipe_bus::kafka::{KafkaBus, KafkaOptions};
use pinpipe_bus::{ProduceRecord, Topics};
use pinpipe_lake::raw::list_topic;
use pinpipe_lake::sink::{SinkOptions, SinkReport, run_sink};
use pinpipe_testkit::{Server, unique_name};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::batch::pin;
use crate::common::{TestLake, TestResult};

const ROUNDS: i64 = 16;
const PER_ROUND: i64 = 40;

type Sink = (oneshot::Sender<()>, JoinHandle<Result<SinkReport, String>>);

fn start(bus: &Arc<KafkaBus>, lake: &TestLake, options: &SinkOptions) -> Sink {
    let (stop, stopped) = oneshot::channel::<()>();
    let (bus, store, options) = (Arc::clone(bus), lake.lake.store(), options.clone());
    let sink = tokio::spawn(async move {
        run_sink(bus.as_ref(), store, &options, async {
            let _ = stopped.await;
        })
        .await
        .map_err(|e| e.to_string())
    });
    (stop, sink)
}

async fn stop((stop, sink): Sink) -> TestResult<SinkReport> {
    let _ = stop.send(());
    Ok(sink.await??)
}

/// Every raw object's values by partition, checking they chain: each object starts where the
/// one before it in its partition ended.
async fn raw_values(lake: &TestLake, topic: &str) -> TestResult<Vec<String>> {
    let (objects, ignored) = list_topic(&lake.lake.store(), topic).await?;
    assert!(ignored.is_empty(), "{ignored:?}");
    let mut next: BTreeMap<u32, i64> = BTreeMap::new();
    let mut values = Vec::new();
    for object in objects {
        let expected = next.entry(object.partition).or_insert(0);
        assert_eq!(object.start_offset, *expected, "{object:?}");
        let text = lake.get_text(&object.path).await?;
        let lines: Vec<&str> = text.lines().collect();
        *expected += i64::try_from(lines.len())?;
        values.extend(lines.into_iter().map(str::to_owned));
    }
    Ok(values)
}

#[tokio::test(flavor = "multi_thread")]
async fn sinks_joining_and_leaving_a_kafka_group_write_every_record_once() -> TestResult {
    let Some(address) = Server::Kafka.address() else {
        return Ok(());
    };
    let bus = Arc::new(KafkaBus::connect(KafkaOptions::new(address))?);
    let prefix = unique_name("rebalance");
    let options = SinkOptions {
        flush_size: 25,
        rotate_interval: Duration::from_millis(300),
        group: unique_name("sinks"),
        ..SinkOptions::for_prefix(&prefix)
    };
    for topic in &options.topics {
        bus.create_topic(topic, 4).await?;
    }
    let topic = options.topics[0].clone();
    let lake = TestLake::new()?;
    let producer = tokio::spawn({
        let (bus, topic) = (Arc::clone(&bus), topic.clone());
        async move {
            for round in 0..ROUNDS {
                let records = (round * PER_ROUND..(round + 1) * PER_ROUND)
                    .map(|i| ProduceRecord {
                        key: Some(i.to_string().into_bytes()),
                        value: pin(i, "t").into_bytes(),
                        partition: None,
                    })
                    .collect();
                for outcome in bus.produce(&topic, records).await? {
                    outcome.map_err(|e| e.to_string())?;
                }
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }
    });
    let first = start(&bus, &lake, &options);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A second member joins: the group gives it some of the first's partitions.
    let second = start(&bus, &lake, &options);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The first leaves: the second gets them all.
    let first = stop(first).await?;
    producer.await?.map_err(|e| e.to_string())?;
    let total = usize::try_from(ROUNDS * PER_ROUND)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while raw_values(&lake, &topic).await?.len() < total {
        assert!(
            std::time::Instant::now() < deadline,
            "the sinks fell behind"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let second = stop(second).await?;
    assert!(
        first.records > 0 && second.records > 0,
        "{first:?} {second:?}"
    );
    let mut values = raw_values(&lake, &topic).await?;
    values.sort();
    let mut expected: Vec<String> = (0..ROUNDS * PER_ROUND).map(|i| pin(i, "t")).collect();
    expected.sort();
    assert_eq!(values, expected, "every record exactly once");
    Ok(())
}
