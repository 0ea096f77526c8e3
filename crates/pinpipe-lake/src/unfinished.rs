//! The unfinished uploads a killed process leaves on a local lake, and their removal by
//! `pinpipe lake vacuum`.
//!
//! object_store writes an object on a local file system to `<name>#<n>` beside it, then moves it
//! into place (a rename, or a hard link where it must not replace an object). A process killed
//! in between (the sink in the middle of an object, a batch run in the middle of a data file)
//! leaves that file behind. Nothing reads it, and no listing through object_store shows it, so
//! the vacuum of a table never finds it: without this module it would stay for good. Only the
//! folders pinpipe writes are looked at ([`FOLDERS`]), whatever tables a vacuum covers. An S3
//! lake has none (a multipart upload left unfinished is for S3's own lifecycle rules).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::analyses::RESULTS_DIR;
use crate::delta::QUARANTINE_PATH;
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::query::{BATCH_TABLES_DIR, STREAM_TABLES_DIR};
use crate::raw::RAW_ROOT;

/// The folders of a lake that pinpipe writes objects into: the raw layout, the three sets of
/// tables (the quarantine is one), the results, and the batch job's manifest (`_pinpipe`).
pub const FOLDERS: [&str; 6] = [
    RAW_ROOT,
    BATCH_TABLES_DIR,
    STREAM_TABLES_DIR,
    QUARANTINE_PATH,
    RESULTS_DIR,
    "_pinpipe",
];

/// The youngest an unfinished upload is deleted at, whatever the retention: a write in progress
/// on a slow disk is not touched.
pub const MIN_AGE: Duration = Duration::from_secs(3600);

/// The unfinished uploads found older than the retention.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// Their paths inside the lake.
    pub files: Vec<String>,
    /// Their size in all.
    pub bytes: u64,
}

/// Deletes (with `dry_run`: lists) the unfinished uploads in the [`FOLDERS`] of a local lake
/// that were last written more than `older_than` (at least [`MIN_AGE`]) ago: a write still going
/// on keeps its file fresh, and one stalled that long lost its claim anyway (the sink's
/// partition lease is seconds long).
pub async fn remove_unfinished(
    lake: &Lake,
    older_than: Duration,
    dry_run: bool,
) -> Result<Unfinished> {
    let Ok(root) = lake.root_url().to_file_path() else {
        return Ok(Unfinished::default());
    };
    let older_than = older_than.max(MIN_AGE);
    let found =
        tokio::task::spawn_blocking(move || remove_below(&root, older_than, dry_run)).await??;
    pinpipe_telemetry::lake::UnfinishedUploadsDeleted {
        files: found.files.len() as u64,
        bytes: found.bytes,
        dry_run,
    }
    .emit();
    Ok(found)
}

/// [`remove_unfinished`] below `root`, on a thread that may block.
fn remove_below(root: &Path, older_than: Duration, dry_run: bool) -> Result<Unfinished> {
    let mut found = Unfinished::default();
    let now = SystemTime::now();
    let folders = FOLDERS.iter().map(|folder| root.join(folder));
    for path in folders.flat_map(|folder| unfinished_files(&folder)) {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let age = metadata
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .unwrap_or_default();
        if age <= older_than {
            continue;
        }
        if !dry_run {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                // Finished or removed meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(LakeError::Io {
                        context: format!("deleting the unfinished upload {}", path.display()),
                        source,
                    });
                }
            }
        }
        found.bytes += metadata.len();
        let inside = path.strip_prefix(root).unwrap_or(&path);
        found.files.push(inside.display().to_string());
    }
    found.files.sort();
    Ok(found)
}

/// Every file below `dir` named as an unfinished upload ([`is_unfinished`]). A folder that
/// cannot be read is skipped with a warning: it holds nothing pinpipe wrote.
fn unfinished_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                tracing::warn!(folder = %dir.display(), %error, "cannot look for unfinished uploads");
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && is_unfinished(&entry.file_name().to_string_lossy()) {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Whether a file name is object_store's for an upload in progress: `<name>#<digits>`, split at
/// the first `#` as object_store splits it (`a#b#1` is an object it lists).
fn is_unfinished(name: &str) -> bool {
    name.split_once('#').is_some_and(|(object, suffix)| {
        !object.is_empty() && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_unfinished;

    #[test]
    fn unfinished_uploads_are_named_with_a_number_after_a_hash() {
        assert!(is_unfinished("pinpipe.pin+0+0000000000.json#3"));
        assert!(is_unfinished("part-00001.parquet#12"));
        assert!(!is_unfinished("pinpipe.pin+0+0000000000.json"));
        assert!(!is_unfinished("notes#draft"));
        assert!(!is_unfinished("#3"));
        assert!(!is_unfinished("trailing#"));
        assert!(!is_unfinished("a#b#1"));
    }
}
