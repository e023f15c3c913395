//! The corpus build: every source entry becomes one corpus version (datasets, character networks,
//! the version's manifest), read one episode at a time.
//!
//! # Memory
//! The build holds the entries (a few hundred bytes each), one window of episodes being read
//! ([`READ_AHEAD`]), the networks (bounded by the cast) and, per character, 16 bytes for each
//! exchange already in its chat set (duplicates are dropped). The datasets themselves go to spool
//! files as they grow and are uploaded from disk ([`ObjectStore::put_file_if_changed`]), so a
//! corpus of thousands of episodes builds within the function's memory; the spool needs about
//! the size of the datasets in `/tmp`.
//!
//! # Why replays and races are harmless
//! - Every write is `put_if_changed`, and nothing here reads a clock: the same entries give the
//!   same bytes, so a second build of an unchanged corpus writes nothing (no new object version,
//!   no new event).
//! - A version's files are content-addressed (`datasets/<version>/`): two builds of different
//!   corpora never write the same key with different bytes; the datasets go before their
//!   manifest, and the `latest.json` pointer (written by the caller) last.
//! - Each source's data is checked against its entry before use (see [`CorpusBuild::processed`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::characters::{Cast, Character};
use crate::datasets::{self, ChatSets, DatasetKind, EpisodeLines, Origin, Records};
use crate::error::StoreError;
use crate::hash::sha256_hex;
use crate::ingest::{EpisodeLine, IngestError, corpus_cast, plan_source, processed_content_type};
use crate::jsonl;
use crate::manifest::{CorpusManifest, DatasetSummary, LATEST_KEY, SOURCES_PREFIX, SourceEntry};
use crate::network::NetworkBuilder;
use crate::source::{self, SourceKind};
use crate::store::{Object, ObjectStore, Written, local_io_error};

/// Objects read at once: entries, then episodes (each one or two sources).
pub const READ_AHEAD: usize = 16;

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorpusOutcome {
    pub version: String,
    pub sources: usize,
    pub datasets: usize,
    pub written: usize,
    pub unchanged: usize,
    /// Whether `datasets/latest.json` was written: a new corpus version for training.
    pub latest_changed: bool,
}

/// A built version: its manifest, and what the build wrote.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest: CorpusManifest,
    pub sources: usize,
    pub written: usize,
    pub unchanged: usize,
}

impl Built {
    /// The outcome once the pointer was (or was not) rewritten.
    pub fn outcome(&self, latest: Written) -> CorpusOutcome {
        let latest_changed = latest == Written::Stored;
        CorpusOutcome {
            version: self.manifest.version.clone(),
            sources: self.sources,
            datasets: self.manifest.datasets.len(),
            written: self.written + usize::from(latest_changed),
            unchanged: self.unchanged + usize::from(!latest_changed),
            latest_changed,
        }
    }
}

/// Reads the entries under `manifest/sources/` and writes one corpus version.
pub struct CorpusBuild<'a, S> {
    pub store: &'a S,
    /// Lines within which two characters count as co-occurring in the network.
    pub network_window: usize,
}

