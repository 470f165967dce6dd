//! AVX2 + FMA micro-kernels (x86-64, chosen at run time), and an AVX-512 one for f64.
//!
//! `f64`: a 6 × 8 tile in twelve 4-lane accumulators; `f32`: a 6 × 16 tile in twelve
//! 8-lane accumulators. Per depth step the kernel loads two vectors of the `B` panel,
//! broadcasts six values of the `A` panel and issues twelve FMAs: with two FMA pipes
//! that is six cycles of FMAs against eight loads, so the FMA pipes stay busy (the
//! shape BLIS uses on AMD Zen). The A panel is prefetched into L1 eight unrolled steps
//! ahead and the C tile before the loop: without the prefetches the same loop ran at
//! 30 GFLOP/s on one core here, with them 36–40 (the tile alone, in L1: 48).
//!
//! The cache blocking (`MC`, `KC`, `NC`) keeps an `A` block in L2
//! (`96 × 256 × 8` B = 192 KiB of the 512 KiB) and a `B` slab of 2 MiB in L3 per core,
//! so two cores' slabs share the L3 without evicting each other (measured with
//! `examples/gemm_rate`: NC 1024 gave 75–81 GFLOP/s on two cores, NC 4080 67–78).

use super::packed::MicroKernel;
use std::arch::x86_64::*;

/// Whether this CPU can run these kernels.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

macro_rules! kernel {
    ($name:ident, $t:ty, $lanes:expr, $mc:expr, $kc:expr, $nc:expr,
     $vec:ty, $zero:ident, $load:ident, $store:ident, $bcast:ident, $fma:ident, $add:ident) => {
        kernel!(
            $name, "avx2,fma", $t, $lanes, $mc, $kc, $nc, $vec, $zero, $load, $store, $bcast, $fma, $add
        );
    };
    ($name:ident, $feat:literal, $t:ty, $lanes:expr, $mc:expr, $kc:expr, $nc:expr,
     $vec:ty, $zero:ident, $load:ident, $store:ident, $bcast:ident, $fma:ident, $add:ident) => {
        pub(crate) struct $name;

        impl MicroKernel for $name {
            type T = $t;
            const MR: usize = 6;
            const NR: usize = 2 * $lanes;
            const MC: usize = $mc;
            const KC: usize = $kc;
            const NC: usize = $nc;

            #[inline(always)]
            unsafe fn tile(kc: usize, a: *const $t, b: *const $t, c: *mut $t, ldc: usize) {
                // SAFETY: forwarded; `available()` was checked by the dispatcher.
                unsafe { tile_impl(kc, a, b, c, ldc) }
            }
        }

        #[target_feature(enable = $feat)]
        unsafe fn tile_impl(kc: usize, a: *const $t, b: *const $t, c: *mut $t, ldc: usize) {
            const L: usize = $lanes;
            // How far ahead (elements) the A panel is prefetched into L1.
            const PF_A: usize = 8 * 24;
            let mut acc: [[$vec; 2]; 6] = [[$zero(); 2]; 6];
            let (mut a, mut b) = (a, b);
            // SAFETY: the caller guarantees kc·6 elements behind `a`, kc·2L behind `b`
            // and a 6 × 2L tile of stride `ldc` behind `c`.
            unsafe {
                for i in 0..6 {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc).cast::<i8>());
                    _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + 2 * L - 1).cast::<i8>());
                }
                let step = |acc: &mut [[$vec; 2]; 6], a: *const $t, b: *const $t| {
                    let b0 = $load(b);
                    let b1 = $load(b.add(L));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $bcast(&*a.add(i));
                        row[0] = $fma(ai, b0, row[0]);
                        row[1] = $fma(ai, b1, row[1]);
                    }
                };
                for _ in 0..kc / 4 {
                    // Four steps read 24 values of A: up to three cache lines.
                    let ahead = a.wrapping_add(PF_A).cast::<i8>();
                    for line in 0..3 {
                        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64 * line));
                    }
                    for u in 0..4 {
                        step(&mut acc, a.add(6 * u), b.add(2 * L * u));
                    }
                    a = a.add(24);
                    b = b.add(8 * L);
                }
                for _ in 0..kc % 4 {
                    step(&mut acc, a, b);
                    a = a.add(6);
                    b = b.add(2 * L);
                }
                for (i, row) in acc.iter().enumerate() {
                    let r = c.add(i * ldc);
                    $store(r, $add($load(r), row[0]));
                    $store(r.add(L), $add($load(r.add(L)), row[1]));
                }
            }
        }
    };
}

pub(super) mod f64k {
    use super::*;
    kernel!(
        Avx2F64,
        f64,
        4,
        72,
        256,
        4080,
        __m256d,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_broadcast_sd,
        _mm256_fmadd_pd,
        _mm256_add_pd
    );
}

pub(super) mod f32k {
    use super::*;
    kernel!(
        Avx2F32,
        f32,
        8,
        144,
        256,
        4080,
        __m256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_broadcast_ss,
        _mm256_fmadd_ps,
        _mm256_add_ps
    );
}

/// Whether this CPU can run the AVX-512 f64 kernel: the same 6-row tile, 16 columns
/// wide in twelve 8-lane registers. Each element is still one FMA chain over the depth
/// in the same order, so the bits are the AVX2 kernel's (a test holds them equal). On
/// this project's Zen 4, whose 512-bit FMAs take two 256-bit halves, it is not wider
/// in FLOPs, but each step's 2 loads, 6 broadcasts and 12 FMAs do twice the
/// multiply-adds, so a core issues half the instructions per multiply-add:
/// `examples/gemm_rate` 2000² block products on 2 cores 80–99 GFLOP/s against 74–78
/// for the AVX2 kernel in the same rounds, the 8000² `matmul` workload 13.1–13.7 s
/// against 14.0–16.1 s.
pub(super) fn available512() -> bool {
    is_x86_feature_detected!("avx512f")
}

pub(super) mod f64z {
    use super::*;
    /// `x` in all eight lanes (AVX-512 has no broadcast that takes a reference).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn bcast(x: &f64) -> __m512d {
        _mm512_set1_pd(*x)
    }
    kernel!(
        Avx512F64,
        "avx512f",
        f64,
        8,
        72,
        256,
        4080,
        __m512d,
        _mm512_setzero_pd,
        _mm512_loadu_pd,
        _mm512_storeu_pd,
        bcast,
        _mm512_fmadd_pd,
        _mm512_add_pd
    );
}
