//! `pinpipe lake optimize|vacuum`: table upkeep, once or every `--every`.

use std::time::Duration;

use anyhow::{Context, Result};
use pinpipe_lake::Lake;
use pinpipe_lake::unfinished::remove_unfinished;
use pinpipe_lake::upkeep::{self, TableSet, VacuumOptions};

use super::{interrupted, open_lake};
use crate::cli::{LakeCommand, OptimizeArgs, TableSetArg, VacuumArgs};
use crate::output::table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, command: LakeCommand) -> Result<()> {
    let lake = open_lake(settings)?;
    match command {
        LakeCommand::Optimize(args) => repeat(args.every, || optimize(&lake, &args)).await,
        LakeCommand::Vacuum(args) => {
            let options = VacuumOptions {
                retention: args.retention,
                dry_run: args.dry_run,
            };
            repeat(args.every, || vacuum(&lake, &args, &options)).await
        }
    }
}

/// Runs `job` once, or every `every` until interrupted.
async fn repeat<F: Future<Output = Result<()>>>(
    every: Option<Duration>,
    mut job: impl FnMut() -> F,
) -> Result<()> {
    let Some(every) = every else {
        return job().await;
    };
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        job().await?;
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}

fn table_set(arg: TableSetArg) -> TableSet {
    match arg {
        TableSetArg::Stream => TableSet::Stream,
        TableSetArg::Tables => TableSet::Tables,
        TableSetArg::All => TableSet::All,
    }
}

async fn optimize(lake: &Lake, args: &OptimizeArgs) -> Result<()> {
    let done = upkeep::optimize(lake, table_set(args.tables))
        .await
        .context("optimize failed")?;
    let columns = ["table", "files before", "removed", "added", "version"].map(String::from);
    let rows: Vec<Vec<String>> = done
        .iter()
        .map(|t| {
            vec![
                t.path.clone(),
                t.files_before.to_string(),
                t.files_removed.to_string(),
                t.files_added.to_string(),
                t.version
                    .map_or_else(|| "unchanged".to_owned(), |v| v.to_string()),
            ]
        })
        .collect();
    println!("optimize: {}", lake.location());
    println!("{}", table(&columns, &rows));
    Ok(())
}

async fn vacuum(lake: &Lake, args: &VacuumArgs, options: &VacuumOptions) -> Result<()> {
    let done = upkeep::vacuum(lake, table_set(args.tables), options)
        .await
        .context("vacuum failed")?;
    let verb = if options.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    println!(
        "vacuum: {} (retention {})",
        lake.location(),
        humantime::format_duration(args.retention)
    );
    for table in &done {
        println!("{}: {verb} {} files", table.path, table.files.len());
        if options.dry_run {
            for file in &table.files {
                println!("  {file}");
            }
        }
    }
    let unfinished = remove_unfinished(lake, options.retention, options.dry_run)
        .await
        .context("deleting unfinished uploads failed")?;
    if !unfinished.files.is_empty() {
        println!(
            "unfinished uploads (left by a killed process): {verb} {} files, {} bytes",
            unfinished.files.len(),
            unfinished.bytes
        );
        if options.dry_run {
            for file in &unfinished.files {
                println!("  {file}");
            }
        }
    }
    Ok(())
}
