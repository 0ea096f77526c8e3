//! `pinpipe`: the one binary. Parses the command line, loads the layered settings, sets up
//! logging, and hands over to the subcommand in [`commands`].

mod cli;
mod commands;
mod malloc;
mod output;
mod panics;
mod settings;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::Cli;
use crate::settings::Settings;

fn main() -> std::process::ExitCode {
    quiet_library_backtraces();
    panics::install();
    let cli = Cli::parse();
    malloc::tune(matches!(
        cli.command,
        cli::Command::Stream(_) | cli::Command::Bench(cli::BenchCommand::Stream(_))
    ));
    let settings = match Settings::load(cli.global.config.as_deref(), cli.overrides()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {}", output::error_text(&error));
            return std::process::ExitCode::from(2);
        }
    };
    let servers_log = matches!(
        cli.command,
        cli::Command::Serve(_)
            | cli::Command::Sink(_)
            | cli::Command::Stream(_)
            | cli::Command::Cluster(
                cli::ClusterCommand::Scheduler(_) | cli::ClusterCommand::Executor(_)
            )
    );
    // Commands that hold the scheduler's lock must not die of SIGPIPE (`| head`): the lock would
    // stay taken until its lease ran out, and their run marked running.
    let long_running = servers_log
        || matches!(
            cli.command,
            cli::Command::Schedule(_)
                | cli::Command::Runs(cli::RunsCommand::Trigger(_) | cli::RunsCommand::Backfill(_))
        );
    if !long_running {
        restore_sigpipe();
    }
    let default_log = if servers_log { "info" } else { "warn" };
    init_logging(settings.log.as_deref().unwrap_or(default_log));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", output::error_text(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Libraries whose routine logs are noise to a pinpipe user; their errors still show, but for
/// delta-rs and its kernel. delta-rs logs each commit it gives up on as an error before returning
/// it, the conflicts pinpipe handles included (two batch jobs at once, `lake optimize` beside the
/// stream job); the kernel logs an unreadable log file's error once per file it fails in, before
/// returning it. pinpipe reports every error it gets back.
const QUIET_LIBRARIES: &str =
    "deltalake_core=off,delta_kernel=off,buoyant_kernel=off,aws_config=error,object_store=warn";

/// The log filter for `wanted` (`--log`, or the command's default): the quiet libraries first,
/// so that a directive of the user's for one of them comes later and wins
/// (`--log info,deltalake_core=debug`).
fn log_filter(wanted: &str) -> String {
    format!("{QUIET_LIBRARIES},{wanted}")
}

/// Logs go to stderr, so command output on stdout stays clean for scripts.
fn init_logging(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(log_filter(filter)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a log file or a journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .compact()
        .init();
}

/// Keeps backtraces out of error messages: with `RUST_BACKTRACE=1` set for panics, delta-rs's
/// kernel captured one into its errors' text, and 46 frames landed in a run's error, the run
/// history and the web UI. `RUST_LIB_BACKTRACE` (which std reads before `RUST_BACKTRACE` for
/// backtraces other than a panic's) is set to 0 unless the user set it.
fn quiet_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first thing `main` does, before any other thread exists.
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
        }
    }
}

/// Ends quietly when the reader of stdout goes away (`pinpipe batch | head`), as Unix tools do,
/// instead of failing on the next write: Rust ignores SIGPIPE by default. Only for commands that
/// print their work: a server keeps ignoring it, since a SIGPIPE from one closed connection of a
/// library (a Ballista executor's, say) would kill the whole process.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default at the start of `main`, before any
    // other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Whether an event of `deltalake_core` at debug and at error level is logged with `--log`.
    fn delta_logged(wanted: &str) -> (bool, bool) {
        let subscriber = tracing_subscriber::registry().with(EnvFilter::new(log_filter(wanted)));
        tracing::subscriber::with_default(subscriber, || {
            (
                tracing::enabled!(target: "deltalake_core", tracing::Level::DEBUG),
                tracing::enabled!(target: "deltalake_core", tracing::Level::ERROR),
            )
        })
    }

    #[test]
    fn delta_rs_is_quiet_unless_asked_for() {
        assert_eq!(delta_logged("debug"), (false, false));
        assert_eq!(delta_logged("warn,deltalake_core=debug"), (true, true));
    }
}
