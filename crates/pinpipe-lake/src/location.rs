//! [`Lake`]: where the lake lives, and the one place that derives object store access and Delta table
//! URIs from that location.
//!
//! # Object stores
//!
//! A lake is a local directory (or `file://` URL) or an S3 location, `s3://bucket/prefix` (or
//! `s3a://`), on AWS or any S3-compatible server (SeaweedFS, MinIO, R2, …). [`Lake::open`] registers
//! delta-rs's S3 handlers itself, so a caller needs nothing else. The raw objects, the batch
//! manifest, the results and the report ([`Lake::store`]) and the Delta tables (delta-rs, through
//! [`Lake::table_uri`] and [`Lake::storage_options`]) are reached through the same handler with the
//! same options, so they always agree on endpoint, region and credentials.
//!
//! S3 settings are the standard ones, from the storage options or else from the environment, with
//! the same names: `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_ENDPOINT_URL` (an S3-compatible server), `AWS_ALLOW_HTTP=true` (a plain-HTTP endpoint),
//! and every other key delta-rs and object_store accept. Without `AWS_ENDPOINT_URL`, credentials
//! come from the AWS SDK's usual chain (profile, SSO, web identity, …).
//!
//! A local lake goes through [`crate::durable`]: every object and Delta commit is on disk (file
//! and directory synced) before it is reported written.
//!
//! # Concurrent writers on S3: conditional put
//!
//! A Delta commit is the creation of `_delta_log/<version>.json`; two writers are safe together
//! only if creating that object fails when it already exists. delta-rs 1.x does that on S3 with
//! a conditional put (`PUT` with `If-None-Match: *`), which AWS S3 (since August 2024), SeaweedFS,
//! MinIO and R2 support: the writer that loses gets a commit conflict, reloads the table and
//! tries again (see [`crate::delta`]). So [`Lake::open`] pins `AWS_CONDITIONAL_PUT=etag` for S3
//! unless it is configured, and refuses `AWS_CONDITIONAL_PUT=disabled`, with which no commit could
//! be made safely. It never sets `AWS_S3_ALLOW_UNSAFE_RENAME`. A DynamoDB locking provider
//! (`AWS_S3_LOCKING_PROVIDER=dynamodb`) is passed on as given, but delta-rs 1.x no longer uses it
//! (it commits with conditional put regardless): a warning says so, since writers of the same
//! tables that rely on the DynamoDB lock instead do not coordinate with pinpipe.
//!
//! # Reachability
//!
//! [`Lake::open`] does no I/O on an object store. [`Lake::check`] lists the lake root once, with
//! few retries, and turns a failure into an error naming the location: [`LakeError::Location`]
//! for a missing bucket or refused credentials, [`LakeError::Unavailable`] (retryable) for an
//! endpoint that does not answer. [`Lake::open_table`] checks before its first access, so every
//! job that reads or writes a Delta table does, and the batch job checks before anything else.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Once};

use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use pinpipe_bus::with_causes;
use tokio::sync::OnceCell;
use url::Url;

use crate::error::{LakeError, Result};

/// The lake location used when none is configured (SPEC §7).
pub const DEFAULT_LOCATION: &str = "./pinpipe-data/lake";

/// The S3 storage option that makes Delta commits safe beside other writers (see the module
/// documentation); object_store also reads it from the environment.
pub const CONDITIONAL_PUT: &str = "AWS_CONDITIONAL_PUT";

