//! Cue text to dialogue lines: tags, sound cues and lyrics out; speaker labels and dialogue dashes
//! read; HTML character references (`&amp;`, `&#39;`, `&nbsp;`) replaced by what they stand for.
//!
//! A cue splits into segments: each line that starts with a dialogue dash (`- `) or a speaker
//! label (`MIKE:`, `[Dustin]`) starts a new one, other lines continue the segment above. Each
//! segment that still has words after cleaning becomes one [`Line`] with the cue's times.
//!
//! Character references are read last, in each segment's words: what they stand for is text as
//! written, never a tag, sound cue, lyric mark, label or dash. An escaped tag (`&lt;i&gt;`) is a
//! subtitle showing `<i>` on screen, as a player shows it; a reference to whitespace is a space.
//!
//! Speakers, in order of preference: a label on the segment; for a cue with neither label nor dash,
//! the speaker of the line before when the sentence visibly goes on (no closing punctuation
//! there, or a lowercase start here); otherwise nobody.

use std::borrow::Cow;

/// The arena a file's cleaned lines keep the words cleaning made in (see [`clean`]).
pub use bumpalo::Bump;

use crate::dialogue::Line;
use crate::simd;
use crate::srt::{Cue, Subtitles, text_lines};
use crate::text::{cut, swar};

/// Longest speaker label, in characters: longer "labels" are sentences that happen to have a colon.
const LABEL_MAX: usize = 30;

/// Turns parsed cues into dialogue lines.
///
/// `speaker_of` maps a label as written (`MIKE`, `MR. CLARKE`, `Dustin`, `woman`) to a canonical
/// name, or `None` when the cast does not know it. Unknown uppercase labels (`MR. CLARKE:`) are
/// kept title-cased (`Mr. Clarke`); an unknown leading `[bracket]` is a sound cue (`[sighs]`,
/// `[woman]`), since bracketed speakers and bracketed sounds look alike and only the cast tells
/// them apart.
///
/// Lines borrow their words: from the cue where they stand in it as they are (most do), else from
/// `arena`, where the words cleaning made are kept (one arena per file: no allocation and free
/// per line). A known speaker is the cast's name, borrowed; only an unknown label is owned.
pub fn clean<'a, 'c: 'a>(
    subs: &'a Subtitles<'_>,
    speaker_of: &dyn Fn(&str) -> Option<&'c str>,
    arena: &'a Bump,
) -> Vec<Line<'a>> {
    // A line per cue: sound cues give none and two-speaker cues two, and the corpus averages 0.86
    // lines per cue, so this rarely grows. A larger guess costs more than the growth it saves:
    // each file's lines would take a block of memory of their own rather than one freed by the
    // file before (about 3% of the reading time, measured on the corpus).
    let mut out = Vec::with_capacity(subs.cues.len());
    // Buffers reused from cue to cue: the cue without markup, a segment's lines joined, and a
    // segment's cleaned words, copied out only when they make a line.
    let mut markup = String::new();
    let mut joined = String::new();
    let mut words = String::new();
    let lookups = simd::Lookups::detect();
    for cue in &subs.cues {
        let whole: &'a str = &cue.text;
        if is_sound_cue(trim(whole)) {
            // `(CRICKETS CHIRPING)`, `[alarm ringing]` (one cue in five): no words, whatever the
            // cast knows, and whatever tags or line breaks are inside (cleaning would remove
            // them all), so nothing more to look at.
            continue;
        }
        // One look at every byte says which of the steps below the cue needs.
        let (kinds, feeds) = kinds_and_feeds(lookups, whole.as_bytes());
        if kinds == 0 && !whole.starts_with('-') {
            // One line of plain words (two cues in five): no tag, sound cue, lyric, label or
            // dash can be in it, so it is its own words, once trimmed.
            let words = trim(whole);
            if has_alphanumeric(words) {
                let segment = Segment {
                    dashed: false,
                    speaker: None,
                    first_line: words,
                    joined: false,
                };
                finish_segment(&mut out, cue, segment, Some(words), true);
            }
            continue;
        }
        let text = if kinds & MARKUP != 0 {
            strip_markup(whole, &mut markup);
            markup.as_str()
        } else {
            whole
        };
        let one_line = kinds & NEWLINE == 0;
        // Whether every line's words are already clean (once trimmed): most are. Then `text` is
        // the cue's own, and lines borrow from it.
        let plain = (kinds & (MARKUP | SPECIAL | DOUBLE_SPACE) == 0).then_some(whole);
        // Segments are cleaned as soon as the next one starts; most are one line, read in place.
        let mut open: Option<Segment<'_, 'a>> = None;
        let mut first = true;
        // Where the line feeds are is known for a short cue read as it stands.
        let feeds = (kinds & MARKUP == 0 && whole.len() <= 64).then_some(feeds);
        for line in lines_of(text, one_line, feeds) {
            let line = trim(line);
            // Most lines start with a letter: no dash, no lyric mark, no bracket, maybe a label.
            let first_byte = line.as_bytes().first().copied().unwrap_or(0);
            let marked = matches!(first_byte, b'#' | b'-' | 0xE2);
            // Empty lines, and lines of bare lyric marks between verses.
            if line.is_empty()
                || marked
                    && line
                        .chars()
                        .all(|c| c.is_whitespace() || is_lyric_mark(c, true))
            {
                continue;
            }
            let (dashed, line) = match marked.then(|| strip_dash(line)).flatten() {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (speaker, rest) = take_label(line, kinds & COLON != 0, speaker_of);
            match &mut open {
                Some(segment) if !dashed && speaker.is_none() => {
                    if !segment.joined {
                        joined.clear();
                        joined.push_str(segment.first_line);
                        segment.joined = true;
                    }
                    joined.push(' ');
                    joined.push_str(rest);
                }
                _ => {
                    if let Some(segment) = open.take() {
                        let text = segment_text(&segment, plain, &joined, &mut words, arena);
                        finish_segment(&mut out, cue, segment, text, first);
                        first = false;
                    }
                    open = Some(Segment {
                        dashed,
                        speaker,
                        first_line: rest,
                        joined: false,
                    });
                }
            }
        }
        if let Some(segment) = open {
            let text = segment_text(&segment, plain, &joined, &mut words, arena);
            finish_segment(&mut out, cue, segment, text, first);
        }
    }
    out
}

/// One speaker's part of a cue, being read.
struct Segment<'t, 'a> {
    dashed: bool,
    speaker: Option<Cow<'a, str>>,
    /// Its first line, after any dash and label.
    first_line: &'t str,
    /// Whether more lines followed: then its text is the joined buffer.
    joined: bool,
}

