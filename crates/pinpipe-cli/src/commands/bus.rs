//! The bus the settings name: topics on the embedded log or on Kafka (`bus = "kafka://…"`),
//! streams on the embedded log or on Kinesis (`streams = "kinesis"`). The only place that knows
//! every backend.

use std::sync::Arc;

use anyhow::Result;
use pinpipe_bus::{EmbeddedBus, Streams, Topics};

use super::open_bus;
use crate::settings::{Settings, StreamsBackend};

/// The topics and streams of one run, and the embedded log when either lives there.
pub struct Bus {
    pub topics: Arc<dyn Topics>,
    pub streams: Arc<dyn Streams>,
    /// The embedded log, when the topics live there (for what only it can tell, such as the
    /// sink group's offsets).
    pub embedded_topics: Option<Arc<EmbeddedBus>>,
    /// Where the topics and the streams are, for logs and messages.
    pub description: String,
}

impl Bus {
    /// Opens the backends the settings name; the embedded log is opened once if both use it.
    pub async fn open(settings: &Settings) -> Result<Bus> {
        let mut opened: Option<Arc<EmbeddedBus>> = None;
        let mut embedded = || -> Result<Arc<EmbeddedBus>> {
            let bus = match &opened {
                Some(bus) => bus.clone(),
                None => open_bus(settings)?,
            };
            opened = Some(bus.clone());
            Ok(bus)
        };
        let embedded_name = || format!("the embedded log {}", settings.bus_path().display());

        let (topics, embedded_topics, topics_name): (Arc<dyn Topics>, _, _) =
            match &settings.bus.url {
                Some(url) => (open_kafka(settings, url)?, None, format!("Kafka {url}")),
                None => {
                    let bus = embedded()?;
                    (bus.clone(), Some(bus), embedded_name())
                }
            };
        let (streams, streams_name): (Arc<dyn Streams>, _) = match settings.streams {
            StreamsBackend::Kinesis => (open_kinesis(settings).await?, kinesis_name(settings)),
            StreamsBackend::Embedded => (embedded()?, embedded_name()),
        };
        Ok(Bus {
            topics,
            streams,
            embedded_topics,
            description: format!("topics on {topics_name}, streams on {streams_name}"),
        })
    }
}

fn kinesis_name(settings: &Settings) -> String {
    match &settings.kinesis.endpoint_url {
        Some(url) => format!("Kinesis at {url}"),
        None => "Amazon Kinesis".to_owned(),
    }
}

#[cfg(feature = "kafka")]
fn open_kafka(settings: &Settings, url: &str) -> Result<Arc<dyn Topics>> {
    use pinpipe_bus::kafka::{KafkaBus, KafkaOptions};
    let mut options = KafkaOptions::from_url(url)?;
    options.client_config.extend(
        settings
            .bus
            .kafka
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let bus = anyhow::Context::with_context(KafkaBus::connect(options), || {
        format!("cannot use Kafka at {url}")
    })?;
    Ok(Arc::new(bus))
}

#[cfg(not(feature = "kafka"))]
fn open_kafka(_settings: &Settings, url: &str) -> Result<Arc<dyn Topics>> {
    anyhow::bail!("bus = {url:?}: this pinpipe was built without Kafka (cargo feature `kafka`)")
}

#[cfg(feature = "kinesis")]
async fn open_kinesis(settings: &Settings) -> Result<Arc<dyn Streams>> {
    use pinpipe_bus::kinesis::{KinesisBus, KinesisOptions};
    let options = KinesisOptions {
        region: settings.kinesis.region.clone(),
        endpoint_url: settings.kinesis.endpoint_url.clone(),
        ..KinesisOptions::default()
    };
    let bus = anyhow::Context::with_context(KinesisBus::connect(options).await, || {
        format!("cannot use {}", kinesis_name(settings))
    })?;
    Ok(Arc::new(bus))
}

#[cfg(not(feature = "kinesis"))]
async fn open_kinesis(_settings: &Settings) -> Result<Arc<dyn Streams>> {
    anyhow::bail!(
        "streams = \"kinesis\": this pinpipe was built without Kinesis (cargo feature `kinesis`)"
    )
}
