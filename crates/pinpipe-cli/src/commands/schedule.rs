//! `pinpipe schedule`: the batch job on a cron schedule until Ctrl-C, one run at a time, with
//! retries and a run history — what MWAA did for the original. Shares with `pinpipe runs` how the
//! scheduler is built from the settings and how its events are printed.

use std::io::Write;

use anyhow::{Context, Result};
use pinpipe_lake::BatchOptions;
use pinpipe_scheduler::{BatchJob, Cron, DB_FILE, Schedule, Scheduler, parse_time};
use pinpipe_telemetry::{Event, Listener};

use super::{interrupted, open_lake};
use crate::settings::{Settings, parse_duration};

pub async fn run(settings: &Settings) -> Result<()> {
    super::serve_metrics(settings).await?;
    let scheduler = open(settings)?;
    let _printing = print_events();
    let schedule = scheduler.schedule();
    say(format_args!(
        "schedule {}: {} (UTC), catch-up {}, {} retries {} apart, start date {}; history in {}. \
         Ctrl-C stops.",
        schedule.name,
        schedule.cron,
        if schedule.catchup { "on" } else { "off" },
        schedule.retries,
        settings.schedule.retry_delay,
        settings.schedule.start_date.as_deref().unwrap_or("none"),
        settings.data_dir.join(DB_FILE).display(),
    ));
    tokio::select! {
        result = scheduler.follow() => result.context("the scheduler stopped"),
        () = interrupted() => {
            say(format_args!(
                "stopped; a run cut short is resumed by the next scheduler"
            ));
            Ok(())
        }
    }
}

/// The schedule the `[schedule]` settings describe.
pub fn schedule(settings: &Settings) -> Result<Schedule> {
    let config = &settings.schedule;
    let retry_delay = parse_duration(&config.retry_delay).context("schedule retry delay")?;
    let start_date = config
        .start_date
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("schedule start date")?;
    Ok(Schedule {
        name: config.name.clone(),
        cron: Cron::parse(&config.cron)?,
        catchup: config.catchup,
        retries: config.retries,
        retry_delay,
        start_date,
    })
}

/// The scheduler of the batch job on the configured lake.
pub fn open(settings: &Settings) -> Result<Scheduler<BatchJob>> {
    let schedule = schedule(settings)?;
    let lake = open_lake(settings)?;
    let options = BatchOptions {
        topic_prefix: settings.topic_prefix.clone(),
        ..BatchOptions::default()
    };
    let scheduler = Scheduler::new(&settings.data_dir, schedule, BatchJob::new(lake, options))
        .with_context(|| {
            format!(
                "cannot open the run history in {}",
                settings.data_dir.display()
            )
        })?;
    Ok(scheduler)
}

/// Prints a line with the wall-clock time for every scheduler event, until dropped. A stdout
/// that is gone (a pager that quit, `| head`) stops the lines, not the scheduler: each event is
/// in the log too, and a panic here would leave its run marked running until the lease expires.
pub fn print_events() -> Listener {
    pinpipe_telemetry::listen(|event| {
        let line = match event {
            Event::WaitingForLock(e) => e.line(),
            Event::RunStarted(e) => e.line(),
            Event::RunRetrying(e) => e.line(),
            Event::RunFinished(e) => e.line(),
            Event::RunFailed(e) => e.line(),
            Event::RunSkipped(e) => e.line(),
            Event::IntervalNotEnded(e) => e.line(),
            Event::Sleeping(e) => e.line(),
            _ => return,
        };
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
        say(format_args!("{now} {line}"));
    })
}

/// Writes a line to stdout while stdout is there (see [`print_events`]).
pub fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
