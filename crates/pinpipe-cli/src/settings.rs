//! Layered settings: built-in defaults, then `pinpipe.toml`, then `PINPIPE_*` environment
//! variables, then command-line flags. Every setting has a working default, so a fresh machine
//! needs none of them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use pinpipe_bus::SyncMode;
use pinpipe_gateway::GatewayConfig;
use serde::{Deserialize, Serialize};

/// The config file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_FILE: &str = "pinpipe.toml";

/// What a settings error is put down to: any of the layers may hold the mistake.
const INVALID_SETTINGS: &str =
    "invalid settings (check the flags, pinpipe.toml and PINPIPE_* variables)";

/// Everything pinpipe can be told.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where embedded state lives: the source database, the bus, the lake.
    pub data_dir: PathBuf,
    /// Source database URL: `sqlite://path` (default `sqlite://<data_dir>/source.db`),
    /// `postgres://user:password@host:5432/db` or `mysql://user:password@host:3306/db`.
    pub source: Option<String>,
    /// Lake location: a local directory (default `<data_dir>/lake`) or `s3://bucket/prefix`.
    pub lake: Option<String>,
    /// Options for the lake's object store (`AWS_ENDPOINT_URL`, `AWS_REGION`, ...); the standard
    /// `AWS_*` environment variables are read too.
    #[serde(deserialize_with = "text_values")]
    pub storage_options: HashMap<String, String>,
    /// Prefix of topics (`<prefix>.pin`) and streams (`streaming-<prefix>-pin`).
    pub topic_prefix: String,
    /// The topics of the batch path: the embedded log, or Kafka with `bus = "kafka://host:9092"`.
    pub bus: BusSettings,
    /// The streams of the stream path: `embedded` (the bus's log, default) or `kinesis`.
    pub streams: StreamsBackend,
    /// Amazon Kinesis, when `streams = "kinesis"`.
    pub kinesis: KinesisSettings,
    /// The HTTP gateway.
    pub gateway: GatewayConfig,
    /// The raw sink.
    pub sink: SinkSettings,
    /// The batch job.
    pub batch: BatchSettings,
    /// The stream job.
    pub stream: StreamSettings,
    /// The scheduler (`pinpipe schedule`, `pinpipe runs`, `pinpipe airflow-dag`).
    pub schedule: ScheduleSettings,
    /// `/metrics` of the processes without an HTTP server of their own.
    pub metrics: MetricsSettings,
    /// Log filter (`info`, `pinpipe_lake=debug`, ...); `RUST_LOG` wins when set. Default: `info`
    /// for `serve`, `sink`, `stream` and the cluster's scheduler and executor, `warn` for the
    /// commands that print their own progress (`schedule` included).
    pub log: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./pinpipe-data"),
            source: None,
            lake: None,
            storage_options: HashMap::new(),
            topic_prefix: "pinpipe".into(),
            bus: BusSettings::default(),
            streams: StreamsBackend::default(),
            kinesis: KinesisSettings::default(),
            gateway: GatewayConfig::default(),
            sink: SinkSettings::default(),
            batch: BatchSettings::default(),
            stream: StreamSettings::default(),
            schedule: ScheduleSettings::default(),
            metrics: MetricsSettings::default(),
            log: None,
        }
    }
}

/// Settings of the bus: where topics live, and the embedded log's file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// `kafka://host:9092,host2:9092` for a Kafka cluster; unset for the embedded log.
    pub url: Option<String>,
    /// librdkafka client properties passed through to Kafka (`security.protocol`,
    /// `sasl.mechanism`, `sasl.username`, `ssl.ca.location`, `message.timeout.ms`, ...); numbers
    /// and booleans are taken as their text. From the environment see [`RawEnvMaps`].
    #[serde(deserialize_with = "text_values")]
    pub kafka: BTreeMap<String, String>,
    /// Embedded log database file; default `<data_dir>/bus.db`.
    pub path: Option<PathBuf>,
    /// Embedded log: `full` (survives power loss) or `normal` (survives a crash of the process).
    pub sync: SyncMode,
    /// Embedded log: how long a consumer group (the sink's) stays with a member that was killed
    /// before another takes over. Kafka's `session.timeout.ms`, which `[bus.kafka]` sets for Kafka.
    pub session_timeout: String,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            url: None,
            kafka: BTreeMap::new(),
            path: None,
            sync: SyncMode::default(),
            session_timeout: humantime::format_duration(
                pinpipe_bus::EmbeddedOptions::default().session_timeout,
            )
            .to_string(),
        }
    }
}

