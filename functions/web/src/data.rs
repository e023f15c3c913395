//! What the pages show that the pipeline already wrote to the bucket: the corpus version, the
//! uploads and their outcome, the theme scores, the character networks and the cost report. Each
//! reader takes the object store and returns a plain value; a missing object is an empty state,
//! not an error.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, stream};
use hawkins::error::StoreError;
use hawkins::ingest::quarantine_keys;
use hawkins::manifest::{CorpusManifest, LATEST_KEY, SourceEntry};
use hawkins::source::{RAW_PREFIX, classify};

use hawkins::store::{Head, Object, ObjectStore};
use hawkins::themes::{self, ThemeReport};
use serde::{Deserialize, Serialize};

/// Objects read at once when a page needs many (the uploads' heads).
const READ_AHEAD: usize = 16;

/// The current corpus version at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corpus {
    pub version: String,
    pub sources: usize,
    pub episodes: Vec<String>,
    /// Dialogue lines kept from subtitles and transcripts.
    pub lines: u64,
    pub speakers: usize,
}

pub async fn corpus(store: &impl ObjectStore) -> Result<Option<Corpus>, StoreError> {
    let Some(manifest) = read_json::<CorpusManifest>(store, LATEST_KEY).await? else {
        return Ok(None);
    };
    let mut speakers = BTreeSet::new();
    let mut lines = 0;
    for source in &manifest.sources {
        if source.id.starts_with("subtitles/") || source.id.starts_with("transcripts/") {
            lines += source.counts.records;
            speakers.extend(source.counts.speakers.keys().cloned());
        }
    }
    Ok(Some(Corpus {
        version: manifest.version,
        sources: manifest.sources.len(),
        episodes: manifest.episodes,
        lines,
        speakers: speakers.len(),
    }))
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// Not seen by ingest yet (or being processed).
    Processing,
    Processed {
        records: u64,
        warnings: u64,
    },
    Quarantined {
        code: String,
        line: Option<u64>,
        message: String,
        action: String,
    },
    /// A key ingest does not take (another extension, a folder): said why.
    NotASource {
        reason: String,
    },
    Missing,
}

/// One object under `raw/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upload {
    pub key: String,
    pub size: Option<u64>,
    pub modified: Option<i64>,
    #[serde(flatten)]
    pub state: UploadState,
}

#[derive(Debug, Deserialize)]
struct ReasonRecord {
    raw_key: String,
    reason: ReasonBody,
    #[serde(default)]
    action: String,
}

#[derive(Debug, Deserialize)]
struct ReasonBody {
    code: String,
    #[serde(default)]
    line: Option<u64>,
    message: String,
}

/// Where one upload stands (see [`upload_at`]).
pub async fn upload(store: &impl ObjectStore, key: &str) -> Result<Upload, StoreError> {
    let head = store.head(key).await?;
    upload_at(store, key, head).await
}

/// Where the upload at `key`, whose head was just read, stands: the newer of its source entry
/// (processed) and its quarantine reason decides, and neither newer than the upload itself means
/// ingest has not finished with it.
async fn upload_at(
    store: &impl ObjectStore,
    key: &str,
    head: Option<Head>,
) -> Result<Upload, StoreError> {
    let Some(head) = head else {
        return Ok(Upload {
            key: key.into(),
            size: None,
            modified: None,
            state: UploadState::Missing,
        });
    };
    let state = match classify(key) {
        Err(why) => UploadState::NotASource {
            reason: why.to_string(),
        },
        Ok(source) => {
            let (_, reason_key) = quarantine_keys(key);
            let uploaded = head.last_modified.unwrap_or(i64::MIN);
            let entry = store.get(&SourceEntry::key(&source)).await?;
            let entry = since::<SourceEntry>(entry, uploaded, |e| e.raw_key == key);
            let reason = store.get(&reason_key).await?;
            let reason = since::<ReasonRecord>(reason, uploaded, |r| r.raw_key == key);
            match (entry, reason) {
                (Some((a, _)), Some((b, r))) if b > a => quarantined(r),
                (Some((_, e)), _) => UploadState::Processed {
                    records: e.counts.records,
                    warnings: e.warnings_total,
                },
                (None, Some((_, r))) => quarantined(r),
                (None, None) => UploadState::Processing,
            }
        }
    };
    Ok(Upload {
        key: key.into(),
        size: head.size,
        modified: head.last_modified,
        state,
    })
}