/// A segment's words, cleaned; `None` when none are left.
///
/// `plain` is the cue's text when nothing in it needs cleaning: then the segment's first line is
/// a slice of it, and a segment of one line is borrowed as it stands. Words that cleaning made
/// go to the arena.
fn segment_text<'a>(
    segment: &Segment<'_, 'a>,
    plain: Option<&'a str>,
    joined: &str,
    words: &mut String,
    arena: &'a Bump,
) -> Option<&'a str> {
    let made = match plain {
        // Nothing in it for `clean_body` to remove or collapse: trimming is all it would do.
        Some(whole) if !segment.joined => {
            let words = trim(segment.first_line);
            if let Some(borrowed) = slice_of(whole, words) {
                return has_alphanumeric(borrowed).then_some(borrowed);
            }
            words
        }
        // Trimmed plain lines joined by one space: only a bare label's empty first line can
        // leave a space to trim.
        Some(_) => trim(joined),
        None => {
            // Lines joined by spaces may leave two in a row (after a bare label): always cleaned.
            words.clear();
            clean_body(
                if segment.joined {
                    joined
                } else {
                    segment.first_line
                },
                words,
            );
            words
        }
    };
    has_alphanumeric(made).then(|| &*arena.alloc_str(made))
}

/// Adds a segment's line, with the speaker it gets.
fn finish_segment<'a>(
    out: &mut Vec<Line<'a>>,
    cue: &Cue<'_>,
    segment: Segment<'_, 'a>,
    text: Option<&'a str>,
    first: bool,
) {
    let Some(text) = text else { return };
    let speaker = match segment.speaker {
        Some(speaker) => Some(speaker),
        // Most lines before have no speaker to pass on: then nothing needs reading.
        None if first && !segment.dashed => out.last().and_then(|prev| {
            let speaker = prev.speaker.as_ref()?;
            let goes_on = !ends_sentence(&prev.text) || starts_lowercase(text);
            goes_on.then(|| speaker.clone())
        }),
        None => None,
    };
    // The line is written field by field into the vector's next slot. A `push` builds it on the
    // stack first (it must outlive the call that may grow the vector) and copies it over in
    // pieces that straddle the fields' stores: the CPU waits on each (0.7% of the reading time).
    out.reserve(1);
    let len = out.len();
    let slot = out.spare_capacity_mut().as_mut_ptr().cast::<Line<'a>>();
    // SAFETY: `reserve(1)` leaves room for one more line at `slot`; each field is written once,
    // in place, and the length grows only once all four are.
    unsafe {
        std::ptr::addr_of_mut!((*slot).start_ms).write(Some(cue.start_ms));
        std::ptr::addr_of_mut!((*slot).end_ms).write(Some(cue.end_ms));
        std::ptr::addr_of_mut!((*slot).speaker).write(speaker);
        std::ptr::addr_of_mut!((*slot).text).write(Cow::Borrowed(text));
        out.set_len(len + 1);
    }
}

/// `part` as a slice of `whole` (with its lifetime), when it lies within it.
fn slice_of<'a>(whole: &'a str, part: &str) -> Option<&'a str> {
    let at = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    whole.get(at..at.checked_add(part.len())?)
}

/// A line without surrounding whitespace; most need no trimming, and that is checked first, at
/// each end on its own (a line ending in `♪` or `…` needs a look at its end only).
fn trim(line: &str) -> &str {
    let bytes = line.as_bytes();
    match (plain(bytes.first()), plain(bytes.last())) {
        (true, true) => line,
        (true, false) => line.trim_end(),
        (false, true) => trim_start(line),
        (false, false) => line.trim(),
    }
}

/// Whether a byte is neither whitespace nor a control character nor part of a multi-byte
/// character (which may be whitespace).
fn plain(b: Option<&u8>) -> bool {
    b.is_some_and(|&b| b > b' ' && b < 0x80)
}

/// A text without leading whitespace: most have none, or one space (after a dash or a label),
/// and those are taken in place.
fn trim_start(text: &str) -> &str {
    let bytes = text.as_bytes();
    if plain(bytes.first()) {
        return text;
    }
    if bytes.first() == Some(&b' ') && plain(bytes.get(1)) {
        return &text[1..];
    }
    text.trim_start()
}

/// The rest of a line after a dialogue dash, if it starts with one. `-5 degrees` and `--` are not
/// dashes; `-Hello` is.
fn strip_dash(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(['-', '–'])?;
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() => Some(trim_start(rest)),
        Some(c) if c.is_ascii_digit() || matches!(c, '-' | '–' | '.') => None,
        Some(_) => Some(rest),
    }
}

/// A speaker label at the start of a line, and the line after it.
///
/// Leading sound cues on the same line go first (`(SOFTLY) MIKE: Wait`), and a leading bracket is
/// a label only if `speaker_of` knows it. Without a `colon` in the cue, no `NAME:` is looked for
/// (most cues: and the look would end at a different place in each line).
fn take_label<'t, 'a, 'c: 'a>(
    mut line: &'t str,
    colon: bool,
    speaker_of: &dyn Fn(&str) -> Option<&'c str>,
) -> (Option<Cow<'a, str>>, &'t str) {
    loop {
        let close = match line.as_bytes().first() {
            Some(b'[') => b']',
            Some(b'(') => b')',
            _ => break,
        };
        // Brackets are short: a word-at-a-time search, not a call to a long-text one.
        let Some(end) = swar::find_byte(line.as_bytes(), 1, close) else {
            break;
        };
        if close == b']'
            && let Some(speaker) = speaker_of(line[1..end].trim())
        {
            return (Some(Cow::Borrowed(speaker)), trim_start(&line[end + 1..]));
        }
        line = trim_start(&line[end + 1..]);
    }
    match colon.then(|| upper_label(line)).flatten() {
        Some((label, rest)) => {
            let speaker =
                speaker_of(label).map_or_else(|| Cow::Owned(title_case(label)), Cow::Borrowed);
            (Some(speaker), rest)
        }
        None => (None, line),
    }
}

/// `NAME:` at the start of a line: uppercase letters, spaces, `.`, `'`, `-` and digits, starting
/// with a letter, at most [`LABEL_MAX`] characters, and the colon followed by a space or the end.
/// So `10:30`, `Note: ` and `ratio 3:1` are not labels.
fn upper_label(line: &str) -> Option<(&str, &str)> {
    let mut chars = line.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_uppercase() {
        return None;
    }
    for (n, (i, c)) in chars.enumerate() {
        if c == ':' {
            let rest = &line[i + 1..];
            if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                return None;
            }
            return Some((line[..i].trim_end(), trim_start(rest)));
        }
        let allowed =
            c.is_uppercase() || c.is_ascii_digit() || matches!(c, ' ' | '.' | '\'' | '’' | '-');
        if !allowed || n + 2 > LABEL_MAX {
            return None;
        }
    }
    None
}