/// A map of text settings whose values may also be written as numbers or booleans
/// (`"message.timeout.ms" = 60000`, `AWS_ALLOW_HTTP = true`): each is taken as its text.
fn text_values<'de, D, M>(d: D) -> Result<M, D::Error>
where
    D: serde::Deserializer<'de>,
    M: FromIterator<(String, String)>,
{
    /// One value, as text.
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = Text;

                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string, a number or a boolean")
                }

                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                    Ok(Text(v.to_owned()))
                }

                fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }

                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }

                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }

                fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
            }
            d.deserialize_any(Visitor)
        }
    }
    let map = BTreeMap::<String, Text>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(key, Text(value))| (key, value))
        .collect())
}

/// Which backend holds the streams of the stream path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamsBackend {
    /// The embedded log (the bus's SQLite file).
    #[default]
    Embedded,
    /// Amazon Kinesis, or a Kinesis-compatible endpoint (`[kinesis] endpoint_url`).
    Kinesis,
}

/// Settings of Amazon Kinesis; credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`,
/// `AWS_PROFILE`, instance roles, ...).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KinesisSettings {
    /// The region; default from `AWS_REGION` or the AWS profile.
    pub region: Option<String>,
    /// Another endpoint than AWS's, e.g. `http://127.0.0.1:4567` for kinesalite or LocalStack.
    pub endpoint_url: Option<String>,
}

/// Settings of the raw sink.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkSettings {
    /// Records per raw object at most.
    pub flush_size: usize,
    /// Bytes per raw object, about: an object is written once it holds this much.
    pub flush_bytes: usize,
    /// Longest a record waits before its object is written, e.g. `10s`, `1m`.
    pub rotate_interval: String,
    /// Consumer group of the sink.
    pub group: String,
}

impl Default for SinkSettings {
    fn default() -> Self {
        Self {
            flush_size: 1000,
            flush_bytes: 64 * 1024 * 1024,
            rotate_interval: "10s".into(),
            group: pinpipe_lake::sink::DEFAULT_GROUP.into(),
        }
    }
}

/// Where `pinpipe sink`, `stream` and `schedule` serve `/metrics` (`pinpipe serve` serves it on
/// the gateway's port).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address to serve `/metrics` and `/health` on (`--metrics-listen`); unset: not served.
    pub listen: Option<std::net::SocketAddr>,
}

/// Settings of the stream job.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// How often a micro-batch starts, e.g. `1s`, `500ms`.
    pub trigger: String,
    /// Records read from one shard per micro-batch at most.
    pub max_records_per_shard: usize,
    /// Bytes read from one shard per micro-batch, about.
    pub max_bytes_per_shard: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            trigger: "1s".into(),
            max_records_per_shard: pinpipe_lake::StreamOptions::default().max_records_per_shard,
            max_bytes_per_shard: pinpipe_lake::StreamOptions::default().max_bytes_per_shard,
        }
    }
}

/// Settings of the batch job.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSettings {
    /// Bytes of cleaned rows held in memory before they are written.
    pub max_bytes_in_memory: usize,
    /// Bytes of raw lines read and cleaned at a time.
    pub max_piece_bytes: usize,
    /// Longest raw record kept; a longer one is quarantined with its first bytes.
    pub max_record_bytes: usize,
    /// Read every raw object again and replace the tables' rows (`--full-refresh`).
    pub full_refresh: bool,
    /// Run the work on the cluster whose scheduler is at `df://host:port` (`--cluster`);
    /// unset: in this process.
    pub cluster: Option<String>,
    /// On a cluster, bytes of raw objects one task of the first stage reads, about; unset: the
    /// input over twice the cluster's task slots, at most 128 MiB.
    pub cluster_task_bytes: Option<u64>,
    /// On a cluster, a run fails when its jobs make no progress for this long (an executor lost
    /// with work no other can finish); nothing is committed then.
    pub cluster_stall_timeout: String,
}

impl Default for BatchSettings {
    fn default() -> Self {
        let batch = pinpipe_lake::BatchOptions::default();
        Self {
            max_bytes_in_memory: batch.max_bytes_in_memory,
            max_piece_bytes: batch.read_limits.max_piece_bytes,
            max_record_bytes: batch.read_limits.max_record_bytes,
            full_refresh: batch.full_refresh,
            cluster: None,
            cluster_task_bytes: None,
            cluster_stall_timeout: "5m".into(),
        }
    }
}

