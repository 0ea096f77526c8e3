//! A local lake whose writes are on disk when they are reported done.
//!
//! object_store's `LocalFileSystem` writes a file and renames it into place, but never calls
//! `fsync`: after a power cut, an object the sink reported written (and committed its offsets
//! for) or a Delta commit file could be empty or missing. [`DurableLocalStore`] wraps it and,
//! after every write, copy or rename, syncs the file and the directory holding its name, before
//! answering. [`register`] makes delta-rs use it for every `file://` table too, so Delta commits
//! are as durable as raw objects.
//!
//! Object stores on S3 need none of this: a PUT that S3 acknowledged is durable.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use deltalake::logstore::{ObjectStoreFactory, ObjectStoreRef, StorageConfig};
use deltalake::{DeltaResult, DeltaTableError};
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};
use url::Url;

/// A [`LocalFileSystem`] that syncs what it writes (see the module documentation).
#[derive(Debug)]
pub struct DurableLocalStore {
    inner: Arc<LocalFileSystem>,
}

impl DurableLocalStore {
    /// Wraps `inner`.
    pub fn new(inner: LocalFileSystem) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Syncs the file at `location` and its directory.
    async fn sync(&self, location: &Path) -> object_store::Result<()> {
        let file = self.inner.path_to_filesystem(location)?;
        sync_file_and_dir(file).await
    }
}

/// Directories above a file that are synced after it: its own, and the two above, which hold
/// the names of folders the write may have created (`partition=<p>/` of a new topic's folder).
const SYNCED_DIRS: usize = 3;

/// Syncs `file`, then the directories holding its name and theirs (see [`SYNCED_DIRS`]).
async fn sync_file_and_dir(file: PathBuf) -> object_store::Result<()> {
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&file)?.sync_all()?;
        for dir in file.ancestors().skip(1).take(SYNCED_DIRS) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(|e| generic(std::io::Error::other(e)))?
    .map_err(generic)
}

fn generic(source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(source),
    }
}

impl fmt::Display for DurableLocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Durable({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for DurableLocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let put = self.inner.put_opts(location, payload, opts).await?;
        self.sync(location).await?;
        Ok(put)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(DurableUpload {
            upload,
            file: self.inner.path_to_filesystem(location)?,
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.sync(to).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.sync(to).await
    }
}

/// A multipart upload that syncs the file once it is complete.
#[derive(Debug)]
struct DurableUpload {
    upload: Box<dyn MultipartUpload>,
    file: PathBuf,
}

#[async_trait]
impl MultipartUpload for DurableUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let done = self.upload.complete().await?;
        sync_file_and_dir(self.file.clone()).await?;
        Ok(done)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.upload.abort().await
    }
}

/// delta-rs's object stores for `file://` tables: [`DurableLocalStore`].
#[derive(Debug, Default)]
struct DurableLocalFactory;

impl ObjectStoreFactory for DurableLocalFactory {
    fn parse_url_opts(
        &self,
        url: &Url,
        _config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let path = Path::from_url_path(url.path())
            .map_err(|e| DeltaTableError::InvalidTableLocation(format!("{url}: {e}")))?;
        Ok((
            Arc::new(DurableLocalStore::new(LocalFileSystem::new())),
            path,
        ))
    }
}

/// Makes delta-rs (and so every local lake) write `file://` locations through
/// [`DurableLocalStore`].
pub(crate) fn register() {
    if let Ok(scheme) = Url::parse("file://") {
        deltalake::logstore::object_store_factories().insert(scheme, Arc::new(DurableLocalFactory));
    }
}
