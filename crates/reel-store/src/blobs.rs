//! The blob store: zstd-compressed JSONL blocks under stable keys.
//!
//! Local folders go through `object_store`'s file system store; after each put the file and its
//! folder are fsynced, so an acknowledged block survives a crash of the machine, not only of the
//! process. S3 puts are durable when they return.
use crate::{Error, Result};
use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Root folder for local stores (for fsync), `None` for S3.
    local_root: Option<PathBuf>,
    prefix: String,
    /// Human description (`local:/data/blobs`, `s3://bucket/prefix`).
    pub describe: String,
}

impl Blobs {
    /// `PATH`, `file://PATH` or `s3://bucket[/prefix]` (endpoint, region and credentials from
    /// the usual `AWS_*` variables; `AWS_ENDPOINT_URL` for S3-compatible servers).
    pub fn open(url: &str) -> Result<Blobs> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!(
                    "{url}: no bucket name (use s3://bucket/prefix)"
                )));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Ok(ep) =
                std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"))
            {
                b = b
                    .with_endpoint(&ep)
                    .with_allow_http(ep.starts_with("http://"));
                if std::env::var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST").is_err() {
                    b = b.with_virtual_hosted_style_request(false);
                }
            }
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err()
            {
                b = b.with_region("us-east-1");
            }
            let store = b
                .build()
                .map_err(|e| Error::Config(format!("{url}: {e}")))?;
            return Ok(Blobs {
                store: Arc::new(store),
                local_root: None,
                prefix: prefix.trim_matches('/').to_string(),
                describe: url.to_string(),
            });
        }
        let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        std::fs::create_dir_all(&path).map_err(|e| {
            Error::Config(format!(
                "{}: cannot create the blob folder: {e}",
                path.display()
            ))
        })?;
        let path = path.canonicalize()?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(Blobs {
            store: Arc::new(store),
            local_root: Some(path.clone()),
            prefix: String::new(),
            describe: format!("local:{}", path.display()),
        })
    }

    fn full(&self, key: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Store `bytes` at `key` durably (see the module docs).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.full(key);
        self.store
            .put(&path, PutPayload::from(Bytes::from(bytes)))
            .await?;
        self.sync_local(key).await
    }

    /// fsync a local file and its folder (a no-op for S3).
    async fn sync_local(&self, key: &str) -> Result<()> {
        if let Some(root) = &self.local_root {
            let file = root.join(key);
            let dir = file.parent().map(|p| p.to_path_buf());
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&file)?.sync_all()?;
                if let Some(d) = dir {
                    std::fs::File::open(d)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| Error::Config(e.to_string()))??;
        }
        Ok(())
    }

    /// Store the file's contents at `key` durably without reading it whole into memory
    /// (a multipart upload in parts of 8 MB when it is larger than that).
    pub async fn put_file(&self, key: &str, file: std::fs::File) -> Result<()> {
        use std::io::{Read, Seek};
        const PART: usize = 8 << 20;
        let mut file = file;
        file.rewind()?;
        let len = file.metadata()?.len();
        if len as usize <= PART {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf)?;
            return self.put(key, buf).await;
        }
        let upload = self.store.put_multipart(&self.full(key)).await?;
        let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
        let mut file = std::io::BufReader::with_capacity(1 << 20, file);
        loop {
            w.wait_for_capacity(2).await?;
            let mut buf = vec![0u8; PART];
            let mut n = 0;
            while n < PART {
                let k = file.read(&mut buf[n..])?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            if n == 0 {
                break;
            }
            buf.truncate(n);
            w.put(Bytes::from(buf));
        }
        w.finish().await?;
        self.sync_local(key).await
    }

    /// Fetch `key` into an anonymous temporary file (for blocks too large to hold in memory).
    pub async fn get_to_file(&self, key: &str) -> Result<std::fs::File> {
        use futures::StreamExt;
        use std::io::{Seek, Write};
        let mut stream = self.store.get(&self.full(key)).await?.into_stream();
        let mut file = std::io::BufWriter::new(tempfile::tempfile()?);
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?)?;
        }
        let mut file = file.into_inner().map_err(|e| Error::Io(e.into_error()))?;
        file.rewind()?;
        Ok(file)
    }

    pub async fn get(&self, key: &str) -> Result<Bytes> {
        Ok(self.store.get(&self.full(key)).await?.bytes().await?)
    }

    /// Like [`Blobs::get`], but an object larger than `cap` bytes is refused before it is read.
    pub async fn get_capped(&self, key: &str, cap: u64) -> Result<Bytes> {
        let r = self.store.get(&self.full(key)).await?;
        if r.meta.size > cap {
            return Err(Error::Config(format!(
                "{key}: {} bytes, more than the {cap} expected of it",
                r.meta.size
            )));
        }
        Ok(r.bytes().await?)
    }

    /// Whether an object is stored at `key`.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&self.full(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.full(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The keys of every object under `prefix` (relative to the store's own prefix).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let full = self.full(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&full)).try_collect().await?;
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        Ok(metas
            .into_iter()
            .map(|m| {
                m.location
                    .as_ref()
                    .get(skip..)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect())
    }

    /// Delete every object under `prefix` (a folder-like key ending in `/`) and, in a local
    /// folder, the folders left empty under it and the prefix's own folder.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        use futures::TryStreamExt;
        let full = self.full(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&full)).try_collect().await?;
        for m in metas {
            match self.store.delete(&m.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(root) = &self.local_root {
            let dir = root.join(prefix.trim_end_matches('/'));
            tokio::task::spawn_blocking(move || remove_empty_dirs(&dir))
                .await
                .map_err(|e| Error::Config(e.to_string()))?;
        }
        Ok(())
    }
}

/// Remove `dir` and the folders under it, bottom-up, as far as they are empty (a folder a
/// concurrent writer has just put a file in stays).
fn remove_empty_dirs(dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_empty_dirs(&e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}
