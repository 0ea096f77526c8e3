//! `pinpipe emulate`: replay posts from the source database into a gateway.

use anyhow::{Context, Result};
use pinpipe_source::{
    EmulatorConfig, EmulatorProgress, EmulatorSummary, Paths, SourceDb, StreamApi, emulate_until,
    redact_url,
};

use super::interrupted;
use crate::cli::{EmulateArgs, PathArg, StreamApiArg};
use crate::output::{bar, spinner};
use crate::settings::Settings;

pub async fn run(settings: &Settings, args: &EmulateArgs) -> Result<()> {
    let url = settings.source_url();
    let db = SourceDb::open_existing(&url)
        .with_context(|| format!("cannot open the source database {}", redact_url(&url)))?;
    let config = EmulatorConfig {
        count: (!args.forever).then_some(args.count),
        rate: args.rate,
        paths: paths(&args.paths),
        stream_api: match args.stream_api {
            StreamApiArg::Proxy => StreamApi::Proxy,
            StreamApiArg::Kinesis => StreamApi::Kinesis,
        },
        seed: args.seed,
        topic_prefix: settings.topic_prefix.clone(),
        api_key: args.api_key.clone(),
        concurrency: args.concurrency.max(1),
        ..EmulatorConfig::new(args.gateway.clone())
    };
    let summary = send(&db, &config).await?;
    print_summary(&summary);
    anyhow::ensure!(
        summary.failed == 0,
        "{} record(s) were not acknowledged",
        summary.failed
    );
    // Only Ctrl-C ends a counted run early; a script must not take that for the whole run.
    if let Some(count) = config.count.filter(|count| summary.posts < *count) {
        anyhow::bail!(
            "interrupted after {} of {count} posts (a new run starts again from the first post; \
             the batch job keeps one row per key)",
            summary.posts
        );
    }
    Ok(())
}

pub fn paths(args: &[PathArg]) -> Paths {
    Paths {
        batch: args.contains(&PathArg::Batch),
        stream: args.contains(&PathArg::Stream),
    }
}

/// Runs the emulator with a progress bar until done or Ctrl-C; shared with `pinpipe demo`.
pub async fn send(db: &SourceDb, config: &EmulatorConfig) -> Result<EmulatorSummary> {
    let progress = match config.count {
        Some(count) => bar(count, "emulate"),
        None => spinner("emulate"),
    };
    let on_progress = |p: &EmulatorProgress| {
        progress.set_position(p.posts);
        progress.set_message(format!(
            "posts ({} records acknowledged, {} failed)",
            p.acknowledged, p.failed
        ));
    };
    let summary = emulate_until(db, config, &on_progress, interrupted())
        .await
        .with_context(|| format!("emulating against {}", config.gateway))?;
    progress.finish_and_clear();
    Ok(summary)
}

pub fn print_summary(summary: &EmulatorSummary) {
    println!(
        "emulate: {} posts, {} records sent, {} acknowledged, {} failed in {:.1}s ({:.0} records/s, {} retries)",
        summary.posts,
        summary.records_sent,
        summary.acknowledged,
        summary.failed,
        summary.elapsed.as_secs_f64(),
        summary.records_per_second,
        summary.retries
    );
    for (reason, count) in &summary.failed_by_reason {
        println!("  failed {count}: {reason}");
    }
}
