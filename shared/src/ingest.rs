//! Ingest: one uploaded object becomes processed dialogue, and the corpus becomes versioned
//! datasets, character networks and a manifest.
//!
//! The decisions are pure functions ([`plan_source`], [`plan_corpus`]) that return what to write;
//! [`Ingest`] reads the inputs and writes the plans through the narrow [`ObjectStore`] and
//! [`Notifier`] traits, so the Lambda (S3, SNS) and `hawkins preprocess` (a folder) run the same
//! code.
//!
//! # Why replays and races are harmless
//! - Every write goes through [`ObjectStore::put_if_changed`]: identical bytes are not written
//!   again, so a redelivered event, or the same file uploaded twice, creates no new object
//!   version and no new downstream event. Nothing here reads a clock, so the same inputs give the
//!   same bytes.
//! - A source's entry (`manifest/sources/...`) is written after its processed output: an entry
//!   never points at data that does not exist, and a crash in between is repaired by the
//!   redelivery.
//! - The corpus is rebuilt from *all* entries on every event, never updated incrementally (no
//!   lost updates between concurrent invocations). After writing `datasets/latest.json` the
//!   builder lists the entries again and rebuilds if they changed meanwhile; so the last pointer
//!   write always reflects every entry written before it.
//! - Events can arrive in any order: the object is always read at its current content, and a
//!   source only supersedes an entry of the same id from a different key when it is not older.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{Instrument, info, warn};

use crate::characters::{Cast, Character};
use crate::datasets::{self, DatasetFile, EpisodeLines, Origin};
use crate::dialogue::Line;
use crate::error::{Retry, StoreError};
use crate::hash::sha256_hex;
use crate::jsonl::{self, Location};
use crate::manifest::{
    CorpusManifest, Counts, LATEST_KEY, SOURCES_PREFIX, SourceEntry, processed_key,
};
use crate::network::NetworkBuilder;
use crate::source::{self, MAX_UPLOAD_BYTES, NotASource, RAW_PREFIX, Source, SourceKind};
use crate::store::{Alert, Notifier, Object, ObjectStore, Severity, Written};
use crate::text::{self, DecodeError};
use crate::{clean, srt, transcript};

/// The code that made an entry: a new release reprocesses uploads it had already seen.
pub const PROCESSOR: &str = concat!("hawkins-ingest/", env!("CARGO_PKG_VERSION"));
/// Lines within which two characters count as co-occurring in the network.
pub const DEFAULT_NETWORK_WINDOW: usize = 10;
/// Warnings kept in a source entry (the total is kept too).
const KEPT_WARNINGS: usize = 20;
/// Rebuilds of the corpus in one invocation when concurrent uploads keep changing it.
const MAX_CORPUS_ROUNDS: usize = 5;

/// Why an upload cannot be used: machine-readable `code`, the `line` where known, and words a
/// person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub message: String,
}

impl Rejection {
    fn new(code: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            line,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for Rejection {
    fn from(e: DecodeError) -> Self {
        let code = match e {
            DecodeError::Empty => "empty_file",
            DecodeError::Binary { .. } => "binary_file",
            DecodeError::InvalidUtf32 { .. } => "bad_encoding",
        };
        Rejection::new(code, None, e.to_string())
    }
}

/// What ingest makes of one source: the processed bytes and the entry that describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlan {
    pub processed: Vec<u8>,
    pub entry: SourceEntry,
}

/// An episode line as stored under `processed/`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EpisodeLine<'a> {
    pub episode: Cow<'a, str>,
    #[serde(flatten)]
    pub line: Line<'a>,
}

/// Decides what one upload becomes. Pure: same inputs, same bytes.
pub fn plan_source(
    source: &Source,
    raw_key: &str,
    object: &Object,
    cast: &Cast,
) -> Result<SourcePlan, Rejection> {
    let size = object.bytes.len() as u64;
    if size > MAX_UPLOAD_BYTES {
        return Err(too_large(size));
    }
    let decoded = text::decode(&object.bytes)?;
    let speaker_of = |label: &str| cast.resolve(label);
    let mut counts = Counts::default();
    let (processed, warnings) = match source.kind {
        SourceKind::Subtitles => {
            let subs = srt::parse(&decoded.text).map_err(|e| {
                let code = serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "bad_subtitles".into());
                Rejection {
                    code,
                    line: Some(e.line as u64),
                    message: e.message.clone(),
                }
            })?;
            counts.cues = subs.cues.len() as u64;
            let arena = clean::Bump::new();
            let lines = clean::clean(&subs, &speaker_of, &arena);
            if lines.is_empty() {
                return Err(Rejection::new(
                    "no_dialogue",
                    None,
                    format!(
                        "{} cues were read but none holds dialogue once sound cues, lyrics and tags are removed",
                        subs.cues.len()
                    ),
                ));
            }
            let warnings = subs
                .warnings
                .iter()
                .map(|w| format!("line {}: {}", w.line, w.message));
            (
                episode_lines(&source.name, &lines, &mut counts),
                warnings.collect(),
            )
        }
        SourceKind::Transcript => {
            let t = transcript::parse(&decoded.text, &speaker_of)
                .map_err(|e| Rejection::new("bad_transcript", Some(e.line), e.message))?;
            (
                episode_lines(&source.name, &t.lines, &mut counts),
                t.warnings,
            )
        }
        SourceKind::Locations => {
            let list = jsonl::parse_locations(&decoded.text)
                .map_err(|e| Rejection::new("bad_locations", Some(e.line as u64), e.message))?;
            counts.records = list.len() as u64;
            (json_lines(&list), Vec::new())
        }
        SourceKind::Characters => {
            let list = Cast::parse_jsonl(&decoded.text)
                .map_err(|e| Rejection::new("bad_characters", None, e.to_string()))?;
            counts.records = list.len() as u64;
            (
                serde_json::to_vec_pretty(&list).unwrap_or_default(),
                Vec::new(),
            )
        }
    };
    let entry = SourceEntry {
        id: source.id(),
        kind: source.kind,
        name: source.name.clone(),
        raw_key: raw_key.to_string(),
        raw_sha256: sha256_hex(&object.bytes),
        processor: PROCESSOR.to_string(),
        raw_bytes: size,
        raw_last_modified: object.last_modified,
        encoding: Some(decoded.encoding.to_string()),
        processed_key: processed_key(source),
        processed_sha256: sha256_hex(&processed),
        counts,
        warnings_total: warnings.len() as u64,
        warnings: warnings.into_iter().take(KEPT_WARNINGS).collect(),
    };
    Ok(SourcePlan { processed, entry })
}

