//! `pinpipe topics …` and `pinpipe streams …`: look inside the embedded bus.

use anyhow::Result;
use pinpipe_bus::{Streams, Topics};
use serde_json::{Value, json};

use super::open_bus;
use crate::cli::{StreamsCommand, TopicsCommand};
use crate::output::table;
use crate::settings::Settings;

pub async fn topics(settings: &Settings, command: TopicsCommand) -> Result<()> {
    let bus = open_bus(settings)?;
    match command {
        TopicsCommand::List => {
            let rows: Vec<Vec<String>> = bus
                .list_topics()
                .await?
                .into_iter()
                .map(|t| {
                    let records: i64 = t.partitions.iter().map(|p| p.high_watermark).sum();
                    vec![t.name, t.partitions.len().to_string(), records.to_string()]
                })
                .collect();
            println!(
                "{}",
                table(&strings(&["topic", "partitions", "records"]), &rows)
            );
        }
        TopicsCommand::Create { name, partitions } => {
            bus.create_topic(&name, partitions).await?;
            println!("created topic {name} with {partitions} partition(s)");
        }
        TopicsCommand::Describe { name } => {
            let info = bus.describe_topic(&name).await?;
            let committed = bus.committed_offsets(&settings.sink.group, &name).await?;
            let rows: Vec<Vec<String>> = info
                .partitions
                .iter()
                .zip(committed)
                .map(|(p, c)| {
                    vec![
                        p.partition.to_string(),
                        p.high_watermark.to_string(),
                        c.to_string(),
                        (p.high_watermark - c).to_string(),
                    ]
                })
                .collect();
            println!("topic {name}");
            let sink = format!("{} offset", settings.sink.group);
            println!(
                "{}",
                table(
                    &strings(&["partition", "high watermark", &sink, "lag"]),
                    &rows
                )
            );
        }
        TopicsCommand::Read {
            name,
            partition,
            offset,
            max,
        } => {
            for record in bus.read(&name, partition, offset, max).await? {
                let line = json!({
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "timestamp_ms": record.timestamp_ms,
                    "key": record.key.as_deref().map(json_or_text),
                    "value": json_or_text(&record.value),
                });
                println!("{line}");
            }
        }
    }
    Ok(())
}

pub async fn streams(settings: &Settings, command: StreamsCommand) -> Result<()> {
    let bus = open_bus(settings)?;
    match command {
        StreamsCommand::List => {
            for name in bus.list_streams().await? {
                println!("{name}");
            }
        }
        StreamsCommand::Create { name, shards } => {
            bus.create_stream(&name, shards).await?;
            println!("created stream {name} with {shards} shard(s)");
        }
        StreamsCommand::Delete { name } => {
            bus.delete_stream(&name).await?;
            println!("deleted stream {name}");
        }
        StreamsCommand::Lag => super::stream::lag(settings, bus.as_ref()).await?,
        StreamsCommand::Describe { name } => {
            let info = bus.describe_stream(&name).await?;
            let rows: Vec<Vec<String>> = info
                .shards
                .into_iter()
                .map(|s| {
                    vec![
                        s.shard_id,
                        s.starting_hash_key,
                        s.ending_hash_key,
                        s.records.to_string(),
                    ]
                })
                .collect();
            println!("stream {name}");
            println!(
                "{}",
                table(
                    &strings(&["shard", "starting hash key", "ending hash key", "records"]),
                    &rows
                )
            );
        }
        StreamsCommand::Read {
            name,
            shard,
            after,
            max,
        } => {
            for record in bus.read_shard(&name, &shard, after.as_deref(), max).await? {
                let line = json!({
                    "SequenceNumber": record.sequence_number,
                    "PartitionKey": record.partition_key,
                    "ApproximateArrivalTimestamp": record.arrival_ms,
                    "Data": json_or_text(&record.data),
                });
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// Bytes shown as the JSON they hold, or as text when they are not JSON.
fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
