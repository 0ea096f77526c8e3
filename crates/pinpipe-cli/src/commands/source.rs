//! `pinpipe source init|import`: the source database.

use anyhow::{Context, Result};
use pinpipe_source::{SourceDb, redact_url};

use crate::cli::SourceCommand;
use crate::output::bar;
use crate::settings::Settings;

pub async fn run(settings: &Settings, command: SourceCommand) -> Result<()> {
    let url = settings.source_url();
    match command {
        SourceCommand::Init { rows, seed } => {
            init(&url, rows, seed)?;
            println!(
                "source: {rows} rows per table in {} (seed {seed})",
                redact_url(&url)
            );
        }
        SourceCommand::Import { dir } => {
            let mut db = open(&url)?;
            let summary = db
                .import_dir(&dir)
                .with_context(|| format!("cannot import {}", dir.display()))?;
            println!(
                "source: imported {} records from {} file(s) into {}: {} pin, {} geo, {} user rows ({} replaced by a later copy)",
                summary.records,
                summary.files.len(),
                redact_url(&url),
                summary.rows.pin,
                summary.rows.geo,
                summary.rows.user,
                summary.duplicates
            );
            for (reason, count) in &summary.skipped {
                println!("  skipped {count}: {reason}");
            }
        }
    }
    Ok(())
}

/// Creates and fills the source database with a progress bar; shared with `pinpipe demo`.
pub fn init(url: &str, rows: u64, seed: u64) -> Result<SourceDb> {
    let mut db = open(url)?;
    let progress = bar(rows, "source");
    db.init(rows, seed, &mut |done| progress.set_position(done))
        .with_context(|| format!("cannot fill the source database {}", redact_url(url)))?;
    progress.finish_and_clear();
    Ok(db)
}

fn open(url: &str) -> Result<SourceDb> {
    SourceDb::open(url)
        .with_context(|| format!("cannot open the source database {}", redact_url(url)))
}
