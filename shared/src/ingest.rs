//! Ingest: one uploaded object becomes processed dialogue and its source entry; the corpus
//! (versioned datasets, character networks, a manifest) is built from all entries once uploads
//! have settled ([`crate::corpus`], run by the train function).
//!
//! The decisions are pure functions ([`plan_source`], and [`plan_corpus`], the corpus build
//! written plainly) that return what to write; [`Ingest`] reads the inputs and writes the plans
//! through the narrow [`ObjectStore`] and [`Notifier`] traits, so the Lambda (S3, SNS) and
//! `hawkins preprocess` (a folder) run the same code.
//!
//! # Work per upload
//! An upload reads its object, its entry and the character lists, and writes its processed data,
//! its entry and `manifest/pending.json`: the same few requests however large the corpus is.
//!
//! # Why replays and races are harmless
//! - Every write goes through [`ObjectStore::put_if_changed`]: identical bytes are not written
//!   again, so a redelivered event, or the same file uploaded twice, creates no new object
//!   version and no new downstream event. Nothing here reads a clock, so the same inputs give the
//!   same bytes.
//! - A source's entry (`manifest/sources/...`) is written after its processed output, and the
//!   pending change after the entry: an entry never points at data that does not exist, a build
//!   never misses an entry whose change it was started by, and a crash in between is repaired by
//!   the redelivery (which writes the pending change again; see [`Ingest::object`]).
//! - Events can arrive in any order: the object is always read at its current content, and a
//!   source only supersedes an entry of the same id from a different key when it is not older.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{Instrument, info, warn};

use crate::characters::{Cast, Character};
use crate::corpus::CorpusBuild;
use crate::datasets::{self, DatasetFile, EpisodeLines};
use crate::dialogue::Line;
use crate::error::{Retry, StoreError};
use crate::hash::sha256_hex;
use crate::jsonl::{self, Location};
use crate::manifest::{
    CorpusManifest, Counts, LATEST_KEY, PENDING_KEY, PendingChange, SourceEntry, processed_key,
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
    plan_bytes(
        source,
        raw_key,
        Cow::Borrowed(&object.bytes),
        object.last_modified,
        cast,
    )
}

