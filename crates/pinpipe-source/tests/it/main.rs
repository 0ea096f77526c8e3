//! Integration tests of pinpipe-source, one binary (DESIGN: one test binary per crate).
//!
//! The `SourceDb` tests are a conformance suite ([`backend::conformance!`]): one body each, run on
//! SQLite, PostgreSQL and MySQL, comparing what the servers return with SQLite's answer.

mod backend;
mod distribution;
mod emulator;
mod import;
mod init;
mod rows;
mod servers;

use pinpipe_source::{Post, SourceDb, SourceError};

/// Every post of `db`, in key order.
pub fn all_posts(db: &SourceDb) -> Result<Vec<Post>, SourceError> {
    let mut posts = Vec::new();
    for key in db.keys()? {
        posts.extend(db.fetch(key)?);
    }
    Ok(posts)
}

/// A private in-memory SQLite database: the reference the other backends are compared with.
pub fn sqlite_reference() -> Result<SourceDb, SourceError> {
    SourceDb::open("sqlite::memory:")
}

/// Posts as the emulator sends them: JSON, to compare byte for byte.
pub fn json(posts: &[Post]) -> String {
    serde_json::to_string(posts).unwrap_or_default()
}

/// A local port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9)
}
