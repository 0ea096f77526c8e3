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

/// The cleaned pieces of `objects` of `table`, in arrival order. Reading starts when the stream
/// is first polled (on the Tokio runtime polling it) and stops at the first error, which is the
/// stream's last item, or when the stream is dropped. If the task that reads fails (a panic), the
/// stream ends with that failure rather than as if every object had been read.
pub fn cleaned(
    store: Arc<dyn ObjectStore>,
    table: Table,
    objects: Vec<RawObject>,
    limits: ReadLimits,
) -> impl Stream<Item = Result<Cleaned>> + Send + Unpin {
    let pieces = cleaning(store, table, objects, limits);
    futures::stream::once(async move {
        let (queue, queued) = tokio::sync::mpsc::channel(WORKERS);
        let reading = Reading(Some(tokio::spawn(forward(pieces, queue))));
        futures::stream::unfold((queued, reading), |(mut queued, mut reading)| async move {
            if let Some(piece) = queued.recv().await {
                return Some((piece, (queued, reading)));
            }
            // The queue closed: the reading task ended. Only a failed one has more to say.
            match reading.0.take()?.await {
                Ok(()) => None,
                Err(failed) => Some((Err(LakeError::from(failed)), (queued, reading))),
            }
        })
    })
    .flatten()
    .boxed()
}

/// The task reading and cleaning, stopped when the stream is dropped before it ended (a failed
/// run), rather than left to read one more piece for no one.
struct Reading(Option<tokio::task::JoinHandle<()>>);

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Hands `pieces` on to `queue` until they end, the first error has been passed on, or the
/// queue's reader is gone.
async fn forward(
    mut pieces: impl Stream<Item = Result<Cleaned>> + Unpin,
    queue: tokio::sync::mpsc::Sender<Result<Cleaned>>,
) {
    while let Some(piece) = pieces.next().await {
        let failed = piece.is_err();
        if queue.send(piece).await.is_err() || failed {
            break;
        }
    }
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