/// Settings of the scheduler.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// The schedule's name in the run history, and the Airflow DAG id.
    pub name: String,
    /// When the batch job runs: five cron fields or @hourly, @daily, @weekly, @monthly, @yearly.
    pub cron: String,
    /// Run the intervals missed while no scheduler ran, on start (as Airflow's `catchup`).
    pub catchup: bool,
    /// Attempts after the first when a run fails.
    pub retries: u32,
    /// Wait between attempts, e.g. `5m`.
    pub retry_delay: String,
    /// No interval starting before this runs on schedule, e.g. `2024-01-01`.
    pub start_date: Option<String>,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            name: pinpipe_scheduler::DEFAULT_NAME.into(),
            cron: "@daily".into(),
            catchup: false,
            retries: 2,
            retry_delay: "5m".into(),
            start_date: None,
        }
    }
}

impl Settings {
    /// Loads the layers; `overrides` are the flags given on the command line (a JSON object of
    /// only the settings that were set).
    pub fn load(config: Option<&Path>, overrides: serde_json::Value) -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} not found", path.display());
                figment = figment.merge(BusShorthand(Toml::file(config_file(path)?)));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                let path = config_file(Path::new(DEFAULT_CONFIG_FILE))?;
                figment = figment.merge(BusShorthand(Toml::file(path)));
            }
            None => {}
        }
        let settings: Settings = figment
            .merge(BusShorthand(settings_env()))
            .merge(TextEnv)
            .merge(RawEnvMaps)
            .merge(Serialized::globals(overrides))
            .extract()
            .map_err(|error| anyhow::anyhow!(describe(error)))
            .context(INVALID_SETTINGS)?;
        settings.check().context(INVALID_SETTINGS)?;
        settings.gateway_with_prefix()
    }

    /// Checks the settings kept as text and read later (durations, the cron schedule and start
    /// date) and the bounds serde cannot say, so that a mistake is named with its key whatever
    /// the command, not only by the command that reads it.
    fn check(&self) -> Result<()> {
        for (key, text) in [
            ("[bus] session_timeout", &self.bus.session_timeout),
            ("[sink] rotate_interval", &self.sink.rotate_interval),
            ("[stream] trigger", &self.stream.trigger),
            (
                "[batch] cluster_stall_timeout",
                &self.batch.cluster_stall_timeout,
            ),
            ("[schedule] retry_delay", &self.schedule.retry_delay),
        ] {
            parse_duration(text).with_context(|| format!("{key} = {text:?}"))?;
        }
        if self.bus.url.is_none() {
            // The embedded log's bound; Kafka has its own session timeout in [bus.kafka].
            self.bus_session_timeout()?;
        }
        let cron = pinpipe_scheduler::Cron::parse(&self.schedule.cron)
            .with_context(|| format!("[schedule] cron = {:?}", self.schedule.cron))?;
        if let Some(filter) = &self.log {
            tracing_subscriber::EnvFilter::try_new(filter)
                .with_context(|| format!("log = {filter:?}"))?;
        }
        if let Some(start) = &self.schedule.start_date {
            let at = pinpipe_scheduler::parse_time(start)
                .with_context(|| format!("[schedule] start_date = {start:?}"))?;
            // Past the end of cron's calendar (about the year 5000) nothing would ever run.
            anyhow::ensure!(
                cron.intervals_from(at).next().is_some(),
                "[schedule] start_date = {start:?}: the schedule has no interval after it"
            );
        }
        anyhow::ensure!(
            self.sink.flush_size >= 1 && self.sink.flush_bytes >= 1,
            "[sink] flush_size and flush_bytes must be at least 1 (an object per record at most)"
        );
        // The jobs' and the gateway's own checks, for every command: a limit of 0 used to pass
        // until the command that reads it started, and was then not named with its section.
        self.batch_options().validate().context("[batch]")?;
        self.stream_options(false)?.validate().context("[stream]")?;
        self.gateway.validate().context("[gateway]")?;
        Ok(())
    }

    /// The gateway's topic prefix follows the global one unless set on its own.
    fn gateway_with_prefix(mut self) -> Result<Self> {
        if self.gateway.topic_prefix == GatewayConfig::default().topic_prefix {
            self.gateway.topic_prefix = self.topic_prefix.clone();
        }
        Ok(self)
    }

    pub fn source_url(&self) -> String {
        self.source
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("source.db").display()))
    }

    pub fn lake_location(&self) -> String {
        self.lake
            .clone()
            .unwrap_or_else(|| self.data_dir.join("lake").display().to_string())
    }

    pub fn bus_path(&self) -> PathBuf {
        self.bus
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("bus.db"))
    }

    pub fn bus_session_timeout(&self) -> Result<Duration> {
        let timeout = parse_duration(&self.bus.session_timeout)?;
        anyhow::ensure!(
            timeout >= Duration::from_secs(1),
            "bus.session_timeout is {:?}: it must be at least 1s, or a sink would lose its group \
             between two renewals",
            self.bus.session_timeout
        );
        Ok(timeout)
    }

    pub fn rotate_interval(&self) -> Result<Duration> {
        parse_duration(&self.sink.rotate_interval)
    }

    pub fn stream_trigger(&self) -> Result<Duration> {
        parse_duration(&self.stream.trigger)
    }

    pub fn cluster_stall_timeout(&self) -> Result<Duration> {
        parse_duration(&self.batch.cluster_stall_timeout)
    }

    /// The stream job's options from `[stream]` and the topic prefix; `once` drains the streams
    /// and returns.
    pub fn stream_options(&self, once: bool) -> Result<pinpipe_lake::StreamOptions> {
        Ok(pinpipe_lake::StreamOptions {
            stream_prefix: self.topic_prefix.clone(),
            trigger: self.stream_trigger()?,
            max_records_per_shard: self.stream.max_records_per_shard,
            max_bytes_per_shard: self.stream.max_bytes_per_shard,
            once,
            ..pinpipe_lake::StreamOptions::default()
        })
    }

    /// The batch job's options from `[batch]` and the topic prefix.
    pub fn batch_options(&self) -> pinpipe_lake::BatchOptions {
        pinpipe_lake::BatchOptions {
            topic_prefix: self.topic_prefix.clone(),
            read_limits: pinpipe_lake::raw::ReadLimits {
                max_piece_bytes: self.batch.max_piece_bytes,
                max_record_bytes: self.batch.max_record_bytes,
            },
            max_bytes_in_memory: self.batch.max_bytes_in_memory,
            full_refresh: self.batch.full_refresh,
            ..pinpipe_lake::BatchOptions::default()
        }
    }
}

