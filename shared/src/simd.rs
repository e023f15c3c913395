//! Byte tests with vector instructions: line breaks sixty-four bytes at a time, as bit masks (byte
//! `k` of a block to bit `k`), and the classes of a short text's bytes sixteen at a time, by table
//! lookup. SSE2 on x86-64 (where tests and benchmarks run; SSSE3, for the lookups, where the CPU
//! has it, as every x86-64 CPU of this century but the first few does), NEON on arm64 (where the
//! functions run). Other targets, and the last partial block of a text, read byte by byte.
//!
//! Nearly all `unsafe` of the crate is here: calls of vector intrinsics whose target feature the
//! `cfg` or a run-time check guarantees, and loads of sixteen bytes from arrays that have them.

/// The `\r` bytes and the `\n` bytes among the 64 from `at` (none past the end of `bytes`).
#[inline]
pub(crate) fn returns_and_feeds(bytes: &[u8], at: usize) -> (u64, u64) {
    match bytes.get(at..).and_then(<[u8]>::first_chunk::<64>) {
        Some(block) => vector::returns_and_feeds(block),
        None => {
            let [returns, feeds] = bytes_equal(bytes.get(at..).unwrap_or_default(), [b'\r', b'\n']);
            (returns, feeds)
        }
    }
}

/// Byte classes looked up by nibble: byte `b` is in the classes (bits) `low[b & 15] & high[b >> 4]`.
/// So each class is one high nibble with any set of low nibbles; sets of bytes that are not need
/// a class for each of their high nibbles.
pub(crate) struct NibbleTable {
    low: [u8; 16],
    high: [u8; 16],
}

impl NibbleTable {
    /// The table whose class `k` (bit `k`) is the bytes `classes[k]`, which share a high nibble
    /// (checked when the table is built, at compile time for a constant one).
    pub(crate) const fn of(classes: &[&[u8]]) -> NibbleTable {
        assert!(classes.len() <= 8, "eight classes at most, a bit each");
        let mut table = NibbleTable {
            low: [0; 16],
            high: [0; 16],
        };
        let mut k = 0;
        while k < classes.len() {
            let bytes = classes[k];
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                assert!(
                    b >> 4 == bytes[0] >> 4,
                    "the bytes of a class share their high nibble"
                );
                table.low[(b & 15) as usize] |= 1 << k;
                table.high[(b >> 4) as usize] |= 1 << k;
                i += 1;
            }
            k += 1;
        }
        table
    }
}

/// What [`Lookups::classify`] finds in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Classified {
    /// The classes of its bytes, or-ed together.
    pub(crate) classes: u8,
    /// Whether it holds a line feed; a carriage return that no line feed follows; a space that
    /// a space follows.
    pub(crate) feed: bool,
    /// Where its line feeds are among its first 64 bytes (bit `k` for byte `k`): all of them, for
    /// a text of 64 bytes or fewer.
    pub(crate) feeds: u64,
    pub(crate) lone_return: bool,
    pub(crate) double_space: bool,
}

/// The byte lookups this CPU has, found out once for many calls of [`Lookups::classify`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookups {
    /// Whether the vector lookups can run: always on arm64, on x86-64 where the CPU has SSSE3.
    /// Only [`Lookups::detect`] sets it.
    vector: bool,
}

impl Lookups {
    #[inline]
    pub(crate) fn detect() -> Self {
        Lookups {
            vector: vector::detect(),
        }
    }

    /// The classes of the bytes of `text` (see [`NibbleTable`]) and its line feeds, lone carriage
    /// returns and double spaces, sixteen bytes a step: the last step ends at the text's end
    /// (overlapping the one before), and a text shorter than a step is padded with zero bytes,
    /// which must be of no class.
    #[inline]
    pub(crate) fn classify(self, text: &[u8], table: &NibbleTable) -> Classified {
        vector::classify(self.vector, text, table)
    }
}

