//! The raw layout of SPEC §4: finding raw objects, and reading one into cleaned rows and rejects.
//!
//! ```text
//! raw/topics/<topic>/partition=<p>/<topic>+<p>+<start offset, 10 digits>.json
//! ```
//!
//! Each object holds newline-delimited JSON record values. Line `i` (0-based) is the record at
//! Kafka offset `start + i`: that offset is the record's `position` in the quarantine table, and
//! with the object's path (`source`) it names a record uniquely. A blank line is a record too (one
//! sent with an empty value): it goes to the quarantine, as on the stream path, not away.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectStore, ObjectStoreExt};
use pinpipe_model::{Rejected, Table, TableBuilder};

use deltalake::arrow::record_batch::RecordBatch;

use crate::chunks::{LineChunker, OVERSIZED_HEAD_BYTES, Piece};
use crate::error::{LakeError, Result};

/// The folder of the raw layout inside the lake.
pub const RAW_ROOT: &str = "raw/topics";

/// A raw object whose name follows the layout: which topic partition and offsets it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawObject {
    /// The object's path inside the lake (`raw/topics/…`); the `source` of its quarantined records.
    pub path: String,
    /// The Kafka topic.
    pub topic: String,
    /// The topic partition.
    pub partition: u32,
    /// The offset of the object's first record.
    pub start_offset: i64,
    /// The object's size in bytes when listed.
    pub size: u64,
}

/// An object below a topic's folder whose name does not follow the layout; it is not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredObject {
    /// The object's path inside the lake.
    pub path: String,
    /// Why the name does not follow the layout.
    pub reason: String,
}

/// The raw objects of `topic`, sorted by (partition, start offset): the order their records arrived in.
/// Objects whose names do not follow the layout are returned apart, to be reported and skipped.
pub async fn list_topic(
    store: &Arc<dyn ObjectStore>,
    topic: &str,
) -> Result<(Vec<RawObject>, Vec<IgnoredObject>)> {
    let prefix = Path::from(format!("{RAW_ROOT}/{topic}"));
    let metas: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
    let mut objects = Vec::new();
    let mut ignored = Vec::new();
    for meta in metas {
        let path = meta.location.to_string();
        match parse_object_path(&path, topic) {
            Ok((partition, start_offset)) => objects.push(RawObject {
                path,
                topic: topic.to_owned(),
                partition,
                start_offset,
                size: meta.size,
            }),
            Err(reason) => ignored.push(IgnoredObject { path, reason }),
        }
    }
    objects.sort_by(|a, b| {
        (a.partition, a.start_offset, &a.path).cmp(&(b.partition, b.start_offset, &b.path))
    });
    ignored.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((objects, ignored))
}

/// The raw object path of `topic`'s partition `partition` starting at `start_offset` (the S3 sink's name).
pub fn object_path(topic: &str, partition: u32, start_offset: i64) -> String {
    format!("{RAW_ROOT}/{topic}/partition={partition}/{topic}+{partition}+{start_offset:010}.json")
}

/// Parses `path` as an object of `topic`: `(partition, start offset)`, or why it is not one.
///
/// Strict: the folder and file name must agree on topic and partition, the partition is a plain
/// decimal number, and the offset has at least 10 digits (zero-padded to 10, never padded beyond).
pub fn parse_object_path(path: &str, topic: &str) -> Result<(u32, i64), String> {
    let rest = path
        .strip_prefix(RAW_ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_prefix(topic))
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("not below {RAW_ROOT}/{topic}/"))?;
    let (folder, file) = rest
        .split_once('/')
        .ok_or_else(|| "not inside a partition=<p> folder".to_owned())?;
    let partition = folder
        .strip_prefix("partition=")
        .and_then(parse_partition)
        .ok_or_else(|| format!("folder {folder:?} is not partition=<p>"))?;
    let stem = file
        .strip_suffix(".json")
        .ok_or_else(|| format!("file {file:?} does not end in .json"))?;
    let expected = format!("{topic}+{partition}+");
    let offset = stem
        .strip_prefix(&expected)
        .ok_or_else(|| format!("file {file:?} is not named {expected}<offset>.json"))?;
    let canonical = offset.len() == 10 || (offset.len() > 10 && !offset.starts_with('0'));
    if !canonical || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "offset {offset:?} is not a 10-digit zero-padded number"
        ));
    }
    let start = offset
        .parse::<i64>()
        .map_err(|_| format!("offset {offset:?} is out of range"))?;
    Ok((partition, start))
}

