//! Training datasets, built from the cleaned corpus: per-character chat conversations, theme
//! batches for the zero-shot job, and the location classifier's examples.
//!
//! Every builder here is a pure function of its input and writes records in a fixed order, so the
//! same corpus always gives the same bytes — the corpus version is a hash of those bytes.

use std::collections::{BTreeMap, HashSet};

use sha2::Digest;

use serde::{Deserialize, Serialize};

use crate::characters::Cast;
use crate::dialogue::Line;
use crate::jsonl::Location;
use crate::source::slug;

/// Subtitle lines further apart than this are not a reply to each other.
pub const MAX_REPLY_GAP_MS: u64 = 10_000;
/// Sentences per theme batch record: small enough for one batch-transform request.
pub const THEME_BATCH_SENTENCES: usize = 64;

/// Where a line came from; transcripts name every speaker, subtitles only some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Transcript,
    Subtitles,
}

/// One episode's dialogue from one source.
#[derive(Debug, Clone)]
pub struct EpisodeLines {
    pub episode: String,
    pub origin: Origin,
    pub lines: Vec<Line<'static>>,
}

/// A dataset file: where it goes under the version folder, what it is, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFile {
    /// Relative to `datasets/<version>/`, e.g. `chatbot/eleven.jsonl`.
    pub path: String,
    pub kind: DatasetKind,
    /// The character, for chatbot sets.
    pub character: Option<String>,
    pub records: u64,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    Chatbot,
    Themes,
    Locations,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct ChatRecord<'a> {
    messages: [Message<'a>; 3],
    episode: &'a str,
    source: Origin,
}

#[derive(Serialize)]
struct ThemeRecord<'a> {
    episode: &'a str,
    batch: usize,
    sentences: &'a [&'a str],
}

/// The system prompt every conversation of `character` starts with; the inference handler uses
/// the same words.
pub fn system_prompt(character: &str) -> String {
    format!(
        "You are {character} from the series Stranger Things, set in Hawkins, Indiana in the 1980s. \
         Reply as {character} would: in character, in their own voice, briefly."
    )
}

/// Records of one dataset file made from one episode: JSON Lines and their count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub bytes: Vec<u8>,
    pub count: u64,
}

impl Records {
    fn push(&mut self, record: &impl Serialize) {
        push_json_line(&mut self.bytes, record);
        self.count += 1;
    }
}

/// The per-character chat sets, built one episode at a time so a corpus build holds one episode
/// and what the sets have seen, never the sets themselves (they go to disk as they grow).
///
/// Each line a cast member speaks becomes a record, as the reply to the line before it (spoken
/// by someone else, and for subtitles within [`MAX_REPLY_GAP_MS`]). Identical exchanges (the same
/// episode in a transcript and in subtitles) are kept once: an exchange is remembered by 128
/// bits of the SHA-256 of its normalised words, 16 bytes a record instead of its text.
#[derive(Debug, Default)]
pub struct ChatSets {
    seen: BTreeMap<String, HashSet<u128>>,
}

impl ChatSets {
    /// This episode's new records per character, in the order its lines come.
    pub fn episode(&mut self, episode: &EpisodeLines, cast: &Cast) -> BTreeMap<String, Records> {
        let mut out: BTreeMap<String, Records> = BTreeMap::new();
        for pair in episode.lines.windows(2) {
            let (prev, line) = (&pair[0], &pair[1]);
            let Some(character) = line.speaker.as_deref().and_then(|s| cast.resolve(s)) else {
                continue;
            };
            let prev_speaker = prev.speaker.as_deref().and_then(|s| cast.resolve(s));
            if prev_speaker == Some(character) || prev.text.is_empty() || line.text.is_empty() {
                continue;
            }
            if let (Some(end), Some(start)) = (prev.end_ms, line.start_ms)
                && start.saturating_sub(end) > MAX_REPLY_GAP_MS
            {
                continue;
            }
            let exchange = exchange_id(&prev.text, &line.text);
            if !self
                .seen
                .entry(character.to_string())
                .or_default()
                .insert(exchange)
            {
                continue;
            }
            let prompt = system_prompt(character);
            let record = ChatRecord {
                messages: [
                    Message {
                        role: "system",
                        content: &prompt,
                    },
                    Message {
                        role: "user",
                        content: &prev.text,
                    },
                    Message {
                        role: "assistant",
                        content: &line.text,
                    },
                ],
                episode: &episode.episode,
                source: episode.origin,
            };
            out.entry(character.to_string()).or_default().push(&record);
        }
        out
    }
}

