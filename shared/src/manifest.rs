//! Lineage: what each processed source was made from, and the corpus version models are trained on.
//!
//! Layout in the bucket (and in `hawkins preprocess --out`):
//! - `manifest/sources/<kind>/<name>.json`: one [`SourceEntry`] per source, written by the ingest
//!   of that source after its processed output, so an entry always points at data that exists.
//! - `datasets/<version>/...`: the training sets of one corpus version, plus its
//!   `manifest.json` ([`CorpusManifest`]); never rewritten with other content.
//! - `manifest/pending.json`: the last source change ([`PendingChange`]); each write is an event
//!   on the train queue, and once they have been quiet for the quiet period the corpus is built.
//! - `datasets/latest.json`: the manifest of the newest version, written by that build.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::datasets::{DatasetFile, DatasetKind};
use crate::hash::{sha256_hex, sha256_parts};
use crate::source::{Source, SourceKind};

pub const SOURCES_PREFIX: &str = "manifest/sources/";
pub const DATASETS_PREFIX: &str = "datasets/";
pub const LATEST_KEY: &str = "datasets/latest.json";
/// The last source change ([`PendingChange`]): the corpus build's trigger.
pub const PENDING_KEY: &str = "manifest/pending.json";
/// Characters of the corpus version that appear in paths; 64 bits tell versions apart.
pub const VERSION_LEN: usize = 16;

/// Counts a person checks at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Subtitle cues parsed (subtitles only).
    #[serde(default)]
    pub cues: u64,
    /// Records kept: dialogue lines, locations or characters.
    pub records: u64,
    /// Dialogue lines with a known speaker.
    #[serde(default)]
    pub with_speaker: u64,
    /// Lines per speaker.
    #[serde(default)]
    pub speakers: BTreeMap<String, u64>,
}

/// One processed source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub id: String,
    pub kind: SourceKind,
    pub name: String,
    pub raw_key: String,
    pub raw_sha256: String,
    pub raw_bytes: u64,
    /// The ingest release that processed it.
    #[serde(default)]
    pub processor: String,
    #[serde(default)]
    pub raw_last_modified: Option<i64>,
    #[serde(default)]
    pub encoding: Option<String>,
    pub processed_key: String,
    pub processed_sha256: String,
    pub counts: Counts,
    /// The first warnings (odd but usable input), and how many there were.
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub warnings_total: u64,
}

impl SourceEntry {
    pub fn key(source: &Source) -> String {
        format!("{SOURCES_PREFIX}{}.json", source.id())
    }
}

/// Where the processed output of a source lives.
pub fn processed_key(source: &Source) -> String {
    let ext = match source.kind {
        SourceKind::Characters => "json",
        _ => "jsonl",
    };
    format!("processed/{}/{}.{ext}", source.kind.dir(), source.name)
}

/// A dataset file known by its hash: what the manifest needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    /// Relative to `datasets/<version>/`.
    pub path: String,
    pub kind: DatasetKind,
    pub character: Option<String>,
    pub records: u64,
    pub sha256: String,
}

/// The last source change ingest recorded: rewritten (with other content) by every upload that
/// changed a source, so each change is one "Object Created" event on the train queue, and the
/// corpus is built once those events have been quiet for the quiet period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    pub source: String,
    pub raw_key: String,
    /// The SHA-256 of the source's entry as written: tells two changes of one source apart.
    pub entry_sha256: String,
}

/// A dataset of a corpus version, as listed in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// Full key, e.g. `datasets/3f2a.../chatbot/eleven.jsonl`.
    pub key: String,
    pub kind: DatasetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character: Option<String>,
    pub records: u64,
    pub sha256: String,
}

/// A source as the corpus manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLineage {
    pub id: String,
    pub raw_key: String,
    pub raw_sha256: String,
    pub processed_sha256: String,
    pub counts: Counts,
}

/// One corpus version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusManifest {
    /// The first [`VERSION_LEN`] hex characters of `version_sha256`: in paths and job names.
    pub version: String,
    /// Hash over every dataset's path and content: changes exactly when the training data does.
    pub version_sha256: String,
    /// `builtin` or the id of the uploaded characters list.
    pub cast: String,
    pub episodes: Vec<String>,
    pub sources: Vec<SourceLineage>,
    pub datasets: Vec<DatasetEntry>,
}

impl CorpusManifest {
    /// Builds the manifest of the given datasets. Deterministic: no clock, sorted lists.
    pub fn new(
        files: &[DatasetFile],
        entries: &[SourceEntry],
        cast: String,
        episodes: Vec<String>,
    ) -> Self {
        let summaries = files
            .iter()
            .map(|f| DatasetSummary {
                path: f.path.clone(),
                kind: f.kind,
                character: f.character.clone(),
                records: f.records,
                sha256: sha256_hex(&f.bytes),
            })
            .collect();
        Self::from_summaries(summaries, entries, cast, episodes)
    }

    /// The manifest of datasets known by their hashes (a build that streamed them to disk).
    pub fn from_summaries(
        mut files: Vec<DatasetSummary>,
        entries: &[SourceEntry],
        cast: String,
        episodes: Vec<String>,
    ) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let version_sha256 = sha256_parts(
            files
                .iter()
                .flat_map(|f| [f.path.as_bytes(), f.sha256.as_bytes()]),
        );
        let version = version_sha256[..VERSION_LEN].to_string();
        let datasets = files
            .into_iter()
            .map(|file| DatasetEntry {
                key: format!("{DATASETS_PREFIX}{version}/{}", file.path),
                kind: file.kind,
                character: file.character,
                records: file.records,
                sha256: file.sha256,
            })
            .collect();
        let mut sources: Vec<SourceLineage> = entries
            .iter()
            .map(|e| SourceLineage {
                id: e.id.clone(),
                raw_key: e.raw_key.clone(),
                raw_sha256: e.raw_sha256.clone(),
                processed_sha256: e.processed_sha256.clone(),
                counts: e.counts.clone(),
            })
            .collect();
        sources.sort_by(|a, b| a.id.cmp(&b.id));
        CorpusManifest {
            version,
            version_sha256,
            cast,
            episodes,
            sources,
            datasets,
        }
    }

    /// `datasets/<version>/manifest.json`
    pub fn key(&self) -> String {
        manifest_key(&self.version)
    }
}

/// `datasets/<version>/manifest.json`: the manifest of a corpus version.
pub fn manifest_key(version: &str) -> String {
    format!("{DATASETS_PREFIX}{version}/manifest.json")
}
