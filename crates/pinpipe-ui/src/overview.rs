//! `/api/overview`: every stage of the pipeline in one document — the source, this process's
//! gateway, the topics with the sink group's offsets, the streams with the stream job's
//! positions, the raw objects, the Delta tables and the results.
//!
//! The bus is read on every call (offsets are cheap to read and what users watch move); the lake
//! (listings, Delta logs) through the [cache](crate::cache).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use pinpipe_bus::{EmbeddedBus, StreamInfo, Streams, Topics};
use pinpipe_lake::delta::{QUARANTINE_PATH, table_path};
use pinpipe_lake::raw::RAW_ROOT;
use pinpipe_lake::{Lake, LakeError, ShardLag, StreamOptions, stream_lag};
use pinpipe_model::Table;
use pinpipe_telemetry::GatewayTotals;
use serde::Serialize;

use crate::CountSource;
use crate::api::Api;
use crate::error::UiError;

/// The overview.
#[derive(Serialize)]
pub struct Overview {
    generated_at: DateTime<Utc>,
    source: SourceView,
    gateway: GatewayTotals,
    topics: Vec<TopicView>,
    /// The member holding the sink's consumer group now: `""` when none does (no sink running),
    /// none when unknown (Kafka).
    sink_member: Option<String>,
    streams: Vec<StreamView>,
    /// The stream job as its tables show it; none while the lake cannot be read.
    stream_job: Option<StreamJobView>,
    /// When the lake's figures (raw, tables, results, the stream job's positions) were read:
    /// they are cached, so their rates are measured between two of these, not two overviews.
    lake_read_at: Option<DateTime<Utc>>,
    /// Why the lake's figures are missing, when the lake cannot be read; the bus's are still
    /// shown.
    lake_error: Option<String>,
    /// Why the stream job's positions are missing, when only they are.
    positions_error: Option<String>,
    /// Why the results are missing, when only they are (an unreadable CSV).
    results_error: Option<String>,
    raw: Option<RawView>,
    tables: Vec<TableView>,
    results: Option<ResultsSummary>,
}

#[derive(Serialize)]
struct SourceView {
    url: Option<String>,
    rows: Option<u64>,
}

#[derive(Serialize)]
struct TopicView {
    name: String,
    partitions: Vec<PartitionView>,
}

#[derive(Serialize)]
struct PartitionView {
    partition: i32,
    records: i64,
    /// Where the sink group resumes; unknown on Kafka.
    sink_committed: Option<i64>,
    lag: Option<i64>,
}

/// Whether the stream job keeps up. A job in another process cannot be asked, so its tables
/// tell: records wait, and none of its tables had a commit for [`stall_after`].
#[derive(Serialize)]
struct StreamJobView {
    /// The latest commit to any of its tables.
    last_commit: Option<DateTime<Utc>>,
    /// Records wait and nothing was committed for a while: the job is stopped or stuck.
    stalled: bool,
}

#[derive(Clone, Serialize)]
struct StreamView {
    name: String,
    /// The path of the stream table the stream job writes it to (`stream/pin`), for pinpipe's
    /// own streams.
    table: Option<String>,
    shards: Vec<ShardView>,
}

#[derive(Clone, Serialize)]
struct ShardView {
    shard_id: String,
    records: Option<i64>,
    /// The sequence number of the last record in the stream table.
    position: Option<String>,
    lag: Option<i64>,
}

#[derive(Clone, Copy, Default, Serialize)]
struct RawView {
    objects: u64,
    bytes: u64,
}

#[derive(Clone, Serialize)]
struct TableView {
    path: String,
    /// Rows, from the Delta log's file statistics.
    rows: Option<u64>,
    version: Option<u64>,
    /// When its latest version was committed (the log file's time).
    committed_at: Option<DateTime<Utc>>,
    /// Why it cannot be read, when it cannot: the other tables are shown all the same.
    error: Option<String>,
}

#[derive(Serialize)]
struct ResultsSummary {
    files: usize,
    updated: Option<DateTime<Utc>>,
}

/// What the overview reads from the lake, cached.
#[derive(Clone)]
pub struct LakeState {
    read_at: DateTime<Utc>,
    raw: RawView,
    tables: Vec<TableView>,
    stream_lags: Vec<ShardLag>,
    /// Why the stream job's positions could not be read, when they could not.
    positions_error: Option<String>,
}