/// `path`, unless it is a directory: a mistake, which figment would read as an empty file
/// (`/dev/null`, to read no file, is fine).
fn config_file(path: &Path) -> Result<&Path> {
    anyhow::ensure!(
        !path.is_dir(),
        "config file {} is a directory",
        path.display()
    );
    Ok(path)
}

/// `PINPIPE_<SETTING>` variables, nested with `__` (`PINPIPE_GATEWAY__LISTEN`). Only those whose
/// first part names a top-level setting are read as settings: others, such as `PINPIPE_CONFIG` or
/// `PINPIPE_API_KEY`, belong to flags or to tools beside pinpipe. The entries of maps are
/// [`RawEnvMaps`]'s.
fn settings_env() -> Env {
    let top_level: std::sync::Arc<[String]> = top_level_settings().into();
    Env::prefixed("PINPIPE_")
        .filter(move |key| {
            let first = key.as_str().split("__").next().unwrap_or_default();
            top_level
                .iter()
                .any(|name| first.eq_ignore_ascii_case(name))
                && !RAW_ENV_MAPS
                    .iter()
                    .any(|map| starts_with_ignore_case(key.as_str(), map.prefix))
        })
        .split("__")
}

/// A map whose entries come from `PINPIPE_<prefix><NAME>` variables.
struct RawEnvMap {
    /// What follows `PINPIPE_` in the variables' names.
    prefix: &'static str,
    /// Where the map is in the settings, as a dotted key.
    path: &'static str,
    /// An entry's key, from what follows the prefix.
    key: fn(&str) -> String,
}

/// The maps of settings that the environment can add to: librdkafka properties
/// (`PINPIPE_BUS__KAFKA__SASL_PASSWORD`) and the lake's storage options
/// (`PINPIPE_STORAGE_OPTIONS__AWS_REGION`).
const RAW_ENV_MAPS: &[RawEnvMap] = &[
    RawEnvMap {
        prefix: "BUS__KAFKA__",
        path: "bus.kafka",
        key: kafka_property,
    },
    RawEnvMap {
        prefix: "STORAGE_OPTIONS__",
        path: "storage_options",
        key: str::to_owned,
    },
];

