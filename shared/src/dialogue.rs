//! The cleaned dialogue every source becomes: one line of speech, with its speaker where known.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// One cleaned line of dialogue. Subtitles give times; transcripts do not.
///
/// Text and speaker are borrowed where they stand as they are in the source (or the cast), and
/// owned where cleaning made them; lines read back from storage own theirs (`Line<'static>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line<'a> {
    /// Milliseconds from the start of the episode, where the source has times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// Canonical character name (see `characters`), or the label as written when the cast does not
    /// know it; `None` where nothing says who speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Cow<'a, str>>,
    /// The spoken words only: no tags, sound cues, lyrics or speaker label.
    pub text: Cow<'a, str>,
}

impl Line<'_> {
    /// The same line, borrowing from this one: for writing it out without a copy.
    pub fn as_borrowed(&self) -> Line<'_> {
        Line {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            speaker: self.speaker.as_deref().map(Cow::Borrowed),
            text: Cow::Borrowed(&self.text),
        }
    }

    /// The same line, owning its text and speaker.
    pub fn into_owned(self) -> Line<'static> {
        Line {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            speaker: self.speaker.map(|s| Cow::Owned(s.into_owned())),
            text: Cow::Owned(self.text.into_owned()),
        }
    }
}