/// Calls `step` with each sixteen bytes of `text` that [`Lookups::classify`] reads, where they start, and
/// the byte after them (zero at the end).
#[inline(always)]
fn steps_of_16(text: &[u8], mut step: impl FnMut(&[u8; 16], usize, u8)) {
    match text.last_chunk::<16>() {
        Some(last) => {
            let mut at = 0;
            while let Some(&after) = text.get(at + 16) {
                if let Some(chunk) = text.get(at..).and_then(<[u8]>::first_chunk::<16>) {
                    step(chunk, at, after);
                }
                at += 16;
            }
            step(last, text.len() - 16, 0);
        }
        None => step(&crate::text::swar::load_16(text).to_le_bytes(), 0, 0),
    }
}

/// A step's sixteen-bit mask placed at `at` in a mask of the first 64 bytes (bits past them
/// dropped).
#[inline(always)]
fn place(mask: u16, at: usize) -> u64 {
    u64::from(mask).checked_shl(at as u32).unwrap_or(0)
}

/// [`Lookups::classify`] byte by byte: for targets without vector lookups, and the reference in tests.
#[cfg_attr(all(target_arch = "aarch64", not(test)), allow(dead_code))]
fn classify_bytes(text: &[u8], table: &NibbleTable) -> Classified {
    let mut found = Classified::default();
    for (k, &b) in text.iter().enumerate() {
        let next = text.get(k + 1).copied().unwrap_or(0);
        found.classes |= table.low[usize::from(b & 15)] & table.high[usize::from(b >> 4)];
        found.feed |= b == b'\n';
        found.feeds |= place(u16::from(b == b'\n'), k);
        found.lone_return |= b == b'\r' && next != b'\n';
        found.double_space |= b == b' ' && next == b' ';
    }
    found
}

