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

/// Batches stop growing past this many bytes, so that a reader of one record never loads more.
pub(super) const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The length written for a record without a key.
const NO_KEY: u32 = u32::MAX;

/// The largest record, key and value together, that the format can hold: every length written
/// must stay below [`NO_KEY`]. The bus refuses larger records whatever its configured limit.
pub(super) const MAX_RECORD_BYTES: usize = (u32::MAX - 1) as usize;

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
