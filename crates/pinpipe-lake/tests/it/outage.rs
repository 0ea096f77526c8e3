//! The sink through an outage of its object store: a SeaweedFS of the test's own
//! ([`PrivateS3`]) is killed while records are being produced, and started again later. The sink
//! reports that it is retrying and keeps running, and once the store is back it writes every
//! record exactly once and commits every offset; the batch job, which fails with a retryable
//! error during the outage, reads the same lake again afterwards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, Topics};
use pinpipe_lake::raw::list_topic;
use pinpipe_lake::sink::{SinkOptions, run_sink};
use pinpipe_lake::{BatchOptions, Lake, LakeError, run_batch};
use pinpipe_model::Table;
use pinpipe_telemetry::{Event, listen};
use pinpipe_testkit::PrivateS3;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::common::{Backend, TestLake, TestResult};

/// Records produced to each topic, in [`ROUNDS`] equal rounds [`ROUND_PAUSE`] apart.
const PER_TOPIC: usize = 500;
const ROUNDS: usize = 20;
const ROUND_PAUSE: Duration = Duration::from_millis(250);
/// The store is killed once this many rounds are produced: the rest are produced during the
/// outage.
const ROUNDS_BEFORE_OUTAGE: usize = 6;

/// Longest wait for the sink to report a failed write after the store went away: object_store
/// first retries the request itself (10 times, at most 3 minutes, by default).
const RETRYING_TIMEOUT: Duration = Duration::from_secs(240);
/// Longest wait for anything else the test waits for.
const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_retries_through_a_store_outage_and_loses_nothing() -> TestResult {
    let Some(mut s3) = PrivateS3::start() else {
        return Ok(());
    };
    let started = Instant::now();
    let location = format!(
        "s3://{}/{}",
        s3.bucket(),
        pinpipe_testkit::unique_name("outage")
    );
    let lake = TestLake {
        dir: tempfile::tempdir()?,
        lake: Lake::open(&location, Backend::s3_options(&s3.endpoint()))?,
    };
    let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    // Topics of their own, so that the events of other tests of this process (the sink's events
    // are process-wide) never match this test's objects.
    let prefix = pinpipe_testkit::unique_name("outage");
    let options = SinkOptions {
        flush_size: 100,
        rotate_interval: Duration::from_millis(500),
        ..SinkOptions::for_prefix(&prefix)
    };
    for topic in &options.topics {
        bus.create_topic(topic, 2).await?;
    }

    let events = Events::default();
    let _listener = {
        let (events, prefix) = (events.clone(), prefix.clone());
        listen(move |event| match event {
            Event::Retrying(r) if r.what.contains(&prefix) => events.push(event),
            Event::ObjectWritten(w) if w.path.contains(&prefix) => events.push(event),
            _ => {}
        })
    };
    let (stop_sink, shutdown) = oneshot::channel::<()>();
    let sink = tokio::spawn({
        let (bus, store, options) = (bus.clone(), lake.lake.store(), options.clone());
        async move {
            let shutdown = async {
                // A dropped sender stops the sink too.
                let _ = shutdown.await;
            };
            run_sink(&bus, store, &options, shutdown).await
        }
    });
    let (produced_rounds, mut rounds) = watch::channel(0);
    let producer = tokio::spawn(produce(bus.clone(), prefix.clone(), produced_rounds));

    // The sink writes while the store is up…
    rounds
        .wait_for(|&produced| produced >= ROUNDS_BEFORE_OUTAGE)
        .await?;
    wait_until("the sink writes an object", TIMEOUT, async || {
        Ok(events.any(|e| matches!(e, Event::ObjectWritten(_))))
    })
    .await?;

    // …then the store goes away while records keep coming.
    s3.stop();
    let outage = Instant::now();
    let rounds_at_outage = *rounds.borrow();
    assert!(
        rounds_at_outage < ROUNDS,
        "every record was produced before the outage: make the rounds longer"
    );

    // The batch job gives up at once, with a retryable error that names the lake.
    let batch_options = BatchOptions {
        topic_prefix: prefix.clone(),
        ..BatchOptions::default()
    };
    match run_batch(&lake.lake, &batch_options).await {
        Err(e @ LakeError::Unavailable { .. }) => {
            assert!(e.is_retryable(), "{e}");
            assert!(e.to_string().contains(&location), "{e}");
        }
        other => panic!("the batch job during the outage: {other:?}"),
    }

    wait_until(
        "the sink reports a failed write",
        RETRYING_TIMEOUT,
        async || Ok(events.any(|e| matches!(e, Event::Retrying(_)))),
    )
    .await?;
    let reported_after = outage.elapsed();
    producer.await??;
    assert!(!sink.is_finished(), "the sink stopped during the outage");

    // The store comes back: the sink catches up.
    s3.start_again();
    let away = outage.elapsed();
    wait_until("the sink commits every record", TIMEOUT, async || {
        Ok(committed(&bus, &options).await? == high_watermarks(&bus, &options).await?)
    })
    .await?;
    stop_sink.send(()).map_err(|()| "the sink has stopped")?;
    let report = sink.await??;
    let total = PER_TOPIC * Table::ALL.len();
    assert_eq!(report.records, total);

    // Each write that failed was retried, attempts numbered 1, 2, …, until it was written.
    let events = events.all();
    let mut attempts: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut flushed = BTreeSet::new();
    for event in &events {
        match event {
            Event::Retrying(retrying) => {
                let error = &retrying.error;
                assert!(
                    error.contains("PUT") && error.contains(&s3.endpoint()),
                    "{error}"
                );
                attempts
                    .entry(retrying.what.as_str())
                    .or_default()
                    .push(retrying.attempt);
            }
            Event::ObjectWritten(written) => {
                flushed.insert(written.path.as_str());
            }
            _ => {}
        }
    }
    for (path, attempts) in &attempts {
        let numbered: Vec<u32> = (1..=u32::try_from(attempts.len())?).collect();
        assert_eq!(attempts, &numbered, "{path}");
        assert!(flushed.contains(path), "{path} was never written");
    }

    // Every record produced is in the raw layout exactly once, and every offset is committed.
    let high = high_watermarks(&bus, &options).await?;
    assert_eq!(committed(&bus, &options).await?, high);
    for (table, topic) in Table::ALL.into_iter().zip(&options.topics) {
        let mut written = raw_values(&lake, topic, &high[topic]).await?;
        written.sort();
        let mut produced: Vec<String> = (0..PER_TOPIC).map(|i| value(table, i)).collect();
        produced.sort();
        assert_eq!(written, produced, "{topic}");
    }

    // The batch job reads the same lake again.
    let batch = lake.batch_with(&batch_options).await?;
    assert_eq!(batch.records_read, total);
    for table in &batch.tables {
        assert_eq!(
            (table.rows_inserted, table.rejected),
            (PER_TOPIC, 0),
            "{table:?}"
        );
    }
    eprintln!(
        "outage: first failed write reported after {reported_after:?}, store away for \
         {away:?}, {} retries of {} objects, test {:?}",
        attempts.values().map(Vec::len).sum::<usize>(),
        attempts.len(),
        started.elapsed()
    );
    Ok(())
}

