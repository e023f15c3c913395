//! Bytes to text: BOM sniffing, UTF-16 with and without BOM, UTF-32 with one, Windows-1252 fallback,
//! binary refusal.
//!
//! Every user file (.srt, .csv, .jsonl) goes through [`decode`] first. Valid UTF-8, by far the most
//! common case, is borrowed as it is: no copy, so decoding costs one validation pass.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// The encoding a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    /// Read only after its BOM: without one, nothing tells it from binary.
    #[serde(rename = "utf-32le")]
    Utf32Le,
    #[serde(rename = "utf-32be")]
    Utf32Be,
    /// Also covers printable Latin-1 (ISO-8859-1), of which it is a superset.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl Encoding {
    /// The lowercase label, as in `Content-Type` charsets and the serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Utf32Le => "utf-32le",
            Encoding::Utf32Be => "utf-32be",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file's text and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The text without any BOM; borrowed from the input when it was valid UTF-8.
    pub text: Cow<'a, str>,
    pub encoding: Encoding,
    /// Whether the file started with a byte order mark.
    pub had_bom: bool,
}

/// Why bytes are not text we can read. Each is the user's file, not a passing fault: retrying
/// does not help.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum DecodeError {
    #[error(
        "the file has no text: it is empty (0 bytes) or holds only whitespace; upload the file again, it may have been cut off"
    )]
    Empty,
    #[error(
        "the file looks binary, not text: NUL/control byte at byte offset {offset}; upload the plain-text file (.srt, .csv or .jsonl), not an archive, video or document"
    )]
    Binary { offset: usize },
    #[error(
        "the file starts with a UTF-32 byte order mark, but the four bytes at byte offset {offset} read {value:#010x}, which is no Unicode character; save the file again as UTF-8 and upload it"
    )]
    InvalidUtf32 { offset: usize, value: u32 },
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// The UTF-32 BOMs. The little-endian one starts with the UTF-16 little-endian one (`FF FE`), so
/// it is looked for first; read as UTF-16, it would be a BOM and a NUL.
const UTF32LE_BOM: &[u8] = b"\xFF\xFE\x00\x00";
const UTF32BE_BOM: &[u8] = b"\x00\x00\xFE\xFF";

/// How many leading bytes the UTF-16 sniffing looks at: enough for a few dozen lines of text.
const SNIFF_LEN: usize = 4096;

/// How many leading bytes the share of control characters is measured on.
const CONTROL_SAMPLE: usize = 16 * 1024;

/// Reads bytes as text.
///
/// A BOM decides the encoding. Without one, UTF-16 is recognised from the NUL bytes that ASCII
/// characters leave in every other byte; then valid UTF-8 is borrowed as is; anything else is read
/// as Windows-1252, which maps every byte to a character, so no file is refused for its encoding
/// but UTF-32 that holds no character. NUL padding at the end is dropped (see [`unpadded`]); NUL
/// characters anywhere else, or a high share of control characters, mean the file is binary.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let decoded = if let Some(body) = bytes.strip_prefix(UTF8_BOM) {
        decode_bytes(body, UTF8_BOM.len(), true)?
    } else if let Some(body) = bytes.strip_prefix(UTF32LE_BOM) {
        decode_utf32(body, UTF32LE_BOM.len(), Encoding::Utf32Le)?
    } else if let Some(body) = bytes.strip_prefix(UTF32BE_BOM) {
        decode_utf32(body, UTF32BE_BOM.len(), Encoding::Utf32Be)?
    } else if let Some(body) = bytes.strip_prefix(b"\xFF\xFE") {
        decode_utf16(body, 2, Encoding::Utf16Le, true)?
    } else if let Some(body) = bytes.strip_prefix(b"\xFE\xFF") {
        decode_utf16(body, 2, Encoding::Utf16Be, true)?
    } else if let Some(encoding) = sniff_utf16(bytes) {
        decode_utf16(bytes, 0, encoding, false)?
    } else {
        decode_bytes(bytes, 0, false)?
    };
    if decoded.text.trim().is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(decoded)
}

