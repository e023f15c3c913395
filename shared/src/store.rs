//! The narrow capabilities the functions use, so that decisions never see an SDK client.
//!
//! [`ObjectStore`] is S3 in the Lambda (`aws::S3Store`), a folder in `hawkins preprocess`
//! ([`DirStore`]), and memory in unit tests ([`MemStore`]). [`Notifier`] is SNS, or a list.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::StoreError;
use crate::hash::sha256_hex;

/// An object as read: its bytes and when it was last written (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub last_modified: Option<i64>,
}

/// What HeadObject tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The object version id where the bucket is versioned, else its ETag: what an S3 event
    /// about this write names.
    pub revision: String,
    /// Seconds since the epoch.
    pub last_modified: Option<i64>,
    /// Bytes.
    pub size: Option<u64>,
}

/// Did a write change anything?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Written {
    /// New content was stored.
    Stored,
    /// The object already held exactly these bytes: nothing was written (no new S3 version, no
    /// new event downstream). This is what makes replays free.
    Unchanged,
}

/// The bucket, as ingest sees it.
pub trait ObjectStore: Sync {
    /// The object, or `None` when there is no such key.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Object>, StoreError>> + Send;
    /// The SHA-256 recorded with the object when it was written, or `None` when there is no such
    /// object (or it was written by someone else, without one).
    fn stored_sha256(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The object's revision and age, or `None` when there is no such key.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send;
    /// Writes `bytes`, recording `sha256` with them.
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Keys under `prefix`, sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Writes only when the content differs from what is stored.
    fn put_if_changed(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send {
        async move {
            let sha = sha256_hex(&bytes);
            if self.stored_sha256(key).await?.as_deref() == Some(sha.as_str()) {
                return Ok(Written::Unchanged);
            }
            self.put(key, bytes, content_type, &sha).await?;
            Ok(Written::Stored)
        }
    }

    /// Writes the file at `path` (whose SHA-256 the caller computed while writing it). Stores
    /// that can stream a file override this, so a large dataset never sits in memory whole; the
    /// default reads it.
    fn put_file(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            let bytes = std::fs::read(path).map_err(|e| local_io_error("read", path, e))?;
            self.put(key, bytes, content_type, sha256).await
        }
    }

    /// Copies the object at `from` to `to`, recording `sha256` (the caller's hash of `from`'s
    /// bytes), unless `to` already holds them. Stores that can copy in place override this
    /// (S3's CopyObject), so quarantining a large upload does not hold it in memory again.
    fn copy_if_changed(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send {
        async move {
            if self.stored_sha256(to).await?.as_deref() == Some(sha256) {
                return Ok(Written::Unchanged);
            }
            let Some(object) = self.get(from).await? else {
                return Ok(Written::Unchanged);
            };
            self.put(to, object.bytes, content_type, sha256).await?;
            Ok(Written::Stored)
        }
    }

    /// [`ObjectStore::put_file`], only when the content differs from what is stored.
    fn put_file_if_changed(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send {
        async move {
            if self.stored_sha256(key).await?.as_deref() == Some(sha256) {
                return Ok(Written::Unchanged);
            }
            self.put_file(key, path, content_type, sha256).await?;
            Ok(Written::Stored)
        }
    }
}

/// How bad an alert is; e-mail readers see it in the subject, filters in a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A message for the team: readable text for e-mail, and the same facts as attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What kind of alert (`quarantine`, `training_failed`, `budget`...): an SNS attribute.
    pub kind: String,
    pub severity: Severity,
    /// At most 100 characters (SNS' limit for e-mail subjects).
    pub subject: String,
    pub body: String,
    /// Further attributes for subscribers' filter policies.
    pub attributes: BTreeMap<String, String>,
    /// Deduplication key: the same cause gives the same id.
    pub id: String,
}

/// Where alerts go.
pub trait Notifier: Sync {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Publishes `alert` unless its marker object at `marker_key` exists; true when it was published
/// now. Alert first, marker second: a crash in between repeats one message, never loses one; a
/// publish that fails writes no marker, so the retried event sends it.
///
/// The marker holds `{"id", "kind", "subject"}` and, when given, `"sent_at"` (RFC 3339): the
/// lifecycle's markers (`alerts/sent/<id>.json`) have no time, the cost run's
/// (`alerts/sent/<date>/<cause>.json`) have one. Ingest's quarantine alert is sent once too, but
/// its marker is the quarantine's reason file, written by its plan, so it does not come here.
pub async fn send_once(
    store: &impl ObjectStore,
    notifier: &impl Notifier,
    alert: &Alert,
    marker_key: &str,
    sent_at: Option<&str>,
) -> Result<bool, StoreError> {
    if store.head(marker_key).await?.is_some() {
        return Ok(false);
    }
    notifier.publish(alert).await?;
    let mut body =
        serde_json::json!({"id": alert.id, "kind": alert.kind, "subject": alert.subject});
    if let (Some(at), Some(fields)) = (sent_at, body.as_object_mut()) {
        fields.insert("sent_at".into(), at.into());
    }
    // The alert is out: a marker not written now means the alert goes again with the next
    // delivery, so a passing failure gets more tries here than any other write (each one the
    // SDK's own retries). The marker was absent a moment ago, so it is written without comparing.
    let bytes = body.to_string().into_bytes();
    let sha = sha256_hex(&bytes);
    let mut tries = 1;
    loop {
        match store
            .put(marker_key, bytes.clone(), "application/json", &sha)
            .await
        {
            Ok(()) => return Ok(true),
            Err(e) if crate::error::Retry::retryable(&e) && tries < MARKER_TRIES => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Tries at writing an alert's marker once the alert is sent.
const MARKER_TRIES: u32 = 3;

/// An in-memory bucket for unit tests and the offline CLI.
#[derive(Debug, Default)]
pub struct MemStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, String)>>,
    /// LastModified of the objects a test dated (see [`MemStore::set_last_modified`]).
    modified: Mutex<BTreeMap<String, i64>>,
    puts: Mutex<u64>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an object as a user upload would (no recorded hash).
    pub fn insert(&self, key: &str, bytes: &[u8]) {
        self.lock()
            .insert(key.to_string(), (bytes.to_vec(), String::new()));
        self.modified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Dates an object's last write (seconds since the epoch), as S3's LastModified; a write
    /// clears it again.
    pub fn set_last_modified(&self, key: &str, at: i64) {
        self.modified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), at);
    }

    fn last_modified(&self, key: &str) -> Option<i64> {
        self.modified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// Deletes an object; nothing when there is none.
    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
        self.modified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// All keys and contents, sorted.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock()
            .iter()
            .map(|(k, (b, _))| (k.clone(), b.clone()))
            .collect()
    }

    /// How many writes reached the store.
    pub fn puts(&self) -> u64 {
        *self.puts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Vec<u8>, String)>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ObjectStore for MemStore {
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let last_modified = self.last_modified(key);
        Ok(self.lock().get(key).map(|(bytes, _)| Object {
            bytes: bytes.clone(),
            last_modified,
        }))
    }

    async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        let last_modified = self.last_modified(key);
        Ok(self.lock().get(key).map(|(bytes, _)| Head {
            revision: sha256_hex(bytes),
            last_modified,
            size: Some(bytes.len() as u64),
        }))
    }

    async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .get(key)
            .map(|(_, sha)| sha.clone())
            .filter(|s| !s.is_empty()))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .insert(key.to_string(), (bytes, sha256.to_string()));
        self.modified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        *self.puts.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

/// A folder laid out like the bucket: what `hawkins preprocess --out DIR` writes.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys are relative by construction; refuse any `..` so nothing lands outside the folder.
        let safe: PathBuf = key
            .split('/')
            .filter(|part| !part.is_empty() && *part != "." && *part != "..")
            .collect();
        self.root.join(safe)
    }

