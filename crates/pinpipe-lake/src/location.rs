//! [`Lake`]: where the lake lives, and the one place that derives object store access and Delta table
//! URIs from that location.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use url::Url;

use crate::error::{LakeError, Result};

/// The lake location used when none is configured (SPEC §7).
pub const DEFAULT_LOCATION: &str = "./pinpipe-data/lake";

/// An opened lake: a root location (local directory or object store URL) and the storage options
/// used for every access below it.
///
/// Everything under the root is addressed by a relative path (`raw/topics/…`, `tables/pin`,
/// `results/…`): [`Lake::store`] reads and writes objects by that path, [`Lake::table_uri`] turns it
/// into the URI delta-rs opens. Both come from the same root URL and storage options, so the raw
/// layout and the Delta tables can never point at different places.
#[derive(Clone)]
pub struct Lake {
    location: String,
    root: Url,
    storage_options: HashMap<String, String>,
    store: Arc<dyn ObjectStore>,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Storage options may hold secrets: show their keys only.
        let mut keys: Vec<&String> = self.storage_options.keys().collect();
        keys.sort();
        f.debug_struct("Lake")
            .field("location", &self.location)
            .field("root", &self.root.as_str())
            .field("storage_option_keys", &keys)
            .finish()
    }
}

impl Lake {
    /// Opens the lake at `location`: a local path (created if missing), a `file://` URL, or an object
    /// store URL such as `s3://bucket/prefix` (usable once delta-rs has a handler for its scheme).
    /// `storage_options` are passed to the object store and to delta-rs alike (e.g. `AWS_ENDPOINT_URL`).
    pub fn open(location: &str, storage_options: HashMap<String, String>) -> Result<Lake> {
        let root = root_url(location)?;
        let store = deltalake::logstore::store_for(&root, &storage_options).map_err(|e| {
            LakeError::Location {
                location: location.to_owned(),
                reason: match e {
                    DeltaTableError::InvalidTableLocation(_) => {
                        format!(
                            "no object store for scheme {:?} in this build",
                            root.scheme()
                        )
                    }
                    other => other.to_string(),
                },
            }
        })?;
        Ok(Lake {
            location: location.to_owned(),
            root,
            storage_options,
            store,
        })
    }

    /// The location as it was given to [`Lake::open`].
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The lake root as a URL ending in `/` (local lakes: an absolute `file://` URL).
    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// The storage options every access uses.
    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    /// An object store rooted at the lake root: `raw/topics/…` addresses the raw layout.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The URI delta-rs opens for the table at `path` below the root (e.g. `tables/pin`).
    pub fn table_uri(&self, path: &str) -> String {
        self.table_url(path)
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// [`Lake::table_uri`] as a URL, ending in `/` as delta-rs normalises table URLs.
    pub(crate) fn table_url(&self, path: &str) -> Url {
        let mut url = self.root.clone();
        {
            // `path_segments_mut` only fails for URLs that cannot be a base, which `root_url` rejects.
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty();
                segments.extend(path.split('/').filter(|s| !s.is_empty()));
                segments.push("");
            }
        }
        url
    }

    /// The Delta table at `path`, or `None` if no table has been created there yet.
    pub async fn open_table(&self, path: &str) -> Result<Option<DeltaTable>> {
        // delta-rs reports a missing local directory as a bad location, not as a missing table:
        // look for the log first.
        let log = ObjectPath::from(format!("{}/_delta_log", path.trim_matches('/')));
        if self
            .store
            .list(Some(&log))
            .next()
            .await
            .transpose()?
            .is_none()
        {
            return Ok(None);
        }
        let builder = DeltaTableBuilder::from_url(self.table_url(path))?
            .with_storage_options(self.storage_options.clone());
        match builder.load().await {
            Ok(table) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The Delta table at `path`, or [`LakeError::TableMissing`].
    pub async fn require_table(&self, path: &str) -> Result<DeltaTable> {
        self.open_table(path)
            .await?
            .ok_or_else(|| LakeError::TableMissing {
                path: path.to_owned(),
            })
    }
}

/// The root URL of `location`, with a trailing `/`. Local paths are created and made absolute.
fn root_url(location: &str) -> Result<Url> {
    let bad = |reason: String| LakeError::Location {
        location: location.to_owned(),
        reason,
    };
    if location.trim().is_empty() {
        return Err(bad("empty".into()));
    }
    let url = if location.contains("://") {
        let url = Url::parse(location).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| bad("not a local file path".into()))?;
            local_dir_url(location, &path)?
        } else {
            if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
                return Err(bad("expected scheme://bucket[/prefix]".into()));
            }
            url
        }
    } else {
        local_dir_url(location, std::path::Path::new(location))?
    };
    Ok(with_trailing_slash(url))
}

/// Creates the local directory `path` if missing and returns its absolute `file://` URL.
fn local_dir_url(location: &str, path: &std::path::Path) -> Result<Url> {
    std::fs::create_dir_all(path).map_err(|source| LakeError::Io {
        context: format!("creating lake directory {}", path.display()),
        source,
    })?;
    let absolute = std::fs::canonicalize(path).map_err(|source| LakeError::Io {
        context: format!("resolving lake directory {}", path.display()),
        source,
    })?;
    Url::from_directory_path(&absolute).map_err(|()| LakeError::Location {
        location: location.to_owned(),
        reason: format!("{} cannot be written as a file:// URL", absolute.display()),
    })
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}
