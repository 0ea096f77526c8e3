//! One module per subcommand; this one dispatches and opens what they share.

mod airflow;
mod batch;
mod bench;
mod bench_soak;
mod bench_stream;
mod bus;
mod cluster;
mod demo;
mod emulate;
mod inspect;
mod lake;
mod local_gateway;
mod query;
mod runs;
mod schedule;
mod serve;
mod sink;
mod source;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use pinpipe_bus::{EmbeddedBus, EmbeddedOptions};
use pinpipe_lake::Lake;

use crate::cli::Command;
use crate::settings::Settings;

pub async fn run(command: Command, settings: Settings) -> Result<()> {
    match command {
        Command::Demo(args) => demo::run(&settings, &args).await,
        Command::Source(command) => source::run(&settings, command).await,
        Command::Serve(_) => serve::run(&settings).await,
        Command::Emulate(args) => emulate::run(&settings, &args).await,
        Command::Sink(args) => sink::run(&settings, args.once).await,
        Command::Batch(_) => batch::run(&settings).await,
        Command::Cluster(command) => cluster::run(&settings, command).await,
        Command::Stream(args) => stream::run(&settings, args.once).await,
        Command::Lake(command) => lake::run(&settings, command).await,
        Command::Query(args) => query::run(&settings, &args).await,
        Command::Topics(command) => inspect::topics(&settings, command).await,
        Command::Streams(command) => inspect::streams(&settings, command).await,
        Command::Bench(command) => bench::run(&settings, command).await,
        Command::Schedule(_) => schedule::run(&settings).await,
        Command::Runs(command) => runs::run(&settings, command).await,
        Command::AirflowDag(_) => airflow::run(&settings),
    }
}

pub use bus::Bus;

/// Opens the embedded log named by the settings (`pinpipe demo` and the benchmarks always run
/// on it; the other commands go through [`Bus`]).
pub fn open_bus(settings: &Settings) -> Result<Arc<EmbeddedBus>> {
    let path = settings.bus_path();
    let options = EmbeddedOptions {
        sync: settings.bus.sync,
        max_record_bytes: settings.gateway.max_record_bytes,
        session_timeout: settings.bus_session_timeout()?,
        ..EmbeddedOptions::default()
    };
    let bus = EmbeddedBus::open(&path, options)
        .with_context(|| format!("cannot open the bus at {}", path.display()))?;
    Ok(Arc::new(bus))
}

/// Opens the lake named by the settings.
pub fn open_lake(settings: &Settings) -> Result<Lake> {
    let location = settings.lake_location();
    let options: HashMap<String, String> = settings.storage_options.clone();
    Lake::open(&location, options).with_context(|| format!("cannot open the lake at {location}"))
}

/// A lake job's failure as `what` (e.g. "the batch job failed"), saying what to do when the disk
/// is full: free space and run the job again, which picks up where it was.
pub fn job_error(
    error: impl std::error::Error + Send + Sync + 'static,
    disk_full: bool,
    what: &str,
) -> anyhow::Error {
    let context = if disk_full {
        format!("{what}: the disk is full; free some space and run it again (nothing is lost)")
    } else {
        what.to_owned()
    };
    anyhow::Error::new(error).context(context)
}

/// [`job_error`] for a failure of the lake's jobs, whose errors tell a full disk themselves:
/// `.map_err(lake_failure("the batch job failed"))`.
pub fn lake_failure(what: &'static str) -> impl FnOnce(pinpipe_lake::LakeError) -> anyhow::Error {
    move |error| {
        let disk_full = error.is_disk_full();
        job_error(error, disk_full, what)
    }
}

/// Serves `/metrics` (and `/health`) on `[metrics] listen`, when set, for as long as the process
/// runs: what `pinpipe sink`, `stream` and `schedule` have instead of the gateway's port.
pub async fn serve_metrics(settings: &Settings) -> Result<()> {
    let Some(address) = settings.metrics.listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot serve metrics on {address}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving /metrics");
    eprintln!("metrics on http://{address}/metrics");
    tokio::spawn(async move {
        if let Err(error) = pinpipe_telemetry::serve_metrics(listener, interrupted()).await {
            tracing::warn!(%error, "the metrics server stopped");
        }
    });
    Ok(())
}

/// Resolves when the user presses Ctrl-C (or the process gets SIGTERM).
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
