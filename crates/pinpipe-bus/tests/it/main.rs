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

use pinpipe_bus::{EmbeddedBus, EmbeddedOptions, ProduceRecord, ReadLimit};

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

/// The log file shrinks back after a large group: disk space a burst took is given back.
#[tokio::test]
async fn the_log_file_shrinks_back_after_a_large_group() {
    let (bus, dir) = embedded();
    let wal = dir.path().join("bus.db-wal");
    pinpipe_bus::Topics::create_topic(bus.as_ref(), "t", 1)
        .await
        .expect("create");
    // Bytes that do not compress (the bus stores batches compressed when that pays).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()
    };
    let large: Vec<ProduceRecord> = (0..16)
        .map(|_| ProduceRecord {
            key: None,
            value: (0..900 * 1024 / 8).flat_map(|_| noise()).collect(),
            partition: None,
        })
        .collect();
    let last = large[15].value.clone();
    pinpipe_bus::Topics::produce(bus.as_ref(), "t", large)
        .await
        .expect("produce");
    let grown = std::fs::metadata(&wal).expect("log").len();
    assert!(
        grown > 12 << 20,
        "one group of 14 MB: a log of {grown} bytes"
    );
    for _ in 0..3 {
        pinpipe_bus::Topics::produce(bus.as_ref(), "t", conformance::values(&["small"]))
            .await
            .expect("produce");
    }
    let now = std::fs::metadata(&wal).expect("log").len();
    assert!(now <= 4 << 20, "the log is still {now} bytes");
    let read = pinpipe_bus::Topics::read(bus.as_ref(), "t", 0, 15, 10)
        .await
        .expect("read");
    assert!(read[0].value == last, "the 16th large record reads back");
    assert_eq!(read[1].value, b"small".to_vec());
}

/// A bus file written by an earlier pinpipe (schema version 1: records clustered by position in
/// a `WITHOUT ROWID` table) opens with its records, offsets and group positions intact.
#[tokio::test]
async fn a_version_1_bus_file_keeps_its_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bus.db");
    {
        let old = rusqlite::Connection::open(&path).expect("sqlite");
        old.execute_batch(
            "CREATE TABLE logs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL,
                 partitions INTEGER NOT NULL, created_ms INTEGER NOT NULL, UNIQUE (kind, name));
             CREATE TABLE records (
                 log_id INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                 key BLOB, value BLOB NOT NULL, ts_ms INTEGER NOT NULL,
                 PRIMARY KEY (log_id, partition, offset)) WITHOUT ROWID;
             CREATE TABLE group_offsets (
                 grp TEXT NOT NULL, log_id INTEGER NOT NULL, partition INTEGER NOT NULL,
                 next_offset INTEGER NOT NULL, PRIMARY KEY (grp, log_id, partition)) WITHOUT ROWID;
             CREATE TABLE group_leases (
                 grp TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL);
             INSERT INTO logs VALUES (7, 'topic', 't', 2, 0);
             INSERT INTO records VALUES (7, 1, 1, NULL, CAST('b' AS BLOB), 0),
                                        (7, 1, 0, NULL, CAST('a' AS BLOB), 0),
                                        (7, 0, 0, NULL, CAST('x' AS BLOB), 0);
             INSERT INTO group_offsets VALUES ('g', 7, 1, 1);
             PRAGMA user_version = 1;",
        )
        .expect("a version 1 bus file");
    }
    let bus = EmbeddedBus::open(&path, EmbeddedOptions::default()).expect("open");
    let read = pinpipe_bus::Topics::read(&bus, "t", 1, 0, 10)
        .await
        .expect("read");
    assert_eq!(
        read.iter()
            .map(|r| (r.offset, r.value.clone()))
            .collect::<Vec<_>>(),
        vec![(0, b"a".to_vec()), (1, b"b".to_vec())]
    );
    let more = pinpipe_bus::Topics::produce(
        &bus,
        "t",
        vec![ProduceRecord {
            partition: Some(1),
            ..conformance::values(&["c"]).remove(0)
        }],
    )
    .await
    .expect("produce");
    assert_eq!(more[0].as_ref().map(|p| p.offset), Ok(2));
    let mut consumer = pinpipe_bus::Topics::consumer(&bus, "g", &["t".to_owned()])
        .await
        .expect("consumer");
    let mut values: Vec<_> = consumer
        .poll(ReadLimit::records(10), std::time::Duration::from_secs(1))
        .await
        .expect("poll")
        .into_iter()
        .map(|r| r.value)
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![b"b".to_vec(), b"c".to_vec(), b"x".to_vec()],
        "the group resumes where it was in partition 1, and reads partition 0 from the start"
    );
}

