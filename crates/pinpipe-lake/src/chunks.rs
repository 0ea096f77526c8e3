//! Cutting a stream of bytes into pieces of whole lines, bounded in bytes.
//!
//! Raw objects are newline-delimited records of any size: a sink with a large flush size, or a
//! hand-made file, can hold gigabytes. [`LineChunker`] turns the object's bytes, as they arrive,
//! into [`Piece`]s of whole lines of about `max_piece_bytes` each, so that memory (and every
//! Arrow column built from a piece) stays bounded whatever the object's size. A line that grows
//! past both `max_line_bytes` and a piece's worth is not kept: it becomes a [`Piece::Oversized`]
//! with its first bytes, for the quarantine to say what it was, and the rest of it is skipped as
//! it streams by. A line over the limit but within a piece comes out with its piece, and the
//! cleaning refuses it by the same limit: either way it ends in the quarantine. (With the
//! defaults, 32 MiB pieces and 16 MiB records, a piece always outgrows the line limit first.)
//!
//! Lines are numbered from 0 in the object, blank lines included, so a record's position is the
//! object's start offset plus its line number, however the object was cut.

use bytes::{Bytes, BytesMut};

/// How much of an oversized line is kept to show in the quarantine.
pub const OVERSIZED_HEAD_BYTES: usize = 1024;

/// A run of whole lines, or one line too long to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Whole lines (the last one possibly without its `\n`, at the end of the object).
    Lines {
        /// The number of the first line in the object.
        first_line: u64,
        /// The lines.
        bytes: Bytes,
    },
    /// A line longer than the limit.
    Oversized {
        /// Its number in the object.
        line: u64,
        /// Its length in bytes, without the `\n`.
        size: u64,
        /// Its first [`OVERSIZED_HEAD_BYTES`] bytes (fewer when a piece and the line limit are
        /// both smaller: the chunker never holds more of a line than that).
        head: Bytes,
    },
}

/// The state of cutting one object (see the module documentation).
#[derive(Debug)]
pub struct LineChunker {
    max_piece_bytes: usize,
    max_line_bytes: usize,
    /// Bytes of lines not yet given out; starts at line `next_line`.
    buffer: BytesMut,
    /// Where the last `\n` in `buffer` is, so no byte is searched twice.
    last_newline: Option<usize>,
    next_line: u64,
    /// The oversized line being skipped: its head and its length so far.
    skipping: Option<(Bytes, u64)>,
}

impl LineChunker {
    /// A chunker giving pieces of about `max_piece_bytes` (at least one line each) and treating
    /// lines over `max_line_bytes` as oversized.
    pub fn new(max_piece_bytes: usize, max_line_bytes: usize) -> Self {
        Self {
            max_piece_bytes: max_piece_bytes.max(1),
            max_line_bytes: max_line_bytes.max(1),
            buffer: BytesMut::new(),
            last_newline: None,
            next_line: 0,
            skipping: None,
        }
    }

