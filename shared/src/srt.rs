//! SubRip parsing that survives what users upload.
//!
//! The reader is as lenient as a video player: it looks for timing lines and takes what follows as
//! text, whatever the indexes and blank lines say. What it had to guess or drop becomes a
//! [`Warning`]; only a file with no usable cues at all is an [`SrtError`].
//!
//! One pass over the text, line by line (`\n`, `\r\n` and a lone `\r` all end a line). A cue
//! borrows its text from the input when its lines stand next to each other there (nearly all do);
//! only a cue whose lines the file spreads out (trailing spaces, a blank line, a lone `\r`)
//! allocates, to join them.

use std::borrow::Cow;

use serde::Serialize;

use crate::simd;
use crate::text::{self, swar};

/// One subtitle: when it shows and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cue<'a> {
    /// The index line before the timing line, when there was one (users' files often lack it or
    /// repeat it, so nothing relies on it).
    pub number: Option<u32>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The cue's text lines, trimmed, with a line break between each two: `\n`, or `\r\n` where
    /// the text is borrowed from a file that ends its lines so. Empty when the cue has none. Read
    /// it line by line with [`Cue::lines`].
    pub text: Cow<'a, str>,
    /// 1-based line number of the cue's timing line.
    pub line: usize,
}

impl Cue<'_> {
    /// The cue's text lines, trimmed, whichever line break the text has between them.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        text_lines(&self.text, false).filter(|_| !self.text.is_empty())
    }
}

/// The lines of a cue's text (or of text cut from it), split at `\n` with the `\r` of a `\r\n` dropped (a word-at-a-time
/// search: they are short), or the whole text when it is known to be `one_line`.
pub(crate) fn text_lines(text: &str, one_line: bool) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos > bytes.len() {
            return None;
        }
        let start = pos;
        let end = if one_line {
            bytes.len()
        } else {
            swar::find_byte(bytes, start, b'\n').unwrap_or(bytes.len())
        };
        pos = end + 1;
        // SAFETY: `start` is 0 or just after a `\n`, `end` at a `\n` or the end: boundaries.
        let line = unsafe { text::cut(text, start, end) };
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Something the reader repaired or dropped, for the user to see; the cues are still usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// 1-based line the warning is about.
    pub line: usize,
    pub message: String,
}

/// A parsed subtitle file: cues sorted by start time, and what was repaired on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subtitles<'a> {
    pub cues: Vec<Cue<'a>>,
    pub warnings: Vec<Warning>,
}

/// Why a text is no usable subtitle file. Retrying does not help: the file has to change.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq, Serialize)]
#[error("line {line}: {message}")]
pub struct SrtError {
    /// 1-based line the message points at.
    pub line: usize,
    pub kind: SrtErrorKind,
    pub message: String,
}

/// The machine-readable reason behind an [`SrtError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SrtErrorKind {
    /// Not one timing line (`00:00:01,000 --> 00:00:04,000`) in the whole text.
    NoCues,
    /// There are lines that try to be timing lines, but none or few of them can be read.
    UnreadableTimings,
    /// Cues were found, but every one of them is empty.
    NoText,
    /// A few timing lines in what is mostly something else (a script, a log, an article).
    MostlyNotSubtitles,
}

/// The format a timing line should have, quoted in messages.
const EXPECTED_TIMING: &str = "\"00:01:02,345 --> 00:01:04,567\"";

/// At most this many warnings of one kind are listed one by one; the rest are counted.
const WARNINGS_PER_KIND: usize = 5;

/// Below this many stray lines a file is never called "mostly not subtitles": a short file with an
/// advert or a credit line at its end is still a subtitle file.
const STRAY_LINES_MIN: usize = 20;

/// Reads SubRip text. Lenient where a player is: see the module docs.
///
/// Cues come back sorted by start time (stable, so cues that start together keep file order).
pub fn parse(text: &str) -> Result<Subtitles<'_>, SrtError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut parser = Parser::new(text);
    for (number, line) in Lines::new(text) {
        parser.line(number, line);
    }
    parser.finish()
}

/// Lines of a text with their 1-based numbers; `\r\n`, `\n` and a lone `\r` each end one.
///
/// Line ends are found 64 bytes at a time, as bit masks (vector instructions, see `simd`): lines
/// are short, and a search per line would start over, and mispredict its exit, for every one.
struct Lines<'a> {
    text: &'a str,
    /// Where the next line starts.
    pos: usize,
    number: usize,
    /// The 64-byte block the masks describe: its line ends not yet taken (a `\r`, or a `\n`
    /// without one before it), and which of them are the `\r` of a `\r\n`.
    block: usize,
    ends: u64,
    pairs: u64,
    /// Whether the block ends with a `\r` (as bit 0): a `\n` at the start of the next is its pair.
    return_before: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut lines = Lines {
            text,
            pos: 0,
            number: 0,
            block: 0,
            ends: 0,
            pairs: 0,
            return_before: 0,
        };
        lines.read_block(0);
        lines
    }

    /// Reads the block at `at` into the masks.
    #[inline]
    fn read_block(&mut self, at: usize) {
        let bytes = self.text.as_bytes();
        let (returns, feeds) = simd::returns_and_feeds(bytes, at);
        let feed_after = u64::from(bytes.get(at + 64) == Some(&b'\n'));
        self.block = at;
        self.ends = returns | (feeds & !(returns << 1 | self.return_before));
        self.pairs = returns & (feeds >> 1 | feed_after << 63);
        self.return_before = returns >> 63;
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let len = self.text.len();
        let start = self.pos;
        if start >= len {
            return None;
        }
        while self.ends == 0 {
            if self.block + 64 >= len {
                // The last line, with no line break after it.
                self.pos = len;
                self.number += 1;
                return Some((self.number, &self.text[start..]));
            }
            self.read_block(self.block + 64);
        }
        let k = self.ends.trailing_zeros();
        self.ends &= self.ends - 1;
        let end = self.block + k as usize;
        self.pos = end + 1 + (self.pairs >> k & 1) as usize;
        self.number += 1;
        // SAFETY: both ends are the ends of the text or next to a line break, an ASCII byte.
        Some((self.number, unsafe { text::cut(self.text, start, end) }))
    }
}