/// A produce call larger than one stored batch (1 MiB) reads back whole and in order, from any
/// offset, within the reader's limits.
#[tokio::test]
async fn large_appends_read_back_from_any_offset() {
    let (bus, _dir) = embedded();
    pinpipe_bus::Topics::create_topic(bus.as_ref(), "t", 1)
        .await
        .expect("create");
    let values: Vec<String> = (0..300).map(|i| format!("{i:0>10000}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let produced = pinpipe_bus::Topics::produce(bus.as_ref(), "t", conformance::values(&refs))
        .await
        .expect("produce");
    let offsets: Vec<i64> = produced
        .iter()
        .map(|p| p.as_ref().expect("ok").offset)
        .collect();
    assert_eq!(offsets, (0..300).collect::<Vec<_>>());
    for from in [0, 104, 105, 150, 299] {
        let read = pinpipe_bus::Topics::read(bus.as_ref(), "t", 0, from, 7)
            .await
            .expect("read");
        let got: Vec<(i64, Vec<u8>)> = read.into_iter().map(|r| (r.offset, r.value)).collect();
        let want: Vec<(i64, Vec<u8>)> = (from..300.min(from + 7))
            .map(|o| {
                (
                    o,
                    values[usize::try_from(o).expect("offset")]
                        .clone()
                        .into_bytes(),
                )
            })
            .collect();
        assert_eq!(got, want, "reading 7 from offset {from}");
    }
    let past_the_end = pinpipe_bus::Topics::read(bus.as_ref(), "t", 0, 300, 7)
        .await
        .expect("read");
    assert!(past_the_end.is_empty());
}

/// Producers that never let the writer pause, 32 MiB of records in all: the write-ahead log
/// starts over every MiB or so (the commit that crosses `wal_autocheckpoint` copies it into the
/// database) rather than growing with what was appended, and every record reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_stays_small_under_sustained_appends() {
    const PRODUCERS: usize = 16;
    const CALLS: usize = 32;
    const RECORDS: usize = 16;
    let (bus, dir) = embedded();
    pinpipe_bus::Topics::create_topic(bus.as_ref(), "t", 1)
        .await
        .expect("create");
    let value = "v".repeat(4096);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let (bus, value) = (Arc::clone(&bus), value.clone());
            tokio::spawn(async move {
                for _ in 0..CALLS {
                    let records = conformance::values(&[value.as_str(); RECORDS]);
                    for produced in pinpipe_bus::Topics::produce(bus.as_ref(), "t", records)
                        .await
                        .expect("produce")
                    {
                        produced.expect("stored");
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.expect("producer");
    }
    let log = std::fs::metadata(dir.path().join("bus.db-wal")).expect("the log file");
    assert!(
        log.len() < 12 * 1024 * 1024,
        "the log holds {} bytes after 32 MiB of appends",
        log.len()
    );
    let total = i64::try_from(PRODUCERS * CALLS * RECORDS).expect("count");
    let last = pinpipe_bus::Topics::read(bus.as_ref(), "t", 0, total - 1, 10)
        .await
        .expect("read");
    assert_eq!(
        last.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![total - 1]
    );
}

/// A build of schema version 1 sharing the file (a gateway not yet upgraded) cannot append where
/// no reader of version 2 looks: its insert fails. A file of a later version than this build is
/// refused at open, rather than written in a layout this build does not know.
#[tokio::test]
async fn builds_of_another_schema_version_cannot_use_the_file_by_mistake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bus.db");
    drop(EmbeddedBus::open(&path, EmbeddedOptions::default()).expect("open"));
    let other = rusqlite::Connection::open(&path).expect("sqlite");
    // What a build of version 1 runs to append a record.
    let appended = other.execute(
        "INSERT INTO records (log_id, partition, offset, key, value, ts_ms)
         VALUES (1, 0, 0, NULL, CAST('a' AS BLOB), 0)",
        [],
    );
    let refused = appended.expect_err("a version 1 append").to_string();
    assert!(refused.contains("too old"), "{refused}");
    other
        .pragma_update(None, "user_version", 4)
        .expect("a later version");
    drop(other);
    match EmbeddedBus::open(&path, EmbeddedOptions::default()) {
        Ok(_) => panic!("a bus file of schema version 4 opened"),
        Err(e) => assert!(e.to_string().contains("schema version 4"), "{e}"),
    }
}

/// A bus file of schema version 2 (batches stored as they are, before compression) is upgraded
/// when opened: its records read back, and appends continue after them.
#[tokio::test]
async fn a_bus_of_schema_version_2_reads_back_after_the_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bus.db");
    let old = rusqlite::Connection::open(&path).expect("sqlite");
    // The tables a build of version 2 made, and one batch of two records as it stored them
    // (each key and value a little-endian u32 length, then the bytes; no key: u32::MAX).
    old.execute_batch(
        "CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
             name TEXT NOT NULL, partitions INTEGER NOT NULL, created_ms INTEGER NOT NULL,
             UNIQUE (kind, name));
         CREATE TABLE batches (id INTEGER PRIMARY KEY, log_id INTEGER NOT NULL,
             partition INTEGER NOT NULL, base_offset INTEGER NOT NULL, count INTEGER NOT NULL,
             ts_ms INTEGER NOT NULL, records BLOB NOT NULL);
         CREATE UNIQUE INDEX batches_position ON batches (log_id, partition, base_offset);
         INSERT INTO logs (kind, name, partitions, created_ms) VALUES ('topic', 't', 1, 0);
         PRAGMA user_version = 2;",
    )
    .expect("a version 2 file");
    let mut records = Vec::new();
    for value in [&b"{\"a\":1}"[..], b"{\"b\":2}"] {
        records.extend_from_slice(&u32::MAX.to_le_bytes());
        records.extend_from_slice(&u32::try_from(value.len()).expect("small").to_le_bytes());
        records.extend_from_slice(value);
    }
    old.execute(
        "INSERT INTO batches (log_id, partition, base_offset, count, ts_ms, records)
         VALUES (1, 0, 0, 2, 0, ?1)",
        [records],
    )
    .expect("a version 2 batch");
    drop(old);

    let bus = EmbeddedBus::open(&path, EmbeddedOptions::default()).expect("open");
    // A batch the upgraded bus stores compressed, after the version 2 one stored as it is.
    let pins: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"index":{i},"title":"a pin like the others"}}"#))
        .collect();
    let pins: Vec<&str> = pins.iter().map(String::as_str).collect();
    pinpipe_bus::Topics::produce(&bus, "t", conformance::values(&pins))
        .await
        .expect("produce");
    let read = pinpipe_bus::Topics::read(&bus, "t", 0, 0, 100)
        .await
        .expect("read");
    let values: Vec<&[u8]> = read.iter().map(|r| r.value.as_slice()).collect();
    assert_eq!(values[..2], [&b"{\"a\":1}"[..], b"{\"b\":2}"]);
    let expected: Vec<Vec<u8>> = conformance::values(&pins)
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(
        values[2..],
        expected.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    assert_eq!(
        read.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..22).collect::<Vec<i64>>()
    );
    let db = rusqlite::Connection::open(&path).expect("sqlite");
    let codecs: Vec<i64> = db
        .prepare("SELECT codec FROM batches ORDER BY base_offset")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("codecs");
    assert_eq!(
        codecs,
        [0, 1],
        "the old batch as it was, the new one compressed"
    );
}