fn parse_partition(s: &str) -> Option<u32> {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    plain.then(|| s.parse().ok()).flatten()
}

/// How raw objects are read: in pieces of whole lines, each record at most so long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes of lines read and cleaned at a time (default 32 MiB): bounds the memory a worker
    /// holds and every Arrow column built from one piece, whatever the object's size.
    pub max_piece_bytes: usize,
    /// Longest record kept (default 16 MiB, sixteen times the gateway's record limit); a longer
    /// one is quarantined with its first bytes.
    pub max_record_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_piece_bytes: 32 * 1024 * 1024,
            max_record_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A piece of a raw object, as read.
#[derive(Debug)]
pub struct ObjectPiece {
    /// The lines (or the one oversized record).
    pub piece: Piece,
    /// On the object's last piece, the object's size as read (it may differ from the listed
    /// one if the object was rewritten in between).
    pub object_size: Option<u64>,
}

/// Reads `object` from `store` as it streams, cut into [`Piece`]s of whole lines
/// ([`crate::chunks`]). Only the last piece carries the object's size; an empty object is one
/// empty piece.
pub fn read_pieces(
    store: Arc<dyn ObjectStore>,
    object: &RawObject,
    limits: ReadLimits,
) -> impl futures::Stream<Item = Result<ObjectPiece>> + Send + use<> {
    struct State {
        store: Arc<dyn ObjectStore>,
        path: Path,
        body: Option<futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>>,
        chunker: Option<LineChunker>,
        ready: VecDeque<Piece>,
        size: u64,
    }
    let state = State {
        store,
        path: Path::from(object.path.as_str()),
        body: None,
        chunker: Some(LineChunker::new(
            limits.max_piece_bytes,
            limits.max_record_bytes,
        )),
        ready: VecDeque::new(),
        size: 0,
    };
    futures::stream::try_unfold(state, |mut st| async move {
        loop {
            if let Some(piece) = st.ready.pop_front() {
                let last = st.chunker.is_none() && st.ready.is_empty();
                let object_size = last.then_some(st.size);
                return Ok(Some((ObjectPiece { piece, object_size }, st)));
            }
            let Some(chunker) = st.chunker.as_mut() else {
                return Ok(None);
            };
            if st.body.is_none() {
                st.body = Some(body(st.store.get(&st.path).await?));
            }
            let next = match st.body.as_mut() {
                Some(body) => body.next().await,
                None => None,
            };
            match next {
                Some(bytes) => {
                    let bytes = bytes?;
                    st.size += bytes.len() as u64;
                    st.ready.extend(chunker.push(&bytes));
                }
                None => {
                    let mut rest = st
                        .chunker
                        .take()
                        .map(LineChunker::finish)
                        .unwrap_or_default();
                    if rest.is_empty() {
                        // A marker that the object ended, carrying its size.
                        rest.push(Piece::Lines {
                            first_line: 0,
                            bytes: bytes::Bytes::new(),
                        });
                    }
                    st.ready.extend(rest);
                }
            }
        }
    })
}

/// The bytes a local file is read by at a time. object_store's own stream of a local file
/// (`GetResult::into_stream`) reads 8 KiB at a time, each read a task of the blocking pool: a
/// 1M-post batch switched threads 40,000 times a second for them and kept its two cores busy half
/// of the time. Each read is copied into the piece being cut at once, so memory stays bounded.
const FILE_READ_BYTES: u64 = 4 * 1024 * 1024;