/// [`plan_source`] over bytes it may own: an upload that had to be converted to UTF-8 (UTF-16,
/// Windows-1252, ...) is let go as soon as it is, so a large one is not held twice.
pub fn plan_bytes(
    source: &Source,
    raw_key: &str,
    bytes: Cow<'_, [u8]>,
    last_modified: Option<i64>,
    cast: &Cast,
) -> Result<SourcePlan, Rejection> {
    let size = bytes.len() as u64;
    if size > MAX_UPLOAD_BYTES {
        return Err(too_large(size));
    }
    let raw_sha256 = sha256_hex(&bytes);
    let converted = {
        let decoded = text::decode(&bytes)?;
        match decoded.text {
            Cow::Owned(text) => Some((text, decoded.encoding)),
            Cow::Borrowed(_) => None,
        }
    };
    let bytes = if converted.is_some() {
        drop(bytes);
        Cow::Borrowed(&[][..])
    } else {
        bytes
    };
    let decoded = match converted {
        Some((text, encoding)) => text::Decoded {
            text: Cow::Owned(text),
            encoding,
            had_bom: false,
        },
        None => text::decode(&bytes)?,
    };
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
        raw_sha256,
        processor: PROCESSOR.to_string(),
        raw_bytes: size,
        raw_last_modified: last_modified,
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
    // Room for every record at once, so the buffer is never copied to grow: a bound (JSON's
    // escapes seldom double a text), and only the part written takes memory.
    let bound: usize = lines
        .iter()
        .map(|l| 96 + episode.len() + 2 * (l.text.len() + l.speaker.as_deref().map_or(0, str::len)))
        .sum();
    let mut out = Vec::with_capacity(bound);
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

/// Decides every corpus-level file at once, in memory. Pure. The bucket's corpus is built by
/// [`crate::corpus::CorpusBuild`], one episode at a time; this is the same build written
/// plainly, which `hawkins preprocess` tests and the streaming build are checked against.
pub fn plan_corpus(inputs: &CorpusInputs, window: usize) -> CorpusPlan {
    // Episodes by name, each one's sources in entry order: the order the streaming build reads.
    let mut groups: BTreeMap<&str, Vec<&EpisodeLines>> = BTreeMap::new();
    for episode in &inputs.episodes {
        groups.entry(&episode.episode).or_default().push(episode);
    }
    let ordered: Vec<EpisodeLines> = groups.values().flatten().map(|e| (*e).clone()).collect();
    // One source per episode for themes and networks; chat sets use both (duplicates dropped).
    let per_episode: Vec<EpisodeLines> = groups
        .values()
        .filter_map(|group| datasets::per_episode(group.iter().copied()))
        .cloned()
        .collect();

    let mut files: Vec<DatasetFile> = datasets::chatbot(&ordered, &inputs.cast);
    files.extend(datasets::themes(&per_episode));
    files.extend(datasets::locations(&inputs.locations));
    let episodes: Vec<String> = per_episode.iter().map(|e| e.episode.clone()).collect();
    let manifest =
        CorpusManifest::new(&files, &inputs.entries, inputs.cast_label.clone(), episodes);

    let mut outputs = Vec::new();
    let mut corpus_network = NetworkBuilder::new(&inputs.cast, window);
    for episode in &per_episode {
        corpus_network.add_episode(&episode.lines);
        outputs.extend(episode_network(&inputs.cast, window, episode));
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

/// One episode's character network, as JSON and as a page.
pub fn episode_network(cast: &Cast, window: usize, episode: &EpisodeLines) -> [Output; 2] {
    let mut builder = NetworkBuilder::new(cast, window);
    builder.add_episode(&episode.lines);
    let network = builder.finish();
    let stem = format!("processed/network/episodes/{}", episode.episode);
    [
        json_output(format!("{stem}.json"), network.to_json().into_bytes()),
        html_output(
            format!("{stem}.html"),
            network.to_html(&format!(
                "Stranger Things {}: character network",
                episode.episode
            )),
        ),
    ]
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

pub use crate::corpus::CorpusOutcome;

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
            Some(object) => {
                self.classified(key, Upload::Read(object.bytes), object.last_modified)
                    .await
            }
            None => Ok(gone()),
        }
    }

    /// Processes an upload whose bytes are in hand: the Lambda after GetObject, or
    /// `hawkins preprocess` reading a file.
    pub async fn upload(&self, key: &str, object: &Object) -> Result<ObjectOutcome, IngestError> {
        self.classified(key, Upload::Given(&object.bytes), object.last_modified)
            .await
    }

    async fn classified(
        &self,
        key: &str,
        upload: Upload<'_>,
        last_modified: Option<i64>,
    ) -> Result<ObjectOutcome, IngestError> {
        match source::classify(key) {
            Ok(source) => self.source(&source, key, upload, last_modified).await,
            Err(e @ NotASource::Unsupported { .. }) => {
                let rejection = Rejection::new("unsupported_type", None, e.to_string());
                let content = sha256_hex(upload.bytes());
                self.quarantine_with(key, content, Some(upload.copy()), rejection)
                    .await
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
        upload: Upload<'_>,
        last_modified: Option<i64>,
    ) -> Result<ObjectOutcome, IngestError> {
        let entry_key = SourceEntry::key(source);
        let existing = self.read_json::<SourceEntry>(&entry_key).await?;
        if !supersedes(existing.as_ref(), key, last_modified) {
            let by = existing.map(|e| e.raw_key).unwrap_or_default();
            info!(key, source = %source.id(), by, "superseded by a newer upload");
            return Ok(ObjectOutcome::Superseded {
                key: key.into(),
                source: source.id(),
                by,
            });
        }
        // The same bytes under the same key, processed by this same code: nothing to redo. (The
        // object's LastModified moves on a re-upload; it must not make the entry differ.) The
        // change is signalled again: an earlier delivery may have stopped before it did.
        let raw_sha256 = sha256_hex(upload.bytes());
        if let Some(old) = existing.as_ref().filter(|old| {
            old.raw_key == key && old.raw_sha256 == raw_sha256 && old.processor == PROCESSOR
        }) {
            info!(key, source = %old.id, "same content already processed");
            if !self.in_latest(old).await? {
                let entry_sha256 = sha256_hex(&serde_json::to_vec_pretty(old).unwrap_or_default());
                self.signal(old, entry_sha256).await?;
            }
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
        let copy = upload.copy();
        let plan = match plan_bytes(source, key, upload.into_bytes(), last_modified, &cast) {
            Ok(plan) => plan,
            Err(rejection) => {
                return self
                    .quarantine_with(key, raw_sha256, Some(copy), rejection)
                    .await;
            }
        };
        let SourcePlan { processed, entry } = plan;
        let entry = &entry;
        let written_data = self
            .store
            .put_if_changed(
                &entry.processed_key,
                processed,
                processed_content_type(source.kind),
            )
            .await?;
        let entry_bytes = serde_json::to_vec_pretty(entry).unwrap_or_default();
        let entry_sha256 = sha256_hex(&entry_bytes);
        let written_entry = self
            .store
            .put_if_changed(&entry_key, entry_bytes, "application/json")
            .await?;
        let changed = written_data == Written::Stored || written_entry == Written::Stored;
        self.signal(entry, entry_sha256).await?;
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

    /// Whether the corpus version in `datasets/latest.json` was built from `entry` as it is: then
    /// a replay need not signal the change again. Read only on a replay, never on a new upload.
    async fn in_latest(&self, entry: &SourceEntry) -> Result<bool, IngestError> {
        let Some(object) = self.store.get(LATEST_KEY).await? else {
            return Ok(false);
        };
        // A pointer that does not read is no reason to fail an upload: the change is signalled,
        // and the build rewrites the pointer.
        let Ok(manifest) = serde_json::from_slice::<CorpusManifest>(&object.bytes) else {
            return Ok(false);
        };
        Ok(manifest.sources.iter().any(|s| {
            s.id == entry.id
                && s.raw_key == entry.raw_key
                && s.raw_sha256 == entry.raw_sha256
                && s.processed_sha256 == entry.processed_sha256
        }))
    }

    /// Records that `entry` is in the corpus's sources by rewriting `manifest/pending.json`:
    /// each rewrite is an event on the train queue, which builds the corpus once the events have
    /// been quiet for the quiet period (one version per burst of uploads, not one per upload).
    ///
    /// Written after the entry, so the build that the event leads to reads it. A redelivery whose
    /// entry is already there writes it again unless the current corpus version was built from
    /// that entry: a delivery that stopped between the entry and this write is finished by its
    /// redelivery. When this source's change is already the last one recorded, the bytes are the
    /// same and nothing is written; when another source's change came since, the rewrite costs
    /// one more build, which finds nothing new (every write of the build is skipped as unchanged,
    /// and no training starts).
    async fn signal(&self, entry: &SourceEntry, entry_sha256: String) -> Result<(), IngestError> {
        let change = PendingChange {
            source: entry.id.clone(),
            raw_key: entry.raw_key.clone(),
            entry_sha256,
        };
        self.store
            .put_if_changed(
                PENDING_KEY,
                serde_json::to_vec_pretty(&change).unwrap_or_default(),
                "application/json",
            )
            .await?;
        Ok(())
    }

    /// Copies an unusable upload to `quarantine/` with its reason and alerts, once per content.
    /// The upload is identified by `content` (its hash, or its S3 revision when it was not
    /// read), copying the upload as `copy` says (none for a file refused unread).
    async fn quarantine_with(
        &self,
        key: &str,
        content: String,
        copy: Option<CopyFrom<'_>>,
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
        match copy {
            Some(CopyFrom::Store) => {
                self.store
                    .copy_if_changed(
                        key,
                        &copy_key,
                        "application/octet-stream",
                        &reason.raw_sha256,
                    )
                    .await?;
            }
            Some(CopyFrom::Bytes(bytes)) => {
                self.store
                    .put_if_changed(&copy_key, bytes.to_vec(), "application/octet-stream")
                    .await?;
            }
            None => {}
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

    /// Builds the corpus version of every source entry and points `datasets/latest.json` at it:
    /// what the train function does once uploads have settled, and `hawkins preprocess` at once.
    pub async fn corpus(&self) -> Result<CorpusOutcome, IngestError> {
        self.build().run().await
    }

    fn build(&self) -> CorpusBuild<'_, S> {
        CorpusBuild {
            store: self.store,
            network_window: self.network_window,
        }
    }

    /// The cast in force: uploaded character lists, or the built-in one.
    pub async fn load_cast(&self) -> Result<(Cast, String), IngestError> {
        self.build().load_cast().await
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, IngestError> {
        crate::corpus::read_json(self.store, key).await
    }
}

/// An upload's bytes: read from the bucket by the function (owned, so they can be let go once
/// converted; the upload is still in the bucket to be copied), or handed over by a caller.
enum Upload<'b> {
    Read(Vec<u8>),
    Given(&'b [u8]),
}

impl<'b> Upload<'b> {
    fn bytes(&self) -> &[u8] {
        match self {
            Upload::Read(bytes) => bytes,
            Upload::Given(bytes) => bytes,
        }
    }

    fn into_bytes(self) -> Cow<'b, [u8]> {
        match self {
            Upload::Read(bytes) => Cow::Owned(bytes),
            Upload::Given(bytes) => Cow::Borrowed(bytes),
        }
    }

    /// How a quarantine copy of this upload is made.
    fn copy(&self) -> CopyFrom<'b> {
        match self {
            Upload::Read(_) => CopyFrom::Store,
            Upload::Given(bytes) => CopyFrom::Bytes(bytes),
        }
    }
}

/// How a quarantine copy is made: in the store (S3 copies the object; the function never holds
/// it again), or from bytes in hand (`hawkins preprocess`, whose uploads are not in the store).
#[derive(Clone, Copy)]
enum CopyFrom<'b> {
    Store,
    Bytes(&'b [u8]),
}

/// The content type of a source's processed data.
pub fn processed_content_type(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Characters => "application/json",
        _ => "application/x-ndjson",
    }
}

/// What one invocation did: the Lambda's response, and a log line per object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReport {
    pub objects: Vec<ObjectOutcome>,
}

/// Handles one event (either envelope): each created object in turn. The corpus is not built
/// here: each source that changed rewrites `manifest/pending.json`, and the train function builds
/// the corpus once uploads have been quiet (see [`crate::training`]), so an upload costs the same
/// whatever the size of the corpus. Objects in another bucket are ignored, loudly: the stack
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
    Ok(EventReport { objects })
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
    fn an_upload_writes_its_source_its_entry_and_the_change_whatever_the_corpus_size() {
        // The same upload into an empty bucket and into one with forty episodes already in it
        // writes the same three objects, and no corpus.
        let written = |episodes: usize| {
            let store = MemStore::new();
            let alerts = AlertLog::default();
            let ingest = ingest(&store, &alerts);
            run(async {
                for n in 1..=episodes {
                    let object = Object {
                        bytes: format!("{EPISODE}\r\n3\r\n00:00:05,000 --> 00:00:06,000\r\nMIKE: Episode {n}.\r\n").into_bytes(),
                        last_modified: None,
                    };
                    let key = format!("raw/Show.S05E{n:02}.srt");
                    ingest.upload(&key, &object).await.expect("ingest");
                }
                let before = store.snapshot();
                let object = Object {
                    bytes: EPISODE.as_bytes().to_vec(),
                    last_modified: None,
                };
                let outcome = ingest.upload("raw/Show.S01E01.srt", &object).await;
                assert!(matches!(
                    outcome,
                    Ok(ObjectOutcome::Processed { changed: true, .. })
                ));
                let after = store.snapshot();
                after
                    .into_iter()
                    .filter(|(k, v)| before.get(k) != Some(v))
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
            })
        };
        let alone = written(0);
        assert_eq!(
            alone,
            [
                "manifest/pending.json",
                "manifest/sources/subtitles/S01E01.json",
                "processed/subtitles/S01E01.jsonl"
            ]
        );
        assert_eq!(written(40), alone);
    }

    #[test]
    fn a_replay_of_a_built_source_signals_nothing_and_one_not_yet_built_signals_again() {
        let store = MemStore::new();
        let alerts = AlertLog::default();
        let ingest = ingest(&store, &alerts);
        let object = |text: &str| Object {
            bytes: text.as_bytes().to_vec(),
            last_modified: None,
        };
        run(async {
            ingest
                .upload("raw/A.S01E01.srt", &object(EPISODE))
                .await
                .expect("a");
            ingest.corpus().await.expect("built");
            let other = EPISODE.replace("Gone.", "Gone again.");
            ingest
                .upload("raw/A.S01E02.srt", &object(&other))
                .await
                .expect("b");
            let pending = store.snapshot()[PENDING_KEY].clone();
            // S01E01 is in the built version: its replay leaves the change as it is.
            ingest
                .upload("raw/A.S01E01.srt", &object(EPISODE))
                .await
                .expect("replay");
            assert_eq!(store.snapshot()[PENDING_KEY], pending);
            // S01E02 is not built yet; a delivery that stopped before signalling is repaired by
            // its replay, even when another change came since.
            store.insert(PENDING_KEY, b"{}");
            ingest
                .upload("raw/A.S01E02.srt", &object(&other))
                .await
                .expect("replay");
            let change: PendingChange =
                serde_json::from_slice(&store.snapshot()[PENDING_KEY]).expect("change");
            assert_eq!(change.raw_key, "raw/A.S01E02.srt");
        });
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
