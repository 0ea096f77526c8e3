//! `pinpipe runs list|show|trigger|backfill|plan`: the scheduler's run history, a run now, runs
//! over past intervals, and what a schedule's intervals are.

use std::io::Write;

use anyhow::{Result, bail};
use chrono::SecondsFormat;
use pinpipe_scheduler::{
    DB_FILE, Handled, History, RunRecord, RunStatus, SchedulerError, show_time, show_versions,
};

use super::schedule;
use crate::cli::{BackfillArgs, OutputFormat, PlanArgs, RunsCommand};
use crate::output::table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, command: RunsCommand) -> Result<()> {
    match command {
        RunsCommand::List { limit, format } => list(settings, limit, format),
        RunsCommand::Show { id, format } => show(settings, id, format),
        RunsCommand::Trigger(_) => trigger(settings).await,
        RunsCommand::Backfill(args) => backfill(settings, &args).await,
        RunsCommand::Plan(args) => plan(settings, &args),
    }
}

/// `pinpipe runs plan`: one line per interval, its start and end in RFC 3339 (UTC).
fn plan(settings: &Settings, args: &PlanArgs) -> Result<()> {
    let schedule = schedule::schedule(settings)?;
    let from = args.from;
    for interval in schedule.cron.intervals_from(from).take(args.count) {
        println!(
            "{} {}",
            interval.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            interval.end.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    Ok(())
}

/// The history, or `None` when no scheduler has run in this data directory.
fn history(settings: &Settings) -> Result<Option<History>> {
    let path = settings.data_dir.join(DB_FILE);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(History::open(&path)?))
}

fn list(settings: &Settings, limit: usize, format: OutputFormat) -> Result<()> {
    let runs = match history(settings)? {
        Some(history) => history.list(None, limit)?,
        None => Vec::new(),
    };
    if format == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        for run in &runs {
            match writeln!(out, "{}", serde_json::to_string(run)?) {
                // The reader went away (`| head`): nothing more to print.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                written => written?,
            }
        }
        return Ok(());
    }
    let columns = [
        "id", "schedule", "kind", "interval", "status", "attempts", "started", "took", "objects",
        "rows", "rejected", "versions",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            vec![
                run.id.to_string(),
                run.name.clone(),
                run.kind.to_string(),
                run.interval.to_string(),
                run.status.to_string(),
                run.attempts.to_string(),
                run.started_at
                    .map(pinpipe_scheduler::interval::show_time)
                    .unwrap_or_default(),
                took(run),
                count(run.objects),
                count(run.rows),
                count(run.rejected),
                versions(run),
            ]
        })
        .collect();
    if format == OutputFormat::Csv {
        print!("{}", pinpipe_lake::csv::to_csv(&columns, &rows));
    } else if runs.is_empty() {
        println!(
            "no runs yet in {} (start one with `pinpipe runs trigger` or `pinpipe schedule`)",
            settings.data_dir.join(DB_FILE).display()
        );
    } else {
        println!("{}", table(&columns, &rows));
    }
    Ok(())
}

fn show(settings: &Settings, id: i64, format: OutputFormat) -> Result<()> {
    let Some(history) = history(settings)? else {
        return Err(SchedulerError::RunNotFound(id).into());
    };
    let run = history.get(id)?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let fields = [
        ("id", run.id.to_string()),
        ("schedule", run.name.clone()),
        ("kind", run.kind.to_string()),
        ("interval start", time(Some(run.interval.start))),
        ("interval end", time(Some(run.interval.end))),
        ("status", run.status.to_string()),
        ("retry at", time(run.retry_at)),
        ("attempts", run.attempts.to_string()),
        ("queued", time(Some(run.queued_at))),
        ("started", time(run.started_at)),
        ("ended", time(run.ended_at)),
        ("took", took(&run)),
        ("objects", dash(count(run.objects))),
        ("rows", dash(count(run.rows))),
        ("rejected", dash(count(run.rejected))),
        ("versions", versions(&run)),
        ("error", run.error.clone().unwrap_or_else(|| "-".into())),
    ];
    for (name, value) in fields {
        println!("{:<15} {value}", format!("{name}:"));
    }
    Ok(())
}