fn too_large(size: u64) -> Rejection {
    Rejection::new(
        "too_large",
        None,
        format!(
            "the file is {size} bytes; Hawkins reads files up to {MAX_UPLOAD_BYTES} bytes (an episode is well under 1 MB): split it or check it is the right file"
        ),
    )
}

fn episode_lines(episode: &str, lines: &[Line<'_>], counts: &mut Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() * 96);
    for line in lines {
        counts.records += 1;
        if let Some(speaker) = &line.speaker {
            counts.with_speaker += 1;
            *counts.speakers.entry(speaker.to_string()).or_default() += 1;
        }
        let record = EpisodeLine {
            episode: Cow::Borrowed(episode),
            line: line.as_borrowed(),
        };
        if serde_json::to_writer(&mut out, &record).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

fn json_lines<T: Serialize>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        if serde_json::to_writer(&mut out, item).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Should `new` replace `existing` (same source id)? Yes for the same key (it is read at its
/// current content), and for another key unless that one is known to be newer.
pub fn supersedes(
    existing: Option<&SourceEntry>,
    raw_key: &str,
    last_modified: Option<i64>,
) -> bool {
    match existing {
        None => true,
        Some(old) if old.raw_key == raw_key => true,
        Some(old) => match (old.raw_last_modified, last_modified) {
            (Some(old_time), Some(new_time)) => new_time >= old_time,
            _ => true,
        },
    }
}

/// The quarantine copy and its reason, for a raw key.
pub fn quarantine_keys(raw_key: &str) -> (String, String) {
    let rest = raw_key.strip_prefix(RAW_PREFIX).unwrap_or(raw_key);
    (
        format!("quarantine/{rest}"),
        format!("quarantine/{rest}.reason.json"),
    )
}

/// The reason file a person (or a script) reads next to a quarantined copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineReason<'a> {
    pub raw_key: &'a str,
    /// The upload's SHA-256 (or `revision:<S3 revision>` for a file refused unread).
    pub raw_sha256: String,
    /// Where the copy is; `None` for a file too large to copy.
    pub copy_key: Option<&'a str>,
    pub reason: &'a Rejection,
    pub action: String,
}

/// The alert for a quarantined upload.
pub fn quarantine_alert(location: &str, reason: &QuarantineReason<'_>) -> Alert {
    let file = reason.raw_key.rsplit('/').next().unwrap_or(reason.raw_key);
    let at = reason
        .reason
        .line
        .map(|l| format!(" (line {l})"))
        .unwrap_or_default();
    let mut subject = format!("Hawkins: could not use {file}");
    if subject.chars().count() > 100 {
        subject = subject.chars().take(99).collect::<String>() + "…";
    }
    let (_, reason_key) = quarantine_keys(reason.raw_key);
    let kept = match reason.copy_key {
        Some(copy) => {
            format!("a copy is in {location}/{copy} and this reason in {location}/{reason_key}")
        }
        None => format!("this reason is in {location}/{reason_key}"),
    };
    let body = format!(
        "Hawkins could not process an uploaded file.\n\n\
         File:    {location}/{raw}\n\
         Problem: {code}{at}: {message}\n\n\
         What to do: {action}\n\n\
         The upload itself is untouched; {kept}. The corpus keeps using the previous good \
         version of this source, if there was one.\n",
        raw = reason.raw_key,
        code = reason.reason.code,
        message = reason.reason.message,
        action = reason.action,
    );
    let attributes = BTreeMap::from([
        ("code".to_string(), reason.reason.code.clone()),
        ("key".to_string(), reason.raw_key.to_string()),
    ]);
    Alert {
        kind: "quarantine".into(),
        severity: Severity::Warning,
        subject,
        body,
        attributes,
        id: format!("quarantine/{}/{}", reason.raw_key, reason.raw_sha256),
    }
}

fn action_for(code: &str) -> String {
    match code {
        "unsupported_type" => "upload subtitles as .srt, transcripts as .csv (name,line), and lists as locations.jsonl or characters.jsonl".into(),
        "too_large" => "upload one episode per file".into(),
        "empty_file" => "upload the file again; the upload that arrived was empty".into(),
        "binary_file" => "check that this is a text subtitle file (an .srt exported as text), not a video, archive or image".into(),
        "bad_encoding" => "save the file again as UTF-8 (subtitle tools and text editors offer it when saving) and upload it under the same name".into(),
        _ => "fix the file at the line named (or re-export it from your subtitle tool) and upload it again under the same name; it replaces this attempt".into(),
    }
}

/// Everything the corpus build needs, read from the store.
#[derive(Debug, Clone)]
pub struct CorpusInputs {
    pub entries: Vec<SourceEntry>,
    pub episodes: Vec<EpisodeLines>,
    pub locations: Vec<Vec<Location>>,
    pub cast: Cast,
    /// `builtin`, or the ids of the uploaded character lists.
    pub cast_label: String,
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The corpus build's result: files to write (the `latest` pointer last), and the manifest.
#[derive(Debug, Clone)]
pub struct CorpusPlan {
    pub outputs: Vec<Output>,
    pub manifest: CorpusManifest,
}

/// Decides every corpus-level file. Pure.
pub fn plan_corpus(inputs: &CorpusInputs, window: usize) -> CorpusPlan {
    // One source per episode for themes and networks: the transcript names every speaker; the
    // subtitles stand in where there is no transcript. Chat sets use both (duplicates dropped).
    let mut picked: BTreeMap<&str, &EpisodeLines> = BTreeMap::new();
    for episode in &inputs.episodes {
        let keep = picked.get(episode.episode.as_str()).is_none_or(|current| {
            current.origin == Origin::Subtitles && episode.origin == Origin::Transcript
        });
        if keep {
            picked.insert(&episode.episode, episode);
        }
    }
    let per_episode: Vec<EpisodeLines> = picked.values().map(|e| (*e).clone()).collect();

    let mut files: Vec<DatasetFile> = datasets::chatbot(&inputs.episodes, &inputs.cast);
    files.extend(datasets::themes(&per_episode));
    files.extend(datasets::locations(&inputs.locations));
    let episodes: Vec<String> = picked.keys().map(|e| e.to_string()).collect();
    let manifest =
        CorpusManifest::new(&files, &inputs.entries, inputs.cast_label.clone(), episodes);

    let mut outputs = Vec::new();
    let mut corpus_network = NetworkBuilder::new(&inputs.cast, window);
    for episode in &per_episode {
        corpus_network.add_episode(&episode.lines);
        let mut builder = NetworkBuilder::new(&inputs.cast, window);
        builder.add_episode(&episode.lines);
        let network = builder.finish();
        let stem = format!("processed/network/episodes/{}", episode.episode);
        outputs.push(json_output(
            format!("{stem}.json"),
            network.to_json().into_bytes(),
        ));
        outputs.push(html_output(
            format!("{stem}.html"),
            network.to_html(&format!(
                "Stranger Things {}: character network",
                episode.episode
            )),
        ));
    }
    if !per_episode.is_empty() {
        let network = corpus_network.finish();
        outputs.push(json_output(
            "processed/network/corpus.json".into(),
            network.to_json().into_bytes(),
        ));
        outputs.push(html_output(
            "processed/network/corpus.html".into(),
            network.to_html(&format!(
                "Stranger Things corpus {}: character network",
                manifest.version
            )),
        ));
    }
    for (file, entry) in sorted(&files).into_iter().zip(&manifest.datasets) {
        outputs.push(Output {
            key: entry.key.clone(),
            bytes: file.bytes.clone(),
            content_type: "application/x-ndjson",
        });
    }
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    outputs.push(json_output(manifest.key(), manifest_bytes.clone()));
    outputs.push(json_output(LATEST_KEY.into(), manifest_bytes));
    CorpusPlan { outputs, manifest }
}

fn sorted(files: &[DatasetFile]) -> Vec<&DatasetFile> {
    let mut files: Vec<&DatasetFile> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn json_output(key: String, bytes: Vec<u8>) -> Output {
    Output {
        key,
        bytes,
        content_type: "application/json",
    }
}

fn html_output(key: String, html: String) -> Output {
    Output {
        key,
        bytes: html.into_bytes(),
        content_type: "text/html; charset=utf-8",
    }
}

/// The cast the corpus uses: the uploaded character lists (merged, each name given the built-in
/// aliases it has there), or the built-in list when none was uploaded.
pub fn corpus_cast(uploaded: &[(String, Vec<Character>)]) -> (Cast, String) {
    if uploaded.is_empty() {
        return (Cast::builtin(), "builtin".into());
    }
    let builtin = Cast::builtin();
    let mut by_name: BTreeMap<String, Character> = BTreeMap::new();
    for character in uploaded.iter().flat_map(|(_, list)| list) {
        let known = builtin
            .characters()
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(&character.name));
        let merged = by_name
            .entry(character.name.to_lowercase())
            .or_insert_with(|| character.clone());
        for alias in character
            .aliases
            .iter()
            .chain(known.into_iter().flat_map(|k| &k.aliases))
        {
            if !merged.aliases.contains(alias) {
                merged.aliases.push(alias.clone());
            }
        }
    }
    let label = uploaded
        .iter()
        .map(|(id, _)| id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    (
        Cast::from_characters(by_name.into_values().collect()),
        label,
    )
}

/// A failure that stops an invocation; bad input is never one (it is quarantined instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something ingest wrote itself no longer reads back: a person must look.
    #[error(
        "{key} is not what ingest writes ({message}); delete it so the next upload rebuilds it"
    )]
    Corrupt { key: String, message: String },
    /// A source's data and its entry disagree and cannot be made to agree now: another upload
    /// of the same source is being processed; the event comes back once it is done.
    #[error(
        "{key} does not match its entry (made from {raw_key}): {why}; the build is tried again"
    )]
    Torn {
        key: String,
        raw_key: String,
        why: String,
    },
}