/// The overview now. A lake that cannot be read leaves its figures out and says why; the bus's
/// figures are shown all the same.
pub async fn read(api: &Api) -> Result<Overview, UiError> {
    let config = &api.config;
    // A failed read is cached like a good one: an unreachable lake costs its retries once per
    // time to live, not on every refresh of every open page.
    let lake_state = api
        .lake_state
        .get_or_try(|| async {
            let read = read_lake(
                &config.lake,
                config.streams.as_ref(),
                &config.tables_dir,
                &config.stream,
            )
            .await;
            Ok::<_, UiError>(read.map_err(|error| error.to_string()))
        })
        .await?;
    let (lake_state, lake_error) = match lake_state {
        Ok(state) => (Some(state), None),
        Err(error) => (None, Some(error)),
    };
    let (results, results_error) = match &lake_state {
        Some(_) => match api
            .results
            .get_or_try(|| crate::results::read(&config.lake))
            .await
        {
            Ok(results) => (Some(results), None),
            Err(error) => (None, Some(error.to_string())),
        },
        None => (None, None),
    };
    // Read at most once a second: Kinesis allows a few DescribeStream calls a second per
    // account, shared with the stream job, however many pages are open.
    let infos = api
        .stream_infos
        .get_or_try(|| stream_infos(config.streams.as_ref()))
        .await?;
    let source_rows = match &config.count_source {
        Some(count) => {
            api.source_rows
                .get_or_try(|| count_rows(count, SOURCE_COUNT_WAIT))
                .await?
        }
        None => None,
    };
    let lags = lake_state.as_ref().map_or(&[][..], |s| &s.stream_lags[..]);
    let streams = streams(infos, lags, &config.stream.tables_dir);
    let stream_job = lake_state
        .as_ref()
        .map(|state| stream_job(state, &streams, &config.stream));
    Ok(Overview {
        generated_at: Utc::now(),
        source: SourceView {
            url: config.source_url.clone(),
            rows: source_rows,
        },
        gateway: pinpipe_telemetry::gateway_totals(),
        topics: topics(
            config.topics.as_ref(),
            config.embedded_topics.as_deref(),
            &config.sink_group,
        )
        .await?,
        sink_member: match config.embedded_topics.as_deref() {
            Some(bus) => Some(
                bus.group_member(&config.sink_group)
                    .await?
                    .unwrap_or_default(),
            ),
            None => None,
        },
        streams,
        stream_job,
        lake_read_at: lake_state.as_ref().map(|s| s.read_at),
        lake_error,
        positions_error: lake_state.as_ref().and_then(|s| s.positions_error.clone()),
        results_error,
        raw: lake_state.as_ref().map(|s| s.raw),
        tables: lake_state.map(|s| s.tables).unwrap_or_default(),
        results: results.map(|results| ResultsSummary {
            files: results.files(),
            updated: results.updated,
        }),
    })
}

/// Every topic with its partitions' records and, on the embedded log, the sink group's offsets.
async fn topics(
    topics: &dyn Topics,
    embedded: Option<&EmbeddedBus>,
    group: &str,
) -> Result<Vec<TopicView>, UiError> {
    let mut views = Vec::new();
    for topic in topics.list_topics().await? {
        let committed = match embedded {
            Some(bus) => Some(bus.committed_offsets(group, &topic.name).await?),
            None => None,
        };
        let partitions = topic
            .partitions
            .iter()
            .map(|p| {
                let sink_committed = committed
                    .as_ref()
                    .and_then(|c| c.get(usize::try_from(p.partition).ok()?).copied());
                PartitionView {
                    partition: p.partition,
                    records: p.high_watermark,
                    sink_committed,
                    lag: sink_committed.map(|c| (p.high_watermark - c).max(0)),
                }
            })
            .collect();
        views.push(TopicView {
            name: topic.name,
            partitions,
        });
    }
    Ok(views)
}

