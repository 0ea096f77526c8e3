//! `pinpipe topics …` and `pinpipe streams …`: look inside the bus (embedded, Kafka, Kinesis).

use anyhow::Result;
use pinpipe_bus::{ReadFrom, ReadLimit};
use serde_json::{Value, json};

use super::Bus;
use crate::cli::{StreamsCommand, TopicsCommand};
use crate::output::{or_dash, table};
use crate::settings::Settings;

pub async fn topics(settings: &Settings, command: TopicsCommand) -> Result<()> {
    let opened = Bus::open(settings).await?;
    let bus = opened.topics.as_ref();
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
            // The sink group's offsets are known on the embedded log; Kafka's own tools show a
            // cluster's consumer groups.
            let committed = match &opened.embedded_topics {
                Some(embedded) => Some(
                    embedded
                        .committed_offsets(&settings.sink.group, &name)
                        .await?,
                ),
                None => None,
            };
            let rows: Vec<Vec<String>> = info
                .partitions
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let c = committed.as_ref().and_then(|c| c.get(i).copied());
                    vec![
                        p.partition.to_string(),
                        p.high_watermark.to_string(),
                        or_dash(c),
                        or_dash(c.map(|c| p.high_watermark - c)),
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
    let opened = Bus::open(settings).await?;
    let bus = opened.streams.as_ref();
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
        StreamsCommand::Lag => super::stream::lag(settings, bus).await?,
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
                        or_dash(s.records),
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
            let from = ReadFrom::after(after.as_deref());
            for record in bus
                .read_shard(&name, &shard, from, ReadLimit::records(max))
                .await?
            {
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
