//! Property tests of the line chunker that cuts raw objects into pieces: however an object's bytes
//! arrive, every line comes out once, in order, with its own line number (the record's position in
//! the quarantine and the stream job's offsets depend on it), either verbatim or reported as
//! oversized with its exact size and first bytes, and no piece grows past its bound.

use bytes::Bytes;
use pinpipe_lake::chunks::{LineChunker, OVERSIZED_HEAD_BYTES, Piece};
use proptest::prelude::*;
use proptest::sample::Index;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // A failure prints its smallest input; no regression file is written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One line's content (no `\n`): mostly short, some around the limits, some far over them.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => any::<u8>().prop_filter("not a line break", |&b| b != b'\n'),
        1 => Just(b'\r'),
        1 => Just(0u8),
    ];
    let sizes = prop_oneof![
        6 => 0usize..12,
        3 => 0usize..320,
        1 => 300usize..3000,
    ];
    sizes.prop_flat_map(move |n| prop::collection::vec(byte.clone(), n))
}

/// An object: lines joined by `\n`, with or without a final `\n`.
fn object() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(line(), 0..24), any::<bool>()).prop_map(|(lines, final_newline)| {
        let mut data = lines.join(&b'\n');
        if final_newline && !lines.is_empty() {
            data.push(b'\n');
        }
        data
    })
}

/// The lines of `data` as the chunker numbers them: split at `\n`, the text after the last `\n`
/// a line only when it is not empty.
fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// What became of one line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Verbatim(Vec<u8>),
    Oversized { size: u64, head: Bytes },
}

/// The pieces of `data` pushed in the parts that `cuts` make, then finished; with which pieces
/// came from `finish`.
fn chunk(data: &[u8], cuts: &[Index], piece: usize, limit: usize) -> (Vec<Piece>, usize) {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    let mut chunker = LineChunker::new(piece, limit);
    let mut pieces = Vec::new();
    for part in at.windows(2) {
        pieces.extend(chunker.push(&data[part[0]..part[1]]));
    }
    let from_push = pieces.len();
    pieces.extend(chunker.finish());
    (pieces, from_push)
}

/// The pieces' lines, numbered, checking the shape of every piece on the way.
fn seen(
    pieces: &[Piece],
    from_push: usize,
    piece: usize,
    limit: usize,
) -> Result<Vec<(u64, Seen)>, TestCaseError> {
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Lines { first_line, bytes } => {
                prop_assert!(!bytes.is_empty(), "an empty Lines piece");
                // Whole lines: only the object's last piece may end without its `\n`.
                if !bytes.ends_with(b"\n") {
                    prop_assert!(
                        i >= from_push && i + 1 == pieces.len(),
                        "piece {i} cuts a line"
                    );
                }
                let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
                let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
                // Bounded: at most a piece's worth or one line over the limit, whichever is more,
                // and never more than a piece's worth plus its longest line.
                let longest = lines.iter().map(|l| l.len() + 1).max().unwrap_or(0);
                prop_assert!(
                    bytes.len() <= piece.max(limit + 1),
                    "a piece of {} bytes (piece size {piece}, line limit {limit})",
                    bytes.len()
                );
                prop_assert!(
                    bytes.len() < piece + longest,
                    "a piece of {} bytes whose longest line has {longest} (piece size {piece})",
                    bytes.len()
                );
                for (k, line) in lines.into_iter().enumerate() {
                    out.push((first_line + k as u64, Seen::Verbatim(line.to_vec())));
                }
            }
            Piece::Oversized { line, size, head } => out.push((
                *line,
                Seen::Oversized {
                    size: *size,
                    head: head.clone(),
                },
            )),
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_line_comes_out_once_in_order_with_its_number(
        data in object(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
        (piece, limit) in prop_oneof![
            3 => (1usize..200, 1usize..300),
            1 => (OVERSIZED_HEAD_BYTES..OVERSIZED_HEAD_BYTES + 400, 1usize..1500),
        ],
    ) {
        let expected = lines_of(&data);
        let (pieces, from_push) = chunk(&data, &cuts, piece, limit);
        let seen = seen(&pieces, from_push, piece, limit)?;
        prop_assert_eq!(seen.len(), expected.len(), "lines out vs lines in");
        for (n, ((number, what), line)) in seen.iter().zip(&expected).enumerate() {
            prop_assert_eq!(*number, n as u64, "line {} numbered {}", n, number);
            match what {
                Seen::Verbatim(bytes) => {
                    prop_assert_eq!(bytes.as_slice(), *line, "line {} changed", n);
                    // Kept whole only if it is within the limit or shorter than a piece.
                    prop_assert!(
                        line.len() <= limit || line.len() < piece,
                        "line {} of {} bytes kept (piece size {}, line limit {})",
                        n, line.len(), piece, limit
                    );
                }
                Seen::Oversized { size, head } => {
                    prop_assert_eq!(*size, line.len() as u64, "size of oversized line {}", n);
                    prop_assert!(line.len() > limit, "line {} of {} bytes is within the limit {}", n, line.len(), limit);
                    prop_assert!(line.starts_with(head), "head of line {} is not its start", n);
                    prop_assert!(head.len() <= OVERSIZED_HEAD_BYTES);
                    let documented = line.len().min(OVERSIZED_HEAD_BYTES);
                    if piece.max(limit + 1) >= OVERSIZED_HEAD_BYTES {
                        // As documented: its first OVERSIZED_HEAD_BYTES bytes (or all of it).
                        prop_assert_eq!(head.len(), documented, "head of line {}", n);
                    } else {
                        // Below that, only what the chunker held when it gave up on the line:
                        // a piece's worth or the limit, whichever is more (see the report).
                        prop_assert!(head.len() >= documented.min(piece.max(limit + 1)), "head of line {}", n);
                    }
                }
            }
        }
    }

    /// How the bytes arrive changes nothing: cut anywhere, the lines come out the same as when
    /// the object is pushed in one go.
    #[test]
    fn lines_do_not_depend_on_how_the_bytes_arrive(
        data in object(),
        cuts in prop::collection::vec(any::<Index>(), 1..12),
        piece in 1usize..200,
        limit in 1usize..300,
    ) {
        let (whole, from_push) = chunk(&data, &[], piece, limit);
        let whole = seen(&whole, from_push, piece, limit)?;
        let (cut, from_push) = chunk(&data, &cuts, piece, limit);
        let cut = seen(&cut, from_push, piece, limit)?;
        prop_assert_eq!(whole, cut);
    }
}