impl Retry for IngestError {
    fn retryable(&self) -> bool {
        match self {
            IngestError::Store(e) => e.retryable(),
            IngestError::Torn { .. } => true,
            IngestError::Corrupt { .. } => false,
        }
    }
}

/// What happened to one uploaded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ObjectOutcome {
    /// Not an upload (outside `raw/`, a folder, or gone): nothing done.
    Ignored { key: String, why: String },
    /// Processed; `changed` is false when the same bytes had been processed already.
    Processed {
        key: String,
        source: String,
        changed: bool,
        lines: u64,
        speakers: u64,
    },
    /// Another upload of the same source is newer: this one is not used.
    Superseded {
        key: String,
        source: String,
        by: String,
    },
    /// Unusable: copied to quarantine with its reason; `alerted` is false on a replay.
    Quarantined {
        key: String,
        reason: Rejection,
        alerted: bool,
    },
}

impl ObjectOutcome {
    /// The object this outcome is about.
    pub fn key(&self) -> &str {
        match self {
            ObjectOutcome::Ignored { key, .. }
            | ObjectOutcome::Processed { key, .. }
            | ObjectOutcome::Superseded { key, .. }
            | ObjectOutcome::Quarantined { key, .. } => key,
        }
    }
}

/// What the corpus build did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorpusOutcome {
    pub version: String,
    pub sources: usize,
    pub datasets: usize,
    pub written: usize,
    pub unchanged: usize,
    /// Whether `datasets/latest.json` was written: the event that leads to training.
    pub latest_changed: bool,
}

