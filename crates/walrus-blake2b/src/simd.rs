//! Eight 64-bit lanes, three ways: AVX-512 (one `zmm` register), AVX2 (two `ymm` registers)
//! and plain integers.
//!
//! The SIMD types call `core::arch` intrinsics, which are only sound on a CPU that has the
//! instruction set. Values of [`Avx512`] and [`Avx2`] are only ever created inside the entry
//! points of `lib.rs` compiled for that instruction set, and those are only called after
//! run-time detection; every `unsafe` block below relies on that.

/// The most lanes any backend has.
pub const MAX_LANES: usize = 8;

/// Up to [`MAX_LANES`] 64-bit words with the operations Blake2b needs.
pub trait Vector: Copy {
    /// Lanes in one value (at most [`MAX_LANES`]).
    const LANES: usize;
    /// Every lane set to `word`.
    fn splat(word: u64) -> Self;
    /// Lane `i` set to `words[i]`, for `i < LANES`.
    fn load(words: &[u64; MAX_LANES]) -> Self;
    /// Writes lane `i` to `out[i]`, for `i < LANES`.
    fn store(self, out: &mut [u64; MAX_LANES]);
    /// Lane-wise wrapping addition.
    fn add(self, other: Self) -> Self;
    /// Lane-wise exclusive or.
    fn xor(self, other: Self) -> Self;
    /// Lane-wise or.
    fn or(self, other: Self) -> Self;
    /// Rotate each lane right by 32 bits.
    fn rotr32(self) -> Self;
    /// Rotate each lane right by 24 bits.
    fn rotr24(self) -> Self;
    /// Rotate each lane right by 16 bits.
    fn rotr16(self) -> Self;
    /// Rotate each lane right by 63 bits.
    fn rotr63(self) -> Self;
    /// Shift each lane left by 8 bits.
    fn shl8(self) -> Self;
    /// Shift each lane right by 56 bits.
    fn shr56(self) -> Self;
}

/// One lane in a plain integer: the fallback where no SIMD backend applies. (Eight lanes of
/// plain integers would leave the work to the compiler's auto-vectorizer, which takes
/// minutes to compile this kernel and produces slower code than one hash at a time.)
#[derive(Clone, Copy)]
pub struct Scalar(u64);