    /// Takes the next bytes of the object; returns the pieces they complete.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        while !data.is_empty() {
            if let Some((head, size)) = self.skipping.take() {
                match memchr::memchr(b'\n', data) {
                    Some(end) => {
                        pieces.push(Piece::Oversized {
                            line: self.next_line,
                            size: size + end as u64,
                            head,
                        });
                        self.next_line += 1;
                        data = &data[end + 1..];
                    }
                    None => {
                        self.skipping = Some((head, size + data.len() as u64));
                        return pieces;
                    }
                }
                continue;
            }
            // Fill the buffer up to a piece's worth; past it (one line longer than a piece),
            // up to the end of that line, and never more than one byte past the line limit.
            let room = self.max_piece_bytes.saturating_sub(self.buffer.len());
            let to_newline = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
            let line_room = (self.max_line_bytes + 1).saturating_sub(self.buffer.len());
            let take = room.max(to_newline.min(line_room)).clamp(1, data.len());
            let appended = &data[..take];
            if let Some(i) = memchr::memrchr(b'\n', appended) {
                self.last_newline = Some(self.buffer.len() + i);
            }
            self.buffer.extend_from_slice(appended);
            data = &data[take..];
            self.cut(&mut pieces);
        }
        pieces
    }

    /// The object ended: returns what is left.
    pub fn finish(mut self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if let Some((head, size)) = self.skipping.take() {
            pieces.push(Piece::Oversized {
                line: self.next_line,
                size,
                head,
            });
        } else if self.buffer.len() > self.max_line_bytes && self.last_newline.is_none() {
            let size = self.buffer.len() as u64;
            pieces.push(Piece::Oversized {
                line: self.next_line,
                size,
                head: self
                    .buffer
                    .split_to(OVERSIZED_HEAD_BYTES.min(self.buffer.len()))
                    .freeze(),
            });
        } else if !self.buffer.is_empty() {
            pieces.push(Piece::Lines {
                first_line: self.next_line,
                bytes: self.buffer.split().freeze(),
            });
        }
        pieces
    }

    /// Gives out the buffer's whole lines once it holds a piece's worth, and starts skipping a
    /// line that grows past the line limit.
    fn cut(&mut self, pieces: &mut Vec<Piece>) {
        if self.buffer.len() < self.max_piece_bytes {
            return;
        }
        match self.last_newline.take() {
            Some(end) => {
                let lines = self.buffer.split_to(end + 1).freeze();
                let first_line = self.next_line;
                self.next_line += memchr::memchr_iter(b'\n', &lines).count() as u64;
                pieces.push(Piece::Lines {
                    first_line,
                    bytes: lines,
                });
            }
            // One line fills the buffer: fine until it is over the line limit.
            None if self.buffer.len() > self.max_line_bytes => {
                let size = self.buffer.len() as u64;
                let head = self
                    .buffer
                    .split_to(OVERSIZED_HEAD_BYTES.min(self.buffer.len()))
                    .freeze();
                self.buffer.clear();
                self.skipping = Some((head, size));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_all(data: &[u8], step: usize, piece: usize, line: usize) -> Vec<Piece> {
        let mut chunker = LineChunker::new(piece, line);
        let mut pieces = Vec::new();
        for part in data.chunks(step.max(1)) {
            pieces.extend(chunker.push(part));
        }
        pieces.extend(chunker.finish());
        pieces
    }

    /// Every line of `data` with its number, from the pieces (oversized ones as their size).
    fn lines(pieces: &[Piece]) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Lines { first_line, bytes } => {
                    let text = String::from_utf8_lossy(bytes);
                    let body = text.strip_suffix('\n').unwrap_or(&text);
                    for (i, line) in body.split('\n').enumerate() {
                        out.push((first_line + i as u64, line.to_owned()));
                    }
                }
                Piece::Oversized { line, size, .. } => out.push((*line, format!("<{size}>"))),
            }
        }
        out
    }

    #[test]
    fn lines_keep_their_numbers_however_the_bytes_arrive() {
        let data = b"a\nbb\n\nccc\ndddd\ne";
        let expected = vec![
            (0, "a".to_owned()),
            (1, "bb".to_owned()),
            (2, String::new()),
            (3, "ccc".to_owned()),
            (4, "dddd".to_owned()),
            (5, "e".to_owned()),
        ];
        for step in 1..data.len() + 1 {
            for piece in 1..8 {
                assert_eq!(
                    lines(&cut_all(data, step, piece, 100)),
                    expected,
                    "{step} {piece}"
                );
            }
        }
    }

    #[test]
    fn oversized_lines_are_reported_and_skipped() {
        let long = "x".repeat(5000);
        let data = format!("a\n{long}\nb\n");
        let pieces = cut_all(data.as_bytes(), 64, 16, 100);
        assert_eq!(
            lines(&pieces),
            vec![
                (0, "a".to_owned()),
                (1, "<5000>".to_owned()),
                (2, "b".to_owned())
            ]
        );
        let head = pieces.iter().find_map(|p| match p {
            Piece::Oversized { head, .. } => Some(head.len()),
            Piece::Lines { .. } => None,
        });
        assert_eq!(head, Some(OVERSIZED_HEAD_BYTES));
    }

    #[test]
    fn pieces_stay_near_their_size() {
        let data = "0123456789\n".repeat(1000);
        for piece in cut_all(data.as_bytes(), 333, 100, 1000) {
            if let Piece::Lines { bytes, .. } = piece {
                assert!(bytes.len() <= 100 + 11, "{}", bytes.len());
            }
        }
    }
}