/// Where settings and the two capabilities meet.
pub struct Ingest<'a, S, N> {
    pub store: &'a S,
    pub notifier: &'a N,
    /// `s3://bucket` or a folder: how messages name where things are.
    pub location: String,
    pub network_window: usize,
}

impl<S: ObjectStore, N: Notifier> Ingest<'_, S, N> {
    /// Reads the object at its current content and processes it.
    pub async fn object(&self, key: &str) -> Result<ObjectOutcome, IngestError> {
        if let Err(e @ (NotASource::OutsideRaw(_) | NotASource::Folder(_))) = source::classify(key)
        {
            return Ok(ObjectOutcome::Ignored {
                key: key.into(),
                why: e.to_string(),
            });
        }
        let gone = || ObjectOutcome::Ignored {
            key: key.into(),
            why: "the object no longer exists (deleted after the event was sent)".into(),
        };
        // Look before reading: a file too large for the function is refused unread, so no upload
        // can exhaust its memory.
        let Some(head) = self.store.head(key).await? else {
            return Ok(gone());
        };
        if let Some(size) = head.size.filter(|size| *size > MAX_UPLOAD_BYTES) {
            let content = format!("revision:{}", head.revision);
            return self
                .quarantine_with(key, content, None, too_large(size))
                .await;
        }
        match self.store.get(key).await? {
            Some(object) => self.upload(key, &object).await,
            None => Ok(gone()),
        }
    }

    /// Processes an upload whose bytes are in hand: the Lambda after GetObject, or
    /// `hawkins preprocess` reading a file.
    pub async fn upload(&self, key: &str, object: &Object) -> Result<ObjectOutcome, IngestError> {
        match source::classify(key) {
            Ok(source) => self.source(&source, key, object).await,
            Err(e @ NotASource::Unsupported { .. }) => {
                let rejection = Rejection::new("unsupported_type", None, e.to_string());
                self.quarantine(key, object, rejection).await
            }
            Err(e) => Ok(ObjectOutcome::Ignored {
                key: key.into(),
                why: e.to_string(),
            }),
        }
    }

    /// Processes one classified source.
    async fn source(
        &self,
        source: &Source,
        key: &str,
        object: &Object,
    ) -> Result<ObjectOutcome, IngestError> {
        let entry_key = SourceEntry::key(source);
        let existing = self.read_json::<SourceEntry>(&entry_key).await?;
        if !supersedes(existing.as_ref(), key, object.last_modified) {
            let by = existing.map(|e| e.raw_key).unwrap_or_default();
            info!(key, source = %source.id(), by, "superseded by a newer upload");
            return Ok(ObjectOutcome::Superseded {
                key: key.into(),
                source: source.id(),
                by,
            });
        }
        // The same bytes under the same key, processed by this same code: nothing to redo. (The
        // object's LastModified moves on a re-upload; it must not make the entry differ.)
        let raw_sha256 = sha256_hex(&object.bytes);
        if let Some(old) = existing.as_ref().filter(|old| {
            old.raw_key == key && old.raw_sha256 == raw_sha256 && old.processor == PROCESSOR
        }) {
            info!(key, source = %old.id, "same content already processed");
            return Ok(ObjectOutcome::Processed {
                key: key.into(),
                source: old.id.clone(),
                changed: false,
                lines: old.counts.records,
                speakers: old.counts.speakers.len() as u64,
            });
        }
        let cast = if matches!(source.kind, SourceKind::Subtitles | SourceKind::Transcript) {
            self.load_cast().await?.0
        } else {
            Cast::builtin()
        };
        let plan = match plan_source(source, key, object, &cast) {
            Ok(plan) => plan,
            Err(rejection) => return self.quarantine(key, object, rejection).await,
        };
        let entry = &plan.entry;
        let written_data = self
            .store
            .put_if_changed(
                &entry.processed_key,
                plan.processed.clone(),
                content_type(source.kind),
            )
            .await?;
        let entry_bytes = serde_json::to_vec_pretty(entry).unwrap_or_default();
        let written_entry = self
            .store
            .put_if_changed(&entry_key, entry_bytes, "application/json")
            .await?;
        let changed = written_data == Written::Stored || written_entry == Written::Stored;
        info!(
            key,
            source = %entry.id,
            episode = source.episode().unwrap_or_default(),
            changed,
            lines = entry.counts.records,
            with_speaker = entry.counts.with_speaker,
            warnings = entry.warnings_total,
            "source processed"
        );
        Ok(ObjectOutcome::Processed {
            key: key.into(),
            source: entry.id.clone(),
            changed,
            lines: entry.counts.records,
            speakers: entry.counts.speakers.len() as u64,
        })
    }

    /// Copies an unusable upload to `quarantine/` with its reason and alerts, once per content.
    pub async fn quarantine(
        &self,
        key: &str,
        object: &Object,
        rejection: Rejection,
    ) -> Result<ObjectOutcome, IngestError> {
        let content = sha256_hex(&object.bytes);
        self.quarantine_with(key, content, Some(object.bytes.clone()), rejection)
            .await
    }

    /// Quarantines an upload identified by `content` (its hash, or its S3 revision when it was not
    /// read), copying `copy` when there is one.
    async fn quarantine_with(
        &self,
        key: &str,
        content: String,
        copy: Option<Vec<u8>>,
        rejection: Rejection,
    ) -> Result<ObjectOutcome, IngestError> {
        let (copy_key, reason_key) = quarantine_keys(key);
        let reason = QuarantineReason {
            raw_key: key,
            raw_sha256: content,
            copy_key: copy.as_ref().map(|_| copy_key.as_str()),
            action: action_for(&rejection.code),
            reason: &rejection,
        };
        let reason_bytes = serde_json::to_vec_pretty(&reason).unwrap_or_default();
        // The reason file doubles as the "already alerted" marker. Alert first, then write it:
        // a crash in between means one repeated alert on redelivery, never a lost one.
        let already = self.store.stored_sha256(&reason_key).await?.as_deref()
            == Some(sha256_hex(&reason_bytes).as_str());
        if !already {
            self.notifier
                .publish(&quarantine_alert(&self.location, &reason))
                .await?;
        }
        if let Some(bytes) = copy {
            self.store
                .put_if_changed(&copy_key, bytes, "application/octet-stream")
                .await?;
        }
        self.store
            .put_if_changed(&reason_key, reason_bytes, "application/json")
            .await?;
        warn!(key, code = %rejection.code, line = ?rejection.line, message = %rejection.message, alerted = !already, "quarantined");
        Ok(ObjectOutcome::Quarantined {
            key: key.into(),
            reason: rejection,
            alerted: !already,
        })
    }

    /// Rebuilds datasets, networks and the manifest from every source entry.
    pub async fn corpus(&self) -> Result<CorpusOutcome, IngestError> {
        let mut outcome = None;
        let mut latest_changed = false;
        for _round in 0..MAX_CORPUS_ROUNDS {
            let (fingerprint, inputs) = self.read_corpus().await?;
            let plan = plan_corpus(&inputs, self.network_window);
            let (mut written, mut unchanged) = (0, 0);
            for output in plan.outputs {
                let is_latest = output.key == LATEST_KEY;
                match self
                    .store
                    .put_if_changed(&output.key, output.bytes, output.content_type)
                    .await?
                {
                    Written::Stored => {
                        written += 1;
                        latest_changed |= is_latest;
                    }
                    Written::Unchanged => unchanged += 1,
                }
            }
            info!(
                corpus_version = %plan.manifest.version,
                sources = inputs.entries.len(),
                datasets = plan.manifest.datasets.len(),
                written,
                unchanged,
                "corpus built"
            );
            outcome = Some(CorpusOutcome {
                version: plan.manifest.version,
                sources: inputs.entries.len(),
                datasets: plan.manifest.datasets.len(),
                written,
                unchanged,
                latest_changed,
            });
            if self.entries_fingerprint().await? == fingerprint {
                break;
            }
            info!("sources changed during the build: building again");
        }
        outcome.ok_or_else(|| IngestError::Corrupt {
            key: SOURCES_PREFIX.into(),
            message: "no build round ran".into(),
        })
    }

    async fn entries_fingerprint(&self) -> Result<Vec<(String, Option<String>)>, IngestError> {
        let mut out = Vec::new();
        for key in self.store.list(SOURCES_PREFIX).await? {
            let sha = self.store.stored_sha256(&key).await?;
            out.push((key, sha));
        }
        Ok(out)
    }

    async fn read_corpus(
        &self,
    ) -> Result<(Vec<(String, Option<String>)>, CorpusInputs), IngestError> {
        let fingerprint = self.entries_fingerprint().await?;
        let mut entries = Vec::new();
        for (key, _) in &fingerprint {
            if let Some(entry) = self.read_json::<SourceEntry>(key).await? {
                entries.push(entry);
            }
        }
        let (cast, cast_label) = self.cast_from(&entries).await?;
        let mut episodes = Vec::new();
        let mut locations = Vec::new();
        // Character lists were read (and checked) for the cast above.
        for entry in entries.iter().filter(|e| e.kind != SourceKind::Characters) {
            let Some(object) = self.processed(entry, &cast).await? else {
                warn!(source = %entry.id, key = %entry.processed_key, "processed data missing; source skipped until re-uploaded");
                continue;
            };
            let corrupt = |message: String| IngestError::Corrupt {
                key: entry.processed_key.clone(),
                message,
            };
            match entry.kind {
                SourceKind::Subtitles | SourceKind::Transcript => {
                    let mut lines = Vec::new();
                    for raw in object
                        .bytes
                        .split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                    {
                        let line: EpisodeLine<'static> =
                            serde_json::from_slice(raw).map_err(|e| corrupt(e.to_string()))?;
                        lines.push(line.line);
                    }
                    let origin = if entry.kind == SourceKind::Transcript {
                        Origin::Transcript
                    } else {
                        Origin::Subtitles
                    };
                    episodes.push(EpisodeLines {
                        episode: entry.name.clone(),
                        origin,
                        lines,
                    });
                }
                SourceKind::Locations => {
                    let text = String::from_utf8_lossy(&object.bytes);
                    locations
                        .push(jsonl::parse_locations(&text).map_err(|e| corrupt(e.to_string()))?);
                }
                SourceKind::Characters => {}
            }
        }
        Ok((
            fingerprint,
            CorpusInputs {
                entries,
                episodes,
                locations,
                cast,
                cast_label,
            },
        ))
    }

    /// The cast in force: uploaded character lists, or the built-in one.
    pub async fn load_cast(&self) -> Result<(Cast, String), IngestError> {
        let mut entries = Vec::new();
        for key in self
            .store
            .list(&format!("{SOURCES_PREFIX}characters/"))
            .await?
        {
            entries.extend(self.read_json::<SourceEntry>(&key).await?);
        }
        self.cast_from(&entries).await
    }

    async fn cast_from(&self, entries: &[SourceEntry]) -> Result<(Cast, String), IngestError> {
        let mut uploaded = Vec::new();
        for entry in entries.iter().filter(|e| e.kind == SourceKind::Characters) {
            // A characters list is read with the built-in cast, as when it was uploaded.
            if let Some(object) = self.processed(entry, &Cast::builtin()).await? {
                let list: Vec<Character> =
                    serde_json::from_slice(&object.bytes).map_err(|e| IngestError::Corrupt {
                        key: entry.processed_key.clone(),
                        message: e.to_string(),
                    })?;
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
    async fn processed(
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
                content_type(source.kind),
            )
            .await?;
        Ok(Some(Object {
            bytes: plan.processed,
            ..object
        }))
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, IngestError> {
        let Some(object) = self.store.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&object.bytes)
            .map(Some)
            .map_err(|e| IngestError::Corrupt {
                key: key.into(),
                message: e.to_string(),
            })
    }
}

fn content_type(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Characters => "application/json",
        _ => "application/x-ndjson",
    }
}