impl<S: ObjectStore> CorpusBuild<'_, S> {
    /// Builds and writes the version, then points `datasets/latest.json` at it.
    pub async fn run(&self) -> Result<CorpusOutcome, IngestError> {
        let built = self.build().await?;
        let latest = write_latest(self.store, &built.manifest).await?;
        Ok(built.outcome(latest))
    }

    /// Writes every dataset, network and the version's manifest; not the `latest` pointer,
    /// which the caller writes when this build is still the one wanted.
    pub async fn build(&self) -> Result<Built, IngestError> {
        let entries = self.entries().await?;
        let (cast, cast_label) = self.cast_from(&entries).await?;

        let mut by_episode: BTreeMap<&str, Vec<&SourceEntry>> = BTreeMap::new();
        let mut location_entries = Vec::new();
        for entry in &entries {
            match entry.kind {
                SourceKind::Subtitles | SourceKind::Transcript => {
                    by_episode.entry(&entry.name).or_default().push(entry)
                }
                SourceKind::Locations => location_entries.push(entry),
                // Read for the cast above.
                SourceKind::Characters => {}
            }
        }

        let mut spool = Spool::new()?;
        let mut chat = ChatSets::default();
        let mut corpus_network = NetworkBuilder::new(&cast, self.network_window);
        let mut tally = Tally::default();
        let mut episodes = Vec::new();
        let cast_ref = &cast;
        let mut reads = stream::iter(by_episode.values())
            .map(|group| self.episode(group, cast_ref))
            .buffered(READ_AHEAD);
        while let Some(group) = reads.try_next().await? {
            for lines in &group {
                for (character, records) in chat.episode(lines, &cast) {
                    spool.append(
                        &datasets::chatbot_path(&character),
                        DatasetKind::Chatbot,
                        Some(&character),
                        &records,
                    )?;
                }
            }
            let Some(picked) = datasets::per_episode(group.iter()) else {
                continue;
            };
            spool.append(
                datasets::THEMES_PATH,
                DatasetKind::Themes,
                None,
                &datasets::theme_records(picked),
            )?;
            corpus_network.add_episode(&picked.lines);
            for output in crate::ingest::episode_network(&cast, self.network_window, picked) {
                tally.add(
                    self.store
                        .put_if_changed(&output.key, output.bytes, output.content_type)
                        .await?,
                );
            }
            episodes.push(picked.episode.clone());
        }
        drop(reads);

        let mut lists = Vec::new();
        for entry in location_entries {
            if let Some(object) = self.processed(entry, &cast).await? {
                let text = String::from_utf8_lossy(&object.bytes);
                lists.push(jsonl::parse_locations(&text).map_err(|e| corrupt(entry, e))?);
            }
        }
        if let Some(file) = datasets::locations(&lists) {
            let records = Records {
                bytes: file.bytes,
                count: file.records,
            };
            spool.append(&file.path, file.kind, None, &records)?;
        }

        let files = spool.finish()?;
        let manifest = CorpusManifest::from_summaries(
            files.iter().map(|(summary, _)| summary.clone()).collect(),
            &entries,
            cast_label,
            episodes,
        );
        for ((summary, path), entry) in sorted(files).iter().zip(&manifest.datasets) {
            debug_assert_eq!(summary.sha256, entry.sha256);
            tally.add(
                self.store
                    .put_file_if_changed(&entry.key, path, "application/x-ndjson", &entry.sha256)
                    .await?,
            );
        }
        if !manifest.episodes.is_empty() {
            let network = corpus_network.finish();
            tally.add(
                self.store
                    .put_if_changed(
                        "processed/network/corpus.json",
                        network.to_json().into_bytes(),
                        "application/json",
                    )
                    .await?,
            );
            let title = format!(
                "Stranger Things corpus {}: character network",
                manifest.version
            );
            tally.add(
                self.store
                    .put_if_changed(
                        "processed/network/corpus.html",
                        network.to_html(&title).into_bytes(),
                        "text/html; charset=utf-8",
                    )
                    .await?,
            );
        }
        tally.add(
            self.store
                .put_if_changed(
                    &manifest.key(),
                    manifest_bytes(&manifest),
                    "application/json",
                )
                .await?,
        );
        info!(
            corpus_version = %manifest.version,
            sources = entries.len(),
            datasets = manifest.datasets.len(),
            written = tally.written,
            unchanged = tally.unchanged,
            "corpus built"
        );
        Ok(Built {
            manifest,
            sources: entries.len(),
            written: tally.written,
            unchanged: tally.unchanged,
        })
    }

    /// Every source entry, in key order.
    async fn entries(&self) -> Result<Vec<SourceEntry>, IngestError> {
        let keys = self.store.list(SOURCES_PREFIX).await?;
        let entries: Vec<Option<SourceEntry>> = stream::iter(keys.iter())
            .map(|key| read_json::<SourceEntry, S>(self.store, key))
            .buffered(READ_AHEAD)
            .try_collect()
            .await?;
        Ok(entries.into_iter().flatten().collect())
    }

    /// One episode's sources, in entry order, as lines.
    async fn episode(
        &self,
        group: &[&SourceEntry],
        cast: &Cast,
    ) -> Result<Vec<EpisodeLines>, IngestError> {
        let mut out = Vec::with_capacity(group.len());
        for entry in group {
            let Some(object) = self.processed(entry, cast).await? else {
                warn!(source = %entry.id, key = %entry.processed_key, "processed data missing; source skipped until re-uploaded");
                continue;
            };
            let mut lines = Vec::new();
            for raw in object
                .bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                let line: EpisodeLine<'static> =
                    serde_json::from_slice(raw).map_err(|e| corrupt(entry, e))?;
                lines.push(line.line);
            }
            let origin = if entry.kind == SourceKind::Transcript {
                Origin::Transcript
            } else {
                Origin::Subtitles
            };
            out.push(EpisodeLines {
                episode: entry.name.clone(),
                origin,
                lines,
            });
        }
        Ok(out)
    }

    /// The cast in force: uploaded character lists, or the built-in one.
    pub async fn load_cast(&self) -> Result<(Cast, String), IngestError> {
        let mut entries = Vec::new();
        for key in self
            .store
            .list(&format!("{SOURCES_PREFIX}characters/"))
            .await?
        {
            entries.extend(read_json::<SourceEntry, S>(self.store, &key).await?);
        }
        self.cast_from(&entries).await
    }

    async fn cast_from(&self, entries: &[SourceEntry]) -> Result<(Cast, String), IngestError> {
        let mut uploaded = Vec::new();
        for entry in entries.iter().filter(|e| e.kind == SourceKind::Characters) {
            // A characters list is read with the built-in cast, as when it was uploaded.
            if let Some(object) = self.processed(entry, &Cast::builtin()).await? {
                let list: Vec<Character> =
                    serde_json::from_slice(&object.bytes).map_err(|e| corrupt(entry, e))?;
                uploaded.push((entry.id.clone(), list));
            }
        }
        Ok(corpus_cast(&uploaded))
    }

    /// A source's processed data, checked against its entry. The data and the entry are two
    /// writes, so they can disagree: two uploads of the same source (two names for one
    /// episode) processed at once can each write one of the pair, and a function that stops
    /// between the writes leaves new data beside the old entry. The entry names the upload it
    /// describes, so the data is made again from that upload; when that upload has changed
    /// since (its own event is on its way), the build waits for it: a retryable error.
    pub async fn processed(
        &self,
        entry: &SourceEntry,
        cast: &Cast,
    ) -> Result<Option<Object>, IngestError> {
        let Some(object) = self.store.get(&entry.processed_key).await? else {
            return Ok(None);
        };
        if sha256_hex(&object.bytes) == entry.processed_sha256 {
            return Ok(Some(object));
        }
        warn!(source = %entry.id, key = %entry.processed_key, raw_key = %entry.raw_key, "processed data does not match its entry: made again from the entry's upload");
        let torn = |why: &str| IngestError::Torn {
            key: entry.processed_key.clone(),
            raw_key: entry.raw_key.clone(),
            why: why.to_string(),
        };
        let raw = self
            .store
            .get(&entry.raw_key)
            .await?
            .ok_or_else(|| torn("the upload it was made from is gone"))?;
        if sha256_hex(&raw.bytes) != entry.raw_sha256 {
            return Err(torn("the upload it was made from has changed since"));
        }
        let source =
            source::classify(&entry.raw_key).map_err(|_| torn("the entry names no source"))?;
        let plan = plan_source(&source, &entry.raw_key, &raw, cast)
            .map_err(|r| torn(&format!("its upload no longer reads: {}", r.message)))?;
        if plan.entry.processed_sha256 != entry.processed_sha256 {
            // Made with another cast or another release than the entry's: the entry is
            // rewritten with the data, so the two agree again.
            self.store
                .put_if_changed(
                    &SourceEntry::key(&source),
                    serde_json::to_vec_pretty(&plan.entry).unwrap_or_default(),
                    "application/json",
                )
                .await?;
        }
        self.store
            .put_if_changed(
                &entry.processed_key,
                plan.processed.clone(),
                processed_content_type(source.kind),
            )
            .await?;
        Ok(Some(Object {
            bytes: plan.processed,
            ..object
        }))
    }
}

