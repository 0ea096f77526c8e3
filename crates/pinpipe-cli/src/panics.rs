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
        let (file, line) = info
            .location()
            .map_or(("", 0), |location| (location.file(), location.line()));
        if caught_by_the_library(message, file, line) {
            tracing::debug!(
                message,
                file,
                line,
                "a library panicked and caught the panic itself"
            );
            return;
        }
        default(info);
    }));
}

/// Whether a panic with `message` at `file`:`line` is the one delta-rs catches (module
/// documentation): `BufWriter::abort`'s, in object_store 0.13.2. Its other panics of the same
/// text are not caught by delta-rs, and a new object_store moves the line: those print.
fn caught_by_the_library(message: Option<&str>, file: &str, line: u32) -> bool {
    message == Some("Already shut down")
        && file.contains("object_store-0.13.2")
        && file.ends_with("buffered.rs")
        && line == 369
}

#[cfg(test)]
mod tests {
    use super::caught_by_the_library;

    #[test]
    fn only_the_caught_abort_is_kept_quiet() {
        let buffered = "/root/.cargo/registry/src/index/object_store-0.13.2/src/buffered.rs";
        let shut = Some("Already shut down");
        assert!(caught_by_the_library(shut, buffered, 369));
        // The same text from a write after shutdown, which nothing catches.
        assert!(!caught_by_the_library(shut, buffered, 322));
        assert!(!caught_by_the_library(
            Some("index out of bounds"),
            buffered,
            369
        ));
        assert!(!caught_by_the_library(
            shut,
            "crates/pinpipe-lake/src/sink.rs",
            369
        ));
        let newer = "/root/.cargo/registry/src/index/object_store-0.14.0/src/buffered.rs";
        assert!(!caught_by_the_library(shut, newer, 369));
        assert!(!caught_by_the_library(None, buffered, 369));
    }
}