async fn trigger(settings: &Settings) -> Result<()> {
    let _printing = schedule::print_events();
    let scheduler = schedule::open(settings)?;
    let run = until_interrupted(scheduler.trigger()).await??;
    if run.status != RunStatus::Success {
        bail!(
            "run {} {}: {}",
            run.id,
            run.status,
            run.error.as_deref().unwrap_or("no error recorded")
        );
    }
    Ok(())
}

/// Intervals a backfill runs without `--yes`: about three years of daily runs, six weeks of
/// hourly ones. A mistyped date or schedule (`--from 2002`, `*/5`) can mean hundreds of thousands
/// of batch runs.
const BACKFILL_WITHOUT_YES: usize = 1000;

async fn backfill(settings: &Settings, args: &BackfillArgs) -> Result<()> {
    let (from, to) = (args.from, args.to);
    let scheduler = schedule::open(settings)?;
    let now = chrono::Utc::now();
    let intervals = scheduler
        .schedule()
        .cron
        .intervals_from(from)
        .take_while(|i| i.start <= to && i.end <= now)
        .take(BACKFILL_WITHOUT_YES + 1)
        .count();
    if intervals > BACKFILL_WITHOUT_YES && !args.yes {
        bail!(
            "a backfill of {} from {} to {} is more than {BACKFILL_WITHOUT_YES} intervals; nothing \
             was run: pass --yes to run them all (intervals that already succeeded are skipped), \
             or narrow --from and --to",
            scheduler.schedule().cron,
            show_time(from),
            show_time(to)
        );
    }
    let _printing = schedule::print_events();
    let handled = until_interrupted(scheduler.backfill(from, to)).await??;
    let ran: Vec<&RunRecord> = handled
        .iter()
        .filter_map(|h| match h {
            Handled::Ran(run) => Some(run),
            Handled::Skipped(_) => None,
        })
        .collect();
    let failed = ran.iter().filter(|r| r.status == RunStatus::Failed).count();
    schedule::say(format_args!(
        "backfill of {} from {} to {}: {} intervals, {} ran ({} succeeded, {failed} failed), {} \
         skipped (already run)",
        scheduler.schedule().cron,
        show_time(args.from),
        show_time(args.to),
        handled.len(),
        ran.len(),
        ran.len() - failed,
        handled.len() - ran.len(),
    ));
    if failed > 0 {
        bail!("{failed} backfill run(s) failed (see `pinpipe runs list`)");
    }
    Ok(())
}

/// `work` until it ends, or until Ctrl-C or SIGTERM stops it: the run under way is then cut
/// short (the next scheduler resumes it), and the scheduler's lock is released at once rather
/// than held until its lease runs out, so that the next command does not wait for a dead process.
async fn until_interrupted<T>(work: impl Future<Output = T>) -> Result<T> {
    tokio::select! {
        done = work => Ok(done),
        () = super::interrupted() => {
            bail!(
                "interrupted; a run cut short is resumed by `pinpipe schedule` (run the backfill \
                 again to finish it)"
            )
        }
    }
}

/// Wall time from the first attempt's start to the end, e.g. `2.1s`.
fn took(run: &RunRecord) -> String {
    match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => {
            format!("{:.1}s", (end - start).num_milliseconds() as f64 / 1000.0)
        }
        _ => String::new(),
    }
}

fn versions(run: &RunRecord) -> String {
    if run.status == RunStatus::Success {
        show_versions(run)
    } else {
        String::new()
    }
}

/// A count recorded once a run succeeded, or empty.
fn count(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// `-` for an empty field of `runs show`.
fn dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}
