//! The bus conformance suite: what every `Topics` and `Streams` backend must do, run here
//! against the embedded SQLite log. A Kafka or Kinesis backend runs the same functions.

/// Calls `$suite!` with every `Topics` conformance function, so each backend runs them all.
macro_rules! topics_conformance {
    ($suite:ident) => {
        $suite!(
            produce_assigns_contiguous_offsets_per_partition,
            keyed_records_stay_in_one_partition,
            records_fail_alone,
            consumer_resumes_from_committed_offsets,
            consumer_sees_records_appended_later,
            topic_errors_are_typed,
        );
    };
}

/// Calls `$suite!` with every `Streams` conformance function, so each backend runs them all.
macro_rules! streams_conformance {
    ($suite:ident) => {
        $suite!(
            streams_put_read_and_resume_by_sequence_number,
            stream_lifecycle,
            stream_errors_are_typed,
        );
    };
}

mod conformance;
#[cfg(feature = "kafka")]
mod kafka;
#[cfg(feature = "kinesis")]
mod kinesis;
mod props;

use std::sync::Arc;

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions};

fn embedded() -> (Arc<EmbeddedBus>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    // A consumer dropped without closing holds its group as a killed one would, until this.
    let options = EmbeddedOptions {
        session_timeout: std::time::Duration::from_secs(2),
        ..EmbeddedOptions::default()
    };
    let bus = EmbeddedBus::open(dir.path().join("bus.db"), options).expect("bus");
    (Arc::new(bus), dir)
}

macro_rules! embedded_suite {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (bus, _dir) = embedded();
            conformance::$name(bus).await;
        }
    )*};
}

topics_conformance!(embedded_suite);
streams_conformance!(embedded_suite);

#[tokio::test]
async fn records_survive_reopening_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bus.db");
    {
        let bus = EmbeddedBus::open(&path, EmbeddedOptions::default()).expect("bus");
        pinpipe_bus::Topics::create_topic(&bus, "t", 1)
            .await
            .expect("create");
        let produced = pinpipe_bus::Topics::produce(&bus, "t", conformance::values(&["a", "b"]))
            .await
            .expect("produce");
        assert_eq!(produced.len(), 2);
    }
    let bus = EmbeddedBus::open(&path, EmbeddedOptions::default()).expect("reopen");
    let read = pinpipe_bus::Topics::read(&bus, "t", 0, 0, 10)
        .await
        .expect("read");
    assert_eq!(
        read.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    let more = pinpipe_bus::Topics::produce(&bus, "t", conformance::values(&["c"]))
        .await
        .expect("produce");
    assert_eq!(
        more[0].as_ref().map(|p| p.offset),
        Ok(2),
        "offsets continue after a restart"
    );
}
