//! The f32 mean kernel of the axis-0 tile walk, in AVX-512 where the CPU has it.
//!
//! `nanmean(axis=0)` of a (time, lat, lon) f32 field adds each group of rows into f64
//! sums and counts (`MeanBank::rows` in [`super::reduce`]). The portable loop is
//! compiled for AVX2 (x86-64-v3): there a 16-column block costs four 4-wide loads,
//! compares, masks, widenings, adds and count updates per row — 24 instructions, and
//! the loop ran at ~6 G elements/s per core with the data in cache, under the 7+ a
//! core reads from memory here. AVX-512 does the same block in seven: one 16-wide load,
//! one compare into a mask register, two *masked* widenings that write +0.0 where the
//! element is NaN, two adds, one masked count increment: 8.5 G elements/s in cache,
//! and 19.5–22.0 GB/s on one core over the whole in-memory field against the AVX2
//! loop's 18.9 (both with the next-group prefetch; `benches/floor/mean_rows.c`, a C
//! copy of both loops).
//!
//! The arithmetic is the portable loop's, lane for lane: each column's rows are added
//! in row order to a +0.0 register, a skipped NaN adds +0.0, counts are i32 lanes, and
//! the register is added to the accumulator once per call. So the bits do not depend on
//! which loop ran (`wide_mean_loop_gives_the_bits_of_the_portable_one` in
//! `reduce/mod.rs` holds them equal).

use super::reduce::Prefetch;
use std::mem::MaybeUninit;

/// Whether this CPU runs [`add_f32`] and [`make_f32`] (checked once by `std`, then cached).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Adds `rows` (all at least `sum.len()` long) into `sum` and `cnt` for the whole
/// 16-column blocks of `sum`, skipping NaN when `NAN`, and returns how many columns it
/// did (0 where AVX-512 is not available); the caller does the rest.
pub(super) fn add_f32<const NAN: bool>(rows: &[&[f32]], pf: &Prefetch<f32>, sum: &mut [f64], cnt: &mut [f64]) -> usize {
    let l = sum.len().min(cnt.len());
    if !usable(rows, l) {
        return 0;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has AVX-512 F and DQ and every row holds `l` columns (`usable`);
    // `sum` and `cnt` hold `l` initialised values each.
    unsafe {
        x86::rows_f32::<NAN, false>(rows, pf, sum.as_mut_ptr(), cnt.as_mut_ptr(), l)
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// [`add_f32`] for accumulators still to be made: the first `done` (returned) values of
/// `sum` and `cnt` are *written*, as the sums and counts of `rows` alone, and the rest
/// left as they are. Writing `s` gives the bits of adding `s` to the identity: `s`
/// starts at +0.0 and a sum that starts at +0.0 is never −0.0, so `0.0 + s == s`
/// bit for bit (NaN included), and counts are whole numbers. So a fresh partial is
/// not zero-filled first (that fill was 8% of an in-memory `nanmean(axis=0)`).
pub(super) fn make_f32<const NAN: bool>(
    rows: &[&[f32]],
    pf: &Prefetch<f32>,
    sum: &mut [MaybeUninit<f64>],
    cnt: &mut [MaybeUninit<f64>],
) -> usize {
    let l = sum.len().min(cnt.len());
    if !usable(rows, l) {
        return 0;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `add_f32`; with FIRST the kernel only writes `sum` and `cnt`.
    unsafe {
        x86::rows_f32::<NAN, true>(rows, pf, sum.as_mut_ptr().cast(), cnt.as_mut_ptr().cast(), l)
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// Whether the AVX-512 loop can take `rows` over `l` columns.
fn usable(rows: &[&[f32]], l: usize) -> bool {
    available() && rows.len() <= i32::MAX as usize && rows.iter().all(|r| r.len() >= l)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Prefetch;
    use std::arch::x86_64::{
        __mmask8, __mmask16, _CMP_ORD_Q, _mm512_add_epi32, _mm512_add_pd, _mm512_castps512_ps256,
        _mm512_castsi512_si256, _mm512_cmp_ps_mask, _mm512_cvtepi32_pd, _mm512_extractf32x8_ps,
        _mm512_extracti32x8_epi32, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask_add_epi32, _mm512_maskz_cvtps_pd,
        _mm512_set1_epi32, _mm512_setzero_pd, _mm512_setzero_si512, _mm512_storeu_pd,
    };

    /// Columns per block: one 512-bit register of f32.
    const LANES: usize = 16;

    /// [`super::add_f32`] (`FIRST` false) and [`super::make_f32`] (`FIRST` true).
    ///
    /// # Safety
    /// The CPU has AVX-512 F and DQ; `sum` and `cnt` are valid for `l` writes, and for
    /// `l` reads of initialised values unless `FIRST`; every row holds at least `l`
    /// elements.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn rows_f32<const NAN: bool, const FIRST: bool>(
        rows: &[&[f32]],
        pf: &Prefetch<f32>,
        sum: *mut f64,
        cnt: *mut f64,
        l: usize,
    ) -> usize {
        let one = _mm512_set1_epi32(1);
        let mut c = 0;
        while c + LANES <= l {
            let (mut lo, mut hi, mut n) = (_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_si512());
            for (i, r) in rows.iter().enumerate() {
                pf.at(i, c);
                // SAFETY: `c + LANES <= l <= r.len()`.
                let x = unsafe { _mm512_loadu_ps(r.as_ptr().add(c)) };
                let keep: __mmask16 = if NAN {
                    _mm512_cmp_ps_mask::<_CMP_ORD_Q>(x, x)
                } else {
                    0xffff
                };
                lo = _mm512_add_pd(lo, _mm512_maskz_cvtps_pd(keep as __mmask8, _mm512_castps512_ps256(x)));
                hi = _mm512_add_pd(
                    hi,
                    _mm512_maskz_cvtps_pd((keep >> 8) as __mmask8, _mm512_extractf32x8_ps::<1>(x)),
                );
                n = if NAN {
                    _mm512_mask_add_epi32(n, keep, n, one)
                } else {
                    _mm512_add_epi32(n, one)
                };
            }
            let (n_lo, n_hi) = (
                _mm512_cvtepi32_pd(_mm512_castsi512_si256(n)),
                _mm512_cvtepi32_pd(_mm512_extracti32x8_epi32::<1>(n)),
            );
            // SAFETY: `c + LANES <= l`, and `sum`, `cnt` are valid for `l` values
            // (read only when not FIRST).
            unsafe {
                let (s, k) = (sum.add(c), cnt.add(c));
                if FIRST {
                    _mm512_storeu_pd(s, lo);
                    _mm512_storeu_pd(s.add(8), hi);
                    _mm512_storeu_pd(k, n_lo);
                    _mm512_storeu_pd(k.add(8), n_hi);
                } else {
                    _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), lo));
                    _mm512_storeu_pd(s.add(8), _mm512_add_pd(_mm512_loadu_pd(s.add(8)), hi));
                    _mm512_storeu_pd(k, _mm512_add_pd(_mm512_loadu_pd(k), n_lo));
                    _mm512_storeu_pd(k.add(8), _mm512_add_pd(_mm512_loadu_pd(k.add(8)), n_hi));
                }
            }
            c += LANES;
        }
        c
    }
}
