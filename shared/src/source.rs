//! What an uploaded object is: its kind, the episode it belongs to, and the source it supersedes.
//!
//! Every upload under `raw/` maps to one *source id* such as `subtitles/S02E03`. Two uploads with the
//! same id (a corrected file, or the same episode under another name) are versions of one source:
//! the newer replaces the older in the corpus; the raw objects themselves are never touched.

use serde::{Deserialize, Serialize};

/// The prefix users upload to; ingest reads only below it and never writes there.
pub const RAW_PREFIX: &str = "raw/";
/// Suffixes ingest takes, lower-case (the infrastructure's event rules filter on the same list).
pub const SUFFIXES: [&str; 3] = [".srt", ".csv", ".jsonl"];
/// The largest upload ingest reads (a full episode is well under 1 MB; a season of them ~3 MB).
pub const MAX_UPLOAD_BYTES: u64 = 32 * 1024 * 1024;

/// The kinds of file the pipeline understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A `.srt` subtitle file of one episode.
    Subtitles,
    /// A `name,line` CSV transcript of one episode.
    Transcript,
    /// A JSON Lines list of locations (`location_name`, `location_description`, `location_type`).
    Locations,
    /// A JSON Lines list of characters (`character_name`, or `name` and `aliases`).
    Characters,
}

impl SourceKind {
    /// The folder name used under `processed/` and `manifest/sources/`.
    pub fn dir(self) -> &'static str {
        match self {
            SourceKind::Subtitles => "subtitles",
            SourceKind::Transcript => "transcripts",
            SourceKind::Locations => "locations",
            SourceKind::Characters => "characters",
        }
    }
}

/// An upload, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// `S02E03` for episodes; a slug of the file name for lists.
    pub name: String,
}

impl Source {
    /// `subtitles/S02E03`: stable across re-uploads of the same episode.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind.dir(), self.name)
    }

    /// The episode this source belongs to, for the kinds that have one.
    pub fn episode(&self) -> Option<&str> {
        matches!(self.kind, SourceKind::Subtitles | SourceKind::Transcript).then_some(&self.name)
    }
}

/// Why a key is not a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotASource {
    /// Outside `raw/`: not a user upload (ingest's own outputs, for one). Ignored, never quarantined.
    #[error("'{0}' is not under {RAW_PREFIX}: ignored")]
    OutsideRaw(String),
    /// A "folder" marker or similar: nothing to read.
    #[error("'{0}' names a folder, not a file: ignored")]
    Folder(String),
    /// Under `raw/` but of a type ingest does not read: quarantined so the user hears of it.
    #[error(
        "'{key}' is not a file type Hawkins reads: expected one of .srt, .csv, .jsonl (locations or characters list)"
    )]
    Unsupported { key: String },
}

/// Classifies a decoded object key.
pub fn classify(key: &str) -> Result<Source, NotASource> {
    let Some(rest) = key.strip_prefix(RAW_PREFIX) else {
        return Err(NotASource::OutsideRaw(key.to_string()));
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(NotASource::Folder(key.to_string()));
    }
    let file = rest.rsplit('/').next().unwrap_or(rest);
    let lower = file.to_lowercase();
    let (stem, kind) = if let Some(stem) = lower.strip_suffix(".srt") {
        (stem, SourceKind::Subtitles)
    } else if let Some(stem) = lower.strip_suffix(".csv") {
        (stem, SourceKind::Transcript)
    } else if let Some(stem) = lower.strip_suffix(".jsonl") {
        if stem.contains("location") {
            (stem, SourceKind::Locations)
        } else if stem.contains("character") || stem.contains("cast") {
            (stem, SourceKind::Characters)
        } else {
            return Err(NotASource::Unsupported {
                key: key.to_string(),
            });
        }
    } else {
        return Err(NotASource::Unsupported {
            key: key.to_string(),
        });
    };
    let name = match kind {
        SourceKind::Subtitles | SourceKind::Transcript => {
            episode_id(stem).unwrap_or_else(|| slug(stem))
        }
        SourceKind::Locations | SourceKind::Characters => slug(stem),
    };
    Ok(Source { kind, name })
}