impl Vector for Scalar {
    const LANES: usize = 1;
    #[inline(always)]
    fn splat(word: u64) -> Self {
        Scalar(word)
    }
    #[inline(always)]
    fn load(words: &[u64; MAX_LANES]) -> Self {
        Scalar(words[0])
    }
    #[inline(always)]
    fn store(self, out: &mut [u64; MAX_LANES]) {
        out[0] = self.0;
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Scalar(self.0.wrapping_add(other.0))
    }
    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        Scalar(self.0 ^ other.0)
    }
    #[inline(always)]
    fn or(self, other: Self) -> Self {
        Scalar(self.0 | other.0)
    }
    #[inline(always)]
    fn rotr32(self) -> Self {
        Scalar(self.0.rotate_right(32))
    }
    #[inline(always)]
    fn rotr24(self) -> Self {
        Scalar(self.0.rotate_right(24))
    }
    #[inline(always)]
    fn rotr16(self) -> Self {
        Scalar(self.0.rotate_right(16))
    }
    #[inline(always)]
    fn rotr63(self) -> Self {
        Scalar(self.0.rotate_right(63))
    }
    #[inline(always)]
    fn shl8(self) -> Self {
        Scalar(self.0 << 8)
    }
    #[inline(always)]
    fn shr56(self) -> Self {
        Scalar(self.0 >> 56)
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Vector, MAX_LANES};

    /// Eight lanes in one AVX-512 register.
    #[derive(Clone, Copy)]
    pub struct Avx512(__m512i);

    // SAFETY (every block in this impl): `Avx512` values exist only inside functions compiled
    // with AVX-512F and called after run-time detection (see the module docs).
    impl Vector for Avx512 {
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(word: u64) -> Self {
            Avx512(unsafe { _mm512_set1_epi64(word as i64) })
        }
        #[inline(always)]
        fn load(words: &[u64; MAX_LANES]) -> Self {
            Avx512(unsafe { _mm512_loadu_si512(words.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [u64; MAX_LANES]) {
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), self.0) };
        }
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            Avx512(unsafe { _mm512_add_epi64(self.0, other.0) })
        }
        #[inline(always)]
        fn xor(self, other: Self) -> Self {
            Avx512(unsafe { _mm512_xor_si512(self.0, other.0) })
        }
        #[inline(always)]
        fn or(self, other: Self) -> Self {
            Avx512(unsafe { _mm512_or_si512(self.0, other.0) })
        }
        #[inline(always)]
        fn rotr32(self) -> Self {
            Avx512(unsafe { _mm512_ror_epi64::<32>(self.0) })
        }
        #[inline(always)]
        fn rotr24(self) -> Self {
            Avx512(unsafe { _mm512_ror_epi64::<24>(self.0) })
        }
        #[inline(always)]
        fn rotr16(self) -> Self {
            Avx512(unsafe { _mm512_ror_epi64::<16>(self.0) })
        }
        #[inline(always)]
        fn rotr63(self) -> Self {
            Avx512(unsafe { _mm512_ror_epi64::<63>(self.0) })
        }
        #[inline(always)]
        fn shl8(self) -> Self {
            Avx512(unsafe { _mm512_slli_epi64::<8>(self.0) })
        }
        #[inline(always)]
        fn shr56(self) -> Self {
            Avx512(unsafe { _mm512_srli_epi64::<56>(self.0) })
        }
    }

    /// Eight lanes in two AVX2 registers.
    #[derive(Clone, Copy)]
    pub struct Avx2(__m256i, __m256i);

    impl Avx2 {
        #[inline(always)]
        fn map(self, f: impl Fn(__m256i) -> __m256i) -> Self {
            Avx2(f(self.0), f(self.1))
        }

        #[inline(always)]
        fn zip(self, other: Self, f: impl Fn(__m256i, __m256i) -> __m256i) -> Self {
            Avx2(f(self.0, other.0), f(self.1, other.1))
        }

        /// Rotates every lane right by whole bytes, with a byte shuffle.
        #[inline(always)]
        fn rotr_bytes(self, by: u8) -> Self {
            let index = |i: u8| (i & !7) | ((i + by) & 7);
            let table: [u8; 32] = std::array::from_fn(|i| index(i as u8 % 16));
            // SAFETY: see the impl below.
            let mask = unsafe { _mm256_loadu_si256(table.as_ptr().cast()) };
            self.map(|a| unsafe { _mm256_shuffle_epi8(a, mask) })
        }
    }

    // SAFETY (every block in this impl): `Avx2` values exist only inside functions compiled
    // with AVX2 and called after run-time detection (see the module docs).
    impl Vector for Avx2 {
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(word: u64) -> Self {
            let a = unsafe { _mm256_set1_epi64x(word as i64) };
            Avx2(a, a)
        }
        #[inline(always)]
        fn load(words: &[u64; MAX_LANES]) -> Self {
            unsafe {
                Avx2(
                    _mm256_loadu_si256(words.as_ptr().cast()),
                    _mm256_loadu_si256(words[4..].as_ptr().cast()),
                )
            }
        }
        #[inline(always)]
        fn store(self, out: &mut [u64; MAX_LANES]) {
            unsafe {
                _mm256_storeu_si256(out.as_mut_ptr().cast(), self.0);
                _mm256_storeu_si256(out[4..].as_mut_ptr().cast(), self.1);
            }
        }
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            self.zip(other, |a, b| unsafe { _mm256_add_epi64(a, b) })
        }
        #[inline(always)]
        fn xor(self, other: Self) -> Self {
            self.zip(other, |a, b| unsafe { _mm256_xor_si256(a, b) })
        }
        #[inline(always)]
        fn or(self, other: Self) -> Self {
            self.zip(other, |a, b| unsafe { _mm256_or_si256(a, b) })
        }
        #[inline(always)]
        fn rotr32(self) -> Self {
            self.map(|a| unsafe { _mm256_shuffle_epi32::<0b10_11_00_01>(a) })
        }
        #[inline(always)]
        fn rotr24(self) -> Self {
            self.rotr_bytes(3)
        }
        #[inline(always)]
        fn rotr16(self) -> Self {
            self.rotr_bytes(2)
        }
        #[inline(always)]
        fn rotr63(self) -> Self {
            self.map(|a| unsafe { _mm256_or_si256(_mm256_add_epi64(a, a), _mm256_srli_epi64::<63>(a)) })
        }
        #[inline(always)]
        fn shl8(self) -> Self {
            self.map(|a| unsafe { _mm256_slli_epi64::<8>(a) })
        }
        #[inline(always)]
        fn shr56(self) -> Self {
            self.map(|a| unsafe { _mm256_srli_epi64::<56>(a) })
        }
    }
}
