//! The cleaned dialogue every source becomes: one line of speech, with its speaker where known.

use serde::{Deserialize, Serialize};

/// One cleaned line of dialogue. Subtitles give times; transcripts do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Milliseconds from the start of the episode, where the source has times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// Canonical character name (see `characters`), or the label as written when the cast does not
    /// know it; `None` where nothing says who speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The spoken words only: no tags, sound cues, lyrics or speaker label.
    pub text: String,
}