/// A line without surrounding whitespace and control characters (a DOS end-of-file mark, say).
fn trim_line(raw: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x7F);
    // Nearly every line starts and ends with a printable ASCII character, or is blank: nothing
    // to trim.
    if raw.is_empty() || plain(raw.as_bytes().first()) && plain(raw.as_bytes().last()) {
        return raw;
    }
    raw.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

/// Where the reader is, relative to the cue blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Right after a timing line, before any blank line: lines are the cue's text.
    Cue,
    /// After a blank line (or before the first cue): lines here are strays.
    Between,
    /// Inside the block of a timing line that could not be read: lines are dropped with it.
    Broken,
}

/// The cue being read.
struct Open {
    number: Option<u32>,
    start_ms: u64,
    end_ms: u64,
    line: usize,
}

/// A parsed timing line.
struct Timing {
    start_ms: u64,
    end_ms: u64,
    negative: bool,
}

/// Kinds of warning that can repeat once per line or cue, so are capped.
#[derive(Clone, Copy)]
enum Repeated {
    Dropped,
    BrokenTiming,
    Negative,
    EndBeforeStart,
}

const REPEATED: [(Repeated, &str); 4] = [
    (Repeated::Dropped, "lines dropped"),
    (Repeated::BrokenTiming, "unreadable timing lines"),
    (Repeated::Negative, "negative times"),
    (Repeated::EndBeforeStart, "cues ending before they start"),
];

/// Collects warnings, listing the first few of each repeated kind and counting the rest.
#[derive(Default)]
struct Warnings {
    list: Vec<Warning>,
    counts: [usize; REPEATED.len()],
    first_unlisted: [usize; REPEATED.len()],
}

impl Warnings {
    fn add(&mut self, line: usize, message: String) {
        self.list.push(Warning { line, message });
    }

    fn repeated(&mut self, kind: Repeated, line: usize, message: impl FnOnce() -> String) {
        let k = kind as usize;
        self.counts[k] += 1;
        if self.counts[k] <= WARNINGS_PER_KIND {
            self.add(line, message());
        } else if self.counts[k] == WARNINGS_PER_KIND + 1 {
            self.first_unlisted[k] = line;
        }
    }

    fn count(&self, kind: Repeated) -> usize {
        self.counts[kind as usize]
    }

    fn finish(mut self) -> Vec<Warning> {
        for (kind, what) in REPEATED {
            let k = kind as usize;
            if self.counts[k] > WARNINGS_PER_KIND {
                let more = self.counts[k] - WARNINGS_PER_KIND;
                let all = self.counts[k];
                self.add(
                    self.first_unlisted[k],
                    format!("{more} more {what} like the above ({all} in all)"),
                );
            }
        }
        self.list.sort_by_key(|w| w.line);
        self.list
    }
}