/// A record about this upload written since it was uploaded, with when it was written.
fn since<T: serde::de::DeserializeOwned>(
    object: Option<Object>,
    uploaded: i64,
    about_this_upload: impl Fn(&T) -> bool,
) -> Option<(i64, T)> {
    let object = object?;
    let at = object.last_modified.unwrap_or(i64::MAX);
    let record: T = serde_json::from_slice(&object.bytes).ok()?;
    (about_this_upload(&record) && at >= uploaded).then_some((at, record))
}

fn quarantined(r: ReasonRecord) -> UploadState {
    UploadState::Quarantined {
        code: r.reason.code,
        line: r.reason.line,
        message: r.reason.message,
        action: r.action,
    }
}

/// The `limit` newest uploads, newest first, each with where it stands.
pub async fn recent_uploads(
    store: &impl ObjectStore,
    limit: usize,
) -> Result<Vec<Upload>, StoreError> {
    let keys = store.list(RAW_PREFIX).await?;
    let heads: Vec<Result<(String, Option<Head>), StoreError>> = stream::iter(keys)
        .map(|key| async move {
            let head = store.head(&key).await?;
            Ok((key, head))
        })
        .buffered(READ_AHEAD)
        .collect()
        .await;
    let mut dated = heads.into_iter().collect::<Result<Vec<_>, _>>()?;
    let modified = |h: &Option<Head>| h.as_ref().and_then(|h| h.last_modified);
    dated.sort_by(|a, b| {
        modified(&b.1)
            .cmp(&modified(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    dated.truncate(limit);
    // The heads just read are passed on, not read again.
    let uploads: Vec<Result<Upload, StoreError>> = stream::iter(dated)
        .map(|(key, head)| async move { upload_at(store, &key, head).await })
        .buffered(READ_AHEAD)
        .collect()
        .await;
    uploads.into_iter().collect()
}

/// The latest per-episode theme scores.
pub async fn themes(store: &impl ObjectStore) -> Result<Option<ThemeReport>, StoreError> {
    let Some(latest) = read_json::<themes::Latest>(store, themes::LATEST_KEY).await? else {
        return Ok(None);
    };
    read_json(store, &latest.key).await
}

/// The character network page of the corpus, or of one episode.
pub async fn network_page(
    store: &impl ObjectStore,
    episode: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let key = match episode {
        None => "processed/network/corpus.html".to_string(),
        Some(e) if is_plain_name(e) => format!("processed/network/episodes/{e}.html"),
        Some(_) => return Ok(None),
    };
    Ok(store
        .get(&key)
        .await?
        .map(|o| String::from_utf8_lossy(&o.bytes).into_owned()))
}

/// A short name of letters, digits and `-` (an episode, a corpus version): nothing else reaches
/// a key.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 16
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The parts of the cost report (`reports/costs/<date>.json`) the Costs page shows.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CostReport {
    pub date: String,
    pub generated_at: String,
    pub month: String,
    pub last_24h_usd: f64,
    pub month_to_date_usd: f64,
    pub forecast_usd: f64,
    pub spot_savings_month_usd: f64,
    #[serde(default)]
    pub days: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    pub by_model: BTreeMap<String, f64>,
    #[serde(default)]
    pub idle_endpoints: Vec<IdleEndpoint>,
    #[serde(default)]
    pub unknown: Vec<String>,
    #[serde(default)]
    pub storage: Option<StorageLine>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IdleEndpoint {
    pub endpoint: String,
    pub model: String,
    pub idle_hours: u32,
    pub usd_per_day: Option<f64>,
    #[serde(default)]
    pub delete_command: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StorageLine {
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub usd_per_month: f64,
}

/// The newest cost report (report keys sort by date).
pub async fn cost_report(store: &impl ObjectStore) -> Result<Option<CostReport>, StoreError> {
    let keys = store.list(hawkins::costs::report::REPORTS_PREFIX).await?;
    let Some(newest) = keys.iter().filter(|k| k.ends_with(".json")).max() else {
        return Ok(None);
    };
    read_json(store, newest).await
}

/// A JSON object, `None` when missing. An object that does not parse is an error naming it.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    store: &impl ObjectStore,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let Some(object) = store.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&object.bytes)
        .map(Some)
        .map_err(|e| StoreError::Other {
            op: "read",
            resource: key.into(),
            message: format!("not the JSON the pipeline writes: {e}"),
        })
}