/// Points `datasets/latest.json` at `manifest` (unchanged when it already does).
pub async fn write_latest(
    store: &impl ObjectStore,
    manifest: &CorpusManifest,
) -> Result<Written, StoreError> {
    store
        .put_if_changed(LATEST_KEY, manifest_bytes(manifest), "application/json")
        .await
}

fn manifest_bytes(manifest: &CorpusManifest) -> Vec<u8> {
    serde_json::to_vec_pretty(manifest).unwrap_or_default()
}

/// Files written and left as they were.
#[derive(Default)]
struct Tally {
    written: usize,
    unchanged: usize,
}

impl Tally {
    fn add(&mut self, written: Written) {
        match written {
            Written::Stored => self.written += 1,
            Written::Unchanged => self.unchanged += 1,
        }
    }
}

fn corrupt(entry: &SourceEntry, e: impl std::fmt::Display) -> IngestError {
    IngestError::Corrupt {
        key: entry.processed_key.clone(),
        message: e.to_string(),
    }
}

/// An object's JSON, or `None` when there is no such object.
pub async fn read_json<T: serde::de::DeserializeOwned, S: ObjectStore>(
    store: &S,
    key: &str,
) -> Result<Option<T>, IngestError> {
    let Some(object) = store.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&object.bytes)
        .map(Some)
        .map_err(|e| IngestError::Corrupt {
            key: key.into(),
            message: e.to_string(),
        })
}