/// Byte by byte: the bytes equal to each of `targets`, among the first 64.
fn bytes_equal<const N: usize>(bytes: &[u8], targets: [u8; N]) -> [u64; N] {
    let mut masks = [0; N];
    for (k, &b) in bytes.iter().take(64).enumerate() {
        for (mask, &target) in masks.iter_mut().zip(&targets) {
            *mask |= u64::from(b == target) << k;
        }
    }
    masks
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod vector {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cvtsi32_si128,
        _mm_cvtsi128_si32, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128, _mm_shuffle_epi8, _mm_slli_si128, _mm_srli_epi16, _mm_srli_si128,
    };

    use super::{Classified, NibbleTable};

    #[inline]
    pub(super) fn detect() -> bool {
        std::is_x86_feature_detected!("ssse3")
    }

    #[inline]
    pub(super) fn classify(ssse3: bool, text: &[u8], table: &NibbleTable) -> Classified {
        if ssse3 {
            // SAFETY: `ssse3` comes from `detect`: the CPU has SSSE3.
            unsafe { classify_ssse3(text, table) }
        } else {
            super::classify_bytes(text, table)
        }
    }

    #[target_feature(enable = "ssse3")]
    fn classify_ssse3(text: &[u8], table: &NibbleTable) -> Classified {
        // SAFETY: SSE2 is enabled (the `cfg` above), SSSE3 for this function; each load reads
        // sixteen bytes of an array of sixteen.
        unsafe {
            let load = |bytes: &[u8; 16]| _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let (low, high) = (load(&table.low), load(&table.high));
            let nibble = _mm_set1_epi8(0x0F);
            let byte = |b: u8| _mm_set1_epi8(b as i8);
            let [mut classes, mut feeds, mut lone_returns, mut doubles] = [_mm_setzero_si128(); 4];
            let mut feed_bits = 0;
            super::steps_of_16(text, |chunk, at, after| {
                let v = load(chunk);
                let lo = _mm_and_si128(v, nibble);
                let hi = _mm_and_si128(_mm_srli_epi16::<4>(v), nibble);
                classes = _mm_or_si128(
                    classes,
                    _mm_and_si128(_mm_shuffle_epi8(low, lo), _mm_shuffle_epi8(high, hi)),
                );
                // The byte after each: the next one in, `after` for the last.
                let next = _mm_or_si128(
                    _mm_srli_si128::<1>(v),
                    _mm_slli_si128::<15>(_mm_cvtsi32_si128(i32::from(after))),
                );
                let feed = _mm_cmpeq_epi8(v, byte(b'\n'));
                feeds = _mm_or_si128(feeds, feed);
                feed_bits |= super::place(_mm_movemask_epi8(feed) as u16, at);
                lone_returns = _mm_or_si128(
                    lone_returns,
                    _mm_andnot_si128(
                        _mm_cmpeq_epi8(next, byte(b'\n')),
                        _mm_cmpeq_epi8(v, byte(b'\r')),
                    ),
                );
                doubles = _mm_or_si128(
                    doubles,
                    _mm_and_si128(
                        _mm_cmpeq_epi8(v, byte(b' ')),
                        _mm_cmpeq_epi8(next, byte(b' ')),
                    ),
                );
            });
            // Or the sixteen lanes of the classes into the first.
            let c = _mm_or_si128(classes, _mm_srli_si128::<8>(classes));
            let c = _mm_or_si128(c, _mm_srli_si128::<4>(c));
            let c = _mm_or_si128(c, _mm_srli_si128::<2>(c));
            let c = _mm_or_si128(c, _mm_srli_si128::<1>(c));
            Classified {
                classes: _mm_cvtsi128_si32(c) as u8,
                feed: _mm_movemask_epi8(feeds) != 0,
                feeds: feed_bits,
                lone_return: _mm_movemask_epi8(lone_returns) != 0,
                double_space: _mm_movemask_epi8(doubles) != 0,
            }
        }
    }

    #[inline]
    pub(super) fn returns_and_feeds(block: &[u8; 64]) -> (u64, u64) {
        let (mut returns, mut feeds) = (0, 0);
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is enabled (the `cfg` above); the load reads the sixteen bytes of
            // `chunk`, unaligned loads being allowed.
            let (r, f) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                (
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8))),
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))),
                )
            };
            // Each mask is sixteen bits, one per byte.
            returns |= u64::from(r as u16) << (16 * k);
            feeds |= u64::from(f as u16) << (16 * k);
        }
        (returns, feeds)
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod vector {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vbicq_u8, vceqq_u8, vdupq_n_u8, vextq_u8, vget_high_u8,
        vget_lane_u64, vget_low_u8, vgetq_lane_u16, vgetq_lane_u64, vld1q_u8, vmaxvq_u8, vorr_u8,
        vorrq_u8, vpaddq_u8, vqtbl1q_u8, vreinterpret_u64_u8, vreinterpretq_u16_u8,
        vreinterpretq_u64_u8, vshrq_n_u8,
    };

    use super::{Classified, NibbleTable};

    #[inline]
    pub(super) fn detect() -> bool {
        true
    }

    #[inline]
    pub(super) fn classify(_: bool, text: &[u8], table: &NibbleTable) -> Classified {
        // SAFETY: NEON is enabled (the `cfg` above); each load reads sixteen bytes of an array
        // of sixteen.
        unsafe {
            let (low, high) = (vld1q_u8(table.low.as_ptr()), vld1q_u8(table.high.as_ptr()));
            let nibble = vdupq_n_u8(0x0F);
            let [mut classes, mut feeds, mut lone_returns, mut doubles] = [vdupq_n_u8(0); 4];
            let weights = vld1q_u8(WEIGHTS.as_ptr());
            let mut feed_bits = 0;
            super::steps_of_16(text, |chunk, at, after| {
                let v = vld1q_u8(chunk.as_ptr());
                let found = vandq_u8(
                    vqtbl1q_u8(low, vandq_u8(v, nibble)),
                    vqtbl1q_u8(high, vshrq_n_u8::<4>(v)),
                );
                classes = vorrq_u8(classes, found);
                // The byte after each: the next one in, `after` for the last.
                let next = vextq_u8::<1>(v, vdupq_n_u8(after));
                let feed = vceqq_u8(v, vdupq_n_u8(b'\n'));
                feeds = vorrq_u8(feeds, feed);
                // Pairwise sums of the weights, three times: bytes 0 and 1 end up the mask.
                let w = vandq_u8(feed, weights);
                let w = vpaddq_u8(w, w);
                let w = vpaddq_u8(w, w);
                let mask = vgetq_lane_u16::<0>(vreinterpretq_u16_u8(vpaddq_u8(w, w)));
                feed_bits |= super::place(mask, at);
                lone_returns = vorrq_u8(
                    lone_returns,
                    vbicq_u8(
                        vceqq_u8(v, vdupq_n_u8(b'\r')),
                        vceqq_u8(next, vdupq_n_u8(b'\n')),
                    ),
                );
                doubles = vorrq_u8(
                    doubles,
                    vandq_u8(
                        vceqq_u8(v, vdupq_n_u8(b' ')),
                        vceqq_u8(next, vdupq_n_u8(b' ')),
                    ),
                );
            });
            // Or the sixteen lanes of the classes: halves, then the eight bytes of a word.
            let half = vreinterpret_u64_u8(vorr_u8(vget_low_u8(classes), vget_high_u8(classes)));
            let mut word = vget_lane_u64::<0>(half);
            word |= word >> 32;
            word |= word >> 16;
            word |= word >> 8;
            Classified {
                classes: word as u8,
                feed: vmaxvq_u8(feeds) != 0,
                feeds: feed_bits,
                lone_return: vmaxvq_u8(lone_returns) != 0,
                double_space: vmaxvq_u8(doubles) != 0,
            }
        }
    }

    /// Each byte's weight in the byte of the mask it ends in: bit `k % 8`.
    const WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];

    #[inline]
    pub(super) fn returns_and_feeds(block: &[u8; 64]) -> (u64, u64) {
        // SAFETY: NEON is enabled (the `cfg` above); each load reads sixteen bytes of `block`
        // (at 0, 16, 32 and 48 of its 64) or of `WEIGHTS`.
        unsafe {
            let weights = vld1q_u8(WEIGHTS.as_ptr());
            let v = [0, 1, 2, 3].map(|k| vld1q_u8(block.as_ptr().add(16 * k)));
            let mask = |b: u8| -> u64 {
                let hits =
                    |k: usize| -> uint8x16_t { vandq_u8(vceqq_u8(v[k], vdupq_n_u8(b)), weights) };
                // Pairwise sums, three times: each of the first eight bytes ends up the sum of
                // the weights of eight bytes in a row, that is their bits.
                let sums = vpaddq_u8(vpaddq_u8(hits(0), hits(1)), vpaddq_u8(hits(2), hits(3)));
                vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(sums, sums)))
            };
            (mask(b'\r'), mask(b'\n'))
        }
    }
}

