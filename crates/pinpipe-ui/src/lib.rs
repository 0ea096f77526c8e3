//! The web UI of `pinpipe serve`: the pipeline at a glance, read from the state every pinpipe
//! process shares, so it shows the sink, the stream job and the batch runs of other processes too.
//!
//! ```text
//!  GET /, /app.js, /style.css   the page (assets/), open to all: it asks for a key on 403
//!  GET /api/overview            source, gateway (this process), topics + sink offsets, streams +
//!                               stream-job positions, raw objects, Delta tables, results
//!  GET /api/runs                the batch run history (scheduler.db), most recently run first
//!  GET /api/quarantine          quarantined records by table and reason, with examples
//!  GET /api/results             the nine analyses, as written under results/
//! ```
//!
//! The page polls the API every 3 s. What is costly to read (listings of the lake, Delta logs,
//! the source database) is [cached](cache) for a few seconds, so any number of open pages costs
//! the stores about one read per interval. The API needs an API key wherever the gateway does
//! ([`UiConfig::authorize`]).

mod api;
mod assets;
mod cache;
mod error;
mod overview;
mod quarantine;
mod results;
mod runs;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use pinpipe_bus::{EmbeddedBus, Streams, Topics};
use pinpipe_lake::{Lake, StreamOptions};

pub use error::UiError;

/// Whether a request's headers carry a key that may read (the gateway's producer keys).
pub type Authorize = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// Counts the posts of the source database, `None` when it cannot tell (no database yet). Runs on
/// a blocking thread.
pub type CountSource = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// Where the UI reads the pipeline's state from.
#[derive(Clone)]
pub struct UiConfig {
    /// The topics (embedded log or Kafka).
    pub topics: Arc<dyn Topics>,
    /// The streams (embedded log or Kinesis).
    pub streams: Arc<dyn Streams>,
    /// The embedded log when the topics live there: it tells the sink group's offsets.
    pub embedded_topics: Option<Arc<EmbeddedBus>>,
    /// The sink's consumer group.
    pub sink_group: String,
    /// The lake.
    pub lake: Lake,
    /// The folder of the batch job's tables (`tables`).
    pub tables_dir: String,
    /// The stream job's streams and tables.
    pub stream: StreamOptions,
    /// The run history of the scheduler (`<data_dir>/scheduler.db`); read only if it exists.
    pub history: PathBuf,
    /// The source database's URL, without its password.
    pub source_url: Option<String>,
    /// Counts the source's posts.
    pub count_source: Option<CountSource>,
    /// Who may read the API.
    pub authorize: Authorize,
}

/// The UI's routes (see the crate documentation), to merge into the gateway's router.
pub fn router(config: UiConfig) -> Router {
    assets::router().merge(api::router(config))
}
