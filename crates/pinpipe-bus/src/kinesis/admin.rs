//! Stream administration on Kinesis: list, create (and wait until ACTIVE), delete (and wait until
//! gone), describe. Creating and deleting are asynchronous in Kinesis; waiting for them makes the
//! calls behave like the embedded log's, within a bounded time.

use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{Shard, StreamStatus};
use tokio::time::Instant;

use super::KinesisBus;
use crate::{BusError, Result, ShardInfo, StreamInfo, validate_stream_name};

/// Stream names asked for per ListStreams call.
const LIST_PAGE: i32 = 1000;
/// How long creating or deleting a stream may take before the bus gives up waiting (AWS takes
/// about half a minute, kinesalite as long as its `createStreamMs`/`deleteStreamMs`).
const STATUS_WAIT: Duration = Duration::from_secs(120);
/// The first pause between two looks at a changing stream; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(25);
/// The longest pause between two looks.
const MAX_POLL: Duration = Duration::from_secs(1);

/// The state a stream is awaited in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    Active,
    Gone,
}

impl KinesisBus {
    /// Every stream name, following `HasMoreStreams` (kinesalite has no `NextToken`).
    pub(super) async fn list(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        loop {
            let page = self
                .client
                .list_streams()
                .limit(LIST_PAGE)
                .set_exclusive_start_stream_name(names.last().cloned())
                .send()
                .await
                .map_err(|e| self.error(None, e))?;
            let more = page.has_more_streams && !page.stream_names.is_empty();
            names.extend(page.stream_names);
            if !more {
                return Ok(names);
            }
        }
    }

    /// CreateStream, then waits until the stream is ACTIVE.
    pub(super) async fn create(&self, name: &str, shards: u32) -> Result<()> {
        validate_stream_name(name)?;
        let count = i32::try_from(shards)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| BusError::InvalidRequest(format!("invalid shard count: {shards}")))?;
        let created = self
            .client
            .create_stream()
            .stream_name(name)
            .shard_count(count)
            .send()
            .await;
        if let Err(e) = created {
            return Err(if e.code() == Some("ResourceInUseException") {
                BusError::AlreadyExists(name.to_owned())
            } else {
                self.error(Some(name), e)
            });
        }
        self.wait_for(name, Goal::Active).await
    }

    /// DeleteStream, then waits until the stream is gone.
    pub(super) async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .delete_stream()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| self.error(Some(name), e))?;
        self.wait_for(name, Goal::Gone).await
    }

    /// The stream's creation time (its incarnation, from DescribeStreamSummary) and its shards
    /// from ListShards, every page, closed shards included.
    pub(super) async fn describe(&self, name: &str) -> Result<StreamInfo> {
        let summary = self
            .client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| self.error(Some(name), e))?;
        let created = summary
            .stream_description_summary
            .map(|s| s.stream_creation_timestamp);
        let incarnation = created
            .map(|at| format!("{}.{:09}", at.secs(), at.subsec_nanos()))
            .unwrap_or_default();
        let created_ms = created
            .and_then(|at| at.to_millis().ok())
            .unwrap_or_default();
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            // ListShards takes either the stream name or a token, never both.
            let request = match next_token.take() {
                Some(token) => self.client.list_shards().next_token(token),
                None => self.client.list_shards().stream_name(name),
            };
            let page = request
                .send()
                .await
                .map_err(|e| self.error(Some(name), e))?;
            shards.extend(page.shards.unwrap_or_default().into_iter().map(shard_info));
            match page.next_token {
                Some(token) => next_token = Some(token),
                None => break,
            }
        }
        Ok(StreamInfo {
            name: name.to_owned(),
            incarnation,
            created_ms,
            shards,
        })
    }

    /// The stream's status, `None` when it does not exist.
    pub(super) async fn status(&self, name: &str) -> Result<Option<StreamStatus>> {
        match self
            .client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .stream_description_summary
                .map(|summary| summary.stream_status)),
            Err(e) => match self.error(Some(name), e) {
                BusError::StreamNotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Polls the stream until it reaches `goal`, for at most [`STATUS_WAIT`].
    async fn wait_for(&self, name: &str, goal: Goal) -> Result<()> {
        let deadline = Instant::now() + STATUS_WAIT;
        let mut pause = FIRST_POLL;
        loop {
            let status = self.status(name).await?;
            match (&status, goal) {
                (None, Goal::Gone) | (Some(StreamStatus::Active), Goal::Active) => return Ok(()),
                (None, Goal::Active) => return Err(BusError::StreamNotFound(name.to_owned())),
                (Some(status), _) if Instant::now() >= deadline => {
                    return Err(BusError::unavailable(format!(
                        "stream {name} is still {} after {} s, waiting for it to be {goal:?}",
                        status.as_str(),
                        STATUS_WAIT.as_secs()
                    )));
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    }
}

/// A Kinesis shard as the bus describes it; Kinesis does not count records.
fn shard_info(shard: Shard) -> ShardInfo {
    let (starting_hash_key, ending_hash_key) = shard
        .hash_key_range
        .map(|range| (range.starting_hash_key, range.ending_hash_key))
        .unwrap_or_default();
    ShardInfo {
        shard_id: shard.shard_id,
        starting_hash_key,
        ending_hash_key,
        records: None,
        starting_sequence_number: shard
            .sequence_number_range
            .map(|range| range.starting_sequence_number)
            .unwrap_or_default(),
        next_sequence_number: None,
    }
}
