//! The sink on every backend: topic records become raw objects of the S3 sink's layout (SPEC §4),
//! which the batch job then reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, Topics};
use pinpipe_lake::raw::{list_topic, object_path};
use pinpipe_lake::sink::{SinkOptions, run_sink};
use tokio::sync::Notify;

use crate::batch::pin;
use crate::common::{Backend, TestLake, TestResult, backend_tests};

backend_tests! {
    async fn the_sink_writes_the_raw_layout_the_batch_job_reads(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
        let options = SinkOptions {
            flush_size: 3,
            once: true,
            ..SinkOptions::for_prefix("pinpipe")
        };
        for topic in &options.topics {
            bus.create_topic(topic, 2).await?;
        }
        // Even keys to partition 0, odd keys to partition 1: five records each.
        let records = (0..10i32)
            .map(|i| ProduceRecord {
                key: None,
                value: pin(i64::from(i), "t").into_bytes(),
                partition: Some(i % 2),
            })
            .collect();
        for outcome in bus.produce("pinpipe.pin", records).await? {
            outcome?;
        }
        let sink = || run_sink(&bus, lake.lake.store(), &options, std::future::pending());
        let report = sink().await?;
        assert_eq!((report.objects, report.records), (4, 10));

        // At most three records an object, named by the offset of its first record.
        let (objects, ignored) = list_topic(&lake.lake.store(), "pinpipe.pin").await?;
        assert!(ignored.is_empty(), "{ignored:?}");
        let names: Vec<(u32, i64)> = objects
            .iter()
            .map(|o| (o.partition, o.start_offset))
            .collect();
        assert_eq!(names, vec![(0, 0), (0, 3), (1, 0), (1, 3)]);
        assert_eq!(
            lake.get_text(&object_path("pinpipe.pin", 1, 3)).await?,
            format!("{}\n{}\n", pin(7, "t"), pin(9, "t"))
        );
        assert_eq!(sink().await?.objects, 0, "the committed offsets hold");

        let batch = lake.batch().await?;
        assert_eq!(batch.tables[0].rows_inserted, 10);
        assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 10);
        Ok(())
    }
}

/// Produces records `from..to` (pins) to partition 0 of `pinpipe.pin`.
async fn produce_pins(bus: &EmbeddedBus, from: i64, to: i64) -> TestResult {
    let records = (from..to)
        .map(|i| ProduceRecord {
            key: None,
            value: pin(i, "t").into_bytes(),
            partition: Some(0),
        })
        .collect();
    for outcome in bus.produce("pinpipe.pin", records).await? {
        outcome?;
    }
    Ok(())
}

/// The values of every raw object of partition 0 of `pinpipe.pin`, in offset order, checking
/// that the objects follow each other with no gap and no overlap.
async fn raw_pins(lake: &TestLake) -> TestResult<Vec<String>> {
    let (objects, _) = list_topic(&lake.lake.store(), "pinpipe.pin").await?;
    let mut values = Vec::new();
    for object in objects {
        assert_eq!(
            object.start_offset,
            i64::try_from(values.len())?,
            "{object:?}"
        );
        let text = lake.get_text(&object.path).await?;
        values.extend(text.lines().map(str::to_owned));
    }
    Ok(values)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sink_on_the_embedded_bus_waits_and_takes_over() -> TestResult {
    let lake = TestLake::new()?;
    let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    let options = SinkOptions {
        flush_size: 7,
        rotate_interval: std::time::Duration::from_millis(100),
        ..SinkOptions::for_prefix("pinpipe")
    };
    for topic in &options.topics {
        bus.create_topic(topic, 1).await?;
    }
    produce_pins(&bus, 0, 50).await?;
    let start = |bus: EmbeddedBus| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (store, options) = (lake.lake.store(), options.clone());
        let sink = tokio::spawn(async move {
            run_sink(&bus, store, &options, async {
                let _ = stopped.await;
            })
            .await
        });
        (stop, sink)
    };
    let (stop_first, first) = start(bus.clone());
    let committed = || async {
        bus.committed_offsets("pinpipe-sink", "pinpipe.pin")
            .await
            .map(|o| o[0])
    };
    wait_for(async || committed().await.is_ok_and(|o| o == 50)).await?;
    // A second sink of the same group, as another process would be: it waits.
    let other = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    let (stop_second, second) = start(other);
    produce_pins(&bus, 50, 80).await?;
    wait_for(async || committed().await.is_ok_and(|o| o == 80)).await?;
    stop_first.send(()).map_err(|()| "the first sink stopped")?;
    let first = first.await??;
    assert_eq!(
        first.records, 80,
        "the first sink wrote everything while it ran"
    );
    // The second takes over at once (the first released the lease) and goes on.
    produce_pins(&bus, 80, 100).await?;
    wait_for(async || committed().await.is_ok_and(|o| o == 100)).await?;
    stop_second
        .send(())
        .map_err(|()| "the second sink stopped")?;
    assert_eq!(second.await??.records, 20);
    let expected: Vec<String> = (0..100).map(|i| pin(i, "t")).collect();
    assert_eq!(raw_pins(&lake).await?, expected);
    Ok(())
}

