//! [`SourceError`]: everything that can go wrong in this crate, in categories a caller can act on.

use std::path::PathBuf;

/// This crate's result type.
pub type Result<T, E = SourceError> = std::result::Result<T, E>;

/// An error from the source database, the importer or the emulator.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database URL names no backend this build can open, or cannot be read.
    #[error("unsupported source database URL {url:?}: {reason}")]
    UnsupportedUrl {
        /// The URL, its password masked.
        url: String,
        /// Why it cannot be opened.
        reason: String,
    },

    /// A file or directory could not be read or created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A SQLite source database to read does not exist.
    #[error(
        "there is no source database at {}: create it with `pinpipe source init` (or `pinpipe \
         source import`)",
        path.display()
    )]
    Missing {
        /// The database file.
        path: PathBuf,
    },

    /// The database could not be opened.
    #[error("cannot open the source database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },

    /// The SQLite database failed.
    #[error("source database: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// The PostgreSQL or MySQL server cannot be reached, refuses the login, or the URL's options are
    /// wrong.
    #[error("cannot connect to the source database {url}: {source}")]
    Connect {
        /// The URL, its password masked.
        url: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },

    /// The PostgreSQL or MySQL server did not answer in time.
    #[error("cannot connect to the source database {url}: no answer within {seconds} s")]
    ConnectTimeout {
        /// The URL, its password masked.
        url: String,
        /// How long it waited.
        seconds: u64,
    },

    /// A statement on the PostgreSQL or MySQL server failed.
    #[error("source database {url}: {source}")]
    Server {
        /// The URL, its password masked.
        url: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },

    /// The thread that runs a server database's async work could not start or has stopped.
    #[error("source database worker thread: {0}")]
    Worker(String),

    /// A row in the database cannot be read as its table's row (e.g. a NULL where text belongs), or a
    /// row to write has a value its column cannot hold (a datetime that is not one).
    #[error("{table} row {key}: {message}")]
    BadRow {
        /// The table (`pinterest_data`, `geolocation_data`, `user_data`).
        table: &'static str,
        /// The row's key.
        key: i64,
        /// What is wrong.
        message: String,
    },

    /// A record in an import file cannot be read; `location` names the file and line (or record).
    #[error("{location}: {message}")]
    Import {
        /// `path:line` for JSON lines, `path: record N` for a JSON array.
        location: String,
        /// What is wrong, e.g. `missing "ind"`.
        message: String,
    },

    /// An import directory holds none of the files the importer reads.
    #[error(
        "{}: no pin.jsonl, geo.jsonl, user.jsonl or *_consumer.json here or in its subdirectories",
        .0.display()
    )]
    NothingToImport(PathBuf),

    /// The emulator has no posts to send: no key is present in all three tables.
    #[error(
        "the source database holds no posts (no key is in all three tables); run init or import first"
    )]
    EmptySource,

    /// A key chosen by the emulator is no longer in all three tables (rows deleted while it ran).
    #[error("key {0} is no longer in all three tables of the source database")]
    MissingKey(i64),

    /// An emulator setting is invalid.
    #[error("invalid emulator setting: {0}")]
    Config(String),

    /// Nothing listens at the gateway's address: checked before the first post is sent.
    #[error("cannot reach the gateway at {url}: {source} (is `pinpipe serve` running there?)")]
    GatewayUnreachable {
        /// The gateway's URL.
        url: String,
        /// Why the connection failed.
        source: reqwest::Error,
    },

    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),

    /// A background task of the emulator died.
    #[error("emulator task failed: {0}")]
    Task(String),
}

impl SourceError {
    /// An I/O error about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SourceError::Io {
            path: path.into(),
            source,
        }
    }
}
