//! Reading a table's raw objects as a stream of cleaned pieces, in arrival order.
//!
//! Objects are read one after the other as byte streams, cut into pieces of whole lines
//! ([`crate::raw::read_pieces`]); each piece is cleaned on a blocking thread, [`WORKERS`] pieces at
//! a time, and handed on in order through a queue of [`WORKERS`] pieces. A task of its own drives
//! the reading and cleaning, so both go on while the caller writes what came before: driven by
//! the caller's polls, they stopped whenever it wrote, and a 1M-post batch kept its two cores
//! busy half the time. At most `2 × WORKERS + 1` pieces are in memory at once.

use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use pinpipe_model::Table;

use crate::error::{LakeError, Result};
use crate::raw::{self, CleanedPiece, RawObject, ReadLimits};

/// Pieces cleaned at the same time (one per core of the target machine).
pub const WORKERS: usize = 2;

/// A cleaned piece of an object.
pub struct Cleaned {
    /// Its rows and rejects.
    pub cleaned: CleanedPiece,
    /// The object, with its size as read, when this was its last piece.
    pub finished: Option<RawObject>,
}

/// The cleaned pieces of `objects` of `table`, in arrival order. Reading stops at the first
/// error, which is the stream's last item, or when the stream is dropped.
pub fn cleaned(
    store: Arc<dyn ObjectStore>,
    table: Table,
    objects: Vec<RawObject>,
    limits: ReadLimits,
) -> impl Stream<Item = Result<Cleaned>> + Send + Unpin {
    let mut pieces = cleaning(store, table, objects, limits);
    let (queue, queued) = tokio::sync::mpsc::channel(WORKERS);
    tokio::spawn(async move {
        while let Some(piece) = pieces.next().await {
            let failed = piece.is_err();
            if queue.send(piece).await.is_err() || failed {
                break;
            }
        }
    });
    futures::stream::unfold(queued, |mut queued| async move {
        queued.recv().await.map(|piece| (piece, queued))
    })
    .boxed()
}

/// The pieces of `objects`, read and cleaned [`WORKERS`] at a time as they are polled.
fn cleaning(
    store: Arc<dyn ObjectStore>,
    table: Table,
    objects: Vec<RawObject>,
    limits: ReadLimits,
) -> impl Stream<Item = Result<Cleaned>> + Send + Unpin {
    futures::stream::iter(objects)
        .map(move |object| {
            let pieces = raw::read_pieces(Arc::clone(&store), &object, limits);
            pieces.map_ok(move |piece| (object.clone(), piece))
        })
        .flatten()
        .map_ok(move |(mut object, piece)| {
            let cleaning = tokio::task::spawn_blocking(move || {
                let cleaned = raw::clean_piece(
                    table,
                    &piece.piece,
                    &object.path,
                    object.start_offset,
                    limits.max_record_bytes,
                );
                let finished = piece.object_size.map(|size| {
                    object.size = size;
                    object
                });
                Cleaned { cleaned, finished }
            });
            async move { Ok::<_, LakeError>(cleaning.await?) }
        })
        .try_buffered(WORKERS)
        .boxed()
}