/// Storage options [`Lake::check`] adds to its own probe, so that an endpoint that does not
/// answer is reported in seconds rather than after the minutes of object_store's default retries.
const PROBE_RETRIES: [(&str, &str); 2] = [("max_retries", "1"), ("retry_timeout", "10s")];

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
    checked: Arc<OnceCell<()>>,
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
    /// Opens the lake at `location`: a local path (created if missing), a `file://` URL, or
    /// `s3://bucket/prefix` (`s3a://` too). `storage_options` are passed to the object store and to
    /// delta-rs alike (e.g. `AWS_ENDPOINT_URL`); for S3, `AWS_CONDITIONAL_PUT=etag` is added unless
    /// configured (see the module documentation). No request is made: see [`Lake::check`].
    pub fn open(location: &str, storage_options: HashMap<String, String>) -> Result<Lake> {
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            deltalake::aws::register_handlers(None);
            crate::durable::register();
        });
        let bad = |reason: String| LakeError::Location {
            location: location.to_owned(),
            reason,
        };
        let root = root_url(location)?;
        let mut storage_options = storage_options;
        if is_s3(&root) {
            s3_defaults(&mut storage_options).map_err(bad)?;
        }
        let store = store_for(&root, &storage_options).map_err(bad)?;
        Ok(Lake {
            location: location.to_owned(),
            root,
            storage_options,
            store,
            checked: Arc::new(OnceCell::new()),
        })
    }

    /// Checks that the lake's storage answers, once per opened lake (clones share the answer; a
    /// failure is checked again next time): one listing of the root, retried at most once.
    ///
    /// A missing bucket or refused credentials are [`LakeError::Location`]; an endpoint that does
    /// not answer (or any other failure) is [`LakeError::Unavailable`], which is retryable. Both
    /// name the location.
    pub async fn check(&self) -> Result<()> {
        self.checked
            .get_or_try_init(|| async {
                let mut options = self.storage_options.clone();
                for (key, value) in PROBE_RETRIES {
                    options
                        .entry(key.to_owned())
                        .or_insert_with(|| value.to_owned());
                }
                let probe =
                    store_for(&self.root, &options).map_err(|reason| LakeError::Location {
                        location: self.location.clone(),
                        reason,
                    })?;
                match probe.list_with_delimiter(None).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.unreachable(&e)),
                }
            })
            .await?;
        Ok(())
    }

    /// What a failed listing of the root says about the location.
    fn unreachable(&self, error: &object_store::Error) -> LakeError {
        let location = self.location.clone();
        let text = with_causes(error);
        // S3 error codes, in the response body that object_store quotes.
        let refused = [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        ];
        if text.contains("NoSuchBucket") {
            let bucket = self.root.host_str().unwrap_or_default();
            LakeError::Location {
                location,
                reason: format!("bucket {bucket:?} does not exist"),
            }
        } else if matches!(
            error,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || refused.iter().any(|code| text.contains(code))
        {
            LakeError::Location {
                location,
                reason: format!("access refused, check the credentials: {text}"),
            }
        } else {
            LakeError::Unavailable {
                location,
                reason: text,
            }
        }
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

    /// The storage options another process needs to reach this lake as this one does (a
    /// cluster's executors): the configured ones and, for S3, the standard `AWS_*` variables of
    /// this process's environment that are not configured — what object_store reads from the
    /// environment here. Paths to local files (`AWS_PROFILE`, `AWS_CONFIG_FILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE`, `AWS_WEB_IDENTITY_TOKEN_FILE`) are left out: they mean
    /// nothing elsewhere, so credentials the AWS SDK only finds through them must be configured.
    pub fn portable_storage_options(&self) -> HashMap<String, String> {
        const LOCAL: [&str; 4] = [
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ];
        let mut options = self.storage_options.clone();
        if is_s3(&self.root) {
            for (key, value) in std::env::vars() {
                let Some(short) = key.strip_prefix("AWS_") else {
                    continue;
                };
                let configured = options
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case(&key) || k.eq_ignore_ascii_case(short));
                if !LOCAL.contains(&key.as_str()) && !configured {
                    options.insert(key, value);
                }
            }
        }
        options
    }

    /// An object store rooted at the lake root: `raw/topics/…` addresses the raw layout.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// For a lake on an object store (S3): the URL of its bucket (`s3://bucket/`) and a store
    /// rooted there, with the lake's storage options — what an engine that addresses files by
    /// full URL (DataFusion's object store registry) needs. `None` for a local lake.
    pub fn bucket_store(&self) -> Result<Option<(Url, Arc<dyn ObjectStore>)>> {
        if self.root.scheme() == "file" {
            return Ok(None);
        }
        let mut bucket = self.root.clone();
        bucket.set_path("/");
        let store =
            store_for(&bucket, &self.storage_options).map_err(|reason| LakeError::Location {
                location: self.location.clone(),
                reason,
            })?;
        Ok(Some((bucket, store)))
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

    /// Creates the directory of the table at `path` on a local lake, naming it if that fails:
    /// delta-rs would create it too, but its error for a read-only or full disk is a debug dump.
    /// Nothing on S3, which has no directories.
    pub(crate) fn create_local_dir(&self, path: &str) -> Result<()> {
        let Ok(root) = self.root.to_file_path() else {
            return Ok(());
        };
        let dir = root.join(path.trim_matches('/'));
        std::fs::create_dir_all(&dir).map_err(|source| LakeError::Io {
            context: format!("creating the Delta table directory {}", dir.display()),
            source,
        })
    }

    /// The Delta table at `path`, or `None` if no table has been created there yet. The first
    /// call [checks](Lake::check) the lake's storage.
    pub async fn open_table(&self, path: &str) -> Result<Option<DeltaTable>> {
        self.check().await?;
        // delta-rs reports a missing local directory as a bad location, not as a missing table,
        // and an S3 prefix holds no directory at all: look for the log first.
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
            Err(source) => Err(LakeError::TableUnreadable {
                path: path.to_owned(),
                source: Box::new(source),
            }),
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

/// Whether `root` is an S3 location.
fn is_s3(root: &Url) -> bool {
    matches!(root.scheme(), "s3" | "s3a")
}

/// delta-rs's object store for `root`, or why there is none.
fn store_for(
    root: &Url,
    options: &HashMap<String, String>,
) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    deltalake::logstore::store_for(root, options).map_err(|e| match e {
        DeltaTableError::InvalidTableLocation(_) => {
            format!(
                "no object store for scheme {:?} in this build",
                root.scheme()
            )
        }
        other => other.to_string(),
    })
}

/// The value of S3 setting `name` (e.g. `AWS_CONDITIONAL_PUT`) as object_store sees it: the
/// storage option of that name in any case, or with its `AWS_` dropped, else the environment.
fn s3_setting(options: &HashMap<String, String>, name: &str) -> Option<String> {
    let short = name.strip_prefix("AWS_").unwrap_or(name);
    options
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name) || key.eq_ignore_ascii_case(short))
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var(name).ok())
}