/// UTF-8 or, failing that, Windows-1252. `base` is the offset of `body` in the file, for errors.
fn decode_bytes(body: &[u8], base: usize, had_bom: bool) -> Result<Decoded<'_>, DecodeError> {
    let body = &body[..unpadded(body.len(), |k| u32::from(body[k]))];
    if let Some(offset) = binary_offset(body) {
        return Err(DecodeError::Binary {
            offset: base + offset,
        });
    }
    if let Ok(text) = std::str::from_utf8(body) {
        return Ok(Decoded {
            text: Cow::Borrowed(text),
            encoding: Encoding::Utf8,
            had_bom,
        });
    }
    // A BOM, or far more well-formed multi-byte sequences than broken ones, says "UTF-8 with a
    // few damaged bytes": replacing those keeps every other character right, where reading the
    // whole file as Windows-1252 would garble each accented letter.
    if had_bom || mostly_utf8(body) {
        return Ok(Decoded {
            text: Cow::Owned(String::from_utf8_lossy(body).into_owned()),
            encoding: Encoding::Utf8,
            had_bom,
        });
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(body);
    Ok(Decoded {
        text: Cow::Owned(text.into_owned()),
        encoding: Encoding::Windows1252,
        had_bom,
    })
}

/// Whether invalid UTF-8 still has more well-formed multi-byte characters than broken sequences.
fn mostly_utf8(body: &[u8]) -> bool {
    let (mut good, mut bad) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        good += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        bad += usize::from(!chunk.invalid().is_empty());
    }
    good > bad
}

/// How many of a text's `count` units (bytes, UTF-16 or UTF-32 code units, read by `unit`) stand
/// before its padding: a tail of NULs, which may be mixed with whitespace. Zero-filled tails come
/// from interrupted downloads, pre-allocating writers and tools that fill a file up to a block
/// size, some with a line break after the zeros; players ignore them, so do we. The text ends at
/// the tail's first NUL: whitespace before it is the text's own. A NUL anywhere else is no
/// padding, and makes the file binary.
fn unpadded(count: usize, unit: impl Fn(usize) -> u32) -> usize {
    let mut end = count;
    for k in (0..count).rev() {
        match unit(k) {
            0 => end = k,
            u if is_padding(u) => {}
            _ => break,
        }
    }
    end
}

/// Which of a text's `count` code units (read by `unit`) shows it is binary: the first NUL, or,
/// when more than one unit in twenty is a control character, the first of those.
fn binary_unit(count: usize, unit: impl Fn(usize) -> u32) -> Option<usize> {
    let control = |k: &usize| u16::try_from(unit(*k)).is_ok_and(is_control);
    (0..count).find(|&k| unit(k) == 0).or_else(|| {
        let controls = (0..count).filter(control).count();
        (controls * 20 > count)
            .then(|| (0..count).find(control))
            .flatten()
    })
}

/// What padding is made of: NUL, and the whitespace that may stand among it (tab, line feed, form
/// feed, carriage return, the DOS end-of-file mark and space).
fn is_padding(unit: u32) -> bool {
    matches!(unit, 0 | 0x09 | 0x0A | 0x0C | 0x0D | 0x1A | 0x20)
}

/// A control byte that plain text does not hold: C0 controls other than tab, line feed, form feed
/// and carriage return (and SUB, the old DOS end-of-file mark), and DEL.
fn is_control(unit: u16) -> bool {
    matches!(unit, 0x00..=0x08 | 0x0B | 0x0E..=0x19 | 0x1B..=0x1F | 0x7F)
}

/// [`is_control`] for a byte, as plain comparisons the compiler turns into vector code.
fn is_control_byte(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != 0x0C) & (b != b'\r') & (b != 0x1A)
        | (b == 0x7F)
}

/// The offset of the first NUL, or of the first control byte when they make up more than one byte
/// in twenty of the first [`CONTROL_SAMPLE`] bytes: a stray control character in a text file is
/// common, a steady stream is not text. NULs are looked for everywhere (a fast search); the share
/// only at the start, where binary formats show it (headers, tables), so big files cost nothing
/// more.
fn binary_offset(body: &[u8]) -> Option<usize> {
    if let Some(nul) = memchr::memchr(0, body) {
        return Some(nul);
    }
    let sample = &body[..body.len().min(CONTROL_SAMPLE)];
    // Counted in blocks whose count fits a byte, so the inner loop stays vectorised; a whole
    // number of vectors each, so no block ends byte by byte.
    let controls: usize = sample
        .chunks(128)
        .map(|block| {
            usize::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n + u8::from(is_control_byte(b))),
            )
        })
        .sum();
    if controls > 0 && controls * 20 > sample.len() {
        return sample.iter().position(|&b| is_control_byte(b));
    }
    None
}

