//! An S3-compatible bucket as a place to keep files: the static tree
//! (`[export] target = "s3://…"`, `index-spec/export.md` §5.3).
//!
//! [`Bucket`] is a small blocking facade over Apache Arrow's `object_store`
//! (SigV4, retries, timeouts). The registry's writers run on blocking
//! threads, so each call is handed to a runtime the bucket owns and waited
//! for on a channel: that works from any thread, inside a Tokio runtime or
//! not. A `PUT` that S3 answers `200` is durable, and a reader sees the old
//! object or the new one, never a part: the property `fsutil`'s
//! temp-fsync-rename gives a file.
//!
//! Objects read back are bounded by the caller's limit before their bytes
//! are read (the size a listing or `HEAD` declares is checked, and the
//! stream is cut at the limit whatever it declared).

mod url;

pub use url::BucketUrl;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutOptions, PutPayload, RetryConfig,
};

/// How a bucket is reached: `[s3]` in the config file. Empty fields fall
/// back to the standard AWS environment variables (`AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// The S3 endpoint, `http(s)://host:port` (empty: AWS, or `AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// The region to sign for (empty: `AWS_REGION`, else `us-east-1`).
    pub region: String,
    /// The access key id (empty: `AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// The secret key (empty: `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
}

/// What went wrong with a bucket, with the object's key.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The store could not be set up from the configuration.
    #[error("cannot use bucket {url}: {}; check [s3] endpoint, region and credentials (or AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", chain(source.as_ref()))]
    Setup {
        /// The bucket's URL.
        url: String,
        /// What object_store said.
        source: Box<object_store::Error>,
    },
    /// A request about one object failed (after object_store's retries).
    #[error("bucket {bucket}: {op} {key}: {}", chain(source.as_ref()))]
    Request {
        /// The bucket's name.
        bucket: String,
        /// `PUT`, `GET`, `HEAD`, `DELETE` or `LIST`.
        op: &'static str,
        /// The object's key (or the listed prefix).
        key: String,
        /// What object_store said.
        source: Box<object_store::Error>,
    },
    /// An object is larger than the caller allows.
    #[error("bucket {bucket}: object {key} is over {limit} bytes; refusing to read it")]
    TooLarge {
        /// The bucket's name.
        bucket: String,
        /// The object's key.
        key: String,
        /// The caller's limit.
        limit: u64,
    },
    /// A listing holds more objects than the caller allows.
    #[error(
        "bucket {bucket}: over {limit} objects below {prefix:?}; give the tree a prefix of its own"
    )]
    TooMany {
        /// The bucket's name.
        bucket: String,
        /// The listed prefix.
        prefix: String,
        /// The caller's limit.
        limit: usize,
    },
    /// The bucket's runtime is gone (the process is shutting down).
    #[error("the bucket client's runtime stopped")]
    Stopped,
}

/// An error and its causes, `: `-separated: object_store's own message
/// often ends where the cause (a refused connection, a TLS failure) begins.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
}

impl From<BucketError> for std::io::Error {
    fn from(e: BucketError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

/// One object as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its key below the bucket URL's prefix.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, quotes removed (S3 and Garage: the MD5 of a single-part upload).
    pub etag: Option<String>,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The objects, keyed by key.
    pub objects: HashMap<String, Listed>,
    /// Set when the listing stopped at a key that is no object path (`a//b`,
    /// `a/../b`, written by another client): `objects` then holds what came
    /// before it, and the message names the key.
    pub cut_short: Option<String>,
}

/// A bucket and a key prefix, ready for blocking calls.
#[derive(Clone)]
pub struct Bucket {
    url: BucketUrl,
    store: Arc<dyn ObjectStore>,
    runtime: Arc<BucketRuntime>,
}

/// The bucket's own runtime. Dropped without waiting for its threads:
/// the last [`Bucket`] may go inside another runtime's async context,
/// where a blocking shutdown would panic.
struct BucketRuntime(Option<tokio::runtime::Runtime>);

impl Drop for BucketRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({})", self.url)
    }
}