/// Every stream with its shards' records, as the bus describes them now.
pub async fn stream_infos(streams: &dyn Streams) -> Result<Vec<StreamInfo>, UiError> {
    let mut infos = Vec::new();
    for name in streams.list_streams().await? {
        match streams.describe_stream(&name).await {
            Ok(info) => infos.push(info),
            // Deleted since it was listed.
            Err(pinpipe_bus::BusError::StreamNotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(infos)
}

/// Every stream: pinpipe's own with the stream job's positions, the others with their records.
/// Records are the bus's; a position comes from the lake's cached read, and its lag grows by
/// what arrived since.
fn streams(infos: Vec<StreamInfo>, lags: &[ShardLag], tables_dir: &str) -> Vec<StreamView> {
    infos
        .into_iter()
        .map(|info| {
            let mine: Vec<&ShardLag> = lags.iter().filter(|l| l.stream == info.name).collect();
            let shards = info
                .shards
                .into_iter()
                .map(|shard| {
                    let lag = mine.iter().find(|l| l.shard_id == shard.shard_id);
                    ShardView {
                        position: lag.and_then(|l| l.position.clone()),
                        lag: lag.and_then(|l| {
                            let arrived = shard.records? - l.records?;
                            Some(l.lag? + arrived.max(0))
                        }),
                        shard_id: shard.shard_id,
                        records: shard.records,
                    }
                })
                .collect();
            StreamView {
                table: mine.first().map(|l| table_path(tables_dir, l.table)),
                shards,
                name: info.name,
            }
        })
        .collect()
}

/// One Delta table's rows, version and last commit; none when it does not exist yet.
async fn read_table(lake: &Lake, path: &str) -> Result<Option<TableView>, LakeError> {
    let Some(table) = lake.open_table(path).await? else {
        return Ok(None);
    };
    let snapshot = table.snapshot()?;
    let rows = snapshot
        .log_data()
        .iter()
        .map(|file| file.num_records().map(|n| n as u64))
        .sum::<Option<u64>>();
    let version = snapshot.version();
    let commit = Path::from(format!(
        "{}/_delta_log/{version:020}.json",
        path.trim_matches('/')
    ));
    // Only what the page shows: a commit file gone (log cleanup) leaves the time unknown.
    let committed_at = lake
        .store()
        .head(&commit)
        .await
        .ok()
        .map(|meta| meta.last_modified);
    Ok(Some(TableView {
        path: path.to_owned(),
        rows,
        version: Some(version),
        committed_at,
        error: None,
    }))
}

/// How long records may wait with no commit to the stream tables before the job counts as stalled:
/// three triggers, and at least 30 s (a micro-batch of a busy job takes a few seconds, and the
/// tables are read every few seconds).
fn stall_after(stream: &StreamOptions) -> chrono::Duration {
    let trigger = chrono::Duration::from_std(stream.trigger * 3).unwrap_or(chrono::Duration::MAX);
    trigger.max(chrono::Duration::seconds(30))
}

/// The stream job from its tables' last commits and the streams' lag.
fn stream_job(state: &LakeState, streams: &[StreamView], stream: &StreamOptions) -> StreamJobView {
    let last_commit = Table::ALL
        .iter()
        .map(|t| table_path(&stream.tables_dir, *t))
        .filter_map(|path| state.tables.iter().find(|t| t.path == path)?.committed_at)
        .max();
    let waiting: i64 = streams
        .iter()
        .filter(|s| s.table.is_some())
        .flat_map(|s| &s.shards)
        .filter_map(|shard| shard.lag)
        .sum();
    let quiet = last_commit.is_none_or(|t| state.read_at - t > stall_after(stream));
    StreamJobView {
        last_commit,
        stalled: waiting > 0 && quiet,
    }
}

/// The raw objects, the Delta tables and the stream job's positions.
async fn read_lake(
    lake: &Lake,
    streams: &dyn Streams,
    tables_dir: &str,
    stream: &StreamOptions,
) -> Result<LakeState, UiError> {
    let mut raw = RawView::default();
    let mut listing = lake.store().list(Some(&Path::from(RAW_ROOT)));
    while let Some(meta) = listing.try_next().await.map_err(LakeError::from)? {
        raw.objects += 1;
        raw.bytes += meta.size;
    }
    let mut paths: Vec<String> = Vec::new();
    for dir in [tables_dir, stream.tables_dir.as_str()] {
        paths.extend(Table::ALL.map(|t| table_path(dir, t)));
    }
    paths.push(QUARANTINE_PATH.to_owned());
    let mut tables = Vec::new();
    for path in paths {
        match read_table(lake, &path).await {
            Ok(Some(table)) => tables.push(table),
            Ok(None) => {}
            Err(error) => tables.push(TableView {
                path,
                rows: None,
                version: None,
                committed_at: None,
                error: Some(error.to_string()),
            }),
        }
    }
    // The positions need the streams too: a problem there is theirs, not the lake's.
    let (stream_lags, positions_error) = match stream_lag(lake, streams, stream).await {
        Ok(lags) => (lags, None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    Ok(LakeState {
        read_at: Utc::now(),
        raw,
        tables,
        stream_lags,
        positions_error,
    })
}

/// How long the overview waits for the source's count: a PostgreSQL or MySQL source that does
/// not answer takes its 10 s connect timeout, and every page would wait for it, once per
/// [`crate::api`]'s source time to live.
const SOURCE_COUNT_WAIT: Duration = Duration::from_secs(2);

/// The source's row count, or `None` (shown as unknown) when `count` does not answer within
/// `wait`; the count goes on on its blocking thread, and its late answer is dropped.
async fn count_rows(
    count: &CountSource,
    wait: Duration,
) -> Result<Option<u64>, tokio::task::JoinError> {
    let count = Arc::clone(count);
    match tokio::time::timeout(wait, tokio::task::spawn_blocking(move || count())).await {
        Ok(counted) => counted,
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use chrono::{TimeDelta, Utc};
    use pinpipe_lake::{Lake, StreamOptions};

    use super::{
        LakeState, RawView, ShardView, StreamView, TableView, count_rows, read_table, stream_job,
    };
    use crate::CountSource;

    fn lake_with_stream_pin_committed(ago: Option<TimeDelta>) -> LakeState {
        let now = Utc::now();
        LakeState {
            read_at: now,
            raw: RawView::default(),
            tables: vec![TableView {
                path: "stream/pin".into(),
                rows: Some(5),
                version: Some(3),
                committed_at: ago.map(|ago| now - ago),
                error: None,
            }],
            stream_lags: Vec::new(),
            positions_error: None,
        }
    }

    fn stream_with_lag(lag: i64) -> Vec<StreamView> {
        vec![StreamView {
            name: "streaming-pinpipe-pin".into(),
            table: Some("stream/pin".into()),
            shards: vec![ShardView {
                shard_id: "shardId-000000000000".into(),
                records: Some(10),
                position: None,
                lag: Some(lag),
            }],
        }]
    }

    #[test]
    fn the_stream_job_is_stalled_when_records_wait_and_nothing_commits() {
        let options = StreamOptions::default();
        let stalled = |ago, lag| {
            stream_job(
                &lake_with_stream_pin_committed(ago),
                &stream_with_lag(lag),
                &options,
            )
            .stalled
        };
        assert!(
            !stalled(Some(TimeDelta::seconds(5)), 900),
            "it just committed"
        );
        assert!(
            stalled(Some(TimeDelta::minutes(2)), 900),
            "records wait, no commit"
        );
        assert!(stalled(None, 900), "records wait, never a commit");
        assert!(
            !stalled(Some(TimeDelta::hours(5)), 0),
            "idle: nothing waits"
        );

        let slow = StreamOptions {
            trigger: Duration::from_secs(60),
            ..StreamOptions::default()
        };
        let state = lake_with_stream_pin_committed(Some(TimeDelta::minutes(2)));
        assert!(
            !stream_job(&state, &stream_with_lag(900), &slow).stalled,
            "within three triggers of a minute"
        );
    }

    #[tokio::test]
    async fn an_unreadable_table_is_named() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("tables/pin/_delta_log");
        std::fs::create_dir_all(&log)?;
        std::fs::write(log.join("00000000000000000000.json"), "not a commit\n")?;
        let lake = Lake::open(&dir.path().to_string_lossy(), HashMap::new())?;
        let error = read_table(&lake, "tables/pin")
            .await
            .err()
            .map(|e| e.to_string());
        let shown = error.unwrap_or_default();
        assert!(
            shown.starts_with("Delta table \"tables/pin\" cannot be read: "),
            "{shown}"
        );
        assert!(
            read_table(&lake, "tables/geo").await?.is_none(),
            "no table yet"
        );
        Ok(())
    }

    /// A source that does not answer (a PostgreSQL server down takes 10 s to time out) is shown
    /// as unknown rather than holding the page up; one that answers is counted.
    #[tokio::test]
    async fn a_source_that_does_not_answer_is_shown_as_unknown() {
        let stuck: CountSource = std::sync::Arc::new(|| {
            std::thread::sleep(Duration::from_secs(1));
            Some(5)
        });
        let counted = count_rows(&stuck, Duration::from_millis(50)).await;
        assert_eq!(counted.expect("count"), None);
        let answering: CountSource = std::sync::Arc::new(|| Some(7));
        let counted = count_rows(&answering, Duration::from_secs(2)).await;
        assert_eq!(counted.expect("count"), Some(7));
    }
}
