//! The cast: the built-in list of the show's characters or an uploaded one, and name matching.
//!
//! Two questions are answered here, both against one [`Cast`]:
//!
//! - [`Cast::resolve`]: who is the speaker behind a label as a transcript or a subtitle writes it
//!   (`Hopper`, `MIKE`, `MR. CLARKE:`, `WILL ON RADIO`)? Case and punctuation do not matter.
//! - [`Cast::mentions`]: who is named in a line of dialogue? Case matters here, so that the verb
//!   "will" is not Will Byers.
//!
//! A character answers to its full name, its aliases, its name without a title (`Martin Brenner`
//! for `Dr. Martin Brenner`), and its first name and surname where no other character shares them.
//! An explicit alias beats a derived name: `Hopper` is an alias of Jim Hopper, so Sara Hopper's
//! surname does not make it ambiguous. A name that two characters share at the same rank (the
//! surname `Wheeler`) resolves to nobody.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::{Deserialize, Serialize};

/// The built-in cast, one JSON object per line, in the format [`Cast::parse_jsonl`] reads.
const BUILTIN: &str = include_str!("cast.jsonl");

/// One character: the canonical name every dataset uses, and the other names it goes by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Why a characters list cannot be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CastError {
    /// One line is not a character; the line number counts from 1, blank lines included.
    #[error(
        "characters list, line {line}: {message}; each line must be a JSON object such as \
         {{\"character_name\": \"Mike Wheeler\"}} or {{\"name\": \"Jim Hopper\", \"aliases\": [\"Hopper\"]}}"
    )]
    BadLine { line: usize, message: String },
    /// Only blank lines.
    #[error(
        "the characters list names no character: upload one JSON object per line, such as \
         {{\"character_name\": \"Mike Wheeler\"}}"
    )]
    Empty,
}

/// One line of a characters list, in either of the accepted shapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    #[serde(alias = "character_name")]
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
}

/// How strongly a name belongs to a character; a lower rank wins over a higher one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// The canonical name or an alias from the list.
    Given,
    /// The canonical name without its title: `Martin Brenner`, `Higgins`.
    Core,
    /// A first name or a surname taken from the canonical name.
    Part,
}

/// What a name points to: one character, or nobody because several share it at the best rank.
#[derive(Debug, Clone, Copy)]
struct Slot {
    rank: Rank,
    who: Option<usize>,
}

impl Slot {
    fn merge<K>(map_entry: Entry<'_, K, Slot>, rank: Rank, who: usize) {
        match map_entry {
            Entry::Vacant(v) => {
                v.insert(Slot {
                    rank,
                    who: Some(who),
                });
            }
            Entry::Occupied(mut o) => {
                let slot = o.get_mut();
                if rank < slot.rank {
                    *slot = Slot {
                        rank,
                        who: Some(who),
                    };
                } else if rank == slot.rank && slot.who != Some(who) {
                    slot.who = None;
                }
            }
        }
    }
}

/// A name as it must appear in running text, word by word, for [`Cast::mentions`].
#[derive(Debug, Clone)]
struct Pattern {
    /// The words as written in the list (`Mr`, `Clarke`).
    words: Vec<String>,
    /// The same words upper-cased, for text that shouts (`MIKE!`).
    upper: Vec<String>,
    who: Option<usize>,
    /// An English word as well as a name (`Will`, `Hop`): not a name where it opens a question.
    homograph: bool,
}

/// Characters and the lookup tables built from them once.
#[derive(Debug, Clone)]
pub struct Cast {
    characters: Vec<Character>,
    /// Normalised label (see [`normalise_label`]) → character.
    labels: HashMap<String, Slot>,
    /// First word as written → patterns starting with it, longest first.
    exact: HashMap<String, Vec<Pattern>>,
    /// First word upper-cased → the same patterns, for all-capitals text.
    shouted: HashMap<String, Vec<Pattern>>,
}

/// Words that precede a name without being part of it (`Dr. Martin Brenner` is `Martin Brenner`).
const TITLES: &str = "\
    mr mrs ms miss mister dr doctor agent officer chief principal coach sheriff mayor deputy lt \
    lieutenant colonel col captain capt sergeant sgt nurse professor prof uncle aunt the";

