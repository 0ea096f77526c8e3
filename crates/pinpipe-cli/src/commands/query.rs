//! `pinpipe query`: ad-hoc SQL over the lake, as the original ran it in notebook cells.
//!
//! CSV and JSON print the result as it is computed, so a result larger than memory streams to
//! its reader; the table, laid out for a person, shows the first [`TABLE_MAX_ROWS`] rows.

use std::io::Write;

use anyhow::{Context, Result};
use futures::StreamExt;
use pinpipe_lake::query::write_json_lines;
use pinpipe_lake::{query_stream, text_rows};

use super::open_lake;
use crate::cli::{OutputFormat, QueryArgs};
use crate::output::table;
use crate::settings::Settings;

/// Most rows shown as a table: more is no longer read by a person (CSV and JSON print all).
const TABLE_MAX_ROWS: usize = 10_000;

pub async fn run(settings: &Settings, args: &QueryArgs) -> Result<()> {
    // Reading makes nothing: a mistyped lake directory is named, not created empty. (A URL is
    // left to the lake to read, as every command reads it.)
    let location = settings.lake_location();
    anyhow::ensure!(
        location.contains("://") || std::path::Path::new(&location).is_dir(),
        "there is no lake at {location}: check the lake's location (`pinpipe batch` makes one)"
    );
    let lake = open_lake(settings)?;
    let mut batches = query_stream(&lake, &args.sql).await?;
    let columns: Vec<String> = batches
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut out = std::io::stdout().lock();
    let printing = "writing the result to stdout";
    match args.format {
        OutputFormat::Json => {
            while let Some(batch) = batches.next().await {
                write_json_lines(&[batch?], &mut out)?;
            }
        }
        OutputFormat::Csv => {
            out.write_all(pinpipe_lake::csv::to_csv(&columns, &[]).as_bytes())
                .context(printing)?;
            while let Some(batch) = batches.next().await {
                let rows = text_rows(&[batch?])?;
                out.write_all(pinpipe_lake::csv::rows_to_csv(&rows).as_bytes())
                    .context(printing)?;
            }
        }
        OutputFormat::Table => {
            let mut rows = Vec::new();
            let mut more = false;
            while let Some(batch) = batches.next().await {
                rows.extend(text_rows(&[batch?])?);
                if rows.len() > TABLE_MAX_ROWS {
                    rows.truncate(TABLE_MAX_ROWS);
                    more = true;
                    break;
                }
            }
            writeln!(out, "{}", table(&columns, &rows)).context(printing)?;
            if more {
                eprintln!(
                    "(the first {TABLE_MAX_ROWS} rows; --format csv or --format json prints all)"
                );
            }
        }
    }
    out.flush().context(printing)
}