#[tokio::test]
async fn objects_are_bounded_by_bytes_as_well_as_records() -> TestResult {
    let lake = TestLake::new()?;
    let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), EmbeddedOptions::default())?;
    let options = SinkOptions {
        flush_size: 1000,
        flush_bytes: 1000,
        once: true,
        ..SinkOptions::for_prefix("pinpipe")
    };
    for topic in &options.topics {
        bus.create_topic(topic, 1).await?;
    }
    produce_pins(&bus, 0, 40).await?;
    let report = run_sink(&bus, lake.lake.store(), &options, std::future::pending()).await?;
    assert_eq!(report.records, 40);
    let (objects, _) = list_topic(&lake.lake.store(), "pinpipe.pin").await?;
    assert!(objects.len() >= 3, "{objects:?}");
    assert!(objects.iter().all(|o| o.size < 1000 + 400), "{objects:?}");
    let expected: Vec<String> = (0..40).map(|i| pin(i, "t")).collect();
    assert_eq!(raw_pins(&lake).await?, expected);
    Ok(())
}

/// Waits until `done`, looking every 50 ms, at most 30 s.
async fn wait_for(done: impl AsyncFn() -> bool) -> TestResult {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done().await {
        if std::time::Instant::now() > deadline {
            return Err("waited 30 s in vain".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The lake's store, but for its first put, held until `release` is notified: a write that
/// stalls past the sink's lease (a hung disk, a stopped process).
#[derive(Debug)]
struct FirstPutStalls {
    inner: Arc<dyn ObjectStore>,
    stalled: AtomicBool,
    holding: Arc<Notify>,
    release: Arc<Notify>,
}

impl std::fmt::Display for FirstPutStalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FirstPutStalls({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FirstPutStalls {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if !self.stalled.swap(true, Ordering::SeqCst) {
            self.holding.notify_one();
            self.release.notified().await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A sink whose object write stalls until its lease has run out and the next sink has written
/// and committed the same records: the stalled write, landing at last, leaves the next sink's
/// object as it is (it used to replace it, and the records past its own were lost).
#[tokio::test(flavor = "multi_thread")]
async fn a_write_that_stalls_past_the_lease_leaves_the_next_owner_s_object() -> TestResult {
    let lake = TestLake::new()?;
    let short_lease = EmbeddedOptions {
        session_timeout: Duration::from_secs(1),
        ..EmbeddedOptions::default()
    };
    let bus = EmbeddedBus::open(lake.dir.path().join("bus.db"), short_lease.clone())?;
    let options = SinkOptions {
        flush_size: 30,
        rotate_interval: Duration::from_millis(100),
        ..SinkOptions::for_prefix("pinpipe")
    };
    for topic in &options.topics {
        bus.create_topic(topic, 1).await?;
    }
    produce_pins(&bus, 0, 100).await?;
    let (holding, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let stalling: Arc<dyn ObjectStore> = Arc::new(FirstPutStalls {
        inner: lake.lake.store(),
        stalled: AtomicBool::new(false),
        holding: Arc::clone(&holding),
        release: Arc::clone(&release),
    });
    let (stop_first, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let options = options.clone();
        async move {
            run_sink(&bus, stalling, &options, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    holding.notified().await;
    // The next sink takes the group once the stalled one's lease runs out, and writes all.
    let other = EmbeddedBus::open(lake.dir.path().join("bus.db"), short_lease)?;
    let next = SinkOptions {
        flush_size: 137,
        once: true,
        ..options
    };
    let report = run_sink(&other, lake.lake.store(), &next, std::future::pending()).await?;
    assert_eq!(report.records, 100);
    release.notify_one();
    // The stalled write lands now; the first sink then finds the partition gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_first.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), first).await?;
    let expected: Vec<String> = (0..100).map(|i| pin(i, "t")).collect();
    assert_eq!(raw_pins(&lake).await?, expected);
    Ok(())
}