/// What the sink reported about this test's objects, shared with the listener.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    fn push(&self, event: &Event) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }

    fn any(&self, what: impl Fn(&Event) -> bool) -> bool {
        self.0.lock().is_ok_and(|events| events.iter().any(what))
    }

    fn all(&self) -> Vec<Event> {
        self.0
            .lock()
            .map(|events| events.clone())
            .unwrap_or_default()
    }
}

/// The value of `table`'s record number `i`: a valid record, unique in its topic.
fn value(table: Table, i: usize) -> String {
    let key = if table == Table::Pin { "index" } else { "ind" };
    serde_json::json!({ key: i }).to_string()
}

/// Produces [`PER_TOPIC`] records to each topic in [`ROUNDS`] rounds, saying in `rounds` how many
/// are done.
async fn produce(bus: EmbeddedBus, prefix: String, rounds: watch::Sender<usize>) -> TestResult {
    let per_round = PER_TOPIC / ROUNDS;
    for round in 0..ROUNDS {
        for table in Table::ALL {
            let records = (round * per_round..(round + 1) * per_round)
                .map(|i| ProduceRecord {
                    key: None,
                    value: value(table, i).into_bytes(),
                    partition: None,
                })
                .collect();
            for outcome in bus
                .produce(&format!("{prefix}.{}", table.name()), records)
                .await?
            {
                outcome?;
            }
        }
        rounds.send_replace(round + 1);
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    Ok(())
}

/// Waits until `done` holds, looking every 100 ms, at most `timeout`.
async fn wait_until(
    what: &str,
    timeout: Duration,
    done: impl AsyncFn() -> TestResult<bool>,
) -> TestResult {
    let deadline = Instant::now() + timeout;
    while !done().await? {
        if Instant::now() >= deadline {
            return Err(format!("waited {timeout:?} in vain until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Each topic's partitions' high watermarks, in partition order.
async fn high_watermarks(
    bus: &EmbeddedBus,
    options: &SinkOptions,
) -> TestResult<HashMap<String, Vec<i64>>> {
    let mut high = HashMap::new();
    for topic in &options.topics {
        let mut partitions = bus.describe_topic(topic).await?.partitions;
        partitions.sort_by_key(|p| p.partition);
        high.insert(
            topic.clone(),
            partitions.iter().map(|p| p.high_watermark).collect(),
        );
    }
    Ok(high)
}

/// Each topic's partitions' offsets committed by the sink's group, in partition order.
async fn committed(
    bus: &EmbeddedBus,
    options: &SinkOptions,
) -> TestResult<HashMap<String, Vec<i64>>> {
    let mut committed = HashMap::new();
    for topic in &options.topics {
        committed.insert(
            topic.clone(),
            bus.committed_offsets(&options.group, topic).await?,
        );
    }
    Ok(committed)
}

/// The values in `topic`'s raw objects, after checking that each partition's objects follow one
/// another from offset 0 to its high watermark, without gap or overlap.
async fn raw_values(lake: &TestLake, topic: &str, high: &[i64]) -> TestResult<Vec<String>> {
    let (objects, ignored) = list_topic(&lake.lake.store(), topic).await?;
    assert!(ignored.is_empty(), "{ignored:?}");
    let mut next = vec![0; high.len()];
    let mut values = Vec::new();
    for object in objects {
        let partition = usize::try_from(object.partition)?;
        assert_eq!(
            object.start_offset, next[partition],
            "{}: a gap or an overlap before it",
            object.path
        );
        let text = lake.get_text(&object.path).await?;
        next[partition] += i64::try_from(text.lines().count())?;
        values.extend(text.lines().map(str::to_owned));
    }
    assert_eq!(next, high, "{topic}: objects end at the high watermarks");
    Ok(values)
}