/// `MR. CLARKE` → `Mr. Clarke`, `WOMAN ON TV` → `Woman On Tv`, `O'BRIEN` → `O'Brien`: a letter
/// after a letter is lowercased.
fn title_case(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut after_letter = false;
    for c in label.chars() {
        if after_letter {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        after_letter = c.is_alphabetic();
    }
    out
}

/// Copies `text` without `<i>`, `</font>`, `<font color="…">`-style tags and `{\an8}`-style
/// override codes. A `<` or `{` that opens no tag (`a < b`) stays.
fn strip_markup(text: &str, out: &mut String) {
    out.clear();
    let mut rest = text;
    // Once a `>` or `}` is missing from the rest, no later tag of that kind can close: remembering
    // it keeps a text of many `<a` linear.
    let (mut no_angle, mut no_brace) = (false, false);
    while let Some(i) = memchr::memchr2(b'<', b'{', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let angle = rest.as_bytes()[i] == b'<';
        let (is_tag, close, missing) = if angle {
            let name = after.strip_prefix('/').unwrap_or(after);
            (
                name.starts_with(|c: char| c.is_ascii_alphabetic()),
                b'>',
                &mut no_angle,
            )
        } else {
            (after.starts_with('\\'), b'}', &mut no_brace)
        };
        let end = if is_tag && !*missing {
            memchr::memchr(close, after.as_bytes())
        } else {
            None
        };
        *missing |= is_tag && end.is_none();
        match end {
            Some(end) => rest = &after[end + 1..],
            None => {
                out.push_str(&rest[i..=i]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// What [`kinds_and_feeds`] reports: a line break, a byte that may open a tag or override code, a byte
/// that [`clean_body`] or trimming treats specially (those of [`SPECIAL_BYTES`] but the line
/// break), two spaces in a row, and a colon (which a speaker label needs).
const NEWLINE: u8 = 1;
const MARKUP: u8 = 2;
const SPECIAL: u8 = 4;
const DOUBLE_SPACE: u8 = 8;
const COLON: u8 = 16;

/// The bytes of each kind, as classes of a [`simd::NibbleTable`], one per high nibble: `<` and
/// `{` are two classes of [`MARKUP`], the [`SPECIAL`] bytes five (tab, vertical tab and form feed;
/// `#&()`; `[]`; the lead byte of U+0080–U+00BF, the no-break space among them; the lead bytes of
/// U+1000–U+3FFF, other spaces, `♪`, `♫` and curly quotes among them). Line breaks, carriage
/// returns and double spaces, which depend on the byte after, `simd::Lookups::classify` tells
/// apart itself.
static KIND_TABLE: simd::NibbleTable = simd::NibbleTable::of(&[
    b"<",
    b"{",
    b":",
    b"\t\x0B\x0C",
    b"#&()",
    b"[]",
    b"\xC2",
    b"\xE1\xE2\xE3",
]);
/// The classes of [`KIND_TABLE`], in its order.
const LESS_THAN: u8 = 1 << 0;
const BRACE: u8 = 1 << 1;
const COLON_CLASS: u8 = 1 << 2;
const SPECIAL_CLASSES: u8 = 0b1111_1000;

/// The kinds of byte a text holds, or-ed together, and where its line feeds are among its first
/// 64 bytes (bit `k` for byte `k`).
#[inline]
fn kinds_and_feeds(lookups: simd::Lookups, bytes: &[u8]) -> (u8, u64) {
    let found = lookups.classify(bytes, &KIND_TABLE);
    let kinds = u8::from(found.feed)
        | (u8::from(found.classes & (LESS_THAN | BRACE) != 0) * MARKUP)
        | (u8::from(found.classes & SPECIAL_CLASSES != 0 || found.lone_return) * SPECIAL)
        | (u8::from(found.double_space) * DOUBLE_SPACE)
        | (u8::from(found.classes & COLON_CLASS != 0) * COLON);
    (kinds, found.feeds)
}

/// The kinds of byte a text holds.
#[cfg(test)]
fn byte_kinds(bytes: &[u8]) -> u8 {
    kinds_and_feeds(simd::Lookups::detect(), bytes).0
}

/// The lines of a cue's text, as `srt::text_lines` splits them: at the line feeds `feeds` marks
/// (bit `k` for byte `k`) when it is given, which it is only when it marks them all, else at
/// those a search finds.
fn lines_of(text: &str, one_line: bool, feeds: Option<u64>) -> impl Iterator<Item = &str> {
    let Some(mut marks) = feeds else {
        return Either::Searched(text_lines(text, one_line));
    };
    let mut start = Some(0);
    Either::Marked(std::iter::from_fn(move || {
        let from = start?;
        let end = if marks == 0 {
            start = None;
            text.len()
        } else {
            let k = marks.trailing_zeros() as usize;
            marks &= marks - 1;
            start = Some(k + 1);
            k
        };
        // SAFETY: a line starts at 0 or after a line feed and ends at one or at the end.
        let line = unsafe { cut(text, from, end) };
        Some(line.strip_suffix('\r').unwrap_or(line))
    }))
}

/// One iterator or the other.
enum Either<A, B> {
    Searched(A),
    Marked(B),
}

impl<'t, A: Iterator<Item = &'t str>, B: Iterator<Item = &'t str>> Iterator for Either<A, B> {
    type Item = &'t str;

    #[inline]
    fn next(&mut self) -> Option<&'t str> {
        match self {
            Either::Searched(lines) => lines.next(),
            Either::Marked(lines) => lines.next(),
        }
    }
}

/// A whole cue that is one sound cue, `(…)` or `[…]`: it can give no words. (A known `[Name]`
/// alone gives a speaker with nothing said, so no line either.)
fn is_sound_cue(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Its first and last bytes rule out nearly every other cue without a search.
    let close = match (bytes.first(), bytes.last()) {
        (Some(b'('), Some(b')')) => b')',
        (Some(b'['), Some(b']')) => b']',
        _ => return false,
    };
    let inner = &bytes[1..];
    inner.iter().position(|&b| b == close) == Some(inner.len().wrapping_sub(1))
}

/// Lyric marks: text between two of them is sung, not said.
fn is_lyric_mark(c: char, hash_marks: bool) -> bool {
    matches!(c, '♪' | '♫') || (hash_marks && c == '#')
}

/// Punctuation that closes up to the word before it, even where a sound cue stood between.
fn is_closing_punctuation(c: char) -> bool {
    matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '…')
}

/// Bytes that end a run of plain text in [`clean_body`]: cue brackets, `&` (which may start a
/// character reference), ASCII whitespace but the space, and the lead bytes of non-ASCII
/// whitespace and lyric marks (other characters with those lead bytes are plain, and go the slow
/// way one by one). The second table adds `#`.
static SPECIAL_BYTES: [[bool; 256]; 2] = {
    let mut tables = [[false; 256]; 2];
    let bytes = b"()[]&\t\n\x0B\x0C\r\xC2\xE1\xE2\xE3";
    let mut i = 0;
    while i < bytes.len() {
        tables[0][bytes[i] as usize] = true;
        tables[1][bytes[i] as usize] = true;
        i += 1;
    }
    tables[1][b'#' as usize] = true;
    tables
};

/// One segment's words: sound cues `(…)`/`[…]` and lyrics out, character references read,
/// whitespace collapsed.
///
/// Runs of plain bytes, single spaces included, are copied whole: this loop is most of the
/// cleaning time, and most segments are one run.
fn clean_body(body: &str, out: &mut String) {
    let body = trim(body);
    // `# la la #` marks lyrics in older subtitles; a `#` elsewhere is just a character.
    let hash_marks = body == "#" || body.starts_with("# ");
    let rest = body;
    let bytes = rest.as_bytes();
    let mut first_mark = true;
    let mut closed_before = false;
    let special = &SPECIAL_BYTES[usize::from(hash_marks)];
    let mut space = false;
    let mut removed = false;
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] == b' ' {
            (space, pos) = (true, pos + 1);
            continue;
        }
        let end = run_end(bytes, pos, special);
        if end > pos {
            let run = &rest[pos..end];
            let (run, trailing_space) = match run.strip_suffix(' ') {
                Some(run) => (run, true),
                None => (run, false),
            };
            emit(out, run, &mut space, &mut removed);
            (space, pos) = (trailing_space, end);
            continue;
        }
        let Some(c) = rest[pos..].chars().next() else {
            break;
        };
        let next = pos + c.len_utf8();
        let close = match c {
            '(' => ')',
            '[' => ']',
            c if is_lyric_mark(c, hash_marks) => {
                // An odd number of marks: a song that started in an earlier cue ends here
                // (`words ♪`), or one that starts here goes on in the next (`♪ words`).
                let ends_here = first_mark
                    && pos > 0
                    && rest
                        .chars()
                        .filter(|&c| is_lyric_mark(c, hash_marks))
                        .count()
                        % 2
                        == 1;
                first_mark = false;
                if ends_here {
                    out.clear();
                    (space, removed, pos) = (false, true, next);
                    continue;
                }
                c
            }
            ')' | ']' if !closed_before && !out.chars().any(char::is_lowercase) => {
                // The end of a sound cue that began in the cue before: `LAUGHING) Stop it.`
                out.clear();
                (space, removed, pos, closed_before) = (false, true, next, true);
                continue;
            }
            ')' | ']' if !closed_before => {
                // Only the first closing bracket can end a cue from before (and checking only it
                // keeps a text of many brackets linear).
                closed_before = true;
                emit(out, &rest[pos..next], &mut space, &mut removed);
                pos = next;
                continue;
            }
            '&' => {
                // What a reference stands for goes out as it is: read here, after the tags,
                // brackets and labels, it can be none of them (see the module docs).
                match reference(&rest[pos..]) {
                    Some((len, chars)) => {
                        for c in chars.chars() {
                            if c.is_whitespace() {
                                space = true;
                            } else {
                                emit(out, c.encode_utf8(&mut [0; 4]), &mut space, &mut removed);
                            }
                        }
                        pos += len;
                    }
                    None => {
                        emit(out, "&", &mut space, &mut removed);
                        pos = next;
                    }
                }
                continue;
            }
            c if c.is_whitespace() => {
                (space, pos) = (true, next);
                continue;
            }
            _ => {
                emit(out, &rest[pos..next], &mut space, &mut removed);
                pos = next;
                continue;
            }
        };
        // A cue or song left open runs to the end of the segment.
        let end = if close.is_ascii() {
            swar::find_byte(bytes, next, close as u8)
        } else {
            rest[next..].find(close).map(|end| next + end)
        };
        let Some(end) = end else {
            break;
        };
        (space, removed, pos) = (true, true, end + close.len_utf8());
    }
}

/// The longest character reference, in bytes: `&CounterClockwiseContourIntegral;`, the longest
/// name HTML has. Numeric ones are shorter, but for needless leading zeros.
const REFERENCE_MAX: usize = 33;

/// The HTML character reference that `text` starts with (`&amp;`, `&#39;`, `&#x27;`, `&eacute;`):
/// its length, and the characters it stands for. `None` where the `&` starts none: a name HTML
/// does not have (`&foo;`), no `;` to end it (`& `, `&amp` as older HTML allowed), digits that
/// are not (`&#xZZ;`), or a number that is no character or a control character (`&#0;`,
/// `&#xD800;`, `&#x80;`). Such text stays as it is.
fn reference(text: &str) -> Option<(usize, String)> {
    // `&`, a name or `#` and digits, `;`: found here, then read by the HTML table's crate.
    let body = text.as_bytes().get(1..)?;
    let name = body
        .iter()
        .take(REFERENCE_MAX - 1)
        .enumerate()
        .position(|(k, &b)| !(b.is_ascii_alphanumeric() || k == 0 && b == b'#'))?;
    if name == 0 || body[name] != b';' {
        return None;
    }
    let len = name + 2;
    // The slice holds one `&`, one `;` and nothing else that can be markup: decoded, it changes
    // whole or not at all.
    match html_escape::decode_html_entities(&text[..len]) {
        Cow::Owned(chars) if !chars.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            Some((len, chars))
        }
        _ => None,
    }
}