/// Abbreviations that a full stop follows inside a name (`Mr. Clarke`, `Dr. Owens`).
const ABBREVIATIONS: &str = "Mr Mrs Ms Dr Lt Col Capt Sgt St Prof";

/// Age qualifiers in speaker labels (`Young Billy`): the speaker is still the character.
const AGES: &str = "young younger teen teenage little old older adult";

/// Labels that say a speaker is not known, whatever a characters list says.
const NOBODY: &str = "\
    unknown man woman boy girl child children kid kids all both everyone crowd voice someone \
    somebody other others narrator";

/// Number words: names in the lab (`Eight`, `One`) but far more often plain numbers in dialogue, so
/// they resolve as speaker labels and are never mentions. `Eleven` stays a mention.
const NUMBERS: &str = "One Two Three Four Five Six Seven Eight Nine Ten Twelve";

/// Names that are also English words opening a question or an order (`Will you…?`, `Hop in.`).
const HOMOGRAPHS: &str = "Will Hop";

/// Words that, right after a sentence-opening homograph, make it the English word.
const FOLLOWERS: &str = "\
    i you he she it we they that this there these those your his her our their my the a an \
    anyone anybody someone somebody everyone everybody anything in on out up off over into onto \
    down to aboard back inside";

/// Where a speaker label says how the voice reaches us (`WILL ON RADIO`): the speaker is the same.
const MEDIA: &str = "\
    radio tv television pa phone intercom speaker speakerphone walkie tape video screen \
    recording loudspeaker";

impl Cast {
    /// The show's characters, seasons 1 to 4, from the list compiled into the crate.
    pub fn builtin() -> Cast {
        match Cast::parse_jsonl(BUILTIN) {
            Ok(characters) => Cast::from_characters(characters),
            // The list is a constant checked by the tests; an empty cast is the safe fallback.
            Err(_) => Cast::from_characters(Vec::new()),
        }
    }

    /// A cast from a list. Entries with the same name are merged, aliases included.
    pub fn from_characters(chars: Vec<Character>) -> Cast {
        let mut characters: Vec<Character> = Vec::with_capacity(chars.len());
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for c in chars {
            let name = c.name.trim().to_string();
            if name.is_empty() {
                continue;
            }
            let aliases = c
                .aliases
                .into_iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty());
            match by_name.get(&name) {
                Some(&i) => {
                    for a in aliases {
                        if !characters[i].aliases.contains(&a) {
                            characters[i].aliases.push(a);
                        }
                    }
                }
                None => {
                    by_name.insert(name.clone(), characters.len());
                    characters.push(Character {
                        name,
                        aliases: aliases.collect(),
                    });
                }
            }
        }

        let mut labels: HashMap<String, Slot> = HashMap::new();
        let mut written: HashMap<Vec<String>, Slot> = HashMap::new();
        for (who, c) in characters.iter().enumerate() {
            for (words, label, rank) in names_of(c) {
                Slot::merge(labels.entry(label), rank, who);
                Slot::merge(written.entry(words), rank, who);
            }
        }

        let mut exact: HashMap<String, Vec<Pattern>> = HashMap::new();
        let mut shouted: HashMap<String, Vec<Pattern>> = HashMap::new();
        for (words, slot) in written {
            let first = &words[0];
            let starts_upper = first.chars().next().is_some_and(char::is_uppercase);
            if !starts_upper || (words.len() == 1 && listed(NUMBERS, first)) {
                continue;
            }
            let pattern = Pattern {
                upper: words.iter().map(|w| w.to_uppercase()).collect(),
                homograph: words.len() == 1 && listed(HOMOGRAPHS, first),
                who: slot.who,
                words,
            };
            shouted
                .entry(pattern.upper[0].clone())
                .or_default()
                .push(pattern.clone());
            exact
                .entry(pattern.words[0].clone())
                .or_default()
                .push(pattern);
        }
        for list in exact.values_mut().chain(shouted.values_mut()) {
            // Longest first; ties in a fixed order so that matching never depends on hashing.
            list.sort_by(|a, b| {
                b.words
                    .len()
                    .cmp(&a.words.len())
                    .then_with(|| a.words.cmp(&b.words))
            });
        }