/// The librdkafka property a variable names: lower case, `_` standing for `.` (a variable's name
/// cannot hold one), but for the two properties whose names hold `_`.
fn kafka_property(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "log_level" | "enabled_events" => name,
        _ => name.replace('_', "."),
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// The entries of [`RAW_ENV_MAPS`] from the environment, their values taken as written: [`Env`]
/// would parse them, so that a password of digits became a number (and a setting that wants
/// text refused it, quoting the password in its error) and a quoted one lost its quotes.
struct RawEnvMaps;

impl Provider for RawEnvMaps {
    fn metadata(&self) -> Metadata {
        Metadata::named("PINPIPE_BUS__KAFKA__* and PINPIPE_STORAGE_OPTIONS__* variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let variables: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        let mut settings = Dict::new();
        for map in RAW_ENV_MAPS {
            let prefix = format!("PINPIPE_{}", map.prefix);
            let entries: Dict = variables
                .iter()
                .filter(|(name, _)| starts_with_ignore_case(name, &prefix))
                .map(|(name, value)| ((map.key)(&name[prefix.len()..]), Value::from(value.clone())))
                .collect();
            if entries.is_empty() {
                continue;
            }
            // The maps sit under different top-level keys: no entry of one replaces another's.
            if let Some(nested) = figment::util::nest(map.path, Value::from(entries)).into_dict() {
                settings.extend(nested);
            }
        }
        Ok(Profile::Default.collect(settings))
    }
}

/// The `PINPIPE_*` variables of settings that are text or lists of text, their values taken as
/// written: [`Env`] parses every value, so that an AWS account id of digits
/// (`PINPIPE_GATEWAY__KINESIS__ACCOUNT_ID=000000000000`) became the number 0 and was refused as
/// not text. A list is given in TOML (`["a", "b"]`) or as words separated by commas (`a,b`).
/// Which settings are text comes from their defaults, as in a config file.
struct TextEnv;

impl Provider for TextEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("PINPIPE_* variables of text settings")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
        let mut settings = Figment::new();
        for (name, raw) in std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        {
            let Some(key) = name.strip_prefix("PINPIPE_") else {
                continue;
            };
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            let default = path
                .iter()
                .try_fold(&defaults, |value, part| value.get(part));
            let value = match default {
                Some(serde_json::Value::String(_)) => Value::from(raw),
                Some(serde_json::Value::Array(_)) if !raw.trim_start().starts_with('[') => {
                    let words: Vec<String> = raw
                        .split(',')
                        .map(str::trim)
                        .filter(|word| !word.is_empty())
                        .map(str::to_owned)
                        .collect();
                    Value::from(words)
                }
                _ => continue,
            };
            settings = settings.merge(Serialized::global(&path.join("."), value));
        }
        settings.data()
    }
}

/// A layer whose `bus = "kafka://…"` is given as `[bus] url = "kafka://…"`, so that it merges with
/// the `[bus]` settings of other layers (a Kafka password from the environment) rather than one
/// replacing the other.
struct BusShorthand<P>(P);

impl<P: Provider> Provider for BusShorthand<P> {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for settings in data.values_mut() {
            if let Some(url @ Value::String(..)) = settings.get("bus").cloned() {
                settings.insert(
                    "bus".to_owned(),
                    Dict::from([("url".to_owned(), url)]).into(),
                );
            }
        }
        Ok(data)
    }
}

/// figment's errors with their keys named as a config file spells them (`[sink] flush_size`), as
/// the checks of [`Settings::check`] name theirs, whichever layer the value came from; figment
/// names a key by its provider (`SINK.FLUSH_SIZE` from the environment, `default.sink.flush_size`
/// from a file). One line per error, each with where its value came from.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|error| {
            // figment quotes an expected variant list whose own items are quoted: ``a` or `b``.
            let what = error.kind.to_string().replace("``", "`");
            let key = match error.path.split_last() {
                None => String::new(),
                Some((last, [])) => format!("{last}: "),
                Some((last, section)) => format!("[{}] {last}: ", section.join(".")),
            };
            let from = error
                .metadata
                .as_ref()
                .map(|metadata| match &metadata.source {
                    Some(source) => format!(" (in {source})"),
                    None => format!(" (in {})", metadata.name),
                })
                .unwrap_or_default();
            format!("{key}{what}{from}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names of the top-level settings, as a config file spells them: taken from [`Settings`]
/// itself, so that a new section is read from the environment too.
fn top_level_settings() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Parses a duration as `humantime` reads it: `500ms`, `10s`, `5m`, `1h 30m`, `7days`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim())
        .with_context(|| format!("invalid duration {text:?}: expected e.g. 500ms, 10s, 5m, 1h"))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error, as its API fixes.