/// The end of a run of plain bytes from `pos`: the first special byte or second space in a row.
fn run_end(bytes: &[u8], pos: usize, special: &[bool; 256]) -> usize {
    let stops = |i: usize| {
        special[usize::from(bytes[i])] || (bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' '))
    };
    let mut i = pos;
    // Eight bytes at a time, without a branch per byte; a word that may hold a stop is searched
    // byte by byte (the space test can flag falsely, the table cannot). Words overlap by a byte,
    // so that a double space across two words shows in one. Padding is plain.
    while i < bytes.len() {
        let word = swar::load(bytes, i, b'a');
        let spaces = swar::eq(word, b' ');
        let flagged = word
            .to_le_bytes()
            .iter()
            .fold(false, |any, &b| any | special[usize::from(b)])
            || spaces & (spaces >> 8) != 0;
        if flagged && let Some(k) = (i..bytes.len().min(i + 8)).find(|&k| stops(k)) {
            return k;
        }
        i += 7;
    }
    bytes.len()
}

/// Appends words, with the space before them if one is pending.
fn emit(out: &mut String, text: &str, space: &mut bool, removed: &mut bool) {
    // `Told ya (LAUGHS).` becomes `Told ya.`, not `Told ya .`
    let tight = *removed && text.starts_with(is_closing_punctuation);
    if *space && !out.is_empty() && !tight {
        out.push(' ');
    }
    out.push_str(text);
    (*space, *removed) = (false, false);
}