        Cast {
            characters,
            labels,
            exact,
            shouted,
        }
    }

    /// Reads a characters list: one JSON object per line, either `{"character_name": "…"}` or
    /// `{"name": "…", "aliases": ["…"]}`. Blank lines are skipped; a name must not be blank.
    pub fn parse_jsonl(text: &str) -> Result<Vec<Character>, CastError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut characters = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let bad = |message: String| CastError::BadLine { line, message };
            let value: serde_json::Value =
                serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
            if !value.is_object() {
                return Err(bad("not a JSON object".to_string()));
            }
            let row = Row::deserialize(value).map_err(|e| bad(e.to_string()))?;
            if row.name.trim().is_empty() {
                return Err(bad("the name is blank".to_string()));
            }
            if let Some(k) = row.aliases.iter().position(|a| a.trim().is_empty()) {
                return Err(bad(format!("alias {} is blank", k + 1)));
            }
            characters.push(Character {
                name: row.name.trim().to_string(),
                aliases: row.aliases,
            });
        }
        if characters.is_empty() {
            return Err(CastError::Empty);
        }
        Ok(characters)
    }

    pub fn characters(&self) -> &[Character] {
        &self.characters
    }

    /// Canonical name for a speaker label as written in a transcript or subtitle: `Mike`, `MIKE`,
    /// `Mike Wheeler`, `Hopper`, `MR. CLARKE:`, `El`, `WILL ON RADIO`, `Young Billy`.
    ///
    /// Case, punctuation, a leading title (`Dr.`) or age (`Young`) and a trailing medium (`on
    /// radio`, `(V.O.)`) do not matter. A name two characters share (`Wheeler`) and labels such as
    /// `Unknown`, `Man` or `Woman` give `None`.
    pub fn resolve(&self, label: &str) -> Option<&str> {
        self.resolve_id(label)
            .map(|i| self.characters[i].name.as_str())
    }

    /// Canonical names of the characters named in `text`, in order of first mention, each once.
    ///
    /// A name counts as whole words written as in the list (`Max`, not `max`) or in capitals
    /// (`MAX`), with a possessive (`Mike's`) allowed; the longest name wins (`Nancy Wheeler` over
    /// `Wheeler`). Number names (`Eight`) are never mentions, and `Will` or `Hop` opening a
    /// sentence followed by words such as "you" or "in" (`Will you…`, `Hop in`) are the verbs.
    pub fn mentions(&self, text: &str) -> Vec<&str> {
        let mut ids = Vec::new();
        self.mention_ids(text, &mut ids);
        ids.into_iter()
            .map(|i| self.characters[i].name.as_str())
            .collect()
    }

    /// Index into [`Cast::characters`] of the speaker behind `label`.
    pub(crate) fn resolve_id(&self, label: &str) -> Option<usize> {
        let words = normalise_label(label);
        let mut rest: &[String] = &words;
        loop {
            let (first, tail) = rest.split_first()?;
            if rest.len() == 1 && listed(NOBODY, first) {
                return None;
            }
            if let Some(slot) = self.labels.get(&rest.join(" ")) {
                return slot.who;
            }
            let droppable = listed(TITLES, first) || listed(AGES, first);
            if !droppable || tail.is_empty() {
                return None;
            }
            rest = tail;
        }
    }

    /// Appends to `out` the indices of the characters named in `text`, in order, each once.
    pub(crate) fn mention_ids(&self, text: &str, out: &mut Vec<usize>) {
        let words = tokens(text);
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            let shouting = word.text.chars().count() >= 2
                && word
                    .text
                    .chars()
                    .all(|c| !c.is_alphabetic() || c.is_uppercase());
            let table = if shouting { &self.shouted } else { &self.exact };
            let Some(patterns) = table.get(word.text.as_ref()) else {
                i += 1;
                continue;
            };
            let found = patterns.iter().find(|p| {
                let wanted = if shouting { &p.upper } else { &p.words };
                matches_at(text, &words, i, wanted)
                    && !(p.homograph && reads_as_verb(text, &words, i))
            });
            match found {
                Some(p) => {
                    if let Some(who) = p.who
                        && !out.contains(&who)
                    {
                        out.push(who);
                    }
                    i += p.words.len();
                }
                None => i += 1,
            }
        }
    }
}