/// UTF-16 without a BOM, recognised from NULs in one byte of each pair: the high byte of ASCII
/// characters. Text in any 8-bit encoding has no NULs at all, so the test is safe.
fn sniff_utf16(bytes: &[u8]) -> Option<Encoding> {
    // Padding at the end of a short file (see [`unpadded`]) would skew the counts: the sample ends
    // with the pair of the last byte that is neither NUL nor whitespace.
    let end = bytes
        .iter()
        .rposition(|&b| !is_padding(u32::from(b)))
        .map_or(0, |i| (i + 2) & !1);
    let sample = &bytes[..end.min(bytes.len()).min(SNIFF_LEN) & !1];
    let pairs = sample.len() / 2;
    if pairs == 0 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    // ASCII-heavy text: nearly every high byte is NUL, almost no low byte is.
    let mostly = |n: usize| n * 10 >= pairs * 7;
    let rarely = |n: usize| n * 20 <= pairs;
    if mostly(odd) && rarely(even) {
        Some(Encoding::Utf16Le)
    } else if mostly(even) && rarely(odd) {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

fn decode_utf16(
    body: &[u8],
    base: usize,
    encoding: Encoding,
    had_bom: bool,
) -> Result<Decoded<'static>, DecodeError> {
    let unit = |pair: &[u8]| match encoding {
        Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
        _ => u16::from_le_bytes([pair[0], pair[1]]),
    };
    // Drop NUL padding at the end, as for byte encodings: an odd last byte that is NUL is part of
    // it; any other is half a character, which stays (and reads as U+FFFD), and then the units
    // before it are text, not padding.
    let whole = body.len() / 2;
    let body = if body.len() % 2 == 1 && body[2 * whole] != 0 {
        body
    } else {
        &body[..2 * unpadded(whole, |k| u32::from(unit(&body[2 * k..2 * k + 2])))]
    };
    let unit_at = |k: usize| u32::from(unit(&body[2 * k..2 * k + 2]));
    if let Some(i) = binary_unit(body.len() / 2, unit_at) {
        return Err(DecodeError::Binary {
            offset: base + 2 * i,
        });
    }
    let decoder = match encoding {
        Encoding::Utf16Be => encoding_rs::UTF_16BE,
        _ => encoding_rs::UTF_16LE,
    };
    // Lone surrogates and an odd trailing byte become U+FFFD, as in players.
    let (text, _) = decoder.decode_without_bom_handling(body);
    Ok(Decoded {
        text: Cow::Owned(text.into_owned()),
        encoding,
        had_bom,
    })
}

/// UTF-32, known from its BOM. A code unit that is no Unicode scalar value (a surrogate, or past
/// U+10FFFF) means the file is not UTF-32 after all, or damaged past repair: an error, rather
/// than a text whose every character is a guess. A last character cut short reads as U+FFFD, as
/// in UTF-16.
fn decode_utf32(
    body: &[u8],
    base: usize,
    encoding: Encoding,
) -> Result<Decoded<'static>, DecodeError> {
    let unit = |k: usize| {
        let bytes = [
            body[4 * k],
            body[4 * k + 1],
            body[4 * k + 2],
            body[4 * k + 3],
        ];
        match encoding {
            Encoding::Utf32Be => u32::from_be_bytes(bytes),
            _ => u32::from_le_bytes(bytes),
        }
    };
    let whole = body.len() / 4;
    let cut_short = body[4 * whole..].iter().any(|&b| b != 0);
    let len = if cut_short {
        whole
    } else {
        unpadded(whole, unit)
    };
    if let Some(k) = binary_unit(len, unit) {
        return Err(DecodeError::Binary {
            offset: base + 4 * k,
        });
    }
    let mut text = String::with_capacity(len + usize::from(cut_short));
    for k in 0..len {
        let value = unit(k);
        let c = char::from_u32(value).ok_or(DecodeError::InvalidUtf32 {
            offset: base + 4 * k,
            value,
        })?;
        text.push(c);
    }
    if cut_short {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    Ok(Decoded {
        text: Cow::Owned(text),
        encoding,
        had_bom: true,
    })
}

/// `text[start..end]` where both ends are known to be character boundaries, without testing
/// that they are: the line and cue readers cut text only next to ASCII bytes (a line break, a
/// bracket, a space) or at the text's ends, and the test costs more than the rest of a short
/// line's handling. A range out of bounds still panics.
///
/// # Safety
/// `start` and `end` are character boundaries of `text` (0, `text.len()`, or the position of a
/// byte that starts a character, such as any ASCII byte).
#[inline]
pub(crate) unsafe fn cut(text: &str, start: usize, end: usize) -> &str {
    debug_assert!(start <= end && text.is_char_boundary(start) && text.is_char_boundary(end));
    // SAFETY: the caller's promise is what `get_unchecked` needs.
    unsafe { text.get_unchecked(start..end) }
}

/// Word-at-a-time byte tests, for the short scans within a cue's text. Each mask has the
/// high bit set in (at least) the lowest byte that matches, so `trailing_zeros() / 8` is its index;
/// bytes above a match may be flagged falsely, so only the lowest flag is exact.
pub(crate) mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// Eight bytes from `bytes[at..]`, padded with `pad` past the end.
    #[inline]
    pub(crate) fn load(bytes: &[u8], at: usize, pad: u8) -> u64 {
        if let Some(word) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
            return u64::from_le_bytes(*word);
        }
        // The last few bytes of a text: every short line ends in one, so no loop over them but
        // (at most) two overlapping loads.
        let rest = bytes.get(at..).unwrap_or_default();
        let n = rest.len();
        let padding = ONES * u64::from(pad);
        if n == 0 {
            return padding;
        }
        let word = if let Some(last) = bytes.last_chunk::<8>() {
            // The text's last eight bytes, shifted down to start at `at`.
            u64::from_le_bytes(*last) >> (8 * (8 - n))
        } else {
            small_load(rest)
        };
        let kept = (1u64 << (8 * n)) - 1;
        (word & kept) | (padding & !kept)
    }

    /// The first sixteen bytes (or all, when fewer) as the low bytes of a number, the rest zero:
    /// like [`load`], two overlapping loads at most, whatever the length.
    #[inline]
    pub(crate) fn load_16(bytes: &[u8]) -> u128 {
        if let Some(all) = bytes.first_chunk::<16>() {
            return u128::from_le_bytes(*all);
        }
        match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(head), Some(tail)) => {
                u128::from(u64::from_le_bytes(*head))
                    | u128::from(u64::from_le_bytes(*tail)) << (8 * (bytes.len() - 8))
            }
            _ => u128::from(small_load(bytes)),
        }
    }

    /// None to seven bytes as the low bytes of a word (the rest zero), from two overlapping loads
    /// that agree on the bytes they share.
    #[inline]
    fn small_load(rest: &[u8]) -> u64 {
        let n = rest.len();
        match (rest.first_chunk::<4>(), rest.last_chunk::<4>()) {
            (Some(head), Some(tail)) => {
                u64::from(u32::from_le_bytes(*head))
                    | u64::from(u32::from_le_bytes(*tail)) << (8 * (n - 4))
            }
            _ => match (rest.first_chunk::<2>(), rest.last_chunk::<2>()) {
                (Some(head), Some(tail)) => {
                    u64::from(u16::from_le_bytes(*head))
                        | u64::from(u16::from_le_bytes(*tail)) << (8 * (n - 2))
                }
                _ => rest.first().map_or(0, |&b| u64::from(b)),
            },
        }
    }

    /// Bytes equal to zero.
    #[inline]
    pub(crate) fn zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }

    /// Bytes equal to `b`.
    #[inline]
    pub(crate) fn eq(x: u64, b: u8) -> u64 {
        zero(x ^ (ONES * u64::from(b)))
    }

    /// The index of the first `b` at or after `from`.
    #[inline]
    pub(crate) fn find_byte(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
        // The padding (`!b`) never matches, and a match flags nothing below it: the lowest flag
        // is a real match within the text.
        let mut i = from;
        while i < bytes.len() {
            let hits = eq(load(bytes, i, !b), b);
            if hits != 0 {
                return Some(i + hits.trailing_zeros() as usize / 8);
            }
            i += 8;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            let bytes = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            out.extend_from_slice(&bytes);
        }
        out
    }

    fn utf32(text: &str, big_endian: bool) -> Vec<u8> {
        let units = std::iter::once('\u{FEFF}').chain(text.chars());
        units
            .flat_map(|c| {
                if big_endian {
                    u32::from(c).to_be_bytes()
                } else {
                    u32::from(c).to_le_bytes()
                }
            })
            .collect()
    }

    /// `text` in one of the encodings that have a BOM, with it.
    fn with_bom(text: &str, encoding: Encoding) -> Vec<u8> {
        match encoding {
            Encoding::Utf16Le => utf16(text, false, true),
            Encoding::Utf16Be => utf16(text, true, true),
            Encoding::Utf32Le => utf32(text, false),
            Encoding::Utf32Be => utf32(text, true),
            Encoding::Utf8 | Encoding::Windows1252 => [UTF8_BOM, text.as_bytes()].concat(),
        }
    }

    const SAMPLE: &str = "1\r\n00:00:01,000 --> 00:00:02,000\r\nMIKE: Héllo — Will?\r\n";

    #[test]
    fn reads_each_encoding() {
        let cases: Vec<(&str, Vec<u8>, Encoding, bool)> = vec![
            (
                "plain utf-8",
                SAMPLE.as_bytes().to_vec(),
                Encoding::Utf8,
                false,
            ),
            (
                "utf-8 with bom",
                [UTF8_BOM, SAMPLE.as_bytes()].concat(),
                Encoding::Utf8,
                true,
            ),
            (
                "utf-16le bom",
                utf16(SAMPLE, false, true),
                Encoding::Utf16Le,
                true,
            ),
            (
                "utf-16be bom",
                utf16(SAMPLE, true, true),
                Encoding::Utf16Be,
                true,
            ),
            (
                "utf-32le bom",
                utf32(SAMPLE, false),
                Encoding::Utf32Le,
                true,
            ),
            ("utf-32be bom", utf32(SAMPLE, true), Encoding::Utf32Be, true),
            (
                "utf-16le no bom",
                utf16(SAMPLE, false, false),
                Encoding::Utf16Le,
                false,
            ),
            (
                "utf-16be no bom",
                utf16(SAMPLE, true, false),
                Encoding::Utf16Be,
                false,
            ),
        ];
        for (name, bytes, encoding, had_bom) in cases {
            let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.text, SAMPLE, "{name}");
            assert_eq!(decoded.encoding, encoding, "{name}");
            assert_eq!(decoded.had_bom, had_bom, "{name}");
        }
    }

    #[test]
    fn valid_utf8_is_borrowed() {
        let decoded = decode(SAMPLE.as_bytes()).unwrap();
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        let with_bom = [UTF8_BOM, b"Hi"].concat();
        assert!(matches!(
            decode(&with_bom).unwrap().text,
            Cow::Borrowed("Hi")
        ));
    }

    #[test]
    fn windows_1252_and_latin1_fall_back() {
        // "Café – “Hawkins”" in Windows-1252: 0x96 en dash and 0x93/0x94 curly quotes.
        let bytes = b"Caf\xe9 \x96 \x93Hawkins\x94 \xa9 \xfc";
        let decoded = decode(bytes).unwrap();
        assert_eq!(decoded.encoding, Encoding::Windows1252);
        assert_eq!(decoded.text, "Café – “Hawkins” © ü");
    }

    #[test]
    fn utf8_with_a_damaged_byte_stays_utf8() {
        let bytes = "Ça va, Éleven? déjà vu "
            .bytes()
            .chain([0xff])
            .collect::<Vec<_>>();
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.encoding, Encoding::Utf8);
        assert_eq!(decoded.text, "Ça va, Éleven? déjà vu \u{FFFD}");
        // With a BOM, the BOM decides even for a broken file.
        let decoded = decode(b"\xEF\xBB\xBFcaf\xe9").unwrap();
        assert_eq!(
            (decoded.encoding, &*decoded.text),
            (Encoding::Utf8, "caf\u{FFFD}")
        );
    }

    #[test]
    fn refuses_empty_and_whitespace() {
        for bytes in [
            &b""[..],
            b"   \r\n\t\n",
            b"\xEF\xBB\xBF",
            b"\xFF\xFE",
            b"\xFF\xFE \x00\n\x00",
            b"\0\0",
            b"\xFF\xFE\x00\x00",
            b"\x00\x00\xFE\xFF",
            b"\xFF\xFE\x00\x00\n\x00\x00\x00\x00\x00\x00\x00",
            b"\n\0\0 \0\r\n",
        ] {
            assert_eq!(decode(bytes), Err(DecodeError::Empty), "{bytes:?}");
        }
        assert!(DecodeError::Empty.to_string().contains("empty (0 bytes)"));
    }

    #[test]
    fn refuses_binary() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(decode(png), Err(DecodeError::Binary { offset: 8 }));
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        assert_eq!(decode(zip), Err(DecodeError::Binary { offset: 5 }));
        let controls = b"ab\x01\x02\x03\x04cdefgh";
        assert_eq!(decode(controls), Err(DecodeError::Binary { offset: 2 }));
        // With a UTF-8 BOM, offsets count from the start of the file.
        assert_eq!(
            decode(b"\xEF\xBB\xBFab\0cd"),
            Err(DecodeError::Binary { offset: 5 })
        );
        let message = DecodeError::Binary { offset: 1234 }.to_string();
        assert!(
            message.contains("looks binary") && message.contains("byte offset 1234"),
            "{message}"
        );
    }

    #[test]
    fn binary_inside_utf16_is_refused() {
        let mut bytes = utf16("Hello there", false, true);
        bytes.extend_from_slice(&[0, 0, b'x', 0]);
        assert_eq!(decode(&bytes), Err(DecodeError::Binary { offset: 24 }));
        let noise: Vec<u8> = (0..64u8).flat_map(|i| [i % 8, 0]).collect();
        assert!(matches!(decode(&noise), Err(DecodeError::Binary { .. })));
    }

    #[test]
    fn swar_searches() {
        for (text, b, want) in [
            (&b"abc"[..], b'c', Some(2)),
            (b"abcdefghij\n", b'\n', Some(10)),
            (b"\xff\xfe", 0xff, Some(0)),
            (b"ab", 0, None),
        ] {
            assert_eq!(swar::find_byte(text, 0, b), want);
        }
    }

    #[test]
    fn control_bytes() {
        for b in 0..=255u8 {
            assert_eq!(is_control_byte(b), is_control(u16::from(b)), "{b:#x}");
        }
    }

    #[test]
    fn tolerates_stray_controls_and_nul_padding() {
        let decoded = decode(b"Hello\x1a there\x0c friend\x07 of mine, Will\0\0\0").unwrap();
        assert_eq!(decoded.text, "Hello\x1a there\x0c friend\x07 of mine, Will");
        let mut bytes = utf16("Hi", true, false);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode(&bytes).unwrap().text, "Hi");
    }

    #[test]
    fn nul_padding_mixed_with_whitespace_is_dropped() {
        const TEXT: &str = "1\r\n00:00:01,000 --> 00:00:02,000\r\nHi, Will.\r\n";
        // The padding after the text, and what of it the text keeps.
        let paddings = [
            ("\0", ""),
            ("\0\0\0\0\0\0\0", ""),
            ("\0\0\0\r\n", ""),
            ("\r\n\0\0\0", "\r\n"),
            ("\n\0 \0\t\0\x0c\0\x1a\0\r\n", "\n"),
            ("\x1a\0\0", "\x1a"),
        ];
        let plain = |text: &str| text.as_bytes().to_vec();
        let encodings = [
            ("utf-8", plain(TEXT)),
            ("utf-8 bom", with_bom(TEXT, Encoding::Utf8)),
            ("utf-16le bom", with_bom(TEXT, Encoding::Utf16Le)),
            ("utf-16be bom", with_bom(TEXT, Encoding::Utf16Be)),
            ("utf-16le", utf16(TEXT, false, false)),
            ("utf-32le", with_bom(TEXT, Encoding::Utf32Le)),
            ("utf-32be", with_bom(TEXT, Encoding::Utf32Be)),
        ];
        for (name, bytes) in &encodings {
            for (padding, kept) in paddings {
                // Padding bytes as the tool wrote them: the encoding's units, or NUL bytes.
                let mut padded = bytes.clone();
                let units = match *name {
                    "utf-16le bom" | "utf-16le" => utf16(padding, false, false),
                    "utf-16be bom" => utf16(padding, true, false),
                    "utf-32le" => utf32(padding, false)[4..].to_vec(),
                    "utf-32be" => utf32(padding, true)[4..].to_vec(),
                    _ => plain(padding),
                };
                padded.extend_from_slice(&units);
                let decoded = decode(&padded).unwrap_or_else(|e| panic!("{name} {padding:?}: {e}"));
                assert_eq!(decoded.text, format!("{TEXT}{kept}"), "{name} {padding:?}");
                // Zero bytes that are no whole unit of the encoding are padding too.
                padded.extend_from_slice(&[0; 3]);
                let decoded = decode(&padded).unwrap_or_else(|e| panic!("{name} {padding:?}: {e}"));
                assert_eq!(
                    decoded.text,
                    format!("{TEXT}{kept}"),
                    "{name} {padding:?} + 3"
                );
            }
        }
    }

    #[test]
    fn nul_inside_the_text_is_binary() {
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("utf-8", b"Hi\0 there\n\0\0".to_vec(), 2),
            ("utf-8 before a line", b"Hi\n\0\0\nthere\n".to_vec(), 3),
            ("utf-8 bom", b"\xEF\xBB\xBFHi\n\0x\0".to_vec(), 6),
            (
                "utf-16le",
                [utf16("Hi\n", false, true), vec![0, 0, b'x', 0, 0, 0]].concat(),
                8,
            ),
            (
                "utf-32be",
                [
                    utf32("Hi", true),
                    vec![0; 4],
                    utf32("x", true)[4..].to_vec(),
                ]
                .concat(),
                12,
            ),
        ];
        for (name, bytes, offset) in cases {
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::Binary { offset }),
                "{name}"
            );
        }
    }

    #[test]
    fn utf32_bom_comes_before_utf16s() {
        // `FF FE 00 00`: the UTF-16 little-endian BOM and a NUL, or the UTF-32 one.
        let decoded = decode(b"\xFF\xFE\x00\x00H\x00\x00\x00i\x00\x00\x00").unwrap();
        assert_eq!(
            (decoded.encoding, &*decoded.text),
            (Encoding::Utf32Le, "Hi")
        );
        // Astral characters are single units.
        let bytes = utf32("Hi 🙂 Ω", true);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(
            (decoded.encoding, &*decoded.text),
            (Encoding::Utf32Be, "Hi 🙂 Ω")
        );
    }

    #[test]
    fn utf32_that_holds_no_character_is_refused() {
        for (big_endian, value) in [
            (false, 0xD800),
            (true, 0xDFFF),
            (false, 0x11_0000),
            (true, u32::MAX),
        ] {
            let mut bytes = utf32("Hello", big_endian);
            let unit = if big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            bytes.extend_from_slice(&unit);
            bytes.extend_from_slice(&utf32(" there", big_endian)[4..]);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::InvalidUtf32 { offset: 24, value }),
                "{value:#x}"
            );
        }
        let message = DecodeError::InvalidUtf32 {
            offset: 24,
            value: 0xD800,
        }
        .to_string();
        assert!(
            message.contains("byte offset 24")
                && message.contains("0x0000d800")
                && message.contains("UTF-8"),
            "{message}"
        );
    }

    #[test]
    fn utf32_cut_short_keeps_the_text() {
        for (tail, want) in [
            (&[b'!'][..], "Hi\u{FFFD}"),
            (&[b'!', 0, 0], "Hi\u{FFFD}"),
            (&[0, 0], "Hi"),
        ] {
            let bytes = [utf32("Hi", false), tail.to_vec()].concat();
            assert_eq!(decode(&bytes).unwrap().text, want, "{tail:?}");
        }
    }

    #[test]
    fn odd_utf16_length_keeps_the_text() {
        let mut bytes = utf16("Hello, Hawkins", false, true);
        bytes.push(b'!');
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.text, "Hello, Hawkins\u{FFFD}");
    }

    #[test]
    fn encoding_names() {
        for (encoding, name) in [
            (Encoding::Utf8, "utf-8"),
            (Encoding::Utf16Le, "utf-16le"),
            (Encoding::Utf16Be, "utf-16be"),
            (Encoding::Utf32Le, "utf-32le"),
            (Encoding::Utf32Be, "utf-32be"),
            (Encoding::Windows1252, "windows-1252"),
        ] {
            assert_eq!(encoding.to_string(), name);
            assert_eq!(
                serde_json::to_string(&encoding).unwrap(),
                format!("\"{name}\"")
            );
        }
    }

    proptest! {
        #[test]
        fn swar_searches_match_plain_ones(bytes in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), Just(0x0B), Just(0x0C), any::<u8>()], 0..64,
        ), from in 0usize..64) {
            let from = from.min(bytes.len());
            for b in [b'\n', 0, 0xff, bytes.first().copied().unwrap_or(1)] {
                let want = bytes[from..].iter().position(|&c| c == b).map(|k| from + k);
                prop_assert_eq!(swar::find_byte(&bytes, from, b), want);
            }
        }

        #[test]
        fn swar_load_pads_like_a_copy(bytes in proptest::collection::vec(any::<u8>(), 0..24), at in 0usize..32, pad: u8) {
            let mut want = [pad; 8];
            for (slot, &b) in want.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
                *slot = b;
            }
            prop_assert_eq!(swar::load(&bytes, at, pad), u64::from_le_bytes(want));
        }

        #[test]
        fn swar_load_16_zero_pads(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut want = [0u8; 16];
            for (slot, &b) in want.iter_mut().zip(&bytes) {
                *slot = b;
            }
            prop_assert_eq!(swar::load_16(&bytes), u128::from_le_bytes(want));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(decoded) = decode(&bytes) {
                prop_assert!(!decoded.text.trim().is_empty());
            }
        }

        #[test]
        fn utf8_text_round_trips(text in "\\PC{1,200}") {
            prop_assume!(!text.trim().is_empty());
            prop_assume!(!text.starts_with('\u{FEFF}'));
            prop_assume!(!text.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'));
            let decoded = decode(text.as_bytes()).unwrap();
            prop_assert_eq!(&*decoded.text, text.as_str());
            prop_assert_eq!(decoded.encoding, Encoding::Utf8);
        }

        /// Text in any encoding with a BOM reads back the same, however much NUL and whitespace
        /// padding follows it: only the whitespace before the first NUL is kept.
        #[test]
        fn padded_text_round_trips(
            text in "\\PC{0,40}[a-z]",
            padding in proptest::collection::vec(prop_oneof![Just('\0'), Just(' '), Just('\n'), Just('\r'), Just('\t')], 0..12),
            encoding in prop_oneof![Just(Encoding::Utf8), Just(Encoding::Utf16Le), Just(Encoding::Utf16Be), Just(Encoding::Utf32Le), Just(Encoding::Utf32Be)],
        ) {
            prop_assume!(!text.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'));
            prop_assume!(!text.starts_with('\u{FEFF}'));
            let padding: String = padding.into_iter().collect();
            let kept = padding.split('\0').next().unwrap_or_default();
            let bytes = with_bom(&format!("{text}{padding}"), encoding);
            let decoded = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&*decoded.text, format!("{text}{kept}"));
            prop_assert_eq!(decoded.encoding, encoding);
        }

        /// A NUL with text after it is no padding.
        #[test]
        fn nul_before_text_is_binary(
            text in "[a-z ]{0,20}",
            after in "[ \n]{0,3}[a-z]",
            encoding in prop_oneof![Just(Encoding::Utf8), Just(Encoding::Utf16Le), Just(Encoding::Utf16Be), Just(Encoding::Utf32Le), Just(Encoding::Utf32Be)],
        ) {
            let bytes = with_bom(&format!("x{text}\0{after}"), encoding);
            let decoded = decode(&bytes);
            prop_assert!(matches!(decoded, Err(DecodeError::Binary { .. })), "{:?}", decoded);
        }

        #[test]
        fn utf32_with_bom_round_trips(text in "\\PC{1,200}", big_endian in any::<bool>()) {
            prop_assume!(!text.trim().is_empty());
            prop_assume!(!text.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'));
            let bytes = utf32(&text, big_endian);
            let decoded = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&*decoded.text, text.as_str());
        }

        /// Any bytes after a UTF-32 BOM: text, or an error, never a panic.
        #[test]
        fn utf32_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), big_endian in any::<bool>()) {
            let bom = if big_endian { UTF32BE_BOM } else { UTF32LE_BOM };
            let _ = decode(&[bom, &bytes].concat());
        }

        #[test]
        fn utf16_with_bom_round_trips(text in "\\PC{1,200}", big_endian in any::<bool>()) {
            prop_assume!(!text.trim().is_empty());
            prop_assume!(!text.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'));
            let bytes = utf16(&text, big_endian, true);
            let decoded = decode(&bytes).unwrap();
            prop_assert_eq!(&*decoded.text, text.as_str());
        }
    }
}