/// A batch whose bytes disagree with its row (a damaged database) is refused when read, not read
/// as records with offsets missing or repeated.
#[tokio::test]
async fn a_damaged_batch_is_refused_when_read() {
    let (bus, dir) = embedded();
    pinpipe_bus::Topics::create_topic(bus.as_ref(), "t", 1)
        .await
        .expect("create");
    pinpipe_bus::Topics::produce(bus.as_ref(), "t", conformance::values(&["a", "b", "c"]))
        .await
        .expect("produce");
    let db = rusqlite::Connection::open(dir.path().join("bus.db")).expect("sqlite");
    // More records than the row says is refused even by a read that stops at its limit on the
    // first record past the count; fewer, by the read that wants the missing ones.
    for (damage, limit, said) in [
        (
            "UPDATE batches SET count = 2",
            3,
            "holds more records than its row's 2",
        ),
        (
            "UPDATE batches SET count = 4",
            10,
            "holds 3 records where its row says 4",
        ),
        (
            "UPDATE batches SET count = 3, records = substr(records, 1, length(records) - 1)",
            10,
            "ends inside a record",
        ),
    ] {
        db.execute(damage, []).expect("damage the batch");
        let read = pinpipe_bus::Topics::read(bus.as_ref(), "t", 0, 0, limit).await;
        match read {
            Ok(records) => panic!("read {} records of a damaged batch", records.len()),
            Err(e) => assert!(e.to_string().contains(said), "{e}"),
        }
    }
}

/// The record limit counts the key with the value, as Kafka's `message.max.bytes` does; a record
/// over it is refused alone and the others of the call are stored.
#[tokio::test]
async fn the_record_limit_counts_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        max_record_bytes: 10,
        ..EmbeddedOptions::default()
    };
    let bus = EmbeddedBus::open(dir.path().join("bus.db"), options).expect("bus");
    pinpipe_bus::Topics::create_topic(&bus, "t", 1)
        .await
        .expect("create");
    let record = |key: Option<&str>| ProduceRecord {
        key: key.map(|k| k.as_bytes().to_vec()),
        value: b"12345678".to_vec(),
        partition: None,
    };
    let produced = pinpipe_bus::Topics::produce(&bus, "t", vec![record(Some("key")), record(None)])
        .await
        .expect("produce");
    assert_eq!(
        produced[0],
        Err(pinpipe_bus::RecordError::TooLarge {
            size: 11,
            limit: 10
        })
    );
    assert_eq!(produced[1].as_ref().map(|p| p.offset), Ok(0));
}

/// Whether a sink runs is seen from its group's lease (the web UI shows it): held while a member
/// consumes, free once it closes.
#[tokio::test]
async fn a_group_member_is_seen_while_it_holds_the_group() {
    let (bus, _dir) = embedded();
    pinpipe_bus::Topics::create_topic(bus.as_ref(), "t", 1)
        .await
        .expect("create");
    assert_eq!(bus.group_member("g").await.expect("member"), None);
    let mut consumer = pinpipe_bus::Topics::consumer(bus.as_ref(), "g", &["t".to_owned()])
        .await
        .expect("consumer");
    assert!(bus.group_member("g").await.expect("member").is_some());
    consumer.close().await.expect("close");
    assert_eq!(bus.group_member("g").await.expect("member"), None);
}