impl Bucket {
    /// Connects to `url` as `config` (and the environment) says. Nothing
    /// is sent until the first call.
    pub fn open(url: &BucketUrl, config: &S3Config) -> Result<Bucket, BucketError> {
        let setup = |source| BucketError::Setup {
            url: url.to_string(),
            source: Box::new(source),
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
        let endpoint = match config.endpoint.as_str() {
            "" => std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
            e => e.to_string(),
        };
        if !endpoint.is_empty() {
            // Self-hosted stores (Garage, MinIO, Ceph) take path-style
            // requests; plain http only when the operator wrote http://.
            builder = builder
                .with_endpoint(&endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if !config.region.is_empty() {
            builder = builder.with_region(&config.region);
        }
        if !config.access_key_id.is_empty() {
            builder = builder.with_access_key_id(&config.access_key_id);
        }
        if !config.secret_access_key.is_empty() {
            builder = builder.with_secret_access_key(&config.secret_access_key);
        }
        let store = builder
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            )
            .with_retry(RetryConfig {
                max_retries: 4,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            })
            .build()
            .map_err(setup)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("skillreg-bucket")
            .enable_all()
            .build()
            .map_err(|e| {
                setup(object_store::Error::Generic {
                    store: "S3",
                    source: Box::new(e),
                })
            })?;
        Ok(Bucket {
            url: url.clone(),
            store: Arc::new(store),
            runtime: Arc::new(BucketRuntime(Some(runtime))),
        })
    }

    /// The bucket's URL.
    pub fn url(&self) -> &BucketUrl {
        &self.url
    }

    /// Writes `bytes` at `key`, replacing what was there, with the content
    /// type and cache policy a web server in front of the bucket passes on.
    /// Durable when this returns.
    pub fn put(&self, key: &str, bytes: Vec<u8>, kind: ObjectKind) -> Result<(), BucketError> {
        let (store, path) = (self.store.clone(), self.path(key));
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type_of(key).into());
        attributes.insert(Attribute::CacheControl, kind.cache_control().into());
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.run(async move {
            store
                .put_opts(&path, PutPayload::from(bytes), options)
                .await
                .map(drop)
        })
        .map_err(|source| self.request_error("PUT", key, source))
    }

    /// Reads the object at `key`, or `None` when there is none; refuses one
    /// over `limit` bytes, whatever its declared size.
    pub fn get(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, BucketError> {
        let (store, path) = (self.store.clone(), self.path(key));
        let result = self.run(async move {
            let got = match store.get(&path).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                got => got?,
            };
            if got.meta.size > limit {
                return Ok(Some(Err(())));
            }
            let mut stream = got.into_stream();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if out.len() as u64 + chunk.len() as u64 > limit {
                    return Ok(Some(Err(())));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(Some(Ok(out)))
        });
        match result.map_err(|source| self.request_error("GET", key, source))? {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(())) => Err(BucketError::TooLarge {
                bucket: self.url.bucket.clone(),
                key: key.to_string(),
                limit,
            }),
        }
    }

    /// True when an object is at `key` (a `HEAD`).
    pub fn exists(&self, key: &str) -> Result<bool, BucketError> {
        let (store, path) = (self.store.clone(), self.path(key));
        self.run(async move {
            match store.head(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                other => other.map(|_| true),
            }
        })
        .map_err(|source| self.request_error("HEAD", key, source))
    }

    /// Deletes the object at `key`; deleting one that is not there is not
    /// an error.
    pub fn delete(&self, key: &str) -> Result<(), BucketError> {
        let (store, path) = (self.store.clone(), self.path(key));
        self.run(async move {
            match store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
        .map_err(|source| self.request_error("DELETE", key, source))
    }

    /// Every object whose key starts with `prefix` (a folder, `""` for
    /// all), keyed by key; refuses a listing of over `limit` objects
    /// (memory is bounded by the caller, not by the bucket). Keys the
    /// store returns outside the URL's prefix are left out, and counted
    /// like the others with the same key again: a store that repeats a page
    /// forever is cut at `limit` too. A key that is
    /// no object path ends the listing early, not in an error: object_store
    /// refuses the page holding it, and another writer's odd key must not
    /// keep the caller from what it can list.
    pub fn list(&self, prefix: &str, limit: usize) -> Result<Listing, BucketError> {
        let (store, path) = (self.store.clone(), self.path(prefix));
        let strip = match self.url.prefix.as_str() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let listed = self.run(async move {
            let (mut out, mut seen) = (Listing::default(), 0usize);
            let prefix = (!path.as_ref().is_empty()).then_some(&path);
            let mut stream = store.list(prefix);
            while let Some(meta) = stream.next().await {
                let meta = match meta {
                    Err(e @ object_store::Error::InvalidPath { .. }) => {
                        out.cut_short = Some(chain(&e));
                        break;
                    }
                    meta => meta?,
                };
                seen += 1;
                if seen > limit {
                    return Ok(None);
                }
                let Some(key) = meta.location.as_ref().strip_prefix(strip.as_str()) else {
                    continue;
                };
                let etag = meta.e_tag.map(|t| t.trim_matches('"').to_string());
                out.objects.insert(
                    key.to_string(),
                    Listed {
                        key: key.to_string(),
                        size: meta.size,
                        etag,
                    },
                );
            }
            Ok(Some(out))
        });
        listed
            .map_err(|source| self.request_error("LIST", prefix, source))?
            .ok_or_else(|| BucketError::TooMany {
                bucket: self.url.bucket.clone(),
                prefix: self.path(prefix).to_string(),
                limit,
            })
    }

    /// The object path of `key` below the URL's prefix.
    fn path(&self, key: &str) -> ObjectPath {
        let full = match (self.url.prefix.as_str(), key) {
            ("", key) => key.to_string(),
            (prefix, "") => prefix.to_string(),
            (prefix, key) => format!("{prefix}/{key}"),
        };
        ObjectPath::from(full)
    }

    fn request_error(
        &self,
        op: &'static str,
        key: &str,
        source: object_store::Error,
    ) -> BucketError {
        BucketError::Request {
            bucket: self.url.bucket.clone(),
            op,
            key: key.to_string(),
            source: Box::new(source),
        }
    }

    /// Runs `future` on the bucket's runtime and waits for it, from any
    /// thread (`block_on` would panic inside another runtime).
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, object_store::Error>> + Send + 'static,
    ) -> Result<T, object_store::Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self.runtime.0.as_ref().expect("taken only on drop");
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(object_store::Error::Generic {
                store: "S3",
                source: Box::new(BucketError::Stopped),
            })
        })
    }
}

/// What an object is, for the headers a web server in front of the bucket
/// passes on to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A file that changes in place (index files, the timestamp, feed
    /// documents): revalidated on every use.
    Mutable,
    /// A content-addressed file (blobs, snapshot-tree nodes, zips named by
    /// digest): never changes once written.
    Immutable,
}

impl ObjectKind {
    fn cache_control(self) -> &'static str {
        match self {
            ObjectKind::Mutable => "no-cache",
            ObjectKind::Immutable => "public, max-age=31536000, immutable",
        }
    }
}

/// The content type of a tree file, from its name: what the daemon sends
/// for the same file.
fn content_type_of(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}