fn sorted(mut files: Vec<(DatasetSummary, PathBuf)>) -> Vec<(DatasetSummary, PathBuf)> {
    files.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    files
}

/// Dataset files being written to a temporary folder, hashed as they grow.
struct Spool {
    dir: tempfile::TempDir,
    files: BTreeMap<String, SpoolFile>,
}

struct SpoolFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    sha: Sha256,
    kind: DatasetKind,
    character: Option<String>,
    records: u64,
}

impl Spool {
    fn new() -> Result<Self, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("hawkins-corpus-")
            .tempdir()
            .map_err(|e| local_io_error("create", &std::env::temp_dir(), e))?;
        Ok(Spool {
            dir,
            files: BTreeMap::new(),
        })
    }

    fn append(
        &mut self,
        path: &str,
        kind: DatasetKind,
        character: Option<&str>,
        records: &Records,
    ) -> Result<(), StoreError> {
        if records.count == 0 {
            return Ok(());
        }
        if !self.files.contains_key(path) {
            let at = self.dir.path().join(format!("{}.jsonl", self.files.len()));
            let file = std::fs::File::create(&at).map_err(|e| local_io_error("create", &at, e))?;
            self.files.insert(
                path.to_string(),
                SpoolFile {
                    path: at,
                    out: std::io::BufWriter::with_capacity(8 * 1024, file),
                    sha: Sha256::new(),
                    kind,
                    character: character.map(str::to_string),
                    records: 0,
                },
            );
        }
        let Some(file) = self.files.get_mut(path) else {
            return Ok(());
        };
        file.out
            .write_all(&records.bytes)
            .map_err(|e| local_io_error("write", &file.path, e))?;
        file.sha.update(&records.bytes);
        file.records += records.count;
        Ok(())
    }

    /// Every file, flushed, with its summary. The folder goes when the spool does: the caller
    /// keeps the spool until the files are uploaded.
    fn finish(&mut self) -> Result<Vec<(DatasetSummary, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        for (name, file) in std::mem::take(&mut self.files) {
            let SpoolFile {
                path,
                out: mut writer,
                sha,
                kind,
                character,
                records,
            } = file;
            writer
                .flush()
                .map_err(|e| local_io_error("write", &path, e))?;
            out.push((
                DatasetSummary {
                    path: name,
                    kind,
                    character,
                    records,
                    sha256: hex::encode(sha.finalize()),
                },
                path,
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{CorpusInputs, DEFAULT_NETWORK_WINDOW, Ingest, plan_corpus};
    use crate::store::{AlertLog, MemStore};

    /// The project's sample corpus: (file name, bytes).
    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/corpus");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("fixtures")
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).expect("fixture"),
                )
            })
            .collect();
        files.sort();
        files
    }

    pub(crate) async fn ingest_all(store: &MemStore, files: &[(String, Vec<u8>)]) {
        let alerts = AlertLog::default();
        let ingest = Ingest {
            store,
            notifier: &alerts,
            location: "mem".into(),
            network_window: DEFAULT_NETWORK_WINDOW,
        };
        for (name, bytes) in files {
            let object = Object {
                bytes: bytes.clone(),
                last_modified: None,
            };
            ingest
                .upload(&format!("raw/{name}"), &object)
                .await
                .expect("ingest");
        }
    }

    fn build(store: &MemStore) -> CorpusBuild<'_, MemStore> {
        CorpusBuild {
            store,
            network_window: DEFAULT_NETWORK_WINDOW,
        }
    }

    /// What the plain build is given: every entry and its data, read whole.
    async fn inputs(store: &MemStore) -> CorpusInputs {
        let build = build(store);
        let entries = build.entries().await.expect("entries");
        let (cast, cast_label) = build.cast_from(&entries).await.expect("cast");
        let mut episodes = Vec::new();
        let mut locations = Vec::new();
        for entry in &entries {
            match entry.kind {
                SourceKind::Subtitles | SourceKind::Transcript => {
                    episodes.extend(build.episode(&[entry], &cast).await.expect("episode"))
                }
                SourceKind::Locations => {
                    let object = build.processed(entry, &cast).await.expect("read");
                    let text = String::from_utf8(object.expect("data").bytes).expect("utf-8");
                    locations.push(jsonl::parse_locations(&text).expect("locations"));
                }
                SourceKind::Characters => {}
            }
        }
        CorpusInputs {
            entries,
            episodes,
            locations,
            cast,
            cast_label,
        }
    }

    #[tokio::test]
    async fn the_streaming_build_writes_what_the_plain_build_plans() {
        let store = MemStore::new();
        ingest_all(&store, &fixtures()).await;
        let plan = plan_corpus(&inputs(&store).await, DEFAULT_NETWORK_WINDOW);
        let before = store.snapshot();
        let outcome = build(&store).run().await.expect("build");
        assert_eq!(outcome.version, plan.manifest.version);
        assert!(outcome.latest_changed);
        assert_eq!(outcome.datasets, plan.manifest.datasets.len());
        assert!(plan.manifest.datasets.len() >= 4, "{:?}", plan.manifest);
        let after = store.snapshot();
        let written: BTreeMap<&String, &Vec<u8>> = after
            .iter()
            .filter(|(key, bytes)| before.get(*key) != Some(*bytes))
            .collect();
        let planned: BTreeMap<&String, &Vec<u8>> =
            plan.outputs.iter().map(|o| (&o.key, &o.bytes)).collect();
        assert_eq!(
            written.keys().collect::<Vec<_>>(),
            planned.keys().collect::<Vec<_>>()
        );
        for (key, bytes) in planned {
            assert!(written[key] == bytes, "{key} differs from the plain build");
        }
    }

    #[tokio::test]
    async fn a_second_build_of_the_same_sources_writes_nothing() {
        let store = MemStore::new();
        ingest_all(&store, &fixtures()).await;
        let build = build(&store);
        let first = build.run().await.expect("first");
        let puts = store.puts();
        let again = build.run().await.expect("again");
        assert_eq!(again.version, first.version);
        assert_eq!((again.written, again.latest_changed), (0, false));
        assert_eq!(store.puts(), puts);
    }

    #[tokio::test]
    async fn an_empty_bucket_builds_an_empty_version() {
        let store = MemStore::new();
        let outcome = build(&store).run().await.expect("build");
        assert_eq!((outcome.sources, outcome.datasets), (0, 0));
        assert!(store.snapshot().contains_key(LATEST_KEY));
    }
}