/// Adds the S3 defaults of the module documentation to `options`, or says why they cannot hold.
fn s3_defaults(options: &mut HashMap<String, String>) -> std::result::Result<(), String> {
    match s3_setting(options, CONDITIONAL_PUT) {
        None => {
            options.insert(CONDITIONAL_PUT.to_owned(), "etag".to_owned());
        }
        Some(value) if value.trim() == "disabled" => {
            return Err(format!(
                "{CONDITIONAL_PUT}=disabled: Delta commits on S3 need conditional put to be safe \
                 beside other writers; remove the setting (or set it to \"etag\")"
            ));
        }
        Some(_) => {}
    }
    if let Some(provider) = s3_setting(options, "AWS_S3_LOCKING_PROVIDER") {
        tracing::warn!(
            %provider,
            "AWS_S3_LOCKING_PROVIDER is set, but delta-rs 1.x no longer uses a locking provider: \
             commits use conditional put, and writers relying on the lock do not coordinate with pinpipe"
        );
    }
    Ok(())
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
            // delta-rs would pick a store for some other schemes (http, ftp) and panic on them.
            if !is_s3(&url) {
                return Err(bad(format!(
                    "scheme {:?} is not supported: the lake is a local directory, a file:// URL \
                     or s3://bucket[/prefix]",
                    url.scheme()
                )));
            }
            if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
                return Err(bad("expected s3://bucket[/prefix]".into()));
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