/// A stable slug for file names and SageMaker names: `Jim Hopper` → `jim-hopper`,
/// `Dr. Martin Brenner` → `dr-martin-brenner`, `D'Artagnan` → `dartagnan`.
///
/// ASCII letters and digits are kept, lower-cased; apostrophes are dropped; any other run of
/// characters becomes one `-`. A name with no ASCII letter or digit becomes `x-` and the hex of its
/// UTF-8 bytes, so that two such names never share a slug.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && c != '\u{2019}' {
            dash = true;
        }
    }
    if out.is_empty() {
        return format!("x-{}", hex::encode(name.as_bytes()));
    }
    out
}

/// Every name a character answers to: its words as written, its label as [`Cast::resolve`] looks
/// it up, and its rank.
fn names_of(c: &Character) -> Vec<(Vec<String>, String, Rank)> {
    let given = |name: &str| {
        (
            name_words(name),
            normalise_label(name).join(" "),
            Rank::Given,
        )
    };
    let derived = |words: Vec<String>, rank| {
        let label = words
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        (words, label, rank)
    };
    let mut names = Vec::new();
    let full = name_words(&c.name);
    if full.is_empty() {
        return names;
    }
    names.extend(
        c.aliases
            .iter()
            .map(|a| given(a))
            .filter(|(words, ..)| !words.is_empty()),
    );
    let start = full
        .iter()
        .take_while(|w| listed(TITLES, &w.to_lowercase()))
        .count();
    let core: Vec<String> = if start < full.len() {
        full[start..].to_vec()
    } else {
        full.clone()
    };
    if core.len() >= 2 {
        names.push(derived(vec![core[0].clone()], Rank::Part));
        let last = &core[core.len() - 1];
        if last.chars().count() >= 2 {
            names.push(derived(vec![last.clone()], Rank::Part));
        }
    }
    if core != full {
        names.push(derived(core, Rank::Core));
    }
    names.push(given(&c.name));
    names
}

/// The words of a name as written in the list: letters, digits and inner apostrophes.
fn name_words(name: &str) -> Vec<String> {
    tokens(name)
        .into_iter()
        .map(|t| t.text.into_owned())
        .collect()
}

/// A label reduced to lower-case words, without punctuation or a trailing medium.
fn normalise_label(label: &str) -> Vec<String> {
    let label = label.trim();
    // `MrsErgenbright`, `MsKelly`: a title glued to the name.
    let mut spaced = String::with_capacity(label.len() + 1);
    for title in ["Mrs", "Mr", "Ms", "Dr"] {
        if let Some(rest) = label.strip_prefix(title)
            && rest.chars().next().is_some_and(char::is_uppercase)
            && rest.chars().any(char::is_lowercase)
        {
            spaced.push_str(title);
            spaced.push(' ');
            spaced.push_str(rest);
            break;
        }
    }
    if spaced.is_empty() {
        spaced.push_str(label);
    }
    let cleaned: String = spaced
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            c if c.is_alphanumeric() || c == '\'' => c,
            _ => ' ',
        })
        .collect();
    let mut words: Vec<String> = cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    // `(V.O.)`, `(O.S.)`, `CONT'D` after the name.
    loop {
        let n = words.len();
        let tail: Vec<&str> = words
            .iter()
            .rev()
            .take(2)
            .rev()
            .map(String::as_str)
            .collect();
        let drop = match tail.as_slice() {
            [.., "vo" | "os" | "contd" | "cont'd"] if n > 1 => 1,
            ["v" | "o", "o" | "s"] if n > 2 => 2,
            _ => 0,
        };
        if drop == 0 {
            break;
        }
        words.truncate(n - drop);
    }
    // `on radio`, `over the PA`, `on walkie talkie`.
    if let Some(at) = words.iter().position(|w| w == "on" || w == "over")
        && at > 0
    {
        let rest: Vec<&str> = words[at + 1..]
            .iter()
            .map(String::as_str)
            .filter(|w| *w != "the")
            .collect();
        if rest.first().is_some_and(|w| listed(MEDIA, w)) && rest.len() <= 2 {
            words.truncate(at);
        }
    }
    words
}

/// One word of running text: its byte span and its letters (possessive `'s` removed).
#[derive(Debug)]
struct Token<'t> {
    start: usize,
    end: usize,
    text: Cow<'t, str>,
    /// The word ended in `'s`, now removed.
    possessive: bool,
}

