//! Byte tests sixty-four bytes at a time, as bit masks (byte `k` of a block to bit `k`), with the
//! vector instructions every target of the project has: SSE2 on x86-64 (where tests and
//! benchmarks run), NEON on arm64 (where the functions run). Other targets, and the last partial
//! block of a text, take the word-at-a-time tests of `text::swar`.
//!
//! The only `unsafe` of the crate is here: calls of vector intrinsics whose target feature the
//! `cfg` guarantees, and loads of sixteen bytes from a block that has them.

use crate::text::swar;

/// One bit per byte of the 64 from `at`: set for every `\n` and `\r`. The word-at-a-time path
/// also flags vertical tabs and form feeds, so callers check the byte.
#[inline]
pub(crate) fn line_break_candidates(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..).and_then(<[u8]>::first_chunk::<64>) {
        Some(block) => vector::line_breaks(block),
        None => swar::line_break_candidates(bytes, at),
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod vector {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// `\n` and `\r`, exactly.
    #[inline]
    pub(super) fn line_breaks(block: &[u8; 64]) -> u64 {
        let mut bits = 0;
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is enabled (the `cfg` above); the load reads the sixteen bytes of
            // `chunk`, unaligned loads being allowed.
            let mask = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                let feeds = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
                let returns = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8));
                _mm_movemask_epi8(_mm_or_si128(feeds, returns))
            };
            // The mask is sixteen bits, one per byte.
            bits |= u64::from(mask as u16) << (16 * k);
        }
        bits
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod vector {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vorrq_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };

    /// Each byte's weight in the byte of the mask it ends in: bit `k % 8`.
    const WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];

    /// `\n` and `\r`, exactly.
    #[inline]
    pub(super) fn line_breaks(block: &[u8; 64]) -> u64 {
        // SAFETY: NEON is enabled (the `cfg` above); each load reads sixteen bytes of `block`
        // (at 0, 16, 32 and 48 of its 64) or of `WEIGHTS`.
        unsafe {
            let weights = vld1q_u8(WEIGHTS.as_ptr());
            let (feed, ret) = (vdupq_n_u8(b'\n'), vdupq_n_u8(b'\r'));
            let hits = |k: usize| -> uint8x16_t {
                let v = vld1q_u8(block.as_ptr().add(16 * k));
                vandq_u8(vorrq_u8(vceqq_u8(v, feed), vceqq_u8(v, ret)), weights)
            };
            // Pairwise sums, three times: each byte of the first eight ends up the sum of the
            // weights of eight bytes in a row, that is their bits.
            let sums = vpaddq_u8(vpaddq_u8(hits(0), hits(1)), vpaddq_u8(hits(2), hits(3)));
            vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(sums, sums)))
        }
    }
}

#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod vector {
    use crate::text::swar;

    /// Line-break candidates, as the word-at-a-time test finds them.
    #[inline]
    pub(super) fn line_breaks(block: &[u8; 64]) -> u64 {
        swar::line_break_candidates(block, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bits a byte-by-byte reading gives.
    fn exact(bytes: &[u8], at: usize) -> u64 {
        (0..64).fold(0, |bits, k| match bytes.get(at + k) {
            Some(b'\n' | b'\r') => bits | 1 << k,
            _ => bits,
        })
    }

    #[test]
    fn every_lane_of_a_block() {
        // A break at each of the 64 places, alone among bytes that differ from a break in one bit
        // (a vertical tab, a form feed, the break with its high bit set, `\x0E`, `\x08`).
        let near = [0x0B, 0x0C, 0x8A, 0x8D, 0x0E, 0x08, b'a'];
        for k in 0..64 {
            for b in [b'\n', b'\r'] {
                let mut block = [0; 64];
                for (i, byte) in block.iter_mut().enumerate() {
                    *byte = near[i % near.len()];
                }
                block[k] = b;
                let bits = line_break_candidates(&block, 0);
                assert_eq!(bits & exact(&block, 0), 1 << k);
                if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                    assert_eq!(bits, 1 << k, "break {b:#x} at {k}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn line_breaks_match_a_byte_by_byte_reading(
            bytes in proptest::collection::vec(prop_oneof![
                Just(b'\n'), Just(b'\r'), Just(0x0B), Just(0x0C), Just(b'a'), any::<u8>(),
            ], 0..200),
            at in 0usize..200,
        ) {
            let bits = line_break_candidates(&bytes, at);
            let want = exact(&bytes, at);
            // Every break is flagged; anything else flagged is a vertical tab or form feed.
            prop_assert_eq!(bits & want, want);
            for k in 0..64 {
                if bits >> k & 1 == 1 && want >> k & 1 == 0 {
                    prop_assert!(matches!(bytes.get(at + k), Some(0x0B | 0x0C)));
                }
            }
            // A whole block on a vector path is exact.
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) && bytes.len() >= at + 64 {
                prop_assert_eq!(bits, want);
            }
        }
    }
}