/// The path of a character's chat set under the version folder.
pub fn chatbot_path(character: &str) -> String {
    format!("chatbot/{}.jsonl", slug(character))
}

/// Where the theme batches go under the version folder.
pub const THEMES_PATH: &str = "themes/batches.jsonl";

fn exchange_id(prompt: &str, reply: &str) -> u128 {
    let digest = sha2::Sha256::new()
        .chain_update(normalise(prompt).as_bytes())
        .chain_update([0u8])
        .chain_update(normalise(reply).as_bytes())
        .finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// The one source of an episode that themes and networks read: the first transcript (it names
/// every speaker), else the first subtitles.
pub fn per_episode<'a>(
    sources: impl IntoIterator<Item = &'a EpisodeLines>,
) -> Option<&'a EpisodeLines> {
    let mut picked: Option<&EpisodeLines> = None;
    for source in sources {
        if picked
            .is_none_or(|p| p.origin == Origin::Subtitles && source.origin == Origin::Transcript)
        {
            picked = Some(source);
        }
    }
    picked
}

/// Every episode's chat sets at once, in memory: [`ChatSets`] folded over `episodes`.
pub fn chatbot(episodes: &[EpisodeLines], cast: &Cast) -> Vec<DatasetFile> {
    let mut sets = ChatSets::default();
    let mut per_character: BTreeMap<String, Records> = BTreeMap::new();
    for episode in episodes {
        for (character, records) in sets.episode(episode, cast) {
            let set = per_character.entry(character).or_default();
            set.bytes.extend_from_slice(&records.bytes);
            set.count += records.count;
        }
    }
    per_character
        .into_iter()
        .map(|(character, records)| DatasetFile {
            path: chatbot_path(&character),
            kind: DatasetKind::Chatbot,
            character: Some(character),
            records: records.count,
            bytes: records.bytes,
        })
        .collect()
}

/// Theme batches: each episode's sentences, in order, in records of at most
/// [`THEME_BATCH_SENTENCES`]. One source per episode (the caller picks it), so no episode is
/// scored twice.
pub fn themes(episodes: &[EpisodeLines]) -> Option<DatasetFile> {
    let mut all = Records::default();
    for episode in episodes {
        let records = theme_records(episode);
        all.bytes.extend_from_slice(&records.bytes);
        all.count += records.count;
    }
    (all.count > 0).then(|| DatasetFile {
        path: THEMES_PATH.into(),
        kind: DatasetKind::Themes,
        character: None,
        records: all.count,
        bytes: all.bytes,
    })
}

/// One episode's theme batches.
pub fn theme_records(episode: &EpisodeLines) -> Records {
    let sentences: Vec<&str> = episode
        .lines
        .iter()
        .flat_map(|l| sentences(&l.text))
        .collect();
    let mut records = Records::default();
    for (batch, chunk) in sentences.chunks(THEME_BATCH_SENTENCES).enumerate() {
        records.push(&ThemeRecord {
            episode: &episode.episode,
            batch,
            sentences: chunk,
        });
    }
    records
}

/// The location classifier's examples, one per location name (a later list overrides an
/// earlier one for the same name), sorted by name.
pub fn locations(lists: &[Vec<Location>]) -> Option<DatasetFile> {
    let mut by_name = BTreeMap::new();
    for location in lists.iter().flatten() {
        by_name.insert(location.name.clone(), location);
    }
    let mut bytes = Vec::new();
    for location in by_name.values() {
        push_json_line(&mut bytes, location);
    }
    (!by_name.is_empty()).then(|| DatasetFile {
        path: "locations/locations.jsonl".into(),
        kind: DatasetKind::Locations,
        character: None,
        records: by_name.len() as u64,
        bytes,
    })
}

/// Splits text after `.`, `!`, `?` or `…` followed by a space; drops fragments without a letter.
pub fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let mut cut = rest.len();
            let mut chars = rest.char_indices().peekable();
            while let Some((at, c)) = chars.next() {
                if matches!(c, '.' | '!' | '?' | '…')
                    && chars.peek().is_some_and(|(_, next)| next.is_whitespace())
                    && !(c == '.' && ends_with_title(&rest[..at]))
                {
                    cut = at + c.len_utf8();
                    break;
                }
            }
            let sentence = rest[..cut].trim();
            rest = rest[cut..].trim_start();
            if sentence.chars().any(char::is_alphabetic) {
                return Some(sentence);
            }
        }
    })
}

