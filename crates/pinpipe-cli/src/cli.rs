//! The command line: every subcommand and flag, with its help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

/// pinpipe: the Pinterest-style data pipeline as one program.
///
/// Emulated posts go through an ingestion API onto topics and streams, a sink lands them as raw
/// JSON in object storage, and the batch job cleans them into Delta tables and answers nine
/// analyses. `pinpipe demo` runs it all on this machine.
///
/// Settings come from built-in defaults, then pinpipe.toml, then PINPIPE_* environment variables
/// (nested with `__`, e.g. PINPIPE_GATEWAY__LISTEN), then these flags.
#[derive(Debug, Parser)]
#[command(name = "pinpipe", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: ./pinpipe.toml when it exists).
    #[arg(long, global = true, env = "PINPIPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where embedded state lives [default: ./pinpipe-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Lake location: a local directory or s3://bucket/prefix [default: <data-dir>/lake].
    #[arg(long, global = true, value_name = "LOCATION")]
    pub lake: Option<String>,
    /// Source database URL [default: sqlite://<data-dir>/source.db].
    #[arg(long, global = true, value_name = "URL")]
    pub source: Option<String>,
    /// Prefix of topics and streams [default: pinpipe].
    #[arg(long, global = true, value_name = "PREFIX")]
    pub topic_prefix: Option<String>,
    /// Log filter, e.g. debug or pinpipe_lake=debug [default: info for serve, sink, stream and
    /// the cluster's scheduler and executor, warn otherwise].
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on this machine and print the nine analyses.
    Demo(DemoArgs),
    /// Create or fill the source database (stands in for RDS).
    #[command(subcommand)]
    Source(SourceCommand),
    /// Serve the ingestion APIs: Confluent REST Proxy v2 and v3, Kinesis, API Gateway's Kinesis
    /// proxy; and the web UI.
    Serve(ServeArgs),
    /// Replay posts from the source database into a gateway, as the original script did.
    Emulate(EmulateArgs),
    /// Land the topics in the lake's raw layout, as the Kafka Connect S3 sink did.
    Sink(SinkArgs),
    /// Clean the raw data into Delta tables and run the nine analyses.
    Batch(BatchArgs),
    /// Run the batch job on a cluster: start a scheduler or an executor, show their status
    /// (Apache DataFusion Ballista).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Follow the streams into the Delta tables stream/pin|geo|user, exactly once.
    Stream(StreamArgs),
    /// Table upkeep: compact small files, delete unreferenced ones.
    #[command(subcommand)]
    Lake(LakeCommand),
    /// Run SQL over the lake's tables (pin, geo, user, quarantine, stream_pin, stream_geo,
    /// stream_user).
    Query(QueryArgs),
    /// Inspect and manage the topics: the embedded bus's, or Kafka's with `[bus] url`.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Inspect and manage the streams: the embedded bus's, or Kinesis's with `streams = "kinesis"`.
    #[command(subcommand)]
    Streams(StreamsCommand),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the batch job on a cron schedule, one run at a time, with retries (stands in for MWAA).
    Schedule(ScheduleArgs),
    /// The scheduler's run history; run the batch job now, or over past intervals.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Print an Airflow DAG file that runs `pinpipe batch` with these settings.
    AirflowDag(AirflowDagArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Posts to emulate (each sends a pin, a geo and a user record on each path).
    #[arg(long, default_value_t = 2000)]
    pub posts: u64,
    /// Rows in the synthetic source database.
    #[arg(long, default_value_t = 11_154)]
    pub rows: u64,
    /// Seed of the synthetic data and of the emulator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep what an earlier demo left in the data directory instead of starting clean.
    #[arg(long)]
    pub reuse: bool,
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Create the three tables and fill them with synthetic rows (replaces existing ones).
    Init {
        /// Rows per table.
        #[arg(long, default_value_t = 11_154)]
        rows: u64,
        /// Seed: the same seed gives the same rows.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Load real rows: a directory of pin.jsonl, geo.jsonl and user.jsonl (as in fixtures/peer-raw/*).
    Import {
        /// The directory holding the files.
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8082].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Require this key in x-api-key (repeat for several).
    #[arg(long = "api-key", value_name = "KEY")]
    pub api_keys: Vec<String>,
    /// Create unknown topics on first produce instead of answering 40401.
    #[arg(long)]
    pub auto_create_topics: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathArg {
    Batch,
    Stream,
}

/// Which API the stream path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamApiArg {
    /// The original API Gateway's Kinesis proxy: PUT /streams/{stream}/record.
    Proxy,
    /// Kinesis's own API, as an AWS SDK sends it: POST / with X-Amz-Target PutRecord.
    Kinesis,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Gateway base URL (ours, or the original's API Gateway invoke URL).
    #[arg(long, default_value = "http://127.0.0.1:8082")]
    pub gateway: String,
    /// Posts to send.
    #[arg(long, conflicts_with = "forever", default_value_t = 1000)]
    pub count: u64,
    /// Send until interrupted.
    #[arg(long)]
    pub forever: bool,
    /// Posts per second (default: as fast as the gateway answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Paths to send on.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [PathArg::Batch, PathArg::Stream])]
    pub paths: Vec<PathArg>,
    /// API of the stream path.
    #[arg(long, value_enum, default_value_t = StreamApiArg::Proxy)]
    pub stream_api: StreamApiArg,
    /// Seed: the same seed sends the same posts in the same order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// x-api-key to send.
    #[arg(long, env = "PINPIPE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Records per raw object at most [default: 1000].
    #[arg(long)]
    pub flush_size: Option<usize>,
    /// Longest a record waits before its object is written, e.g. 10s [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub rotate_interval: Option<String>,
    /// Write what is on the topics now and exit, instead of following them.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Read every raw object again and replace the tables' rows with what they hold (one
    /// overwrite per table), instead of merging only what is new.
    #[arg(long)]
    pub full_refresh: bool,
    /// Run the work on the cluster whose scheduler is at df://HOST:PORT (see `pinpipe cluster`)
    /// [default: in this process].
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a scheduler: it plans the jobs of `pinpipe batch --cluster` and hands their tasks
    /// to executors.
    Scheduler(ClusterSchedulerArgs),
    /// Start an executor: it runs the tasks its scheduler gives it.
    Executor(ClusterExecutorArgs),
    /// Show a scheduler's executors, with the tasks each completed, and its jobs.
    Status(ClusterStatusArgs),
}

#[derive(Debug, Args)]
pub struct ClusterSchedulerArgs {
    /// Address to listen on (gRPC for executors and clients, /pinpipe/status, /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50050")]
    pub listen: SocketAddr,
    /// Host name or IP address executors reach it at (needed when listening on 0.0.0.0)
    /// [default: the listen address].
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
}

#[derive(Debug, Args)]
pub struct ClusterExecutorArgs {
    /// The scheduler to register with.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address of the executor's Arrow Flight service (shuffle data, results); port 0 picks a
    /// free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Port of its gRPC service, where the scheduler launches tasks [default: the listen port
    /// + 1].
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// Host name or IP address the scheduler, other executors and clients reach it at
    /// [default: the address the scheduler sees it connect from].
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// Tasks it runs at once [default: the machine's cores].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Memory its tasks may hold in all, in MiB [default: 70% of the machine's].
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,
    /// Where it keeps shuffle and spill files [default: <data-dir>/executor-<port>].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ClusterStatusArgs {
    /// The scheduler.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub scheduler: String,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

/// Where a long-running process without an HTTP server serves `/metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics on http://ADDR/metrics (and /health), e.g. 127.0.0.1:9101
    /// [default: not served; `[metrics] listen` in the config file].
    #[arg(long = "metrics-listen", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

impl MetricsArgs {
    fn overrides(&self, root: &mut Map<String, Value>) {
        if let Some(listen) = self.listen {
            root.insert("metrics".into(), json!({ "listen": listen.to_string() }));
        }
    }
}

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// How often a micro-batch starts, e.g. 1s, 500ms [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub trigger: Option<String>,
    /// Records read from one shard per micro-batch at most [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_records: Option<usize>,
    /// Write what is on the streams now and exit, instead of following them.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Compact the small files of the Delta tables (a rewrite that changes no rows).
    Optimize(OptimizeArgs),
    /// Delete files no table version needs, once unreferenced for longer than the retention.
    Vacuum(VacuumArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableSetArg {
    /// stream/pin, stream/geo, stream/user
    Stream,
    /// tables/pin, tables/geo, tables/user
    Tables,
    /// both, and the quarantine
    All,
}

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Which tables.
    #[arg(long, value_enum, default_value_t = TableSetArg::All)]
    pub tables: TableSetArg,
    /// Run again every DURATION (e.g. 1h, at least 1s) until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = every_arg)]
    pub every: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Which tables.
    #[arg(long, value_enum, default_value_t = TableSetArg::All)]
    pub tables: TableSetArg,
    /// Keep files unreferenced for less than this; at least the tables'
    /// delta.deletedFileRetentionDuration (7 days unless set).
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = duration_arg)]
    pub retention: std::time::Duration,
    /// Show what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run again every DURATION (e.g. 24h, at least 1s) until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = every_arg)]
    pub every: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// When intervals end: five cron fields (UTC) or @hourly, @daily, @weekly, @monthly,
    /// @yearly [default: @daily].
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// On start, run every interval missed since the last successful run (or the start date);
    /// without it, only the latest (`--catchup=false` undoes a config file's `true`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub catchup: Option<bool>,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// No interval starting before this runs, e.g. 2024-01-01 (UTC).
    #[arg(long, value_name = "DATE")]
    pub start_date: Option<String>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Attempts after the first when a run fails [default: 2].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Wait between attempts, e.g. 30s, 5m [default: 5m].
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs: those queued or running first, then the most recently run.
    List {
        /// Most runs to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// How to print them.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Show one run: its interval, times, attempts, objects, Delta versions and error.
    Show {
        /// The run's id (from `runs list`).
        id: i64,
        /// `json` prints the record as JSON; any other format, as lines of `field: value`.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Run the batch job now, with retries, recorded as a manual run at the current time.
    Trigger(RetryArgs),
    /// Run the schedule's intervals starting between two dates, skipping those already successful.
    Backfill(BackfillArgs),
    /// Print the intervals a schedule has from a date (start and end, UTC), to check what a cron
    /// expression means before scheduling it.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The first interval starts at or after this time, e.g. 2024-01-01 (UTC).
    #[arg(long, value_name = "DATE", value_parser = time_arg)]
    pub from: DateTime<Utc>,
    /// How many intervals.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// The schedule [default: the configured one, @daily].
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// First interval start, e.g. 2024-01-01 (UTC).
    #[arg(long, value_name = "DATE", value_parser = time_arg)]
    pub from: DateTime<Utc>,
    /// Last interval start, e.g. 2024-01-31 (UTC); intervals not over yet are left out.
    #[arg(long, value_name = "DATE", value_parser = time_arg)]
    pub to: DateTime<Utc>,
    /// The schedule whose intervals run [default: the configured one, @daily].
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Run more than 1,000 intervals (without it, such a backfill stops before it starts).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub retry: RetryArgs,
}

#[derive(Debug, Args)]
pub struct AirflowDagArgs {
    /// The DAG's schedule: five cron fields or @hourly, @daily, ... [default: the configured
    /// one, @daily].
    #[arg(long, value_name = "EXPR")]
    pub schedule: Option<String>,
    /// The DAG id [default: pinpipe_batch].
    #[arg(long, value_name = "ID")]
    pub dag_id: Option<String>,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// The DAG's start_date, e.g. 2024-01-01 [default: the configured one, or 2020-01-01:
    /// Airflow runs no task for a logical date before it, `airflow dags test` included].
    #[arg(long, value_name = "DATE")]
    pub start_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL, e.g. "SELECT category, count(*) FROM pin GROUP BY category".
    pub sql: String,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// List topics with their partitions' high watermarks.
    List,
    /// Create a topic.
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        partitions: i32,
    },
    /// Show a topic's partitions and the sink's committed offsets.
    Describe { name: String },
    /// Print records as JSON lines.
    Read {
        name: String,
        #[arg(long, default_value_t = 0)]
        partition: i32,
        /// First offset to print.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Most records to print.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum StreamsCommand {
    /// List streams.
    List,
    /// Create a stream.
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        shards: u32,
    },
    /// Show a stream's shards.
    Describe { name: String },
    /// Delete a stream and its records.
    Delete { name: String },
    /// Show how far the stream job is behind each shard (positions in the stream tables).
    Lag,
    /// Print records as JSON lines.
    Read {
        name: String,
        #[arg(long, default_value = "shardId-000000000000")]
        shard: String,
        /// Print records after this sequence number (default: from the start).
        #[arg(long)]
        after: Option<String>,
        /// Most records to print.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Measure gateway ingestion: records/s and latency, batched and single-record.
    Gateway(BenchGatewayArgs),
    /// Write synthetic posts straight into the lake's raw layout, as input for timing
    /// `pinpipe batch` (see scripts/bench_batch.py).
    Raw(BenchRawArgs),
    /// Measure stream latency: from a PUT /streams/.../record acknowledged to its row readable
    /// in the Delta table, at a steady rate, with the stream job's trigger (`--trigger`).
    Stream(BenchStreamArgs),
    /// Soak and chaos: produce load while the gateway, sink and stream job are killed with
    /// SIGKILL at random and restarted; then check every acknowledged record landed exactly once
    /// (see scripts/soak).
    Soak(BenchSoakArgs),
}

#[derive(Debug, Args)]
pub struct BenchSoakArgs {
    /// Minutes of load.
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Single-record requests per second, over both paths and the three tables.
    #[arg(long, default_value_t = 5000)]
    pub rate: u32,
    /// Shortest wait between two kills, in seconds.
    #[arg(long, default_value_t = 10)]
    pub kill_min_secs: u64,
    /// Longest wait between two kills, in seconds.
    #[arg(long, default_value_t = 40)]
    pub kill_max_secs: u64,
    /// Data directory of the soak's processes [default: a temporary one, removed at the end].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchStreamArgs {
    /// Records per second, spread over the three streams.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds to produce for.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// The stream job's trigger, e.g. 1s, or 0 for as soon as there is data [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub trigger: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchRawArgs {
    /// Posts to write; each is one record in each of the three topics.
    #[arg(long, default_value_t = 1_000_000)]
    pub posts: u64,
    /// Records per raw object.
    #[arg(long, default_value_t = 10_000)]
    pub flush_size: usize,
    /// Seed of the synthetic posts.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BenchGatewayArgs {
    /// Records per batched request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Pins to send, one JSON object per line (e.g. fixtures/peer-raw/chemi5t/pin.jsonl)
    /// [default: 1000 real-shaped pins of the synthetic source].
    #[arg(long, value_name = "FILE")]
    pub pins: Option<PathBuf>,
}

impl Cli {
    /// The flags that override settings, as the JSON object the settings layers merge.
    pub fn overrides(&self) -> Value {
        let mut root = Map::new();
        let g = &self.global;
        put(&mut root, "data_dir", g.data_dir.as_ref().map(|p| json!(p)));
        put(&mut root, "lake", g.lake.as_ref().map(|v| json!(v)));
        put(&mut root, "source", g.source.as_ref().map(|v| json!(v)));
        put(
            &mut root,
            "topic_prefix",
            g.topic_prefix.as_ref().map(|v| json!(v)),
        );
        put(&mut root, "log", g.log.as_ref().map(|v| json!(v)));
        match &self.command {
            Command::Serve(args) => {
                let mut gateway = Map::new();
                put(
                    &mut gateway,
                    "listen",
                    args.listen.map(|a| json!(a.to_string())),
                );
                if !args.api_keys.is_empty() {
                    gateway.insert("api_keys".into(), json!(args.api_keys));
                }
                if args.auto_create_topics {
                    gateway.insert("auto_create_topics".into(), json!(true));
                }
                root.insert("gateway".into(), Value::Object(gateway));
            }
            Command::Stream(args) => {
                let mut stream = Map::new();
                put(
                    &mut stream,
                    "trigger",
                    args.trigger.as_ref().map(|d| json!(d)),
                );
                put(
                    &mut stream,
                    "max_records_per_shard",
                    args.max_records.map(|n| json!(n)),
                );
                root.insert("stream".into(), Value::Object(stream));
                args.metrics.overrides(&mut root);
            }
            Command::Bench(BenchCommand::Stream(args)) => {
                let mut stream = Map::new();
                put(
                    &mut stream,
                    "trigger",
                    args.trigger.as_ref().map(|d| json!(d)),
                );
                root.insert("stream".into(), Value::Object(stream));
            }
            Command::Batch(args) => {
                let mut batch = Map::new();
                if args.full_refresh {
                    batch.insert("full_refresh".into(), json!(true));
                }
                put(
                    &mut batch,
                    "cluster",
                    args.cluster.as_ref().map(|c| json!(c)),
                );
                root.insert("batch".into(), Value::Object(batch));
            }
            Command::Sink(args) => {
                let mut sink = Map::new();
                put(&mut sink, "flush_size", args.flush_size.map(|n| json!(n)));
                put(
                    &mut sink,
                    "rotate_interval",
                    args.rotate_interval.as_ref().map(|d| json!(d)),
                );
                root.insert("sink".into(), Value::Object(sink));
                args.metrics.overrides(&mut root);
            }
            Command::Schedule(args) => {
                let mut schedule = args.retry.overrides();
                put(&mut schedule, "cron", args.cron.as_ref().map(|v| json!(v)));
                put(&mut schedule, "catchup", args.catchup.map(|v| json!(v)));
                put(
                    &mut schedule,
                    "start_date",
                    args.start_date.as_ref().map(|v| json!(v)),
                );
                root.insert("schedule".into(), Value::Object(schedule));
                args.metrics.overrides(&mut root);
            }
            Command::Runs(RunsCommand::Trigger(retry)) => {
                root.insert("schedule".into(), Value::Object(retry.overrides()));
            }
            Command::Runs(RunsCommand::Plan(args)) => {
                let mut schedule = Map::new();
                put(&mut schedule, "cron", args.cron.as_ref().map(|v| json!(v)));
                root.insert("schedule".into(), Value::Object(schedule));
            }
            Command::Runs(RunsCommand::Backfill(args)) => {
                let mut schedule = args.retry.overrides();
                put(&mut schedule, "cron", args.cron.as_ref().map(|v| json!(v)));
                root.insert("schedule".into(), Value::Object(schedule));
            }
            Command::AirflowDag(args) => {
                let mut schedule = args.retry.overrides();
                put(
                    &mut schedule,
                    "cron",
                    args.schedule.as_ref().map(|v| json!(v)),
                );
                put(
                    &mut schedule,
                    "name",
                    args.dag_id.as_ref().map(|v| json!(v)),
                );
                put(
                    &mut schedule,
                    "start_date",
                    args.start_date.as_ref().map(|v| json!(v)),
                );
                root.insert("schedule".into(), Value::Object(schedule));
            }
            _ => {}
        }
        Value::Object(root)
    }
}

impl RetryArgs {
    /// The `[schedule]` settings these flags set.
    fn overrides(&self) -> Map<String, Value> {
        let mut schedule = Map::new();
        put(&mut schedule, "retries", self.retries.map(|n| json!(n)));
        put(
            &mut schedule,
            "retry_delay",
            self.retry_delay.as_ref().map(|d| json!(d)),
        );
        schedule
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

/// A duration flag (`10s`, `5m`, `24h`): a malformed one is refused with the command line's
/// other mistakes (exit 2).
fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::settings::parse_duration(text).map_err(|e| format!("{e:#}"))
}

/// A repeat interval: a [`duration_arg`] of at least 1 s.
fn every_arg(text: &str) -> Result<std::time::Duration, String> {
    let every = duration_arg(text)?;
    if every < std::time::Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    Ok(every)
}

/// A point in time (`2024-01-31`, `2024-01-31 06:00`, RFC 3339), UTC unless it says otherwise.
fn time_arg(text: &str) -> Result<DateTime<Utc>, String> {
    pinpipe_scheduler::parse_time(text).map_err(|e| e.to_string())
}