struct Parser<'a> {
    /// The whole text: every line handed to the parser is a slice of it.
    text: &'a str,
    cues: Vec<Cue<'a>>,
    warnings: Warnings,
    block: Block,
    open: Option<Open>,
    /// Text lines of the open cue.
    parts: Vec<&'a str>,
    /// A digits-only line, held back until the next line says whether it is an index.
    held: Option<(usize, &'a str)>,
    /// The first non-blank line, quoted when no cue is found.
    first_line: Option<(usize, &'a str)>,
    /// The first timing line that could not be read, quoted when none could.
    first_broken: Option<(usize, &'a str)>,
    /// Non-blank lines inside cue blocks (index, timing, text) and outside them.
    cue_lines: usize,
    stray_lines: usize,
    first_stray: Option<(usize, &'a str)>,
    /// Lines before the first cue, ignored.
    preamble: usize,
    /// Stray lines that read like text and were joined to the cue before them.
    joined: usize,
    first_joined: usize,
    out_of_order: usize,
    first_out_of_order: usize,
    empty_cues: usize,
    first_empty: usize,
    last_start: u64,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            // The corpus averages about 70 bytes per cue.
            cues: Vec::with_capacity(text.len() / 64),
            warnings: Warnings::default(),
            block: Block::Between,
            open: None,
            parts: Vec::new(),
            held: None,
            first_line: None,
            first_broken: None,
            cue_lines: 0,
            stray_lines: 0,
            first_stray: None,
            preamble: 0,
            joined: 0,
            first_joined: 0,
            out_of_order: 0,
            first_out_of_order: 0,
            empty_cues: 0,
            first_empty: 0,
            last_start: 0,
        }
    }

    fn line(&mut self, number: usize, raw: &'a str) {
        let line = trim_line(raw);
        // Most lines: the text of a cue, not starting like an index or a time (a digit, or a
        // dash before one: `- Hi` is dialogue, `-00:00:01,000` a negative time).
        if self.block == Block::Cue && self.held.is_none() && reads_as_text(line.as_bytes()) {
            self.cue_lines += 1;
            self.parts.push(line);
            return;
        }
        if let Some((held_number, held)) = self.held.take() {
            if let Some(timing) = parse_timing(line) {
                self.cue_lines += 1;
                self.start_cue(number, timing, held.parse().ok());
                return;
            }
            if looks_like_timing(line) {
                // The index of a cue whose timing line is broken: it goes with that cue.
                self.stray(held_number, held);
            } else {
                self.content(held_number, held);
            }
        }
        if line.is_empty() {
            if self.block == Block::Broken || !self.parts.is_empty() {
                self.block = Block::Between;
            }
            return;
        }
        if self.first_line.is_none() {
            self.first_line = Some((number, line));
        }
        if line.bytes().all(|b| b.is_ascii_digit()) {
            self.held = Some((number, line));
        } else if let Some(timing) = parse_timing(line) {
            self.start_cue(number, timing, None);
        } else {
            self.content(number, line);
        }
    }

    /// A non-blank line that is not a timing line.
    fn content(&mut self, number: usize, line: &'a str) {
        if looks_like_timing(line) {
            self.close_cue();
            self.block = Block::Broken;
            self.stray(number, line);
            self.first_broken.get_or_insert((number, line));
            self.warnings.repeated(Repeated::BrokenTiming, number, || {
                format!("timing line {} not understood (expected {EXPECTED_TIMING}); its cue is skipped", quote(line))
            });
            return;
        }
        match self.block {
            Block::Cue => {
                self.cue_lines += 1;
                self.parts.push(line);
            }
            Block::Broken => self.stray(number, line),
            Block::Between => {
                self.stray(number, line);
                if self.open.is_none() && self.cues.is_empty() && self.first_broken.is_none() {
                    self.preamble += 1;
                } else if self.open.is_some() && reads_like_text(line) {
                    // Text after a blank line inside a cue: players show it with the cue.
                    if self.joined == 0 {
                        self.first_joined = number;
                    }
                    self.joined += 1;
                    self.parts.push(line);
                } else {
                    self.warnings.repeated(Repeated::Dropped, number, || {
                        format!("dropped {}: it is neither a cue nor text", quote(line))
                    });
                }
            }
        }
    }

    fn stray(&mut self, number: usize, line: &'a str) {
        self.stray_lines += 1;
        self.first_stray.get_or_insert((number, line));
    }

    fn start_cue(&mut self, line: usize, timing: Timing, number: Option<u32>) {
        self.close_cue();
        self.cue_lines += 1;
        self.block = Block::Cue;
        let Timing {
            start_ms,
            mut end_ms,
            negative,
        } = timing;
        if negative {
            self.warnings.repeated(Repeated::Negative, line, || {
                "negative time read as 00:00:00,000".to_owned()
            });
        }
        if end_ms < start_ms {
            self.warnings.repeated(Repeated::EndBeforeStart, line, || {
                format!(
                    "the cue ends ({}) before it starts ({}); its end is set to its start",
                    clock(end_ms),
                    clock(start_ms)
                )
            });
            end_ms = start_ms;
        }
        if start_ms < self.last_start {
            if self.out_of_order == 0 {
                self.first_out_of_order = line;
            }
            self.out_of_order += 1;
        }
        self.last_start = start_ms;
        self.open = Some(Open {
            number,
            start_ms,
            end_ms,
            line,
        });
    }

    fn close_cue(&mut self) {
        let Some(open) = self.open.take() else { return };
        let text = match self.parts.as_slice() {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(*one),
            parts => match self.adjacent(parts) {
                Some(span) => Cow::Borrowed(span),
                None => Cow::Owned(parts.join("\n")),
            },
        };
        self.parts.clear();
        if text.is_empty() {
            if self.empty_cues == 0 {
                self.first_empty = open.line;
            }
            self.empty_cues += 1;
        }
        self.cues.push(Cue {
            number: open.number,
            start_ms: open.start_ms,
            end_ms: open.end_ms,
            text,
            line: open.line,
        });
    }

    /// The text from the first part to the last when only a `\n` or `\r\n` stands between each
    /// two: then it reads as the parts joined, without copying them.
    fn adjacent(&self, parts: &[&'a str]) -> Option<&'a str> {
        let offset = |part: &str| (part.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize);
        let bytes = self.text.as_bytes();
        for pair in parts.windows(2) {
            let end = offset(pair[0])? + pair[0].len();
            let gap = bytes.get(end..offset(pair[1])?)?;
            if gap != b"\n" && gap != b"\r\n" {
                return None;
            }
        }
        let (first, last) = (parts.first()?, parts.last()?);
        self.text.get(offset(first)?..offset(last)? + last.len())
    }

    fn finish(mut self) -> Result<Subtitles<'a>, SrtError> {
        if let Some((number, held)) = self.held.take() {
            self.content(number, held);
        }
        self.close_cue();
        self.refuse()?;
        let mut warnings = self.warnings;
        let total = self.cues.len();
        if self.preamble > 0 {
            let (line, text) = self.first_stray.unwrap_or((1, ""));
            warnings.add(
                line,
                format!(
                    "ignored {} line(s) before the first cue, starting with {}",
                    self.preamble,
                    quote(text)
                ),
            );
        }
        if self.joined > 0 {
            warnings.add(
                self.first_joined,
                format!(
                    "{} line(s) of text after a blank line were joined to the cue before them",
                    self.joined
                ),
            );
        }
        if self.empty_cues > 0 {
            warnings.add(
                self.first_empty,
                format!("{} of {total} cues have no text", self.empty_cues),
            );
        }
        if self.out_of_order > 0 {
            warnings.add(
                self.first_out_of_order,
                format!("{} of {total} cues start before the cue above them; cues are sorted by start time", self.out_of_order),
            );
            self.cues.sort_by_key(|cue| cue.start_ms);
        }
        let (overlaps, first_overlap) = overlaps(&self.cues);
        if overlaps > 0 {
            warnings.add(
                first_overlap,
                format!("{overlaps} of {total} cues start before an earlier cue ends; they are kept as they are"),
            );
        }
        Ok(Subtitles {
            cues: self.cues,
            warnings: warnings.finish(),
        })
    }

    /// The files that hold no usable subtitles.
    fn refuse(&self) -> Result<(), SrtError> {
        let good = self.cues.len();
        let broken = self.warnings.count(Repeated::BrokenTiming);
        if let Some((line, text)) = self.first_broken.filter(|_| broken > good) {
            let message = if good == 0 {
                format!(
                    "no timing line could be read: {} and the {broken} like it are not {EXPECTED_TIMING}",
                    quote(text)
                )
            } else {
                format!(
                    "{broken} timing lines could not be read against {good} that could, starting with {}; expected {EXPECTED_TIMING}",
                    quote(text)
                )
            };
            return Err(SrtError {
                line,
                kind: SrtErrorKind::UnreadableTimings,
                message,
            });
        }
        if good == 0 {
            let (line, message) = match self.first_line {
                Some((line, text)) => (
                    line,
                    format!(
                        "no subtitle cue found: expected a timing line like {EXPECTED_TIMING}, but the first line reads {}",
                        quote(text)
                    ),
                ),
                None => (
                    1,
                    format!(
                        "no subtitle cue found: the text is blank; expected cues with timing lines like {EXPECTED_TIMING}"
                    ),
                ),
            };
            return Err(SrtError {
                line,
                kind: SrtErrorKind::NoCues,
                message,
            });
        }
        if self.empty_cues == good {
            let line = self.cues.first().map_or(1, |cue| cue.line);
            let message =
                format!("all {good} cues are empty: the file has timing lines but no text");
            return Err(SrtError {
                line,
                kind: SrtErrorKind::NoText,
                message,
            });
        }
        let total = self.stray_lines + self.cue_lines;
        if self.stray_lines >= STRAY_LINES_MIN && self.stray_lines * 3 > total * 2 {
            let (line, text) = self.first_stray.unwrap_or((1, ""));
            let message = format!(
                "most of the file is not subtitles: only {} of {total} non-blank lines belong to cues, the first stray line reads {}; is this the right file?",
                self.cue_lines,
                quote(text)
            );
            return Err(SrtError {
                line,
                kind: SrtErrorKind::MostlyNotSubtitles,
                message,
            });
        }
        Ok(())
    }
}

/// How many cues start before the latest end among the cues above them, and the first one's line.
fn overlaps(cues: &[Cue<'_>]) -> (usize, usize) {
    let (mut count, mut first, mut latest_end) = (0, 0, 0);
    for (i, cue) in cues.iter().enumerate() {
        if i > 0 && cue.start_ms < latest_end {
            if count == 0 {
                first = cue.line;
            }
            count += 1;
        }
        latest_end = latest_end.max(cue.end_ms);
    }
    (count, first)
}

/// A line quoted for a message, shortened to keep messages readable.
fn quote(line: &str) -> String {
    const MAX: usize = 60;
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("\"{}…\"", &line[..cut]),
        None => format!("\"{line}\""),
    }
}

/// Milliseconds as an SRT clock, for messages.
fn clock(ms: u64) -> String {
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02},{ms:03}")
}

/// Whether a stray line is worth keeping as text: some letters, and mostly letters and spaces
/// rather than symbols or digits (which is what leftover indexes, separators and junk look like).
fn reads_like_text(line: &str) -> bool {
    let (mut wordy, mut total) = (0usize, 0usize);
    for c in line.chars() {
        total += 1;
        wordy += usize::from(c.is_alphabetic() || c == ' ');
    }
    line.chars().any(char::is_alphabetic) && wordy * 2 >= total
}

/// Whether a line inside a cue is its text, whatever follows: it is not blank and starts like
/// neither an index nor a timing line.
#[inline(always)]
fn reads_as_text(line: &[u8]) -> bool {
    match line {
        [] => false,
        [b'-', d, ..] => !d.is_ascii_digit(),
        [b, ..] => !b.is_ascii_digit(),
    }
}

/// A line that starts like a timing line but did not parse as one.
fn looks_like_timing(line: &str) -> bool {
    line.as_bytes().first().is_some_and(u8::is_ascii_digit) && line.contains("->")
}

/// Reads `[-]HH:MM:SS,mmm --> [-]HH:MM:SS,mmm [anything]`; see [`timestamp`] for the leniency.
/// The common form is read in place (one per cue), any other by a call.
#[inline(always)]
fn parse_timing(line: &str) -> Option<Timing> {
    match canonical_timing(line.as_bytes()) {
        Some(timing) => Some(timing),
        None => parse_other_timing(line),
    }
}

/// [`parse_timing`] for the forms other than the common one.
#[inline(never)]
fn parse_other_timing(line: &str) -> Option<Timing> {
    let b = line.as_bytes();
    // Nearly every text line fails here, on its first bytes (`- ` starts dialogue, `-0` a
    // negative time).
    let starts_like_time = match b {
        [d, ..] if d.is_ascii_digit() => true,
        [b'-', d, ..] => d.is_ascii_digit(),
        _ => false,
    };
    if !starts_like_time {
        return None;
    }
    let mut i = 0;
    let (start_ms, negative_start) = timestamp(b, &mut i)?;
    skip_blanks(b, &mut i);
    // The arrow: `-->`, and shorter or longer ones that some tools write.
    let dashes = b[i..].iter().take_while(|&&c| c == b'-').count();
    if dashes == 0 || b.get(i + dashes) != Some(&b'>') {
        return None;
    }
    i += dashes + 1;
    skip_blanks(b, &mut i);
    let (end_ms, negative_end) = timestamp(b, &mut i)?;
    // Position coordinates (`X1:40 X2:600 ...`) or other settings may follow, after a space.
    if b.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(Timing {
        start_ms,
        end_ms,
        negative: negative_start || negative_end,
    })
}

/// The common case, `00:01:02,345 --> 00:01:04,567` exactly (`.` too), read at fixed offsets.
#[inline(always)]
fn canonical_timing(b: &[u8]) -> Option<Timing> {
    let line: &[u8; 29] = b.first_chunk()?;
    let (start, rest) = line.split_first_chunk::<12>()?;
    let (arrow, end) = rest.split_first_chunk::<5>()?;
    if arrow != b" --> " || b.get(29).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let start_ms = canonical_timestamp(start)?;
    let end_ms = canonical_timestamp(end.try_into().ok()?)?;
    Some(Timing {
        start_ms,
        end_ms,
        negative: false,
    })
}

/// `HH:MM:SS,mmm` in exactly twelve bytes, read as one word and one half word: the digit checks,
/// and the digits' values, each in a few operations for all of them.
fn canonical_timestamp(t: &[u8; 12]) -> Option<u64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // The two colons, bytes 2 and 5 of the clock; the separator, byte 0 of the fraction.
    const COLONS: u64 = 0x0000_FF00_00FF_0000;
    const SEPARATOR: u64 = 0xFF;
    let (clock, fraction) = t.split_first_chunk::<8>()?;
    let x = u64::from_le_bytes(*clock);
    let f = u64::from(u32::from_le_bytes(fraction.try_into().ok()?));
    if x & COLONS != 0x0000_3A00_003A_0000 || !matches!(f as u8, b',' | b'.') {
        return None;
    }
    // Colons and separator become '0', then every byte must be '0'..='9': high nibble 3, and
    // adding 6 must not carry out of the low nibble.
    let z = (x & !COLONS) | (ZEROS & COLONS);
    let g = (f & !SEPARATOR) | 0x30;
    let digits = |w: u64, zeros: u64, high: u64| {
        w & high == zeros && (w + (0x0606_0606_0606_0606 & high)) & high == zeros
    };
    if !digits(z, ZEROS, HIGH_NIBBLES) || !digits(g, ZEROS >> 32, HIGH_NIBBLES >> 32) {
        return None;
    }
    // Each byte's value, then tens * 10 + ones into the first byte of each pair: hours in byte
    // 0, minutes in byte 3, seconds in byte 6.
    let d = z - ZEROS;
    let pairs = d * 10 + (d >> 8);
    // One multiplication sums hours * 60 + minutes into bits 24 to 36: the hours' own byte
    // stays below them, and minutes * 60 lands from bit 48.
    let minutes = (pairs & 0xFF00_00FF).wrapping_mul(60 << 24 | 1) >> 24 & 0x1FFF;
    let seconds = pairs >> 48 & 0xFF;
    // Milliseconds: the first two digits paired the same way (in byte 1), then the third.
    let e = g - (ZEROS >> 32);
    let ms = ((e * 10 + (e >> 8)) >> 8 & 0xFF) * 10 + (e >> 24);
    Some((minutes * 60 + seconds) * 1000 + ms)
}

