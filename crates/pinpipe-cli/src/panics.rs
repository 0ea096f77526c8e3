//! Panics that a library catches itself are not printed as if pinpipe had crashed.
//!
//! delta-rs gives up a failed multipart upload of a data file (on a full disk, say) with
//! object_store's `BufWriter::abort`, which panics by design when the upload failed while being
//! finished (`Already shut down`, in object_store's `buffered.rs`). delta-rs catches that panic
//! and returns the write's own error, which pinpipe reports ("the disk is full; free some space
//! and run it again"). Rust's default hook would still print the caught panic, with a backtrace
//! when `RUST_BACKTRACE` is set, above that message. The hook installed here logs that one panic
//! at debug and hands every other to the default hook. It can go once object_store or delta-rs
//! no longer panic there.

/// Installs the hook (see the module documentation).
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let file = info.location().map_or("", |location| location.file());
        if caught_by_the_library(message, file) {
            tracing::debug!(
                message,
                file,
                "a library panicked and caught the panic itself"
            );
            return;
        }
        default(info);
    }));
}

/// Whether a panic with `message` at `file` is the one delta-rs catches (module documentation).
fn caught_by_the_library(message: Option<&str>, file: &str) -> bool {
    message == Some("Already shut down")
        && file.contains("object_store")
        && file.ends_with("buffered.rs")
}

#[cfg(test)]
mod tests {
    use super::caught_by_the_library;

    #[test]
    fn only_the_caught_abort_is_kept_quiet() {
        let buffered = "/root/.cargo/registry/src/index/object_store-0.13.2/src/buffered.rs";
        assert!(caught_by_the_library(Some("Already shut down"), buffered));
        assert!(!caught_by_the_library(
            Some("index out of bounds"),
            buffered
        ));
        assert!(!caught_by_the_library(
            Some("Already shut down"),
            "crates/pinpipe-lake/src/sink.rs"
        ));
        assert!(!caught_by_the_library(None, buffered));
    }
}
