//! Reading a table's raw objects as a stream of cleaned pieces, in arrival order.
//!
//! Objects are read one after the other as byte streams, cut into pieces of whole lines
//! ([`crate::raw::read_pieces`]); each piece is cleaned on a blocking thread, [`WORKERS`] pieces at
//! a time, and handed on in order. So at most `WORKERS + 1` pieces are in memory at once, and both
//! cores clean while the caller writes what came before.

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

/// The cleaned pieces of `objects` of `table`, in arrival order.
pub fn cleaned(
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