    fn io_error(op: &'static str, path: &Path, error: std::io::Error) -> StoreError {
        local_io_error(op, path, error)
    }
}

/// A failure of the local disk (a folder store, or a spool file in the function's `/tmp`).
pub fn local_io_error(op: &'static str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Other {
        op,
        resource: path.display().to_string(),
        message: error.to_string(),
    }
}

impl ObjectStore for DirStore {
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Object {
                bytes,
                last_modified: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io_error("read", &path, e)),
        }
    }

    async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(key).await?.map(|object| sha256_hex(&object.bytes)))
    }

    async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        let path = self.path(key);
        let Some(object) = self.get(key).await? else {
            return Ok(None);
        };
        let last_modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        Ok(Some(Head {
            revision: sha256_hex(&object.bytes),
            last_modified,
            size: Some(object.bytes.len() as u64),
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        _sha256: &str,
    ) -> Result<(), StoreError> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Self::io_error("create", parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Self::io_error("write", &path, e))
    }

    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        _content_type: &str,
        _sha256: &str,
    ) -> Result<(), StoreError> {
        let target = self.path(key);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Self::io_error("create", parent, e))?;
        }
        std::fs::copy(path, &target)
            .map(|_| ())
            .map_err(|e| Self::io_error("copy", &target, e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        // Only the folder the prefix names is walked, not the whole bucket.
        let folder = prefix.rfind('/').map_or("", |at| &prefix[..at]);
        let mut stack = vec![self.path(folder)];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Self::io_error("list", &dir, e)),
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// Collects alerts instead of sending them: the CLI prints them, tests read them.
#[derive(Debug, Default)]
pub struct AlertLog {
    alerts: Mutex<Vec<Alert>>,
}

impl AlertLog {
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Notifier for AlertLog {
    async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
        self.alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(alert.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str) -> Alert {
        Alert {
            kind: "training_failed".into(),
            severity: Severity::Critical,
            subject: "Hawkins: training of chatbot-eleven failed".into(),
            body: "The training job failed.".into(),
            attributes: BTreeMap::new(),
            id: id.into(),
        }
    }

    /// A topic that refuses every message.
    struct Down;

    impl Notifier for Down {
        async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
            Err(StoreError::Transient {
                op: "Publish",
                resource: alert.id.clone(),
                message: "Throttling: Rate exceeded".into(),
            })
        }
    }

    #[tokio::test]
    async fn an_alert_is_sent_then_marked_and_a_replay_sends_nothing() {
        let store = MemStore::new();
        let log = AlertLog::default();
        let marker = "alerts/sent/training-failed-job-1.json";
        let first = send_once(&store, &log, &alert("training-failed-job-1"), marker, None).await;
        assert_eq!(first, Ok(true));
        assert_eq!(log.alerts(), [alert("training-failed-job-1")]);
        assert_eq!(
            store.snapshot().get(marker).map(Vec::as_slice),
            Some(
                br#"{"id":"training-failed-job-1","kind":"training_failed","subject":"Hawkins: training of chatbot-eleven failed"}"#
                    .as_slice()
            ),
            "the marker layout of markers already deployed"
        );

        let replay = send_once(&store, &log, &alert("training-failed-job-1"), marker, None).await;
        assert_eq!(replay, Ok(false));
        assert_eq!(log.alerts().len(), 1);
        assert_eq!(store.puts(), 1, "the marker is not written again");
    }

    #[tokio::test]
    async fn the_cost_runs_marker_carries_its_time() {
        let store = MemStore::new();
        let log = AlertLog::default();
        let marker = "alerts/sent/2026-11-27/daily.json";
        let sent = send_once(
            &store,
            &log,
            &alert("2026-11-27/daily"),
            marker,
            Some("2026-11-27T06:00:00Z"),
        )
        .await;
        assert_eq!(sent, Ok(true));
        let body: serde_json::Value =
            serde_json::from_slice(&store.snapshot()[marker]).expect("JSON");
        assert_eq!(body["sent_at"], "2026-11-27T06:00:00Z");
        assert_eq!(body["id"], "2026-11-27/daily");
    }

    /// A bucket whose next `fails` writes are throttled.
    fn flaky_bucket<'a>(
        inner: &'a MemStore,
        fails: &'a std::sync::atomic::AtomicU32,
    ) -> crate::fakes::Watched<'a, MemStore> {
        crate::fakes::Watched::new(inner).before_put(move |key| {
            let left = fails.load(std::sync::atomic::Ordering::SeqCst);
            if left == 0 {
                return Ok(());
            }
            fails.store(left - 1, std::sync::atomic::Ordering::SeqCst);
            Err(StoreError::Transient {
                op: "PutObject",
                resource: key.into(),
                message: "SlowDown".into(),
            })
        })
    }

    #[tokio::test]
    async fn a_marker_write_that_fails_for_a_moment_is_tried_again_so_the_alert_is_not_repeated() {
        use std::sync::atomic::AtomicU32;
        let marker = "alerts/sent/deployed-x.json";
        let log = AlertLog::default();
        let (bucket, fails) = (MemStore::new(), AtomicU32::new(MARKER_TRIES - 1));
        let flaky = flaky_bucket(&bucket, &fails);
        assert_eq!(
            send_once(&flaky, &log, &alert("deployed-x"), marker, None).await,
            Ok(true)
        );
        assert_eq!(
            send_once(&flaky, &log, &alert("deployed-x"), marker, None).await,
            Ok(false)
        );
        assert_eq!(log.alerts().len(), 1);

        // Past its tries the failure is the invocation's: the alert goes again with the next
        // delivery (repeated, never lost).
        let (bucket, fails) = (MemStore::new(), AtomicU32::new(MARKER_TRIES));
        let flaky = flaky_bucket(&bucket, &fails);
        let log = AlertLog::default();
        let failed = send_once(&flaky, &log, &alert("deployed-x"), marker, None).await;
        assert!(
            matches!(failed, Err(StoreError::Transient { .. })),
            "{failed:?}"
        );
        assert_eq!(
            send_once(&flaky, &log, &alert("deployed-x"), marker, None).await,
            Ok(true)
        );
        assert_eq!(log.alerts().len(), 2);
    }

    #[tokio::test]
    async fn a_failed_publish_writes_no_marker_so_the_retry_sends_it() {
        let store = MemStore::new();
        let marker = "alerts/sent/deployed-x.json";
        let failed = send_once(&store, &Down, &alert("deployed-x"), marker, None).await;
        assert!(
            matches!(failed, Err(StoreError::Transient { .. })),
            "{failed:?}"
        );
        assert!(store.snapshot().is_empty(), "no marker without the message");

        let log = AlertLog::default();
        let retried = send_once(&store, &log, &alert("deployed-x"), marker, None).await;
        assert_eq!(retried, Ok(true));
        assert_eq!(log.alerts().len(), 1);
    }

    #[tokio::test]
    async fn a_marker_already_there_holds_the_alert_back() {
        let store = MemStore::new();
        store.insert("alerts/sent/a.json", b"{}");
        let log = AlertLog::default();
        let sent = send_once(&store, &log, &alert("a"), "alerts/sent/a.json", None).await;
        assert_eq!(sent, Ok(false));
        assert!(log.alerts().is_empty());
    }
}