/// Splits text into words: runs of letters and digits, with apostrophes kept between letters
/// (`O'Bannon`) and a possessive `'s` dropped (`Mike's` → `Mike`). Curly apostrophes read as `'`.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut curly = false;
        while let Some(&(at, c)) = chars.peek() {
            if c.is_alphanumeric() {
                end = at + c.len_utf8();
                chars.next();
            } else if c == '\'' || c == '\u{2019}' {
                let mut ahead = chars.clone();
                ahead.next();
                match ahead.peek() {
                    Some(&(_, n)) if n.is_alphanumeric() => {
                        curly |= c == '\u{2019}';
                        chars.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        let raw = &text[start..end];
        let raw = ["'s", "'S", "\u{2019}s", "\u{2019}S"]
            .iter()
            .find_map(|s| raw.strip_suffix(s).filter(|w| !w.is_empty()))
            .unwrap_or(raw);
        let possessive = raw.len() != end - start;
        let text: Cow<'_, str> = if curly {
            raw.replace('\u{2019}', "'").into()
        } else {
            raw.into()
        };
        out.push(Token {
            start,
            end,
            text,
            possessive,
        });
    }
    out
}

/// Whether `word` is one of the space-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// Whether `wanted` matches the words from `at` on, each separated from the next by spaces only,
/// or by a full stop and spaces after an abbreviation or an initial (`Mr. Clarke`).
fn matches_at(text: &str, words: &[Token<'_>], at: usize, wanted: &[String]) -> bool {
    if at + wanted.len() > words.len() {
        return false;
    }
    for (k, w) in wanted.iter().enumerate() {
        let token = &words[at + k];
        if token.text != w.as_str() {
            return false;
        }
        if k == 0 {
            continue;
        }
        let prev = &words[at + k - 1];
        // A possessive ends a name: `Mike's Wheeler` is not `Mike Wheeler`.
        if prev.possessive {
            return false;
        }
        let gap = &text[prev.end..token.start];
        let spaces = |s: &str| !s.is_empty() && s.chars().all(char::is_whitespace);
        let ok = spaces(gap)
            || gap.strip_prefix('.').is_some_and(|rest| {
                spaces(rest)
                    && (listed(ABBREVIATIONS, &prev.text) || prev.text.chars().count() == 1)
            });
        if !ok {
            return false;
        }
    }
    true
}

/// Whether the homograph at `at` is the English word: it opens a sentence and is followed, after
/// a space, by a word such as "you" or "in", or by a name in a question (`Will Mike come?`).
fn reads_as_verb(text: &str, words: &[Token<'_>], at: usize) -> bool {
    let word = &words[at];
    let before = text[..word.start].trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '\u{201c}' | '\u{2018}' | '(' | '[' | '-' | '\u{2014}'
            )
    });
    let opens = before.is_empty() || before.ends_with(['.', '!', '?', '\u{2026}', ':', ';']);
    let Some(next) = words.get(at + 1) else {
        return false;
    };
    let gap = &text[word.end..next.start];
    if !opens || gap.is_empty() || !gap.chars().all(char::is_whitespace) {
        return false;
    }
    let follower = next.text.to_lowercase();
    if listed(FOLLOWERS, &follower) {
        return true;
    }
    let sentence_end = text[next.end..]
        .find(['.', '!', '?'])
        .map(|k| &text[next.end + k..]);
    next.text.chars().next().is_some_and(char::is_uppercase)
        && sentence_end.is_some_and(|s| s.starts_with('?'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cast() -> Cast {
        Cast::builtin()
    }

    #[test]
    fn builtin_cast_is_sound() {
        let cast = cast();
        let n = cast.characters().len();
        assert!((60..=120).contains(&n), "{n} characters");
        let parsed = Cast::parse_jsonl(BUILTIN).expect("the built-in list parses");
        assert_eq!(parsed.len(), n, "no name is listed twice");
        for c in cast.characters() {
            assert_eq!(
                cast.resolve(&c.name),
                Some(c.name.as_str()),
                "{} resolves to itself",
                c.name
            );
            for alias in &c.aliases {
                assert_eq!(
                    cast.resolve(alias),
                    Some(c.name.as_str()),
                    "alias {alias} of {}",
                    c.name
                );
            }
            if !listed(NUMBERS, &c.name) {
                assert_eq!(
                    cast.mentions(&c.name),
                    vec![c.name.as_str()],
                    "{} is found in text",
                    c.name
                );
            }
        }
    }

    #[test]
    fn resolves_speaker_labels() {
        let cast = cast();
        let table: &[(&str, Option<&str>)] = &[
            ("Mike", Some("Mike Wheeler")),
            ("MIKE", Some("Mike Wheeler")),
            ("MIKE:", Some("Mike Wheeler")),
            ("  mike wheeler ", Some("Mike Wheeler")),
            ("Hopper", Some("Jim Hopper")),
            ("HOPPER:", Some("Jim Hopper")),
            ("Chief", Some("Jim Hopper")),
            ("Sara", Some("Sara Hopper")),
            ("Sara Hopper", Some("Sara Hopper")),
            ("MR. CLARKE:", Some("Scott Clarke")),
            ("Mr Clarke", Some("Scott Clarke")),
            ("Scott", Some("Scott Clarke")),
            ("El", Some("Eleven")),
            ("ELEVEN", Some("Eleven")),
            ("Jane Hopper", Some("Eleven")),
            ("Will", Some("Will Byers")),
            ("will", Some("Will Byers")),
            ("WILL ON RADIO:", Some("Will Byers")),
            ("Max", Some("Max Mayfield")),
            ("Dr. Brenner", Some("Dr. Martin Brenner")),
            ("Martin Brenner", Some("Dr. Martin Brenner")),
            ("Brenner", Some("Dr. Martin Brenner")),
            ("Papa", Some("Dr. Martin Brenner")),
            ("Owens", Some("Sam Owens")),
            ("Dr. Owens", Some("Sam Owens")),
            ("Vecna", Some("Henry Creel")),
            ("One", Some("Henry Creel")),
            ("Mrs. Wheeler", Some("Karen Wheeler")),
            ("Mrs. Henderson", Some("Claudia Henderson")),
            ("Young Billy", Some("Billy Hargrove")),
            ("Teen Billy", Some("Billy Hargrove")),
            ("O'Bannon", Some("David O'Bannon")),
            ("O\u{2019}BANNON", Some("David O'Bannon")),
            ("MrsDriscoll", Some("Doris Driscoll")),
            ("Principal Higgins", Some("Principal Higgins")),
            ("Higgins", Some("Principal Higgins")),
            ("Tommy H.", Some("Tommy H.")),
            ("Steve (V.O.)", Some("Steve Harrington")),
            ("[Dustin]", Some("Dustin Henderson")),
            ("Wheeler", None),
            ("Byers", None),
            ("Sinclair", None),
            ("Unknown", None),
            ("unknown", None),
            ("Man", None),
            ("WOMAN:", None),
            ("MAN ON PA", None),
            ("Man 1", None),
            ("Mike and Will", None),
            ("Troy's mom", None),
            ("Mr.", None),
            ("", None),
            ("  ", None),
            ("Demogorgon", Some("The Demogorgon")),
        ];
        for &(label, want) in table {
            assert_eq!(cast.resolve(label), want, "label {label:?}");
        }
    }

    #[test]
    fn finds_mentions_in_text() {
        let cast = cast();
        let table: &[(&str, &[&str])] = &[
            (
                "Mike's bike is outside Will's house.",
                &["Mike Wheeler", "Will Byers"],
            ),
            ("Mike\u{2019}s bike.", &["Mike Wheeler"]),
            ("I will find him, I will.", &[]),
            ("Will you stop it?", &[]),
            ("Will? Will, is that you?", &["Will Byers"]),
            ("Will is missing.", &["Will Byers"]),
            ("Will Mike come tonight?", &["Mike Wheeler"]),
            ("Where is Will Byers?", &["Will Byers"]),
            ("Hop in, kid.", &[]),
            ("Hop, get in the car.", &["Jim Hopper"]),
            ("max speed, no Max", &["Max Mayfield"]),
            (
                "Nancy Wheeler and Mrs. Wheeler talked to Mr. Clarke.",
                &["Nancy Wheeler", "Karen Wheeler", "Scott Clarke"],
            ),
            ("The Wheelers' house. Wheeler!", &[]),
            ("Eleven! El! Jane!", &["Eleven"]),
            (
                "El, Mike, Dustin... MIKE!",
                &["Eleven", "Mike Wheeler", "Dustin Henderson"],
            ),
            ("(Hopper) \"Chief Hopper\"?", &["Jim Hopper"]),
            (
                "Sara Hopper was his daughter; Hopper never forgot.",
                &["Sara Hopper", "Jim Hopper"],
            ),
            ("One, two, three. Eight is Kali.", &["Kali Prasad"]),
            (
                "Dustin-Lucas-Steve",
                &["Dustin Henderson", "Lucas Sinclair", "Steve Harrington"],
            ),
            ("O'Bannon's report", &["David O'Bannon"]),
            ("Mike. Wheeler", &["Mike Wheeler"]),
            (
                "Dr. Owens and Dr.Brenner",
                &["Sam Owens", "Dr. Martin Brenner"],
            ),
            ("Mikey, Willow, Maxwell", &[]),
            ("", &[]),
        ];
        for &(text, want) in table {
            assert_eq!(cast.mentions(text), want, "text {text:?}");
        }
    }

    #[test]
    fn parses_both_list_shapes() {
        let text = "\u{feff}{\"character_name\": \"Mike Wheeler\"}\n\n  \n{\"name\": \"Jim Hopper\", \"aliases\": [\"Hopper\"]}\r\n";
        let chars = Cast::parse_jsonl(text).unwrap();
        assert_eq!(
            chars,
            vec![
                Character {
                    name: "Mike Wheeler".into(),
                    aliases: vec![]
                },
                Character {
                    name: "Jim Hopper".into(),
                    aliases: vec!["Hopper".into()]
                },
            ]
        );
    }

    #[test]
    fn list_errors_name_the_line() {
        let cases: &[(&str, CastError)] = &[("", CastError::Empty), ("\n  \n", CastError::Empty)];
        for (text, want) in cases {
            assert_eq!(&Cast::parse_jsonl(text).unwrap_err(), want);
        }
        let bad: &[(&str, usize, &str)] = &[
            ("{\"character_name\": \"Mike\"}\nnot json", 2, "expected"),
            ("\n\n{\"character_name\": \"  \"}", 3, "blank"),
            (
                "{\"name\": \"Mike\", \"aliases\": [\"\"]}",
                1,
                "alias 1 is blank",
            ),
            (
                "{\"name\": \"Mike\", \"aliases\": \"Mikey\"}",
                1,
                "invalid type",
            ),
            ("{\"location_name\": \"Hawkins Lab\"}", 1, "unknown field"),
            ("[\"Mike\"]", 1, "not a JSON object"),
        ];
        for &(text, line, fragment) in bad {
            match Cast::parse_jsonl(text) {
                Err(e @ CastError::BadLine { line: l, .. }) => {
                    assert_eq!(l, line, "{text:?}");
                    let message = e.to_string();
                    assert!(message.contains(&format!("line {line}")), "{message}");
                    assert!(message.contains(fragment), "{message}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn merges_duplicates_and_drops_blank_names() {
        let cast = Cast::from_characters(vec![
            Character {
                name: "Mike Wheeler".into(),
                aliases: vec!["Mike".into()],
            },
            Character {
                name: " ".into(),
                aliases: vec!["Nobody".into()],
            },
            Character {
                name: "Mike Wheeler".into(),
                aliases: vec!["Mike".into(), "Frogface".into()],
            },
        ]);
        assert_eq!(
            cast.characters(),
            &[Character {
                name: "Mike Wheeler".into(),
                aliases: vec!["Mike".into(), "Frogface".into()]
            }]
        );
        assert_eq!(cast.resolve("frogface"), Some("Mike Wheeler"));
        assert_eq!(cast.resolve("Nobody"), None);
    }

    #[test]
    fn shared_first_names_are_ambiguous() {
        let cast = Cast::from_characters(vec![
            Character {
                name: "Sam Owens".into(),
                aliases: vec![],
            },
            Character {
                name: "Sam Mayfield".into(),
                aliases: vec![],
            },
            Character {
                name: "Max Mayfield".into(),
                aliases: vec!["Max".into(), "Mayfield".into()],
            },
        ]);
        assert_eq!(cast.resolve("Sam"), None);
        assert_eq!(cast.resolve("Owens"), Some("Sam Owens"));
        assert_eq!(
            cast.resolve("Mayfield"),
            Some("Max Mayfield"),
            "an alias beats a surname"
        );
        assert_eq!(cast.mentions("Sam and Sam Mayfield"), vec!["Sam Mayfield"]);
    }

    #[test]
    fn slugs() {
        let table = [
            ("Jim Hopper", "jim-hopper"),
            ("Dr. Martin Brenner", "dr-martin-brenner"),
            ("D'Artagnan", "dartagnan"),
            ("David O\u{2019}Bannon", "david-obannon"),
            ("Tommy H.", "tommy-h"),
            ("  Eleven  ", "eleven"),
            ("Russian Soldier #6", "russian-soldier-6"),
            ("--", "x-2d2d"),
        ];
        for (name, want) in table {
            assert_eq!(slug(name), want, "{name:?}");
        }
        for c in cast().characters() {
            let s = slug(&c.name);
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{s}"
            );
        }
    }

    /// Speakers of the real transcripts, where the corpus is checked out next to the workspace.
    #[test]
    fn resolves_real_transcript_speakers() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/transcripts"
        );
        let Ok(entries) = std::fs::read_dir(dir) else {
            println!("note: no transcripts at {dir}; realism check skipped");
            return;
        };
        let cast = cast();
        let (mut named, mut resolved) = (0usize, 0usize);
        let mut missed: HashMap<String, usize> = HashMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "csv") {
                continue;
            }
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(&path)
                .expect("readable");
            for record in reader.records().flatten() {
                let speaker = record.get(0).unwrap_or("").trim();
                if speaker.is_empty() || speaker.eq_ignore_ascii_case("unknown") {
                    continue;
                }
                named += 1;
                match cast.resolve(speaker) {
                    Some(_) => resolved += 1,
                    None => *missed.entry(speaker.to_string()).or_default() += 1,
                }
            }
        }
        let share = 100.0 * resolved as f64 / named.max(1) as f64;
        let mut missed: Vec<_> = missed.into_iter().collect();
        missed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        println!("transcripts: {resolved} of {named} named speaker lines resolve ({share:.1}%)");
        println!(
            "most frequent unresolved: {:?}",
            &missed[..missed.len().min(25)]
        );
        assert!(share >= 95.0, "{share:.1}% of speaker lines resolve");
        for (label, name) in [
            ("Eleven", "Eleven"),
            ("Mike", "Mike Wheeler"),
            ("Dustin", "Dustin Henderson"),
            ("Hopper", "Jim Hopper"),
            ("Joyce", "Joyce Byers"),
        ] {
            assert_eq!(cast.resolve(label), Some(name));
        }
    }

    /// The wiki's character list, where the corpus is checked out next to the workspace.
    #[test]
    fn resolves_most_of_the_character_list() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/list_characters.jsonl"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            println!("note: no characters list at {path}; realism check skipped");
            return;
        };
        let listed = Cast::parse_jsonl(&text).expect("the list parses");
        let cast = cast();
        let missed: Vec<&str> = listed
            .iter()
            .filter(|c| cast.resolve(&c.name).is_none())
            .map(|c| c.name.as_str())
            .collect();
        let resolved = listed.len() - missed.len();
        let share = 100.0 * resolved as f64 / listed.len() as f64;
        println!(
            "characters list: {resolved} of {} names resolve ({share:.1}%)",
            listed.len()
        );
        println!("unresolved: {missed:?}");
        assert!(share >= 50.0, "{share:.1}% of the list resolves");
    }

    proptest! {
        // Failures are reported with their minimal input; nothing is written to the source tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_and_mentions_are_unique(text in "\\PC{0,80}", label in "\\PC{0,30}") {
            let cast = cast();
            let found = cast.mentions(&text);
            let mut unique = found.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), found.len());
            for name in found {
                prop_assert!(cast.characters().iter().any(|c| c.name == name));
            }
            if let Some(name) = cast.resolve(&label) {
                prop_assert!(cast.characters().iter().any(|c| c.name == name));
            }
        }

        #[test]
        fn names_in_sentences_are_found(i in 0usize..95, before in "[a-z ,]{0,20}", after in "[a-z ,.!?]{0,20}") {
            let cast = cast();
            let c = &cast.characters()[i % cast.characters().len()];
            prop_assume!(!listed(NUMBERS, &c.name));
            let text = format!("{before} {} {after}", c.name);
            prop_assert!(cast.mentions(&text).contains(&c.name.as_str()), "{}", text);
        }
    }
}