/// The body of a get as it streams: a local file read [`FILE_READ_BYTES`] at a time on the
/// blocking pool, anything else as the store sends it. The stream ends early if the file shrinks.
fn body(got: GetResult) -> BoxStream<'static, object_store::Result<Bytes>> {
    let (file, path) = match got.payload {
        GetResultPayload::File(file, path) => (file, path),
        GetResultPayload::Stream(stream) => return stream,
    };
    let end = got.range.end;
    futures::stream::try_unfold((file, got.range.start), move |(mut file, at)| {
        let path = path.clone();
        async move {
            if at >= end {
                return Ok(None);
            }
            let failed = |source: std::io::Error| object_store::Error::Generic {
                store: "LocalFileSystem",
                // The I/O error stays a source: disk-full detection walks the causes.
                source: Box::new(LakeError::Io {
                    context: format!("cannot read {}", path.display()),
                    source,
                }),
            };
            let (file, read) = tokio::task::spawn_blocking(move || {
                let want = (end - at).min(FILE_READ_BYTES);
                // At most FILE_READ_BYTES: the cast cannot truncate.
                let mut buffer = Vec::with_capacity(want as usize);
                let read = file
                    .seek(SeekFrom::Start(at))
                    .and_then(|_| (&mut file).take(want).read_to_end(&mut buffer));
                (file, read.map(|_| buffer))
            })
            .await
            .map_err(|e| failed(std::io::Error::other(e)))?;
            let read = read.map_err(failed)?;
            Ok((!read.is_empty()).then(|| {
                let next = at + read.len() as u64;
                (Bytes::from(read), (file, next))
            }))
        }
    })
    .boxed()
}

/// A piece of a raw object, cleaned.
#[derive(Debug)]
pub struct CleanedPiece {
    /// Its records that are rows of the table, in arrival order.
    pub rows: RecordBatch,
    /// Its records that are not, with why.
    pub rejected: Vec<Rejected>,
    /// Records read (lines).
    pub records: usize,
}

/// Cleans `piece` of the object at `source` whose first record is at offset `start` (CPU-bound:
/// run it on a blocking thread). Records longer than `max_record_bytes` are rejected.
pub fn clean_piece(
    table: Table,
    piece: &Piece,
    source: &str,
    start: i64,
    max_record_bytes: usize,
) -> CleanedPiece {
    let position = |line: u64| start.saturating_add(i64::try_from(line).unwrap_or(i64::MAX));
    match piece {
        Piece::Lines { first_line, bytes } => {
            let (rows, rejected, records) = clean_lines(
                table,
                bytes,
                source,
                position(*first_line),
                max_record_bytes,
            );
            CleanedPiece {
                rows,
                rejected,
                records,
            }
        }
        Piece::Oversized { line, size, head } => {
            let mut builder = TableBuilder::new(table);
            builder.push_too_large(
                &String::from_utf8_lossy(head),
                *size,
                max_record_bytes as u64,
                source,
                position(*line),
            );
            let (rows, rejected) = builder.finish();
            CleanedPiece {
                rows,
                rejected,
                records: 1,
            }
        }
    }
}

/// Cleans the newline-delimited records of `bytes`; line `i` gets position `start + i`. A record
/// longer than `max_record_bytes` is rejected with its first bytes. Returns the rows, the rejects
/// and the number of records (lines: all but the empty text after the last `\n`).
pub fn clean_lines(
    table: Table,
    bytes: &[u8],
    source: &str,
    start: i64,
    max_record_bytes: usize,
) -> (RecordBatch, Vec<Rejected>, usize) {
    // `from_utf8` checks valid text several times faster than `from_utf8_lossy` walks it.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            tracing::warn!(
                source,
                "raw object is not valid UTF-8; invalid bytes read as U+FFFD"
            );
            String::from_utf8_lossy(bytes)
        }
    };
    let mut builder = TableBuilder::new(table);
    let mut records = 0;
    // What follows the last `\n` is a line only when it is not empty (an object's last record
    // without its newline).
    let lines = text.strip_suffix('\n').unwrap_or(&text);
    for (i, line) in lines
        .split('\n')
        .enumerate()
        .take_while(|_| !text.is_empty())
    {
        let line = line.strip_suffix('\r').unwrap_or(line);
        records += 1;
        let position = start.saturating_add(i64::try_from(i).unwrap_or(i64::MAX));
        if line.len() > max_record_bytes {
            let mut cut = OVERSIZED_HEAD_BYTES.min(line.len());
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            builder.push_too_large(
                &line[..cut],
                line.len() as u64,
                max_record_bytes as u64,
                source,
                position,
            );
        } else {
            builder.push_raw(line, source, position);
        }
    }
    let (rows, rejected) = builder.finish();
    (rows, rejected, records)
}