fn skip_blanks(b: &[u8], i: &mut usize) {
    while b.get(*i).is_some_and(|&c| c == b' ' || c == b'\t') {
        *i += 1;
    }
}

/// Reads one time, in milliseconds, and whether it was negative (read as zero).
///
/// Takes `H:M:S,mmm` or `M:S,mmm`; `,` or `.` (or a fourth `:`) before the fraction of a second,
/// which may be missing. The fraction is decimal whatever its length: `1,5` is 1.5 s and `1,08`
/// 1.08 s (tools that count in centiseconds, as SSA does, write two digits), and digits past the
/// third are cut off (`1,0009` is 1 s), as a time in milliseconds cannot hold them.
fn timestamp(b: &[u8], i: &mut usize) -> Option<(u64, bool)> {
    let negative = b.get(*i) == Some(&b'-') && b.get(*i + 1).is_some_and(u8::is_ascii_digit);
    if negative {
        *i += 1;
    }
    let digit_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let mut groups = [0u64; 3];
    let mut count = 0;
    let mut ms = 0;
    loop {
        let from = *i;
        let value = number(b, i)?;
        if count == 3 {
            ms = millis(&b[from..*i]);
            break;
        }
        groups[count] = value;
        count += 1;
        match b.get(*i) {
            Some(b':') if digit_at(*i + 1) => *i += 1,
            Some(b',' | b'.') if count >= 2 && digit_at(*i + 1) => {
                *i += 1;
                let from = *i;
                number(b, i)?;
                ms = millis(&b[from..*i]);
                break;
            }
            _ => break,
        }
    }
    let (h, m, s) = match count {
        3 => (groups[0], groups[1], groups[2]),
        2 => (0, groups[0], groups[1]),
        _ => return None,
    };
    let total = h
        .saturating_mul(3_600_000)
        .saturating_add(m.saturating_mul(60_000))
        .saturating_add(s.saturating_mul(1000))
        .saturating_add(ms);
    Some((if negative { 0 } else { total }, negative))
}

