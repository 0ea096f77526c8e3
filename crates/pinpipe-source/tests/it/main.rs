//! Integration tests of pinpipe-source, one binary (DESIGN: one test binary per crate).

mod distribution;
mod emulator;
mod import;
mod init;

use pinpipe_source::{SourceDb, SourceError};

/// A fresh database file in a temporary directory (kept alive by the returned guard).
pub fn temp_db(name: &str) -> Result<(tempfile::TempDir, SourceDb), SourceError> {
    let dir = tempfile::tempdir().map_err(|e| SourceError::Io {
        path: "tempdir".into(),
        source: e,
    })?;
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested").join(name).display()
    );
    let db = SourceDb::open(&url)?;
    Ok((dir, db))
}
