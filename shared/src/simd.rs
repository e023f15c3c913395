//! Byte tests sixty-four bytes at a time, as bit masks (byte `k` of a block to bit `k`), with the
//! vector instructions every target of the project has: SSE2 on x86-64 (where tests and
//! benchmarks run), NEON on arm64 (where the functions run). Other targets, and the last partial
//! block of a text, read byte by byte.
//!
//! The only `unsafe` of the crate is here: calls of vector intrinsics whose target feature the
//! `cfg` guarantees, and loads of sixteen bytes from a block that has them.

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
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };

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
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };

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

    proptest! {
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