/// One or more ASCII digits as a number, saturating.
fn number(b: &[u8], i: &mut usize) -> Option<u64> {
    let from = *i;
    let mut value = 0u64;
    while let Some(d) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        *i += 1;
    }
    (*i > from).then_some(value)
}

/// The digits of a decimal fraction of a second, in milliseconds: see [`timestamp`].
fn millis(digits: &[u8]) -> u64 {
    // The first three digits, padded with zeros: `5` is 500, `08` is 80.
    (0..3).fold(0, |ms, k| {
        ms * 10 + digits.get(k).map_or(0, |d| u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn times<'s>(subs: &'s Subtitles<'_>) -> Vec<(u64, u64, &'s str)> {
        subs.cues
            .iter()
            .map(|c| (c.start_ms, c.end_ms, c.text.as_ref()))
            .collect()
    }

    fn ok(text: &str) -> Subtitles<'_> {
        parse(text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
    }

    fn err(text: &str) -> SrtError {
        parse(text).expect_err(text)
    }

    const TWO: &str = "1\n00:00:01,000 --> 00:00:02,500\nHello.\n\n2\n00:00:03,000 --> 00:00:04,000\nBye.\nNow.\n";

    #[test]
    fn reads_a_plain_file() {
        let subs = ok(TWO);
        assert_eq!(
            times(&subs),
            [(1000, 2500, "Hello."), (3000, 4000, "Bye.\nNow.")]
        );
        assert_eq!(subs.cues[0].number, Some(1));
        assert_eq!((subs.cues[0].line, subs.cues[1].line), (2, 6));
        assert!(subs.warnings.is_empty(), "{:?}", subs.warnings);
    }

    #[test]
    fn adjacent_lines_are_borrowed_whatever_their_breaks() {
        for (ending, borrowed) in [("\n", true), ("\r\n", true), ("\r", false)] {
            let text = TWO.replace('\n', ending);
            let subs = ok(&text);
            let cue = &subs.cues[1];
            assert_eq!(
                cue.lines().collect::<Vec<_>>(),
                ["Bye.", "Now."],
                "{ending:?}"
            );
            assert_eq!(matches!(cue.text, Cow::Borrowed(_)), borrowed, "{ending:?}");
        }
        // Lines the file spreads out are joined, trimmed: the text never holds what trimming cut.
        for spread in [
            "1\n00:00:01,000 --> 00:00:02,000\nBye.  \r\n\tNow.\n",
            "1\n00:00:01,000 --> 00:00:02,000\nBye.\x1A\nNow.\n",
            "1\n00:00:01,000 --> 00:00:02,000\nBye.\n\nNow.\n",
        ] {
            let subs = ok(spread);
            assert_eq!(subs.cues[0].text, "Bye.\nNow.", "{spread:?}");
            assert!(matches!(subs.cues[0].text, Cow::Owned(_)), "{spread:?}");
        }
        assert_eq!(
            ok("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\nA\n").cues[0]
                .lines()
                .count(),
            0
        );
    }

    #[test]
    fn lines_split_at_every_kind_of_break() {
        for len in [0, 1, 62, 63, 64, 65, 127, 128, 129, 200] {
            for ending in ["\n", "\r\n", "\r"] {
                let mut text = String::new();
                let mut want = Vec::new();
                let mut number = 0;
                while text.len() < len {
                    number += 1;
                    let line = "x".repeat(number % 7);
                    text += &line;
                    text += ending;
                    want.push((number, line));
                }
                let got: Vec<_> = Lines::new(&text).map(|(n, l)| (n, l.to_owned())).collect();
                assert_eq!(got, want, "{len} {ending:?}");
            }
        }
        let got: Vec<_> = Lines::new("a\r\rb\n\r\nc").map(|(_, l)| l).collect();
        assert_eq!(got, ["a", "", "b", "", "c"]);
    }

    /// The lines of a text, split the slow way.
    fn plain_lines(text: &str) -> Vec<&str> {
        let mut lines = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
            lines.push(&rest[..end]);
            let skip = if rest[end..].starts_with("\r\n") {
                2
            } else {
                usize::from(end < rest.len())
            };
            rest = &rest[end + skip..];
        }
        lines
    }

    #[test]
    fn line_breaks_across_blocks() {
        // Every place a break can have against the 64-byte blocks, a `\r\n` split between two
        // of them included.
        for at in 0..140 {
            for tail in ["\r\nb\n", "\rb", "\n\rb\r\n\r", "\r\n\r\nb"] {
                let text = format!("{}{tail}", "a".repeat(at));
                let got: Vec<_> = Lines::new(&text).map(|(_, l)| l).collect();
                assert_eq!(got, plain_lines(&text), "{at} {tail:?}");
            }
        }
    }

    #[test]
    fn line_endings_and_bom() {
        for (name, text) in [
            ("crlf", TWO.replace('\n', "\r\n")),
            ("cr", TWO.replace('\n', "\r")),
            ("bom", format!("\u{FEFF}{TWO}")),
            ("no final newline", TWO.trim_end().to_owned()),
            (
                "mixed",
                TWO.split('\n')
                    .zip(["\r\n", "\r", "\n"].iter().cycle())
                    .map(|(l, e)| format!("{l}{e}"))
                    .collect(),
            ),
            ("trailing spaces", TWO.replace('\n', "  \t\n")),
        ] {
            let subs = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let cues: Vec<_> = subs
                .cues
                .iter()
                .map(|c| (c.start_ms, c.end_ms, c.lines().collect::<Vec<_>>()))
                .collect();
            assert_eq!(
                cues,
                [
                    (1000, 2500, vec!["Hello."]),
                    (3000, 4000, vec!["Bye.", "Now."])
                ],
                "{name}"
            );
            assert_eq!(subs.cues[1].line, 6, "{name}");
            assert!(subs.warnings.is_empty(), "{name}: {:?}", subs.warnings);
        }
    }

    #[test]
    fn timestamp_forms() {
        let cases = [
            ("00:00:01,000 --> 00:00:02,000", Some((1000, 2000))),
            ("00:00:01.000 --> 00:00:02.000", Some((1000, 2000))),
            ("0:0:1,5 --> 0:0:2,50", Some((1500, 2500))),
            ("00:00:01,08 --> 00:00:01,8", Some((1080, 1800))),
            ("00:00:01.08 --> 00:00:02.080", Some((1080, 2080))),
            ("00:00:01,008 --> 00:00:01,80", Some((1008, 1800))),
            ("00:00:01:25 --> 00:00:01:250", Some((1250, 1250))),
            ("01:02,300 --> 01:03,400", Some((62_300, 63_400))),
            ("1:00:00,000-->1:00:01,000", Some((3_600_000, 3_601_000))),
            (
                "00:00:01,000   -->   00:00:02,000  X1:100 X2:200 Y1:10 Y2:20",
                Some((1000, 2000)),
            ),
            ("00:00:01:250 --> 00:00:02:500", Some((1250, 2500))),
            ("00:00:01 --> 00:00:02", Some((1000, 2000))),
            ("00:00:01,123456 --> 00:00:02,5", Some((1123, 2500))),
            ("00:00:01,9999 --> 00:00:02,0009", Some((1999, 2000))),
            ("00:00:01,000 -> 00:00:02,000", Some((1000, 2000))),
            ("00:00:01,000\t-->\t00:00:02,000", Some((1000, 2000))),
            ("-00:00:01,000 --> 00:00:02,000", Some((0, 2000))),
            (
                "100:00:00,000 --> 100:00:01,000",
                Some((360_000_000, 360_001_000)),
            ),
            ("00:00:01,000 -- 00:00:02,000", None),
            ("00:00:01,000 --> ", None),
            ("10 --> 20", None),
            ("1983", None),
            ("Hello --> there", None),
            ("00:00:01,000 --> 00:00:02,0001", Some((1000, 2000))),
            (
                "99999999999999999999:00:00,000 --> 00:00:01,000",
                Some((u64::MAX, 1000)),
            ),
        ];
        for (line, want) in cases {
            let got = parse_timing(line).map(|t| (t.start_ms, t.end_ms));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn index_is_optional_and_may_repeat() {
        let text = "00:00:01,000 --> 00:00:02,000\nOne\n\n00:00:03,000 --> 00:00:04,000\nTwo\n\n7\n00:00:05,000 --> 00:00:06,000\nThree\n\n7\n00:00:07,000 --> 00:00:08,000\nFour\n";
        let subs = ok(text);
        assert_eq!(
            subs.cues.iter().map(|c| c.number).collect::<Vec<_>>(),
            [None, None, Some(7), Some(7)]
        );
        assert_eq!(
            subs.cues
                .iter()
                .map(|c| c.text.as_ref())
                .collect::<Vec<_>>(),
            ["One", "Two", "Three", "Four"]
        );
        assert!(subs.warnings.is_empty(), "{:?}", subs.warnings);
    }

    #[test]
    fn missing_blank_lines() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nOne\n2\n00:00:03,000 --> 00:00:04,000\nTwo\n00:00:05,000 --> 00:00:06,000\nThree\n";
        let subs = ok(text);
        assert_eq!(
            times(&subs),
            [
                (1000, 2000, "One"),
                (3000, 4000, "Two"),
                (5000, 6000, "Three")
            ]
        );
        assert_eq!(subs.cues[1].number, Some(2));
        assert_eq!(
            subs.cues.iter().map(|c| c.line).collect::<Vec<_>>(),
            [2, 5, 7]
        );
    }

    #[test]
    fn numbers_in_text_stay_text() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nThe year was\n1983\n\n2\n00:00:03,000 --> 00:00:04,000\n42\n";
        let subs = ok(text);
        assert_eq!(
            times(&subs),
            [(1000, 2000, "The year was\n1983"), (3000, 4000, "42")]
        );
    }

    #[test]
    fn text_after_a_blank_line_joins_its_cue() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nFirst part\n\nsecond part\n\n2\n00:00:03,000 --> 00:00:04,000\nNext\n";
        let subs = ok(text);
        assert_eq!(
            times(&subs),
            [
                (1000, 2000, "First part\nsecond part"),
                (3000, 4000, "Next")
            ]
        );
        assert_eq!(subs.warnings.len(), 1);
        assert_eq!(subs.warnings[0].line, 5);
        // A blank line between the timing line and the text is no stray.
        let subs = ok("1\n00:00:01,000 --> 00:00:02,000\n\nHello\n");
        assert_eq!(times(&subs), [(1000, 2000, "Hello")]);
        assert!(subs.warnings.is_empty());
    }

    #[test]
    fn trailing_garbage() {
        let text = format!("{TWO}\n\nDownloaded from the subtitle site\n");
        let subs = ok(&text);
        assert_eq!(
            subs.cues[1].text,
            "Bye.\nNow.\nDownloaded from the subtitle site"
        );
        let text = format!("{TWO}\n\n3\n\n#$%@!&*\n\u{1a}");
        let subs = ok(&text);
        assert_eq!(subs.cues[1].text, "Bye.\nNow.");
        let lines: Vec<_> = subs.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [11, 13], "{:?}", subs.warnings);
    }

    #[test]
    fn preamble_is_ignored_with_a_warning() {
        let text = format!("WEBVTT\nKind: captions\n\n{TWO}");
        let subs = ok(&text);
        assert_eq!(subs.cues.len(), 2);
        assert_eq!(subs.warnings.len(), 1);
        assert!(
            subs.warnings[0]
                .message
                .contains("2 line(s) before the first cue"),
            "{:?}",
            subs.warnings
        );
        assert_eq!(subs.warnings[0].line, 1);
    }

    #[test]
    fn out_of_order_is_sorted_stably() {
        let text = "1\n00:00:05,000 --> 00:00:06,000\nC\n\n2\n00:00:01,000 --> 00:00:02,000\nA\n\n3\n00:00:01,000 --> 00:00:02,000\nB\n";
        let subs = ok(text);
        assert_eq!(
            subs.cues
                .iter()
                .map(|c| c.text.as_ref())
                .collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert_eq!(subs.warnings.len(), 2, "{:?}", subs.warnings); // out of order, and A/B overlap
        assert!(
            subs.warnings
                .iter()
                .any(|w| w.line == 6 && w.message.contains("sorted"))
        );
    }

    #[test]
    fn overlaps_are_counted_once() {
        let mut text = String::new();
        for i in 0..1000u64 {
            text += &format!(
                "{}\n{} --> {}\nLine {i}\n\n",
                i + 1,
                clock(i * 1000),
                clock(i * 1000 + 1500)
            );
        }
        let subs = ok(&text);
        assert_eq!(subs.cues.len(), 1000);
        assert_eq!(subs.warnings.len(), 1, "{:?}", subs.warnings);
        assert!(
            subs.warnings[0].message.starts_with("999 of 1000 cues"),
            "{:?}",
            subs.warnings
        );
        assert_eq!(subs.warnings[0].line, 6);
    }

    #[test]
    fn end_before_start_is_clamped_and_capped() {
        let mut text = String::new();
        for i in 0..20u64 {
            text += &format!(
                "{} --> {}\nLine\n\n",
                clock(i * 10_000 + 5000),
                clock(i * 10_000)
            );
        }
        let subs = ok(&text);
        assert!(subs.cues.iter().all(|c| c.end_ms == c.start_ms));
        assert_eq!(
            subs.warnings.len(),
            WARNINGS_PER_KIND + 1,
            "{:?}",
            subs.warnings
        );
        assert!(
            subs.warnings[0]
                .message
                .contains("ends (00:00:00,000) before it starts (00:00:05,000)")
        );
        assert_eq!(
            subs.warnings.last().unwrap().message,
            "15 more cues ending before they start like the above (20 in all)"
        );
    }

    #[test]
    fn broken_timing_line_skips_its_cue() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nOne\n\n2\n00:00:03 --> later\nLost\n\n3\n00:00:05,000 --> 00:00:06,000\nThree\n";
        let subs = ok(text);
        assert_eq!(times(&subs), [(1000, 2000, "One"), (5000, 6000, "Three")]);
        assert_eq!(subs.warnings.len(), 1, "{:?}", subs.warnings);
        assert_eq!(subs.warnings[0].line, 6);
    }

    #[test]
    fn empty_cues_are_kept_with_a_warning() {
        let subs = ok("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\nHi\n");
        assert_eq!(times(&subs), [(1000, 2000, ""), (3000, 4000, "Hi")]);
        assert_eq!(subs.warnings[0].message, "1 of 2 cues have no text");
    }

    #[test]
    fn unusable_files() {
        let cases = [
            ("", SrtErrorKind::NoCues, 1),
            ("\n\n  \n", SrtErrorKind::NoCues, 1),
            ("\nname,line\nMike,Hello\n", SrtErrorKind::NoCues, 2),
            (
                "1\n00:00:01 -> soon\nHi\n\n2\n00:00:02 -> later\nHo\n",
                SrtErrorKind::UnreadableTimings,
                2,
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\n",
                SrtErrorKind::NoText,
                2,
            ),
        ];
        for (text, kind, line) in cases {
            let e = err(text);
            assert_eq!((e.kind, e.line), (kind, line), "{text:?}: {e}");
        }
        let e = err("\nname,line\nMike,Hello\n");
        assert_eq!(
            e.to_string(),
            "line 2: no subtitle cue found: expected a timing line like \"00:01:02,345 --> 00:01:04,567\", but the first line reads \"name,line\""
        );
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], "no_cues");
    }

    #[test]
    fn mostly_not_subtitles() {
        let mut text = "Chapter One\n\n00:00:01,000 --> 00:00:02,000\nHello\n\n".to_owned();
        for i in 0..40 {
            text += &format!("Paragraph {i} of a story about Hawkins.\n\n");
        }
        let e = err(&text);
        assert_eq!(
            (e.kind, e.line),
            (SrtErrorKind::MostlyNotSubtitles, 1),
            "{e}"
        );
        // A real file with a long advert at its end is still subtitles.
        let mut text = String::new();
        for i in 0..40u64 {
            text += &format!(
                "{}\n{} --> {}\nLine {i}\n\n",
                i + 1,
                clock(i * 2000),
                clock(i * 2000 + 1000)
            );
        }
        text += &"Visit our site for more\n".repeat(25);
        assert_eq!(ok(&text).cues.len(), 40);
    }

    #[test]
    fn long_quotes_are_shortened() {
        let e = err(&"x".repeat(500));
        assert!(
            e.message.ends_with(&format!("\"{}…\"", "x".repeat(60))),
            "{e}"
        );
    }

    /// One cue as the round-trip test writes it.
    #[derive(Debug, Clone)]
    struct Gen {
        start: u64,
        len: u64,
        text: Vec<String>,
    }

    fn gen_cue() -> impl Strategy<Value = Gen> {
        let word = "[A-Za-zÀ-ÿ'?!,.]{1,8}";
        let line = proptest::collection::vec(word, 1..6).prop_map(|w| w.join(" "));
        (
            0u64..20_000_000,
            0u64..10_000,
            proptest::collection::vec(line, 1..4),
        )
            .prop_map(|(start, len, text)| Gen { start, len, text })
    }

    fn render_time(ms: u64, dot: bool) -> String {
        let sep = if dot { '.' } else { ',' };
        format!(
            "{:02}:{:02}:{:02}{sep}{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC*|[0-9:,.\\->\r\n \t]*|(\\PC|\r|\n){0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_srt_like_lines(lines in proptest::collection::vec(
            prop_oneof!["[0-9]{1,4}", "[0-9:,.]{1,14} ?-{0,3}>? ?[0-9:,.]{0,14}.{0,3}", "\\PC{0,20}", Just(String::new())],
            0..60,
        )) {
            let text = lines.join("\n");
            if let Ok(subs) = parse(&text) {
                prop_assert!(subs.cues.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
                prop_assert!(subs.cues.iter().all(|c| c.start_ms <= c.end_ms && c.lines().all(|l| !l.contains('\r'))));
            }
        }

        #[test]
        fn canonical_timestamps_read_like_the_general_reader(
            bytes in proptest::collection::vec(prop_oneof![Just(b':'), Just(b','), Just(b'.'), 0x2Cu8..0x3C, any::<u8>()], 12),
            h in 0u64..100, m in 0u64..100, s in 0u64..100, ms in 0u64..1000,
        ) {
            let general = |t: &[u8]| {
                let mut i = 0;
                timestamp(t, &mut i).filter(|_| i == t.len()).map(|(v, _)| v)
            };
            // Arbitrary bytes: the fast reader accepts only what the general one reads alike.
            let bytes: [u8; 12] = bytes.try_into().unwrap();
            if let Some(v) = canonical_timestamp(&bytes) {
                prop_assert_eq!(Some(v), general(&bytes));
            }
            let text = format!("{h:02}:{m:02}:{s:02},{ms:03}");
            prop_assert_eq!(canonical_timestamp(text.as_bytes().try_into().unwrap()), Some(h * 3_600_000 + m * 60_000 + s * 1000 + ms));
        }

        /// The fraction after the seconds is decimal, cut to milliseconds, whatever its length.
        #[test]
        fn fractions_are_decimal(s in 0u64..60, digits in "[0-9]{1,6}", dot in any::<bool>()) {
            let sep = if dot { '.' } else { ',' };
            let line = format!("00:00:{s:02}{sep}{digits} --> 01:{s:02}{sep}{digits}");
            let timing = parse_timing(&line).ok_or_else(|| TestCaseError::fail(line.clone()))?;
            // The fraction in millionths of a second: the digits padded to six.
            let millionths: u64 = format!("{digits:0<6}").parse().map_err(|_| TestCaseError::fail("digits"))?;
            prop_assert_eq!(timing.start_ms, s * 1000 + millionths / 1000);
            prop_assert_eq!(timing.end_ms, 60_000 + s * 1000 + millionths / 1000);
        }

        #[test]
        fn lines_match_a_plain_split(text in "[a\r\n\u{b}\u{c}é]{0,300}") {
            let got: Vec<_> = Lines::new(&text).map(|(_, l)| l).collect();
            prop_assert_eq!(got, plain_lines(&text));
        }

        #[test]
        fn round_trip(
            mut cues in proptest::collection::vec(gen_cue(), 1..30),
            dot in any::<bool>(),
            ending in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
            indexes in any::<bool>(),
            blanks in any::<bool>(),
        ) {
            cues.sort_by_key(|c| c.start);
            let mut text = String::new();
            for (i, cue) in cues.iter().enumerate() {
                if indexes {
                    text += &format!("{}{ending}", i + 1);
                }
                text += &format!("{} --> {}{ending}", render_time(cue.start, dot), render_time(cue.start + cue.len, dot));
                for line in &cue.text {
                    text += line;
                    text += ending;
                }
                if blanks {
                    text += ending;
                }
            }
            let subs = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Vec<_> = subs.cues.iter().map(|c| (c.start_ms, c.end_ms, c.lines().collect::<Vec<_>>().join("\n"))).collect();
            let want: Vec<_> = cues.iter().map(|c| (c.start, c.start + c.len, c.text.join("\n"))).collect();
            prop_assert_eq!(got, want);
        }
    }
}
