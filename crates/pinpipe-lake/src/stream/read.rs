//! One micro-batch of one stream: each shard read from its position, the shards merged by arrival
//! time, and the records cleaned by the batch job's [`TableBuilder`].

use std::iter::Peekable;

use deltalake::arrow::record_batch::RecordBatch;
use pinpipe_bus::{ReadFrom, ReadLimit, ShardInfo, StreamRecord, Streams, sequence_offset};
use pinpipe_model::{Rejected, Table, TableBuilder};
use pinpipe_telemetry::stream::ShardRead;

use super::positions::records_before;
use crate::delta::keep_last;
use crate::error::Result;

/// The records a micro-batch read from one stream, in arrival order.
#[derive(Debug)]
pub(super) struct RawBatch {
    table: Table,
    /// Where rejects come from: `<stream>/<incarnation>/` then the shard id.
    source_prefix: String,
    /// (index into `ranges`, quarantine position, data), in arrival order.
    records: Vec<(usize, i64, Vec<u8>)>,
    /// Bytes of the records' data.
    bytes: u64,
    /// What was read from each shard that had new records.
    pub(super) ranges: Vec<ShardRead>,
}

/// A micro-batch cleaned: the rows to merge (last copy per key); its rejects go apart.
#[derive(Debug)]
pub(super) struct CleanBatch {
    pub(super) rows: RecordBatch,
    /// Records rejected.
    pub(super) rejected: usize,
    /// Records read.
    pub(super) records: usize,
    /// Bytes of the records read.
    pub(super) bytes: u64,
    pub(super) ranges: Vec<ShardRead>,
}

/// What reading the shards of one stream gave.
#[derive(Debug)]
pub(super) struct Read {
    /// The records, or `None` if no shard had new ones.
    pub(super) batch: Option<RawBatch>,
    /// Whether a shard gave as many records as asked for, so that more are probably waiting.
    pub(super) full: bool,
}

/// Reads each of `shards` after its position (`None`: from the start), within `limit` each. The
/// stream's `incarnation` goes into the rejects' source, so a stream created again, whose shards
/// count from the start again, never shares quarantine keys with the old one. Shards whose record
/// count shows nothing new are not read.
pub(super) async fn read_shards(
    streams: &dyn Streams,
    table: Table,
    stream: &str,
    incarnation: &str,
    shards: &[(ShardInfo, Option<String>)],
    limit: ReadLimit,
) -> Result<Read> {
    let mut per_shard = Vec::new();
    let mut ranges = Vec::new();
    let mut full = false;
    for (shard, position) in shards {
        if nothing_new(shard, position.as_deref()) {
            continue;
        }
        let records = streams
            .read_shard(
                stream,
                &shard.shard_id,
                ReadFrom::after(position.as_deref()),
                limit,
            )
            .await?;
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            continue;
        };
        let bytes: usize = records.iter().map(|r| r.data.len()).sum();
        full |= records.len() >= limit.records || bytes >= limit.bytes;
        ranges.push(ShardRead {
            shard_id: shard.shard_id.clone(),
            first: first.sequence_number.clone(),
            last: last.sequence_number.clone(),
            records: records.len(),
        });
        per_shard.push(records);
    }
    if ranges.is_empty() {
        return Ok(Read { batch: None, full });
    }
    let records = merge_by_arrival(per_shard);
    Ok(Read {
        batch: Some(RawBatch {
            table,
            source_prefix: format!("{stream}/{incarnation}"),
            bytes: records.iter().map(|(_, _, data)| data.len() as u64).sum(),
            records,
            ranges,
        }),
        full,
    })
}

/// Whether the bus's record count shows that `shard` holds nothing after `position`; where the bus
/// does not count (Kinesis), the shard is read.
fn nothing_new(shard: &ShardInfo, position: Option<&str>) -> bool {
    matches!(
        (shard.records, records_before(position)),
        (Some(records), Some(done)) if records <= done
    )
}

/// A record's position in the quarantine: its offset where the sequence number is one (the
/// embedded log), else a stable 63-bit FNV-1a hash of the sequence number (Kinesis), so that a
/// record read twice is still quarantined once.
fn quarantine_position(sequence_number: &str) -> i64 {
    sequence_offset(sequence_number).unwrap_or_else(|| {
        let hash = sequence_number
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        (hash >> 1) as i64
    })
}

/// The records of every shard in one sequence: by arrival time, ties by shard, each shard's own
/// order kept. Returns (shard index, quarantine position, data).
fn merge_by_arrival(shards: Vec<Vec<StreamRecord>>) -> Vec<(usize, i64, Vec<u8>)> {
    let total = shards.iter().map(Vec::len).sum();
    let mut heads: Vec<Peekable<std::vec::IntoIter<StreamRecord>>> = shards
        .into_iter()
        .map(|records| records.into_iter().peekable())
        .collect();
    let mut merged = Vec::with_capacity(total);
    loop {
        let next = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(i, head)| head.peek().map(|r| (r.arrival_ms, i)))
            .min();
        let Some((_, shard)) = next else {
            break;
        };
        if let Some(record) = heads[shard].next() {
            merged.push((
                shard,
                quarantine_position(&record.sequence_number),
                record.data,
            ));
        }
    }
    merged
}

impl RawBatch {
    /// Cleans the records (CPU-bound: run it on a blocking thread) into the batch and its rejects.
    /// A reject's source is `<stream>/<incarnation>/<shardId>` and its position
    /// [`quarantine_position`]; text that is not UTF-8 is read with U+FFFD for the invalid bytes,
    /// as the batch job reads raw objects.
    pub(super) fn clean(self) -> Result<(CleanBatch, Vec<Rejected>)> {
        let sources: Vec<String> = self
            .ranges
            .iter()
            .map(|r| format!("{}/{}", self.source_prefix, r.shard_id))
            .collect();
        let mut builder = TableBuilder::new(self.table);
        let records = self.records.len();
        for (shard, position, data) in self.records {
            let text = String::from_utf8_lossy(&data);
            builder.push_raw(&text, &sources[shard], position);
        }
        let (rows, rejected) = builder.finish();
        let rows = keep_last(&self.table.schema(), &[rows])?;
        let batch = CleanBatch {
            rows,
            rejected: rejected.len(),
            records,
            bytes: self.bytes,
            ranges: self.ranges,
        };
        Ok((batch, rejected))
    }
}