#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod vector {
    #[inline]
    pub(super) fn returns_and_feeds(block: &[u8; 64]) -> (u64, u64) {
        let [returns, feeds] = super::bytes_equal(block, [b'\r', b'\n']);
        (returns, feeds)
    }

    #[inline]
    pub(super) fn detect() -> bool {
        false
    }

    #[inline]
    pub(super) fn classify(_: bool, text: &[u8], table: &super::NibbleTable) -> super::Classified {
        super::classify_bytes(text, table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bits a byte-by-byte reading gives, plainly.
    fn exact(bytes: &[u8], at: usize, b: u8) -> u64 {
        (0..64).fold(0, |bits, k| match bytes.get(at + k) {
            Some(&x) if x == b => bits | 1 << k,
            _ => bits,
        })
    }

    #[test]
    fn every_lane_of_a_block() {
        // A break at each of the 64 places, alone among bytes that differ from a break in one bit
        // (a vertical tab, a form feed, the break with its high bit set, `\x0E`, `\x08`).
        let near = [0x0B, 0x0C, 0x8A, 0x8D, 0x0E, 0x08, 0x0F, b'a'];
        for k in 0..64 {
            for (b, other) in [(b'\n', b'\r'), (b'\r', b'\n')] {
                let mut block = [0; 64];
                for (i, byte) in block.iter_mut().enumerate() {
                    *byte = near[i % near.len()];
                }
                block[k] = b;
                block[(k + 7) % 64] = other;
                let (returns, feeds) = returns_and_feeds(&block, 0);
                assert_eq!(
                    (returns, feeds),
                    (exact(&block, 0, b'\r'), exact(&block, 0, b'\n'))
                );
                assert_eq!(returns | feeds, 1 << k | 1 << ((k + 7) % 64));
            }
        }
    }

    /// A table from byte sets, one class per set (each set within one high nibble).
    fn table_of(sets: &[(u8, u16)]) -> NibbleTable {
        let classes: Vec<Vec<u8>> = sets
            .iter()
            .map(|&(high, lows)| {
                (0..16)
                    .filter(|low| lows >> low & 1 == 1)
                    .map(|low| (high & 15) << 4 | low)
                    .collect()
            })
            .collect();
        let classes: Vec<&[u8]> = classes.iter().map(Vec::as_slice).collect();
        NibbleTable::of(&classes)
    }

    #[test]
    fn classes_at_every_lane_and_length() {
        // `(`, `)` as class 0, bytes 0xE2 and 0xE3 as class 1, `\t` as class 2.
        let table = table_of(&[
            (0x2, 1 << 8 | 1 << 9),
            (0xE, 1 << 2 | 1 << 3),
            (0x0, 1 << 9),
        ]);
        for len in 1..=40 {
            for k in 0..len {
                for (b, classes) in [(b'(', 1), (b')', 1), (0xE2, 2), (0xE3, 2), (b'\t', 4)] {
                    let mut text = vec![b'a'; len];
                    text[k] = b;
                    assert_eq!(
                        Lookups::detect().classify(&text, &table).classes,
                        classes,
                        "{b:#x} at {k} of {len}"
                    );
                }
                // Near misses: same high or low nibble, another class's nibbles.
                let mut text = vec![b'a'; len];
                text[k] = [b'*', 0xE4, 0x19, 0xC8][k % 4];
                assert_eq!(Lookups::detect().classify(&text, &table).classes, 0);
            }
        }
    }

    proptest! {
        #[test]
        fn classify_matches_a_byte_by_byte_reading(
            text in proptest::collection::vec(prop_oneof![
                Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'('), Just(0xE2), Just(b'a'), any::<u8>(),
            ], 0..80),
            sets in proptest::collection::vec((1u8..16, any::<u16>()), 0..8),
        ) {
            // Zero bytes pad short texts, so they must be of no class: no set here has high
            // nibble 0.
            let table = table_of(&sets);
            prop_assert_eq!(Lookups::detect().classify(&text, &table), classify_bytes(&text, &table));
        }

        #[test]
        fn masks_match_a_byte_by_byte_reading(
            bytes in proptest::collection::vec(prop_oneof![
                Just(b'\n'), Just(b'\r'), Just(0x0B), Just(0x8D), Just(b'a'), any::<u8>(),
            ], 0..200),
            at in 0usize..200,
        ) {
            let (returns, feeds) = returns_and_feeds(&bytes, at);
            prop_assert_eq!(returns, exact(&bytes, at, b'\r'));
            prop_assert_eq!(feeds, exact(&bytes, at, b'\n'));
        }
    }
}