/// `Mr.`, `Dr.`... end a word, not a sentence.
fn ends_with_title(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or_default();
    ["Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof"].contains(&word)
}

fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn push_json_line(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serialising plain structs of strings and numbers cannot fail.
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(speaker: Option<&str>, text: &str, start: Option<u64>) -> Line<'static> {
        Line {
            start_ms: start,
            end_ms: start.map(|s| s + 1000),
            speaker: speaker.map(|s| s.to_owned().into()),
            text: text.to_owned().into(),
        }
    }

    fn episode(origin: Origin, lines: Vec<Line<'static>>) -> EpisodeLines {
        EpisodeLines {
            episode: "S01E01".into(),
            origin,
            lines,
        }
    }

    #[test]
    fn chat_pairs_are_replies_to_someone_else() {
        let cast = Cast::builtin();
        let lines = vec![
            line(Some("Dustin"), "Where is he?", None),
            line(Some("Mike"), "I don't know.", None),
            line(Some("Mike"), "Maybe at home.", None),
            line(None, "Who's there?", None),
            line(Some("Eleven"), "Friends don't lie.", None),
        ];
        let files = chatbot(&[episode(Origin::Transcript, lines)], &cast);
        let names: Vec<_> = files.iter().map(|f| (f.path.as_str(), f.records)).collect();
        assert_eq!(
            names,
            [
                ("chatbot/eleven.jsonl", 1),
                ("chatbot/mike-wheeler.jsonl", 1)
            ]
        );
        let record: serde_json::Value =
            serde_json::from_slice(&files[1].bytes[..files[1].bytes.len() - 1]).expect("json");
        assert_eq!(record["messages"][1]["content"], "Where is he?");
        assert_eq!(record["messages"][2]["content"], "I don't know.");
        assert_eq!(record["messages"][0]["role"], "system");
    }

    #[test]
    fn subtitle_gaps_break_exchanges_and_duplicates_are_dropped() {
        let cast = Cast::builtin();
        let timed = vec![
            line(Some("Dustin"), "Hello?", Some(0)),
            line(Some("Mike"), "Hi.", Some(30_000)),
            line(Some("Dustin"), "Where is he?", Some(40_000)),
            line(Some("Mike"), "I don't know.", Some(41_500)),
        ];
        let untimed = vec![
            line(Some("Dustin"), "Where is he?", None),
            line(Some("Mike"), "I don't know!", None),
        ];
        let files = chatbot(
            &[
                episode(Origin::Subtitles, timed),
                episode(Origin::Transcript, untimed),
            ],
            &cast,
        );
        let mike = files
            .iter()
            .find(|f| f.path == "chatbot/mike-wheeler.jsonl")
            .expect("mike");
        assert_eq!(mike.records, 1);
    }

    #[test]
    fn theme_batches_split_sentences() {
        let lines = vec![
            line(None, "Run! Now... please. ...", None),
            line(None, "Mr. Clarke?", None),
        ];
        let file = themes(&[episode(Origin::Subtitles, lines)]).expect("one batch");
        let record: serde_json::Value =
            serde_json::from_slice(&file.bytes[..file.bytes.len() - 1]).expect("json");
        assert_eq!(
            record["sentences"],
            serde_json::json!(["Run!", "Now...", "please.", "Mr. Clarke?"])
        );
    }

    #[test]
    fn sentences_cover_long_episodes_in_batches() {
        let lines: Vec<_> = (0..100)
            .map(|i| line(None, &format!("Line {i}."), None))
            .collect();
        let file = themes(&[episode(Origin::Subtitles, lines)]).expect("batches");
        assert_eq!(file.records, 2);
    }

    #[test]
    fn locations_keep_the_last_of_a_name() {
        let a = Location {
            name: "Lab".into(),
            text: "old".into(),
            label: "Gov".into(),
        };
        let b = Location {
            name: "Lab".into(),
            text: "new".into(),
            label: "Gov".into(),
        };
        let file = locations(&[vec![a], vec![b]]).expect("set");
        assert_eq!(file.records, 1);
        assert!(String::from_utf8_lossy(&file.bytes).contains("new"));
    }
}
