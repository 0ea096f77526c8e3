//! Record batches: how consecutive records of one partition share one row of the bus database.
//!
//! The writer stores what a group commit appends to a partition as one batch, as Kafka stores a
//! producer's records in one record batch: one b-tree insert per partition and commit instead
//! of one per record, which was most of the writer's time under 100-record produce calls.
//!
//! A batch is its records one after the other, each a key and a value, each a little-endian
//! `u32` length followed by that many bytes; a missing key has the length [`NO_KEY`]. Offsets and
//! the append time are the row's (`base_offset`, `ts_ms`). The format is ours, small enough that
//! a serialisation crate would add more than it saves.
//!
//! A batch is stored LZ4-compressed (the row's `codec` is [`LZ4`]) when that saves at least an
//! eighth of it, as Kafka compresses record batches: pins are JSON that shrinks about four times
//! in batches of ten or more, and every byte the writer stores is written twice (the log, then
//! the database) and synced. A single small record is mostly stored [`PLAIN`].

use std::borrow::Cow;

/// Batches stop growing past this many bytes, so that a reader of one record never loads more.
pub(super) const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The length written for a record without a key.
const NO_KEY: u32 = u32::MAX;

/// The largest record, key and value together, that the format can hold: every length written
/// must stay below [`NO_KEY`]. The bus refuses larger records whatever its configured limit.
pub(super) const MAX_RECORD_BYTES: usize = (u32::MAX - 1) as usize;

/// The row's `codec` for a batch stored as it is.
pub(super) const PLAIN: i64 = 0;

/// The row's `codec` for a batch stored LZ4-compressed (a block, its length first, as
/// `lz4_flex::block::compress_prepend_size` writes it).
pub(super) const LZ4: i64 = 1;

/// The bytes to store for `records`, and their codec: compressed when that saves an eighth (and
/// the batch's length fits the `u32` written before the block).
pub(super) fn encode(records: &[u8]) -> (i64, Cow<'_, [u8]>) {
    if u32::try_from(records.len()).is_err() {
        return (PLAIN, Cow::Borrowed(records));
    }
    let compressed = lz4_flex::block::compress_prepend_size(records);
    if compressed.len() <= records.len() - records.len() / 8 {
        (LZ4, Cow::Owned(compressed))
    } else {
        (PLAIN, Cow::Borrowed(records))
    }
}

/// The records of a stored batch of codec `codec`, or why they cannot be read.
pub(super) fn decode(codec: i64, stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match codec {
        PLAIN => Ok(Cow::Borrowed(stored)),
        LZ4 => {
            // LZ4 cannot expand data more than 255 times: a larger length is damage, not a batch
            // to allocate.
            let (len, block) = stored
                .split_first_chunk::<4>()
                .ok_or("is too short for its compressed length")?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > block.len().saturating_mul(255).saturating_add(16) {
                return Err(format!(
                    "claims {len} bytes from {} compressed",
                    block.len()
                ));
            }
            let mut out = vec![0; len];
            match lz4_flex::block::decompress_into(block, &mut out) {
                Ok(n) if n == len => Ok(Cow::Owned(out)),
                Ok(n) => Err(format!("decompresses to {n} bytes, not {len}")),
                Err(e) => Err(format!("does not decompress: {e}")),
            }
        }
        other => Err(format!(
            "has codec {other}, which this pinpipe does not know"
        )),
    }
}

/// Appends one record to the batch `out`.
pub(super) fn push(out: &mut Vec<u8>, key: Option<&[u8]>, value: &[u8]) {
    match key {
        Some(key) => push_bytes(out, key),
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
    }
    push_bytes(out, value);
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Appends are refused beyond MAX_RECORD_BYTES, key and value together, before they reach
    // the writer: the length fits, and is never NO_KEY.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX - 1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One record of a batch, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
}

/// The records of a batch, in order; yields `None` for the rest after a record that does not
/// fit what is left (a damaged row), which [`Records::damaged`] then reports.
pub(super) struct Records<'a> {
    rest: &'a [u8],
    damaged: bool,
}

impl<'a> Records<'a> {
    pub fn new(batch: &'a [u8]) -> Self {
        Self {
            rest: batch,
            damaged: false,
        }
    }

    /// Whether reading stopped at bytes that are not a record.
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    fn take_len(&mut self) -> Option<u32> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_le_bytes(*len))
    }

    fn take_bytes(&mut self, len: u32) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        if len > self.rest.len() {
            return None;
        }
        let (bytes, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(bytes)
    }

    fn take_record(&mut self) -> Option<Record<'a>> {
        let key = match self.take_len()? {
            NO_KEY => None,
            len => Some(self.take_bytes(len)?),
        };
        let len = self.take_len()?;
        let value = self.take_bytes(len)?;
        Some(Record { key, value })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.rest.is_empty() || self.damaged {
            return None;
        }
        let record = self.take_record();
        self.damaged = record.is_none();
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        let mut batch = Vec::new();
        push(&mut batch, Some(b"k"), b"{\"a\":1}");
        push(&mut batch, None, b"");
        push(&mut batch, Some(b""), b"v");
        let mut records = Records::new(&batch);
        assert_eq!(
            records.by_ref().collect::<Vec<_>>(),
            vec![
                Record {
                    key: Some(b"k"),
                    value: b"{\"a\":1}"
                },
                Record {
                    key: None,
                    value: b""
                },
                Record {
                    key: Some(b""),
                    value: b"v"
                },
            ]
        );
        assert!(!records.damaged());
    }

    #[test]
    fn batches_are_compressed_when_it_pays_and_read_back_either_way() {
        let mut batch = Vec::new();
        for i in 0..20 {
            let pin = format!("{{\"index\":{i},\"title\":\"a pin\",\"follower_count\":\"5k\"}}");
            push(&mut batch, None, pin.as_bytes());
        }
        let (codec, stored) = encode(&batch);
        assert_eq!(codec, LZ4);
        assert!(
            stored.len() < batch.len() / 2,
            "{} of {}",
            stored.len(),
            batch.len()
        );
        assert_eq!(decode(codec, &stored).as_deref(), Ok(&batch[..]));

        let mut one = Vec::new();
        push(&mut one, None, b"{\"x\":7}");
        let (codec, stored) = encode(&one);
        assert_eq!(codec, PLAIN);
        assert_eq!(decode(codec, &stored).as_deref(), Ok(&one[..]));

        // Bytes with no repeats, as already compressed data is: stored as they are.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..4096)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        let mut random = Vec::new();
        push(&mut random, None, &noise);
        let (codec, stored) = encode(&random);
        assert_eq!(codec, PLAIN);
        assert_eq!(stored.len(), random.len());
    }

    #[test]
    fn a_damaged_compressed_batch_is_reported_not_misread() {
        let mut batch = Vec::new();
        for _ in 0..20 {
            push(&mut batch, None, b"{\"title\":\"the same pin again\"}");
        }
        let (_, stored) = encode(&batch);
        let mut cut = stored.to_vec();
        cut.truncate(cut.len() - 3);
        assert!(decode(LZ4, &cut).is_err());
        let mut huge = stored.to_vec();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(LZ4, &huge).is_err());
        assert!(decode(7, &stored).is_err());
    }

    #[test]
    fn a_cut_batch_is_reported_not_misread() {
        let mut batch = Vec::new();
        push(&mut batch, None, b"first");
        push(&mut batch, None, b"second");
        batch.truncate(batch.len() - 1);
        let mut records = Records::new(&batch);
        assert_eq!(records.next().map(|r| r.value), Some(&b"first"[..]));
        assert_eq!(records.next(), None);
        assert!(records.damaged());
    }
}
