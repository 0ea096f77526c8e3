//! `pinpipe query`: ad-hoc SQL over the lake, as the original ran it in notebook cells.

use anyhow::Result;
use pinpipe_lake::{query, text_rows};

use super::open_lake;
use crate::cli::{OutputFormat, QueryArgs};
use crate::output::table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, args: &QueryArgs) -> Result<()> {
    let lake = open_lake(settings)?;
    let batches = query(&lake, &args.sql).await?;
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
    match args.format {
        OutputFormat::Table => println!("{}", table(&columns, &rows)),
        OutputFormat::Csv => print!("{}", pinpipe_lake::csv::to_csv(&columns, &rows)),
        OutputFormat::Json => {
            for row in &rows {
                let object: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(|v| serde_json::Value::String(v.clone())))
                    .collect();
                println!("{}", serde_json::Value::Object(object));
            }
        }
    }
    Ok(())
}
