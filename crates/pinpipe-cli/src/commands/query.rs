//! `pinpipe query`: ad-hoc SQL over the lake, as the original ran it in notebook cells.

use anyhow::Result;
use pinpipe_lake::query::write_json_lines;
use pinpipe_lake::{query, text_rows};

use super::open_lake;
use crate::cli::{OutputFormat, QueryArgs};
use crate::output::table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, args: &QueryArgs) -> Result<()> {
    let lake = open_lake(settings)?;
    let batches = query(&lake, &args.sql).await?;
    if args.format == OutputFormat::Json {
        return Ok(write_json_lines(&batches, std::io::stdout().lock())?);
    }
    let columns: Vec<String> = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    let rows = text_rows(&batches)?;
    if args.format == OutputFormat::Csv {
        print!("{}", pinpipe_lake::csv::to_csv(&columns, &rows));
    } else {
        println!("{}", table(&columns, &rows));
    }
    Ok(())
}