/// Whether a line ends a sentence: `.`, `!`, `?` or `…`, maybe inside closing quotes.
fn ends_sentence(text: &str) -> bool {
    // Most lines end in an ASCII letter or punctuation mark other than a quote or bracket.
    match text.as_bytes().last() {
        Some(b'.' | b'!' | b'?') => return true,
        Some(&b) if b.is_ascii() && !matches!(b, b'"' | b'\'' | b')') => return false,
        _ => {}
    }
    let text = text.trim_end_matches(['"', '\'', '”', '’', '»', ')']);
    text.ends_with(['.', '!', '?', '…'])
}

/// Whether the first letter or digit of a line is a lowercase letter: `...and then` goes on.
fn starts_lowercase(text: &str) -> bool {
    // Most lines start with an ASCII letter.
    if let Some(&b) = text
        .as_bytes()
        .first()
        .filter(|b| b.is_ascii_alphanumeric())
    {
        return b.is_ascii_lowercase();
    }
    text.chars()
        .find(|c| c.is_alphanumeric())
        .is_some_and(char::is_lowercase)
}

/// Whether a text has a letter or digit; most start with one, and that test is inlined.
#[inline]
fn has_alphanumeric(text: &str) -> bool {
    #[inline(never)]
    fn any_alphanumeric(text: &str) -> bool {
        text.chars().any(char::is_alphanumeric)
    }
    text.as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        || any_alphanumeric(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srt::parse;
    use proptest::prelude::*;

    /// The cast the tests know: canonical names for a few labels as written.
    fn cast(label: &str) -> Option<&'static str> {
        let name = match label.to_lowercase().as_str() {
            "mike" => "Mike Wheeler",
            "dustin" => "Dustin Henderson",
            "lucas" => "Lucas Sinclair",
            "woman" => "Unnamed Woman",
            "mr. clarke" => "Scott Clarke",
            _ => return None,
        };
        Some(name)
    }

    fn cue(text: &str) -> Cue<'_> {
        Cue {
            number: None,
            start_ms: 1000,
            end_ms: 2000,
            text: text.into(),
            line: 2,
        }
    }

    /// Cleans cues given as texts, and gives (speaker, text) pairs.
    fn run(texts: &[&str]) -> Vec<(Option<String>, String)> {
        let subs = Subtitles {
            cues: texts.iter().map(|t| cue(t)).collect(),
            warnings: vec![],
        };
        let arena = Bump::new();
        clean(&subs, &cast, &arena)
            .into_iter()
            .map(|l| (l.speaker.map(Cow::into_owned), l.text.into_owned()))
            .collect()
    }

    fn line(speaker: Option<&str>, text: &str) -> (Option<String>, String) {
        (speaker.map(str::to_owned), text.to_owned())
    }

    /// A cue's text and the (speaker, text) lines it should give.
    type Case = (&'static str, Vec<(Option<&'static str>, &'static str)>);

    #[test]
    fn table() {
        let none = None;
        let cases: Vec<Case> = vec![
            // Tags and override codes.
            ("<i>Hello there.</i>", vec![(none, "Hello there.")]),
            (
                "<font color=\"#D81D1D\">Red</font> <b>bold</b>",
                vec![(none, "Red bold")],
            ),
            ("{\\an8}Up top.", vec![(none, "Up top.")]),
            (
                "a < b and c > d {braces}",
                vec![(none, "a < b and c > d {braces}")],
            ),
            // Sound cues anywhere.
            ("(CRICKETS CHIRPING)", vec![]),
            ("[music playing]", vec![]),
            ("(<i>GASPS</i>)", vec![]),
            ("Told ya. (CHUCKLING)", vec![(none, "Told ya.")]),
            ("(SOFTLY) Wait a minute.", vec![(none, "Wait a minute.")]),
            ("Told ya (LAUGHS).", vec![(none, "Told ya.")]),
            (
                "[sighs] Okay. [door closes] Fine.",
                vec![(none, "Okay. Fine.")],
            ),
            (
                "(\"SHOULD I STAY OR SHOULD I GO\"\nPLAYING ON STEREO)",
                vec![],
            ),
            ("Wait (unclosed", vec![(none, "Wait")]),
            ("LAUGHING) Stop it.", vec![(none, "Stop it.")]),
            ("Smile :) ok", vec![(none, "Smile :) ok")]),
            // Lyrics.
            ("♪ Should I stay or should I go? ♪", vec![]),
            (
                "<i>♪ Just a little more time\nis all we're asking for ♪</i>",
                vec![],
            ),
            (
                "[SINGING ALONG] ♪ And nobody\nwants to know you now ♪",
                vec![],
            ),
            ("♪ La la ♪ Turn it off!", vec![(none, "Turn it off!")]),
            ("♪ a song that goes on", vec![]),
            ("the end of a song ♪ Nice.", vec![(none, "Nice.")]),
            ("#\n# Should I stay #", vec![]),
            ("#1 fan", vec![(none, "#1 fan")]),
            ("♪", vec![]),
            // Labels.
            (
                "MIKE: Something is coming.\nSomething hungry for blood.",
                vec![(
                    Some("Mike Wheeler"),
                    "Something is coming. Something hungry for blood.",
                )],
            ),
            (
                "MR. CLARKE: Good morning.",
                vec![(Some("Scott Clarke"), "Good morning.")],
            ),
            (
                "WOMAN ON TV: Live from Hawkins.",
                vec![(Some("Woman On Tv"), "Live from Hawkins.")],
            ),
            (
                "MAN 2 ON PA: Attention.",
                vec![(Some("Man 2 On Pa"), "Attention.")],
            ),
            ("O'BRIEN: Hi.", vec![(Some("O'Brien"), "Hi.")]),
            ("MIKE: (SOFTLY) Hi.", vec![(Some("Mike Wheeler"), "Hi.")]),
            (
                "(SOFTLY) DUSTIN: Hi.",
                vec![(Some("Dustin Henderson"), "Hi.")],
            ),
            ("<i>LUCAS:</i> Hi.", vec![(Some("Lucas Sinclair"), "Hi.")]),
            ("MIKE:\nHello?", vec![(Some("Mike Wheeler"), "Hello?")]),
            ("MIKE: (LAUGHS)", vec![]),
            // Not labels.
            ("10:30 is late.", vec![(none, "10:30 is late.")]),
            ("Note: it's late.", vec![(none, "Note: it's late.")]),
            ("RATIO 3:1 works.", vec![(none, "RATIO 3:1 works.")]),
            ("we said: go.", vec![(none, "we said: go.")]),
            (
                "THIS IS A VERY LONG SHOUTED SENTENCE: no.",
                vec![(none, "THIS IS A VERY LONG SHOUTED SENTENCE: no.")],
            ),
            ("Mike: hi.", vec![(none, "Mike: hi.")]),
            // Bracket labels.
            (
                "[Mike] Come again?",
                vec![(Some("Mike Wheeler"), "Come again?")],
            ),
            ("[woman] Thanks.", vec![(Some("Unnamed Woman"), "Thanks.")]),
            ("[man on radio] Come again?", vec![(none, "Come again?")]),
            (
                "[MAN, IN RUSSIAN] Comrade-General.",
                vec![(none, "Comrade-General.")],
            ),
            // Dialogue dashes.
            (
                "- It is almost here.\n- What is it?",
                vec![(none, "It is almost here."), (none, "What is it?")],
            ),
            (
                "- Troglodytes?\n- Told ya. (CHUCKLING)",
                vec![(none, "Troglodytes?"), (none, "Told ya.")],
            ),
            ("- (SNORTS)\n- (ALL CHUCKLING)", vec![]),
            (
                "- LUCAS: Go!\n- No way.",
                vec![(Some("Lucas Sinclair"), "Go!"), (none, "No way.")],
            ),
            (
                "- Go!\n- [Dustin] Oh, shit!",
                vec![(none, "Go!"), (Some("Dustin Henderson"), "Oh, shit!")],
            ),
            (
                "- Son of a bitch!\n- [Mick] Oh, shit!",
                vec![(none, "Son of a bitch!"), (none, "Oh, shit!")],
            ),
            ("-Hello.\n-Hi.", vec![(none, "Hello."), (none, "Hi.")]),
            (
                "- We got more!\nTurn left.\n- Okay.",
                vec![(none, "We got more! Turn left."), (none, "Okay.")],
            ),
            ("-5 degrees out.", vec![(none, "-5 degrees out.")]),
            ("-- and then", vec![(none, "-- and then")]),
            // A label on a later line starts a new speaker without a dash.
            (
                "MIKE: Hi.\nDUSTIN: Hey.",
                vec![
                    (Some("Mike Wheeler"), "Hi."),
                    (Some("Dustin Henderson"), "Hey."),
                ],
            ),
            // Whitespace.
            (
                "  Lots   of\t space\u{a0}here  \n and  there ",
                vec![(none, "Lots of space here and there")],
            ),
            ("...", vec![]),
        ];
        for (text, want) in cases {
            let want: Vec<_> = want.into_iter().map(|(s, t)| line(s, t)).collect();
            assert_eq!(run(&[text]), want, "{text:?}");
        }
    }

    #[test]
    fn character_references() {
        let none = None;
        let cases: Vec<Case> = vec![
            // The five of XML, and the no-break space.
            (
                "Fish &amp; chips &lt;3, a &gt; b, &quot;Go!&quot; &apos;Now&apos;",
                vec![(none, "Fish & chips <3, a > b, \"Go!\" 'Now'")],
            ),
            ("Hi&nbsp;there.", vec![(none, "Hi there.")]),
            // Numeric ones, decimal and hexadecimal, either case of `x`.
            (
                "It&#39;s Will&#x27;s. Don&#X27;t.",
                vec![(none, "It's Will's. Don't.")],
            ),
            ("&#128512; &#x1F600;", vec![]),
            ("Smile &#x1F600;", vec![(none, "Smile 😀")]),
            // The other named ones.
            (
                "Caf&eacute;, &Eacute;l&egrave;ve&hellip; &mdash; &copy; &euro;5",
                vec![(none, "Café, Élève… — © €5")],
            ),
            // Whitespace they stand for collapses and trims like any other.
            (
                "&nbsp;&nbsp;Hi &nbsp; &#160;there&#x2003;&#10;",
                vec![(none, "Hi there")],
            ),
            ("Wait&NewLine;what?", vec![(none, "Wait what?")]),
            // A line of nothing but punctuation or space gives none.
            ("&amp;", vec![]),
            ("&nbsp;", vec![]),
            // Unknown or malformed: left as they are.
            ("&foo; and &bar", vec![(none, "&foo; and &bar")]),
            ("Rock & roll &", vec![(none, "Rock & roll &")]),
            (
                "AT&T &#xZZ; &#; &#x; &; &#-39; &#+39;",
                vec![(none, "AT&T &#xZZ; &#; &#x; &; &#-39; &#+39;")],
            ),
            (
                "&amp without the semicolon",
                vec![(none, "&amp without the semicolon")],
            ),
            (
                "No &#0; &#xD800; &#x110000; &#128; &#x7F; &#99999999999;",
                vec![(
                    none,
                    "No &#0; &#xD800; &#x110000; &#128; &#x7F; &#99999999999;",
                )],
            ),
            // Leading zeros, up to the length of the longest name.
            (
                "&#x0041; &#x0000000000000000000000000000000041;",
                vec![(none, "A &#x0000000000000000000000000000000041;")],
            ),
            (
                "x &CounterClockwiseContourIntegral; y",
                vec![(none, "x ∳ y")],
            ),
            // Read once: an escaped reference is the reference as text.
            ("&amp;amp; &amp;lt;", vec![(none, "&amp; &lt;")]),
            // After the tags: an escaped tag is text on screen, a real one is still removed.
            ("&lt;i&gt;Hello&lt;/i&gt;", vec![(none, "<i>Hello</i>")]),
            ("<i>Tom &amp; Jerry</i>", vec![(none, "Tom & Jerry")]),
            (
                "<font color=&quot;red&quot;>Red</font>",
                vec![(none, "Red")],
            ),
            // After brackets and labels: what a reference stands for is neither.
            ("&#40;LAUGHS&#41; Hi", vec![(none, "(LAUGHS) Hi")]),
            ("(LAUGHS &amp; CRIES) Hi", vec![(none, "Hi")]),
            ("Told ya (LAUGHS)&#46;", vec![(none, "Told ya.")]),
            (
                "MIKE: &quot;Run!&quot;\n- &lt;3",
                vec![(Some("Mike Wheeler"), "\"Run!\""), (none, "<3")],
            ),
            ("&#45; Not a dash", vec![(none, "- Not a dash")]),
        ];
        for (text, want) in cases {
            let want: Vec<_> = want.into_iter().map(|(s, t)| line(s, t)).collect();
            assert_eq!(run(&[text]), want, "{text:?}");
        }
        // The text a reference stands for is what the next cue's speaker is read from.
        let got: Vec<_> = run(&["MIKE: Wait&hellip;", "Run!"])
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(got, [Some("Mike Wheeler".to_owned()), None]);
    }

    #[test]
    fn speaker_goes_on_across_cues() {
        let cases: Vec<(Vec<&str>, Vec<Option<&str>>)> = vec![
            (
                vec!["MIKE: Something is coming,", "something hungry."],
                vec![Some("Mike Wheeler"); 2],
            ),
            (
                vec!["MIKE: It is here.", "and it is hungry."],
                vec![Some("Mike Wheeler"); 2],
            ),
            (
                vec!["MIKE: It is here.", "What is it?"],
                vec![Some("Mike Wheeler"), None],
            ),
            (
                vec!["MIKE: \"It is here!\"", "What is it?"],
                vec![Some("Mike Wheeler"), None],
            ),
            (
                vec!["MIKE: It is here…", "Run!"],
                vec![Some("Mike Wheeler"), None],
            ),
            (
                vec!["MIKE: Wait,", "- What?"],
                vec![Some("Mike Wheeler"), None],
            ),
            (
                vec!["MIKE: Wait,", "DUSTIN: What?"],
                vec![Some("Mike Wheeler"), Some("Dustin Henderson")],
            ),
            (
                vec!["- MIKE: Wait\n- LUCAS: For", "what?"],
                vec![
                    Some("Mike Wheeler"),
                    Some("Lucas Sinclair"),
                    Some("Lucas Sinclair"),
                ],
            ),
            (
                vec!["MIKE: Wait", "(THUNDER)", "for me"],
                vec![Some("Mike Wheeler"); 2],
            ),
            (vec!["[sighs] So", "...and then"], vec![None, None]),
            (vec!["Hi", "there"], vec![None, None]),
        ];
        for (texts, want) in cases {
            let got: Vec<_> = run(&texts).into_iter().map(|(s, _)| s).collect();
            let want: Vec<_> = want.into_iter().map(|s| s.map(str::to_owned)).collect();
            assert_eq!(got, want, "{texts:?}");
        }
    }

    #[test]
    fn lines_carry_their_cue_times() {
        let subs = parse("1\n00:00:01,000 --> 00:00:02,000\n- Hi.\n- Hey.\n\n2\n00:00:03,000 --> 00:00:04,000\nYo.\n").unwrap();
        let arena = Bump::new();
        let lines = clean(&subs, &cast, &arena);
        let times: Vec<_> = lines.iter().map(|l| (l.start_ms, l.end_ms)).collect();
        assert_eq!(
            times,
            [
                (Some(1000), Some(2000)),
                (Some(1000), Some(2000)),
                (Some(3000), Some(4000))
            ]
        );
    }

    #[test]
    fn title_cases() {
        for (label, want) in [
            ("MR. CLARKE", "Mr. Clarke"),
            ("WOMAN ON TV", "Woman On Tv"),
            ("MAN 1", "Man 1"),
            ("JEAN-LUC", "Jean-Luc"),
            ("ÉLODIE", "Élodie"),
        ] {
            assert_eq!(title_case(label), want);
        }
    }

    /// The hearing-impaired subtitles of all 34 episodes, where the checkout has them beside it.
    #[test]
    fn corpus_episodes_parse() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/subtitles"
        ));
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!(
                "note: no subtitle corpus at {}; corpus_episodes_parse checks nothing",
                dir.display()
            );
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.retain(|p| p.extension().is_some_and(|x| x == "srt"));
        paths.sort();
        assert_eq!(paths.len(), 34, "episodes in {}", dir.display());
        let mut speakers = std::collections::BTreeMap::<String, usize>::new();
        for path in &paths {
            let name = path.file_name().unwrap().to_string_lossy();
            let bytes = std::fs::read(path).unwrap();
            let decoded = crate::text::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let subs = parse(&decoded.text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(subs.cues.len() > 300, "{name}: {} cues", subs.cues.len());
            let arena = Bump::new();
            let lines = clean(&subs, &cast, &arena);
            assert!(lines.len() > 300, "{name}: {} lines", lines.len());
            for line in &lines {
                let text = &line.text;
                let marker = ["<i>", "</i>", "<font", "{\\", "♪", "(", ")", "[", "]"]
                    .iter()
                    .find(|m| text.contains(*m));
                assert!(marker.is_none(), "{name}: {marker:?} left in {text:?}");
                assert!(
                    line.start_ms.is_some() && line.end_ms >= line.start_ms,
                    "{name}: {line:?}"
                );
            }
            for speaker in lines.iter().filter_map(|l| l.speaker.as_deref()) {
                *speakers.entry(speaker.to_owned()).or_default() += 1;
            }
        }
        for name in [
            "Mike Wheeler",
            "Dustin Henderson",
            "Lucas Sinclair",
            "Scott Clarke",
            "Joyce",
            "Woman On Tv",
        ] {
            assert!(
                speakers.get(name).is_some_and(|&n| n > 0),
                "{name} never speaks: {speakers:?}"
            );
        }
    }

    /// Pathological texts stay linear: each would take minutes if any scan restarted per byte.
    #[test]
    fn long_repetitive_texts_are_fast() {
        let started = std::time::Instant::now();
        for unit in [
            "<a", "{\\", "a)", "a]", "(", "[", "♪", "- ", "MIKE: ", "[Mike] ", "  ", ":",
        ] {
            let text = unit.repeat(200_000);
            let subs = Subtitles {
                cues: vec![cue(&text)],
                warnings: vec![],
            };
            let arena = Bump::new();
            let _ = clean(&subs, &cast, &arena);
            let srt = format!("1\n00:00:01,000 --> 00:00:02,000\n{text}\n");
            let _ = parse(&srt);
        }
        let lines = "x\n".repeat(500_000);
        let _ = parse(&format!("00:00:01,000 --> 00:00:02,000\n{lines}"));
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    /// What the fuzz target does: any bytes through decode, parse and clean.
    fn pipeline(bytes: &[u8]) {
        let Ok(decoded) = crate::text::decode(bytes) else {
            return;
        };
        let Ok(subs) = parse(&decoded.text) else {
            return;
        };
        let arena = Bump::new();
        for line in clean(&subs, &cast, &arena) {
            assert!(!line.text.is_empty() && line.text.trim() == line.text);
            assert!(!line.text.contains("  ") && !line.text.contains('\n'));
        }
    }

    proptest! {
        /// `byte_kinds` against a byte-by-byte reading, on lengths around its 16-byte steps.
        #[test]
        fn byte_kinds_read_every_byte(bytes in proptest::collection::vec(prop_oneof![
            Just(b' '), Just(b'\n'), Just(b'\r'), Just(b'<'), Just(b'('), Just(0xE2), Just(b':'), Just(b'a'),
            any::<u8>(),
        ], 0..70)) {
            let mut want = 0;
            for (k, &b) in bytes.iter().enumerate() {
                let crlf = b == b'\r' && bytes.get(k + 1) == Some(&b'\n');
                if b == b'\n' {
                    want |= NEWLINE;
                } else if SPECIAL_BYTES[1][usize::from(b)] && !crlf {
                    want |= SPECIAL;
                }
                if b == b'<' || b == b'{' {
                    want |= MARKUP;
                }
                if b == b' ' && bytes.get(k + 1) == Some(&b' ') {
                    want |= DOUBLE_SPACE;
                }
                if b == b':' {
                    want |= COLON;
                }
            }
            prop_assert_eq!(byte_kinds(&bytes), want);
        }

        /// Lines split at the line feeds the byte scan marked are those a search finds.
        #[test]
        fn marked_lines_are_searched_lines(text in "[a \r\n\u{e9}]{0,70}") {
            let (kinds, feeds) = kinds_and_feeds(simd::Lookups::detect(), text.as_bytes());
            let one_line = kinds & NEWLINE == 0;
            let marked = (text.len() <= 64).then_some(feeds);
            let got: Vec<&str> = lines_of(&text, one_line, marked).collect();
            let want: Vec<&str> = text_lines(&text, one_line).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn trims_like_the_standard_library(text in "[ a\t\u{a0}\u{2003}\u{266a}]{0,6}") {
            prop_assert_eq!(trim(&text), text.trim());
            prop_assert_eq!(trim_start(&text), text.trim_start());
        }

        /// What the fast path relies on: a text with none of those kinds is clean once trimmed.
        #[test]
        fn plain_text_only_needs_trimming(text in "([A-Za-z0-9 ,.!?'\"-]|\\PC){0,40}") {
            if byte_kinds(text.as_bytes()) == 0 {
                let mut words = String::new();
                clean_body(&text, &mut words);
                prop_assert_eq!(words.as_str(), trim(&text));
            }
        }

        /// Plain words, on one line (the cleaner's shortcut) or several, none a dialogue dash, are
        /// one line of all their words, or none.
        #[test]
        fn plain_lines_are_one_line(
            lines in proptest::collection::vec("[A-Za-z0-9 ,.!?'\"]{0,20}", 1..5),
            crlf in any::<bool>(),
        ) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let want = if words.chars().any(char::is_alphanumeric) {
                vec![(None, words)]
            } else {
                vec![]
            };
            prop_assert_eq!(run(&[&text]), want);
        }

        /// What joining plain lines without `clean_body` relies on: the lines it gives are clean.
        #[test]
        fn plain_lines_join_clean(lines in proptest::collection::vec("(MIKE: ?|WOMAN:|- ?)?[A-Za-z0-9 ,.!?'-]{0,12}", 1..4), crlf in any::<bool>()) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let subs = Subtitles { cues: vec![cue(&text)], warnings: vec![] };
            let arena = Bump::new();
            for line in clean(&subs, &cast, &arena) {
                let mut again = String::new();
                clean_body(&line.text, &mut again);
                prop_assert_eq!(again.as_str(), line.text.as_ref());
            }
        }

        /// What skipping whole sound cues relies on: such a line leaves nothing after its label.
        #[test]
        fn whole_sound_cues_leave_no_words(
            round in any::<bool>(),
            inner in "([a-z A-Z]|Mike|woman|\\PC){0,12}",
        ) {
            let text = if round { format!("({inner})") } else { format!("[{inner}]") };
            if is_sound_cue(&text) {
                prop_assert_eq!(take_label(&text, true, &cast).1, "");
            }
        }

        /// Text written with character references reads as the text itself, whatever form each
        /// takes: named, decimal, hexadecimal, or (but for `<` and `>`) the character as it is.
        #[test]
        fn references_read_as_their_characters(
            text in "[a-z0-9 ,.!?'\"&<>]{0,40}",
            forms in proptest::collection::vec(0u8..4, 40),
        ) {
            let mut escaped = String::new();
            for (c, &form) in text.chars().zip(&forms) {
                let (name, code) = match c {
                    '&' => ("amp", 0x26),
                    '<' => ("lt", 0x3C),
                    '>' => ("gt", 0x3E),
                    '"' => ("quot", 0x22),
                    '\'' => ("apos", 0x27),
                    ' ' => ("nbsp", 0xA0),
                    _ => {
                        escaped.push(c);
                        continue;
                    }
                };
                escaped += &match form {
                    0 => format!("&{name};"),
                    1 => format!("&#{code};"),
                    2 => format!("&#x{code:x};"),
                    _ if c == '<' || c == '>' => format!("&#X{code:X};"),
                    _ => c.to_string(),
                };
            }
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let want = if words.chars().any(char::is_alphanumeric) {
                vec![(None, words)]
            } else {
                vec![]
            };
            prop_assert_eq!(run(&[&escaped]), want, "{}", escaped);
        }

        #[test]
        fn clean_never_panics(texts in proptest::collection::vec("(\\PC|\n){0,80}", 0..8)) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            for (_, text) in run(&texts) {
                prop_assert!(!text.is_empty() && !text.contains("  "));
                prop_assert!(!text.contains('♪'));
            }
        }

        #[test]
        fn clean_never_panics_on_markup(texts in proptest::collection::vec(
            "([-<>{}\\\\()\\[\\]♪#: \n/ib]|[A-Z]{1,5}|[a-z]{1,5}|\u{a0}){0,30}", 0..8,
        )) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let _ = run(&texts);
        }

        #[test]
        fn pipeline_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            pipeline(&bytes);
        }

        #[test]
        fn pipeline_never_panics_on_srt_like_bytes(parts in proptest::collection::vec(prop_oneof![
            Just(b"00:00:01,000 --> 00:00:02,000\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"- MIKE: ".to_vec()),
            Just("<i>♪ ".as_bytes().to_vec()),
            Just(b"[sighs] (".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ], 0..40)) {
            pipeline(&parts.concat());
        }
    }
}