/// `S02E03` from names like `Stranger.Things.S02E03.720p`, `transcripts02e03`, `2x03`.
pub fn episode_id(name: &str) -> Option<String> {
    let b = name.as_bytes();
    for i in 0..b.len() {
        // S<d{1,2}>E<d{1,3}>. (`transcriptS01E01` glues the tag to a word, so what precedes the
        // `S` is not checked.)
        if b[i].eq_ignore_ascii_case(&b's')
            && let Some((season, j)) = digits(b, i + 1, 2)
            && j < b.len()
            && b[j].eq_ignore_ascii_case(&b'e')
            && let Some((episode, _)) = digits(b, j + 1, 3)
        {
            return Some(format!("S{season:02}E{episode:02}"));
        }
        // <d{1,2}>x<d{2,3}>, standing alone.
        if b[i].is_ascii_digit()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && let Some((season, j)) = digits(b, i, 2)
            && j < b.len()
            && b[j] == b'x'
            && let Some((episode, k)) = digits(b, j + 1, 3)
            && k - j > 2
            && (k == b.len() || !b[k].is_ascii_alphanumeric())
        {
            return Some(format!("S{season:02}E{episode:02}"));
        }
    }
    None
}

/// Parses 1..=max ASCII digits at `start`; returns the value and the index after them.
fn digits(b: &[u8], start: usize, max: usize) -> Option<(u32, usize)> {
    let mut end = start;
    while end < b.len() && end - start < max && b[end].is_ascii_digit() {
        end += 1;
    }
    if end == start || (end < b.len() && b[end].is_ascii_digit()) {
        return None;
    }
    let value = std::str::from_utf8(&b[start..end]).ok()?.parse().ok()?;
    Some((value, end))
}

/// Lower-case ASCII letters and digits joined by single dashes; `source` when nothing is left.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "source".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_uploads() {
        let cases = [
            (
                "raw/Stranger.Things.S02E03.720p.HI.srt",
                SourceKind::Subtitles,
                "S02E03",
            ),
            (
                "raw/season 1/transcriptS01E08.csv",
                SourceKind::Transcript,
                "S01E08",
            ),
            ("raw/x/Episode 2x05.SRT", SourceKind::Subtitles, "S02E05"),
            ("raw/locations.jsonl", SourceKind::Locations, "locations"),
            (
                "raw/list_characters.jsonl",
                SourceKind::Characters,
                "list-characters",
            ),
            ("raw/pilot draft.srt", SourceKind::Subtitles, "pilot-draft"),
        ];
        for (key, kind, name) in cases {
            let source = classify(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!((source.kind, source.name.as_str()), (kind, name), "{key}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_upload() {
        assert!(matches!(
            classify("processed/a.srt"),
            Err(NotASource::OutsideRaw(_))
        ));
        assert!(matches!(
            classify("raw/season1/"),
            Err(NotASource::Folder(_))
        ));
        assert!(matches!(
            classify("raw/notes.txt"),
            Err(NotASource::Unsupported { .. })
        ));
        assert!(matches!(
            classify("raw/data.jsonl"),
            Err(NotASource::Unsupported { .. })
        ));
    }

    #[test]
    fn episode_ids() {
        assert_eq!(
            episode_id("stranger.things.s04e09.nf"),
            Some("S04E09".into())
        );
        assert_eq!(episode_id("transcripts01e01"), Some("S01E01".into()));
        assert_eq!(episode_id("1x02"), Some("S01E02".into()));
        assert_eq!(episode_id("1080p"), None);
        assert_eq!(episode_id("s123e4"), None);
    }

    #[test]
    fn ids_are_stable_across_names() {
        let a = classify("raw/Stranger.Things.S01E01.WEBRip.srt").map(|s| s.id());
        let b = classify("raw/uploads/stranger things s01e01.srt").map(|s| s.id());
        assert_eq!(a, b);
    }
}