mod tests {
    use super::*;

    /// Why the settings of the jail's file and environment do not load, as printed.
    fn load_error() -> String {
        format!(
            "{:#}",
            Settings::load(None, serde_json::json!({})).unwrap_err()
        )
    }

    /// The librdkafka property `security.protocol` the settings pass to Kafka.
    fn security_protocol(settings: &Settings) -> Option<&str> {
        settings
            .bus
            .kafka
            .get("security.protocol")
            .map(String::as_str)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(
            parse_duration(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("7days").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        let error = parse_duration("2").unwrap_err();
        assert!(format!("{error:#}").contains("e.g. 500ms"), "{error:#}");
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pinpipe.toml",
                "topic_prefix = \"fromfile\"\n[sink]\nflush_size = 7\n",
            )?;
            jail.set_env("PINPIPE_SINK__FLUSH_SIZE", "9");
            jail.set_env("PINPIPE_API_KEY", "not a setting");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.topic_prefix, "fromfile");
            assert_eq!(settings.gateway.topic_prefix, "fromfile");
            assert_eq!(settings.sink.flush_size, 9, "env beats the file");
            let settings = Settings::load(None, serde_json::json!({"sink": {"flush_size": 11}}))
                .expect("loads");
            assert_eq!(settings.sink.flush_size, 11, "flags beat env");
            Ok(())
        });
    }

    /// A mistake in `[bus]` is named as in any other section, not as an untagged enum's miss.
    #[test]
    fn bus_table_errors_name_the_key() {
        figment::Jail::expect_with(|jail| {
            for (table, said) in [
                ("[bus]\nsink = \"full\"\n", "unknown field: found `sink`"),
                ("[bus]\nsync = \"fast\"\n", "unknown variant: found `fast`"),
            ] {
                jail.create_file("pinpipe.toml", table)?;
                let error = load_error();
                assert!(error.contains(said), "{error}");
            }
            Ok(())
        });
    }

    /// Every top-level section is read from the environment, `[metrics]` included (it was left
    /// out of a list kept by hand, and `PINPIPE_METRICS__LISTEN` did nothing).
    #[test]
    fn every_section_is_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PINPIPE_METRICS__LISTEN", "127.0.0.1:9101");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(
                settings.metrics.listen,
                Some("127.0.0.1:9101".parse().expect("address"))
            );
            jail.set_env("PINPIPE_METRICS__LISTEN", "not an address");
            let error = load_error();
            assert!(error.contains("[metrics] listen: "), "{error}");
            assert!(
                error.contains("environment"),
                "where the value came from: {error}"
            );
            Ok(())
        });
    }

    /// The jobs' and the gateway's limits are checked when the settings load, whatever the
    /// command, and a mistake is named with its section and key.
    #[test]
    fn limits_are_checked_at_start_with_their_section() {
        for (variable, value, said) in [
            (
                "PINPIPE_BATCH__MAX_BYTES_IN_MEMORY",
                "2000000000",
                "[batch]: invalid options: max_bytes_in_memory",
            ),
            ("PINPIPE_BATCH__MAX_RECORD_BYTES", "0", "max_record_bytes"),
            (
                "PINPIPE_STREAM__MAX_RECORDS_PER_SHARD",
                "0",
                "[stream]: invalid options: max_records_per_shard",
            ),
            ("PINPIPE_GATEWAY__MAX_IN_FLIGHT", "0", "[gateway]: "),
            ("PINPIPE_GATEWAY__MAX_BODY_BYTES", "0", "max_body_bytes"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(variable, value);
                let error = load_error();
                assert!(error.contains(said), "{variable}={value}: {error}");
                Ok(())
            });
        }
    }

    /// Text settings come from the environment as written, digits and all (an AWS account id, a
    /// consumer group named 123); lists as TOML or words separated by commas.
    #[test]
    fn text_settings_from_the_environment_are_taken_as_written() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PINPIPE_GATEWAY__KINESIS__ACCOUNT_ID", "000000000000");
            jail.set_env("PINPIPE_SINK__GROUP", "123");
            jail.set_env("PINPIPE_TOPIC_PREFIX", "2024");
            jail.set_env("PINPIPE_GATEWAY__API_KEYS", "k1, k2");
            jail.set_env("PINPIPE_GATEWAY__ADMIN_API_KEYS", r#"["a,b"]"#);
            jail.set_env("PINPIPE_SINK__FLUSH_SIZE", "9");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.gateway.kinesis.account_id, "000000000000");
            assert_eq!(settings.sink.group, "123");
            assert_eq!(settings.topic_prefix, "2024");
            assert_eq!(settings.gateway.api_keys, ["k1", "k2"]);
            assert_eq!(settings.gateway.admin_api_keys, ["a,b"]);
            assert_eq!(settings.sink.flush_size, 9, "numbers are still numbers");
            Ok(())
        });
    }

    /// Kafka's secrets and the lake's storage options come from the environment as written:
    /// `_` stands for the `.` of librdkafka's names (but in `log_level`), and a password of digits
    /// stays text. A file may give numbers and booleans where text is wanted.
    #[test]
    fn kafka_and_storage_settings_from_the_environment_are_taken_as_written() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pinpipe.toml",
                "[bus]\nurl = \"kafka://b:9096\"\n[bus.kafka]\n\"sasl.username\" = \"pinpipe\"\n\
                 \"message.timeout.ms\" = 60000\n[storage_options]\nAWS_REGION = \"eu-west-1\"\n",
            )?;
            jail.set_env("PINPIPE_BUS__KAFKA__SASL_PASSWORD", "0123");
            jail.set_env("PINPIPE_BUS__KAFKA__SECURITY_PROTOCOL", "SASL_SSL");
            jail.set_env("PINPIPE_BUS__KAFKA__LOG_LEVEL", "7");
            jail.set_env("PINPIPE_STORAGE_OPTIONS__AWS_ALLOW_HTTP", "true");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            let kafka: Vec<(&str, &str)> = settings
                .bus
                .kafka
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            assert_eq!(
                kafka,
                [
                    ("log_level", "7"),
                    ("message.timeout.ms", "60000"),
                    ("sasl.password", "0123"),
                    ("sasl.username", "pinpipe"),
                    ("security.protocol", "SASL_SSL"),
                ]
            );
            let storage: BTreeMap<&str, &str> = settings
                .storage_options
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            assert_eq!(
                storage,
                BTreeMap::from([("AWS_ALLOW_HTTP", "true"), ("AWS_REGION", "eu-west-1")])
            );
            Ok(())
        });
    }

    /// `bus = "kafka://…"` merges with `[bus]` settings of other layers: a Kafka password from
    /// the environment does not drop the file's URL (which sent records to the embedded bus), and
    /// `PINPIPE_BUS=kafka://…` does not drop the file's Kafka settings.
    #[test]
    fn the_bus_shorthand_merges_with_the_bus_settings_of_other_layers() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pinpipe.toml", "bus = \"kafka://file:9096\"\n")?;
            jail.set_env("PINPIPE_BUS__KAFKA__SASL_PASSWORD", "secret");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.bus.url.as_deref(), Some("kafka://file:9096"));
            assert_eq!(
                settings.bus.kafka.get("sasl.password").map(String::as_str),
                Some("secret")
            );

            jail.create_file(
                "pinpipe.toml",
                "[bus]\nsync = \"normal\"\n[bus.kafka]\n\"security.protocol\" = \"SSL\"\n",
            )?;
            jail.set_env("PINPIPE_BUS", "kafka://env:9094");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.bus.url.as_deref(), Some("kafka://env:9094"));
            assert_eq!(security_protocol(&settings), Some("SSL"));
            assert_eq!(settings.bus.sync, SyncMode::Normal);
            Ok(())
        });
    }

    /// Durations, the cron schedule and the sink's sizes are checked when the settings load,
    /// whatever the command, and a mistake names its key; so is a directory given as the file.
    #[test]
    fn mistakes_in_settings_read_later_are_named_at_load() {
        figment::Jail::expect_with(|jail| {
            for (file, said) in [
                (
                    "[sink]\nrotate_interval = \"soon\"\n",
                    "[sink] rotate_interval = \"soon\"",
                ),
                (
                    "[stream]\ntrigger = \"soon\"\n",
                    "[stream] trigger = \"soon\"",
                ),
                (
                    "[schedule]\nretry_delay = \"x\"\n",
                    "[schedule] retry_delay = \"x\"",
                ),
                (
                    "[schedule]\ncron = \"bogus\"\n",
                    "[schedule] cron = \"bogus\"",
                ),
                ("[sink]\nflush_size = 0\n", "[sink] flush_size"),
            ] {
                jail.create_file("pinpipe.toml", file)?;
                let error = load_error();
                assert!(error.contains(said), "{error}");
            }
            std::fs::remove_file("pinpipe.toml").map_err(|e| e.to_string())?;
            std::fs::create_dir("adir").map_err(|e| e.to_string())?;
            let error = format!(
                "{:#}",
                Settings::load(Some(Path::new("adir")), serde_json::json!({})).unwrap_err()
            );
            assert!(error.contains("adir is a directory"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_embedded_session_timeout_is_read_and_bounded() {
        figment::Jail::expect_with(|jail| {
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(
                settings.bus_session_timeout().unwrap(),
                Duration::from_secs(15)
            );
            jail.set_env("PINPIPE_BUS__SESSION_TIMEOUT", "2s");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(
                settings.bus_session_timeout().unwrap(),
                Duration::from_secs(2)
            );
            jail.set_env("PINPIPE_BUS__SESSION_TIMEOUT", "100ms");
            let error = load_error();
            assert!(error.contains("bus.session_timeout"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pinpipe.toml", "flush = 1\n")?;
            let error = load_error();
            assert!(error.contains("flush"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn schedule_settings_come_from_every_layer() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pinpipe.toml",
                "[schedule]\ncron = \"@hourly\"\ncatchup = true\n",
            )?;
            jail.set_env("PINPIPE_SCHEDULE__RETRIES", "5");
            let flags = serde_json::json!({"schedule": {"retry_delay": "30s"}});
            let settings = Settings::load(None, flags).expect("loads");
            let schedule = &settings.schedule;
            assert_eq!(schedule.cron, "@hourly");
            assert!(schedule.catchup);
            assert_eq!(schedule.retries, 5);
            assert_eq!(schedule.retry_delay, "30s");
            assert_eq!(schedule.name, "pinpipe_batch");
            assert_eq!(schedule.start_date, None);
            Ok(())
        });
    }

    #[test]
    fn the_batch_cluster_comes_from_every_layer() {
        figment::Jail::expect_with(|jail| {
            let cluster = |settings: Settings| settings.batch.cluster;
            let none = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(cluster(none), None, "in this process unless configured");
            jail.create_file("pinpipe.toml", "[batch]\ncluster = \"df://file:50050\"\n")?;
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(cluster(settings).as_deref(), Some("df://file:50050"));
            jail.set_env("PINPIPE_BATCH__CLUSTER", "df://env:50050");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(cluster(settings).as_deref(), Some("df://env:50050"));
            let flags = serde_json::json!({"batch": {"cluster": "df://flag:50050"}});
            let settings = Settings::load(None, flags).expect("loads");
            assert_eq!(cluster(settings).as_deref(), Some("df://flag:50050"));
            Ok(())
        });
    }

    #[test]
    fn real_backends_are_chosen_by_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pinpipe.toml",
                concat!(
                    "bus = \"kafka://b1:9092,b2:9092\"\n",
                    "streams = \"kinesis\"\n",
                    "[kinesis]\nregion = \"eu-west-1\"\n",
                ),
            )?;
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.bus.url.as_deref(), Some("kafka://b1:9092,b2:9092"));
            assert_eq!(settings.streams, StreamsBackend::Kinesis);
            assert_eq!(settings.kinesis.region.as_deref(), Some("eu-west-1"));

            jail.create_file(
                "pinpipe.toml",
                "[bus]\nurl = \"kafka://b:9092\"\n[bus.kafka]\n\"security.protocol\" = \"SASL_SSL\"\n",
            )?;
            jail.set_env("PINPIPE_STREAMS", "embedded");
            let settings = Settings::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(settings.bus.url.as_deref(), Some("kafka://b:9092"));
            assert_eq!(security_protocol(&settings), Some("SASL_SSL"));
            assert_eq!(settings.streams, StreamsBackend::Embedded);

            jail.set_env("PINPIPE_STREAMS", "kafka");
            let error = load_error();
            assert!(error.contains("kafka"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_at_scale_example_loads() {
        // In a jail too, though it sets nothing: the jail's lock keeps the other tests'
        // PINPIPE_* variables out of the environment while this one reads it.
        figment::Jail::expect_with(|_| {
            let example =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pinpipe.at-scale.toml");
            let settings = Settings::load(Some(&example), serde_json::json!({})).expect("loads");
            assert!(settings.source_url().starts_with("postgres://"));
            assert!(settings.lake_location().starts_with("s3://"));
            assert!(
                settings
                    .bus
                    .url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("kafka://"))
            );
            assert_eq!(settings.streams, StreamsBackend::Kinesis);
            assert_eq!(security_protocol(&settings), Some("SASL_SSL"));
            Ok(())
        });
    }
}