/// What one invocation did: the Lambda's response, and a log line per object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReport {
    pub objects: Vec<ObjectOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corpus: Option<CorpusOutcome>,
}

/// Handles one event (either envelope): each created object in turn, then one corpus build.
///
/// The corpus is rebuilt even when no object changed: if an earlier delivery died between a
/// source's entry and the corpus files, this redelivery finishes its work (and writes nothing
/// when there is nothing to finish). Objects in another bucket are ignored, loudly: the stack
/// routes only its own bucket here.
pub async fn handle_event<S: ObjectStore, N: Notifier>(
    ingest: &Ingest<'_, S, N>,
    bucket: &str,
    event: serde_json::Value,
) -> Result<EventReport, HandlerError> {
    let refs = match crate::events::object_event(event)? {
        crate::events::ObjectEvent::Created(refs) => refs,
        crate::events::ObjectEvent::Ignored(why) => {
            info!(why, "event ignored");
            return Ok(EventReport {
                objects: Vec::new(),
                corpus: None,
            });
        }
    };
    let mut objects = Vec::with_capacity(refs.len());
    for object in refs {
        if object.bucket != bucket {
            warn!(bucket = %object.bucket, key = %object.key, expected = bucket, "object in another bucket ignored");
            objects.push(ObjectOutcome::Ignored {
                key: object.key,
                why: format!(
                    "bucket '{}' is not the pipeline bucket '{bucket}'",
                    object.bucket
                ),
            });
            continue;
        }
        let span = tracing::info_span!("object", key = %object.key);
        objects.push(ingest.object(&object.key).instrument(span).await?);
    }
    let any_source = objects
        .iter()
        .any(|o| !matches!(o, ObjectOutcome::Ignored { .. }));
    let corpus = if any_source {
        let keys: Vec<&str> = objects.iter().map(ObjectOutcome::key).collect();
        let span = tracing::info_span!("corpus", trigger = ?keys);
        Some(ingest.corpus().instrument(span).await?)
    } else {
        None
    };
    Ok(EventReport { objects, corpus })
}

