//! The sink on every backend: topic records become raw objects of the S3 sink's layout (SPEC §4),
//! which the batch job then reads.

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, Topics};
use pinpipe_lake::raw::{list_topic, object_path};
use pinpipe_lake::sink::{SinkOptions, run_sink};

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