/// Why an invocation failed, for the runtime: the event comes back only when that can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] crate::events::EventError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl Retry for HandlerError {
    fn retryable(&self) -> bool {
        match self {
            HandlerError::Event(_) => false,
            HandlerError::Ingest(e) => e.retryable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AlertLog, MemStore};

    const EPISODE: &str = "1\r\n00:00:01,000 --> 00:00:02,000\r\nMIKE: Where is he?\r\n\r\n2\r\n00:00:02,500 --> 00:00:04,000\r\nELEVEN: Gone.\r\n";

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime.block_on(future),
            Err(e) => panic!("runtime: {e}"),
        }
    }

    fn ingest<'a>(store: &'a MemStore, alerts: &'a AlertLog) -> Ingest<'a, MemStore, AlertLog> {
        Ingest {
            store,
            notifier: alerts,
            location: "mem".into(),
            network_window: DEFAULT_NETWORK_WINDOW,
        }
    }

    #[test]
    fn a_second_delivery_writes_nothing() {
        let (store, alerts) = (MemStore::new(), AlertLog::default());
        store.insert("raw/S01E01.srt", EPISODE.as_bytes());
        let ingest = ingest(&store, &alerts);
        run(async {
            let first = ingest.object("raw/S01E01.srt").await.expect("first");
            assert!(
                matches!(first, ObjectOutcome::Processed { changed: true, .. }),
                "{first:?}"
            );
            let corpus = ingest.corpus().await.expect("corpus");
            assert!(corpus.latest_changed && corpus.written > 0);
            let puts = store.puts();
            let again = ingest.object("raw/S01E01.srt").await.expect("again");
            assert!(
                matches!(again, ObjectOutcome::Processed { changed: false, .. }),
                "{again:?}"
            );
            let corpus = ingest.corpus().await.expect("corpus");
            assert_eq!((corpus.written, corpus.latest_changed), (0, false));
            assert_eq!(store.puts(), puts);
        });
    }

    #[test]
    fn a_file_too_large_is_refused_unread_and_alerted_once() {
        let (store, alerts) = (MemStore::new(), AlertLog::default());
        store.insert("raw/huge.srt", &vec![b'a'; MAX_UPLOAD_BYTES as usize + 1]);
        let ingest = ingest(&store, &alerts);
        run(async {
            for _ in 0..2 {
                let outcome = ingest.object("raw/huge.srt").await.expect("outcome");
                let ObjectOutcome::Quarantined { reason, .. } = outcome else {
                    panic!("{outcome:?}");
                };
                assert_eq!(reason.code, "too_large");
            }
        });
        assert_eq!(alerts.alerts().len(), 1);
        let keys: Vec<_> = store.snapshot().into_keys().collect();
        assert_eq!(
            keys,
            ["quarantine/huge.srt.reason.json", "raw/huge.srt"],
            "no copy of a file refused unread"
        );
    }

    #[test]
    fn a_bad_upload_keeps_the_good_version_in_use() {
        let (store, alerts) = (MemStore::new(), AlertLog::default());
        let ingest = ingest(&store, &alerts);
        run(async {
            store.insert("raw/S01E01.srt", EPISODE.as_bytes());
            ingest.object("raw/S01E01.srt").await.expect("good");
            let good = ingest.corpus().await.expect("corpus").version;
            store.insert("raw/S01E01.srt", b"these are notes, not subtitles\n");
            let bad = ingest.object("raw/S01E01.srt").await.expect("bad");
            assert!(
                matches!(bad, ObjectOutcome::Quarantined { alerted: true, .. }),
                "{bad:?}"
            );
            assert_eq!(ingest.corpus().await.expect("corpus").version, good);
        });
        assert_eq!(
            store.snapshot().get("raw/S01E01.srt").map(Vec::as_slice),
            Some(b"these are notes, not subtitles\n".as_slice())
        );
    }

    /// Uploads that players read are planned as the plain file is: NUL padding after the last
    /// cue, UTF-32. UTF-32 that holds no character, and NULs within the text, are refused.
    #[test]
    fn padded_and_utf32_uploads_plan_like_plain_ones() {
        let source = source::classify("raw/S01E01.srt").expect("a subtitle key");
        let cast = Cast::builtin();
        let plan = |bytes: Vec<u8>| {
            let object = Object {
                bytes,
                last_modified: None,
            };
            plan_source(&source, "raw/S01E01.srt", &object, &cast)
        };
        let utf32 = |text: &str| -> Vec<u8> {
            std::iter::once('\u{FEFF}')
                .chain(text.chars())
                .flat_map(|c| u32::from(c).to_le_bytes())
                .collect()
        };
        let plain = plan(EPISODE.as_bytes().to_vec()).expect("the plain file");
        let episode = EPISODE.as_bytes();
        for (name, bytes, encoding) in [
            ("nul padding", [episode, &[0; 509]].concat(), "utf-8"),
            (
                "nul padding, then a line break",
                [episode, &[0; 100], b"\r\n"].concat(),
                "utf-8",
            ),
            ("utf-32", utf32(EPISODE), "utf-32le"),
            (
                "utf-32 with nul padding",
                [utf32(EPISODE), vec![0; 64]].concat(),
                "utf-32le",
            ),
        ] {
            let got = plan(bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(got.processed, plain.processed, "{name}");
            assert_eq!(got.entry.encoding.as_deref(), Some(encoding), "{name}");
        }
        let mut broken = utf32(EPISODE);
        broken[8..12].copy_from_slice(&0xD800u32.to_le_bytes());
        let e = plan(broken).expect_err("a surrogate is no character");
        assert_eq!((e.code.as_str(), e.line), ("bad_encoding", None), "{e:?}");
        assert!(e.message.contains("byte offset 8"), "{}", e.message);
        assert!(action_for(&e.code).contains("UTF-8"));
        let e = plan([episode, b"\0", episode].concat()).expect_err("a NUL within the text");
        assert_eq!(e.code, "binary_file");
    }

    #[test]
    fn newer_uploads_supersede_older_ones() {
        let entry = |key: &str, time| SourceEntry {
            id: "subtitles/S01E01".into(),
            kind: SourceKind::Subtitles,
            name: "S01E01".into(),
            raw_key: key.into(),
            raw_sha256: String::new(),
            raw_bytes: 0,
            processor: PROCESSOR.into(),
            raw_last_modified: time,
            encoding: None,
            processed_key: String::new(),
            processed_sha256: String::new(),
            counts: Counts::default(),
            warnings: Vec::new(),
            warnings_total: 0,
        };
        assert!(supersedes(None, "raw/a.srt", Some(5)));
        assert!(
            supersedes(Some(&entry("raw/a.srt", Some(9))), "raw/a.srt", Some(5)),
            "same key: read at its current content"
        );
        assert!(
            !supersedes(Some(&entry("raw/b.srt", Some(9))), "raw/a.srt", Some(5)),
            "an older upload under another name"
        );
        assert!(supersedes(
            Some(&entry("raw/b.srt", Some(5))),
            "raw/a.srt",
            Some(9)
        ));
    }

    const OTHER_EPISODE: &str = "1\r\n00:00:01,000 --> 00:00:02,000\r\nDUSTIN: Curiosity door.\r\n";

    #[test]
    fn two_names_for_one_episode_written_across_each_other_are_built_from_one_upload() {
        let (store, alerts) = (MemStore::new(), AlertLog::default());
        let ingest = ingest(&store, &alerts);
        let (first, second) = ("raw/a/S01E01.srt", "raw/b/S01E01.srt");
        let id = |key| source::classify(key).map(|s| s.id()).ok();
        assert_eq!(id(first), id(second), "the same source");
        run(async {
            store.insert(first, EPISODE.as_bytes());
            ingest.object(first).await.expect("first");
            let entry_key = SourceEntry::key(&source::classify(first).expect("source"));
            let entry = store.snapshot()[&entry_key].clone();
            // The second upload ran at the same time: its data landed last, the first's entry
            // last, so the pair now disagrees.
            store.insert(second, OTHER_EPISODE.as_bytes());
            ingest.object(second).await.expect("second");
            store.insert(&entry_key, &entry);
            let corpus = ingest.corpus().await.expect("corpus");
            assert!(corpus.latest_changed);
            let snapshot = store.snapshot();
            let entry: SourceEntry = serde_json::from_slice(&snapshot[&entry_key]).expect("entry");
            assert_eq!(entry.raw_key, first);
            let data = &snapshot[&entry.processed_key];
            assert_eq!(
                sha256_hex(data),
                entry.processed_sha256,
                "data matches its entry again"
            );
            let text = String::from_utf8_lossy(data);
            assert!(
                text.contains("Gone.") && !text.contains("Curiosity"),
                "{text}"
            );
            let datasets = snapshot
                .iter()
                .filter(|(k, _)| k.starts_with("datasets/") && k.ends_with(".jsonl"))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect::<String>();
            assert!(!datasets.contains("Curiosity"), "{datasets}");
        });
    }

    #[test]
    fn data_that_matches_no_current_upload_makes_the_build_wait() {
        let (store, alerts) = (MemStore::new(), AlertLog::default());
        let ingest = ingest(&store, &alerts);
        run(async {
            store.insert("raw/S01E01.srt", EPISODE.as_bytes());
            ingest.object("raw/S01E01.srt").await.expect("first");
            let entry_key = SourceEntry::key(&source::classify("raw/S01E01.srt").expect("source"));
            let entry: SourceEntry =
                serde_json::from_slice(&store.snapshot()[&entry_key]).expect("entry");
            // A re-upload is half processed: its data is written, its entry not yet.
            store.insert("raw/S01E01.srt", OTHER_EPISODE.as_bytes());
            store.insert(&entry.processed_key, b"{}\n");
            let error = ingest.corpus().await.expect_err("torn");
            assert!(matches!(error, IngestError::Torn { .. }), "{error}");
            assert!(error.retryable(), "{error}");
            // Its event comes: the pair agrees and the build goes through.
            ingest.object("raw/S01E01.srt").await.expect("re-upload");
            ingest.corpus().await.expect("corpus");
        });
    }
}
