//! Vectorisable transcendental kernels and counter-based random numbers.
//!
//! `std`'s `sin`/`cos` call libm one element at a time (~15 ns each here); elementwise
//! chains like `sin(x)**2 + cos(x)**2` are compute-bound, so the CPU backend evaluates
//! `sin`/`cos` over slices with branch-free code the compiler turns into AVX2:
//! Cody–Waite reduction by π/2 in three parts (exact for |x| < 2^19·π/2), fdlibm's
//! minimax polynomials on [-π/4, π/4], and a quadrant select. Elements with
//! |x| ≥ [`FAST_LIMIT`] (or non-finite) are recomputed with `std` in a scalar fix-up
//! pass. Accuracy is checked against `std` in the tests (≤ 2 ulp on random inputs).
//!
//! Random numbers are a pure function of `(seed, global element index)` (SplitMix64's
//! finaliser over a Weyl sequence), so an array has the same values whatever its
//! chunking and however many threads compute it.

// fdlibm's constants are kept digit for digit.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

/// Largest |x| handled by the fast path of [`sin_slice`] / [`cos_slice`].
pub const FAST_LIMIT: f64 = 1.0e5;

const PIO2_1: f64 = 1.570_796_326_734_125_614_17e+00;
const PIO2_2: f64 = 6.077_100_506_303_965_976_60e-11;
const PIO2_3: f64 = 2.022_266_248_711_166_455_80e-21;
const PIO2_3T: f64 = 8.478_427_660_368_899_569_97e-32;
const INV_PIO2: f64 = 6.366_197_723_675_813_824_33e-01;

const S1: f64 = -1.666_666_666_666_663_243_48e-01;
const S2: f64 = 8.333_333_333_322_489_461_24e-03;
const S3: f64 = -1.984_126_982_985_794_931_34e-04;
const S4: f64 = 2.755_731_370_707_006_767_89e-06;
const S5: f64 = -2.505_076_025_340_686_341_95e-08;
const S6: f64 = 1.589_690_995_211_550_102_21e-10;

const C1: f64 = 4.166_666_666_666_660_190_37e-02;
const C2: f64 = -1.388_888_888_887_410_957_49e-03;
const C3: f64 = 2.480_158_728_947_672_941_78e-05;
const C4: f64 = -2.755_731_435_139_066_330_35e-07;
const C5: f64 = 2.087_572_321_298_174_827_90e-09;
const C6: f64 = -1.135_964_755_778_819_482_65e-11;

/// 1.5 · 2^52: adding it rounds a double of magnitude < 2^51 to an integer (ties to
/// even) held in the low mantissa bits, without a libm call or an f64→i64 conversion,
/// so the loop vectorises on plain SSE2/AVX2.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

#[inline(always)]
fn reduce(x: f64) -> (f64, f64, i64) {
    let t = x * INV_PIO2 + ROUND_MAGIC;
    let q = (t.to_bits() & 3) as i64;
    let n = t - ROUND_MAGIC;
    let r1 = x - n * PIO2_1;
    let w1 = n * PIO2_2;
    let r2 = r1 - w1;
    let w2 = n * PIO2_3;
    let r = r2 - w2;
    // Low part of r for the polynomial correction term.
    let y = ((r1 - r2) - w1) + ((r2 - r) - w2) - n * PIO2_3T;
    (r, y, q)
}

#[inline(always)]
fn k_sin(x: f64, y: f64) -> f64 {
    let z = x * x;
    let v = z * x;
    let r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    x - ((z * (0.5 * y - v * r) - y) - v * S1)
}

#[inline(always)]
fn k_cos(x: f64, y: f64) -> f64 {
    let z = x * x;
    let r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

#[inline(always)]
fn sin_fast(x: f64) -> f64 {
    let (r, y, n) = reduce(x);
    let s = k_sin(r, y);
    let c = k_cos(r, y);
    let q = n & 3;
    let v = if q & 1 == 0 { s } else { c };
    if q & 2 == 0 { v } else { -v }
}

#[inline(always)]
fn cos_fast(x: f64) -> f64 {
    let (r, y, n) = reduce(x);
    let s = k_sin(r, y);
    let c = k_cos(r, y);
    let q = n & 3;
    let v = if q & 1 == 0 { c } else { s };
    if (q == 1) | (q == 2) { -v } else { v }
}

fn fixup(xs: &[f64], out: &mut [f64], f: fn(f64) -> f64) {
    let mut bad = false;
    for &x in xs {
        bad |= x.abs().partial_cmp(&FAST_LIMIT) != Some(std::cmp::Ordering::Less);
    }
    if bad {
        for (o, &x) in out.iter_mut().zip(xs) {
            if x.abs().partial_cmp(&FAST_LIMIT) != Some(std::cmp::Ordering::Less) {
                *o = f(x);
            }
        }
    }
}

#[inline(always)]
fn map_fast(xs: &[f64], out: &mut [f64], f: impl Fn(f64) -> f64) {
    for (o, &x) in out.iter_mut().zip(xs) {
        *o = f(x);
    }
}

/// The same loop compiled for AVX2 (4 lanes instead of SSE2's 2), chosen at run time.
/// No FMA is enabled, so both versions round identically: results do not depend on
/// the machine.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn map_fast_avx2(xs: &[f64], out: &mut [f64], sin: bool) {
    if sin {
        map_fast(xs, out, sin_fast)
    } else {
        map_fast(xs, out, cos_fast)
    }
}

fn map_dispatch(xs: &[f64], out: &mut [f64], sin: bool) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { map_fast_avx2(xs, out, sin) };
        return;
    }
    if sin {
        map_fast(xs, out, sin_fast)
    } else {
        map_fast(xs, out, cos_fast)
    }
}

#[inline(always)]
fn sincos_fast(xs: &[f64], s_out: &mut [f64], c_out: &mut [f64]) {
    for ((so, co), &x) in s_out.iter_mut().zip(c_out.iter_mut()).zip(xs) {
        let (r, y, q) = reduce(x);
        let s = k_sin(r, y);
        let c = k_cos(r, y);
        let (vs, vc) = if q & 1 == 0 { (s, c) } else { (c, s) };
        *so = if q & 2 == 0 { vs } else { -vs };
        *co = if (q == 1) | (q == 2) { -vc } else { vc };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sincos_avx2(xs: &[f64], s_out: &mut [f64], c_out: &mut [f64]) {
    sincos_fast(xs, s_out, c_out);
}

/// `sin` and `cos` of the same inputs in one pass (one range reduction): a fused
/// program that needs both, like `sin(x)**2 + cos(x)**2`, gets them for the price of
/// about one.
pub fn sincos_slice(xs: &[f64], s_out: &mut [f64], c_out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { sincos_avx2(xs, s_out, c_out) };
        fixup(xs, s_out, f64::sin);
        fixup(xs, c_out, f64::cos);
        return;
    }
    sincos_fast(xs, s_out, c_out);
    fixup(xs, s_out, f64::sin);
    fixup(xs, c_out, f64::cos);
}

/// `out[i] = low + (high - low) * uniform01(seed, stream, idx[i])`.
pub fn uniform_fill(seed: u64, stream: u64, low: f64, high: f64, idx: &[u64], out: &mut [f64]) {
    #[inline(always)]
    fn body(key: u64, low: f64, w: f64, idx: &[u64], out: &mut [f64]) {
        for (o, &i) in out.iter_mut().zip(idx) {
            let h = mix64(key.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
            *o = low + w * ((h >> 11) as f64 * (1.0 / (1u64 << 53) as f64));
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn body_avx2(key: u64, low: f64, w: f64, idx: &[u64], out: &mut [f64]) {
        body(key, low, w, idx, out);
    }
    let key = mix64(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { body_avx2(key, low, high - low, idx, out) };
        return;
    }
    body(key, low, high - low, idx, out);
}

/// `out[i] = sin(xs[i])`.
pub fn sin_slice(xs: &[f64], out: &mut [f64]) {
    map_dispatch(xs, out, true);
    fixup(xs, out, f64::sin);
}

/// `out[i] = cos(xs[i])`.
pub fn cos_slice(xs: &[f64], out: &mut [f64]) {
    map_dispatch(xs, out, false);
    fixup(xs, out, f64::cos);
}

/// SplitMix64's output function.
#[inline(always)]
#[must_use]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform double in [0, 1) for `(seed, i)`; `stream` separates independent draws.
#[inline(always)]
#[must_use]
pub fn uniform01(seed: u64, stream: u64, i: u64) -> f64 {
    let key = mix64(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let h = mix64(key.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        let scale = f64::EPSILON * b.abs().max(f64::MIN_POSITIVE);
        ((a - b) / scale).abs()
    }

    #[test]
    fn sin_cos_within_two_ulp_of_std() {
        let mut xs: Vec<f64> = (0..200_000).map(|i| (uniform01(7, 0, i) - 0.5) * 2.0e4).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            std::f64::consts::PI,
            1e6,
            -3e7,
            f64::INFINITY,
            f64::NAN,
        ]);
        let mut s = vec![0.0; xs.len()];
        let mut c = vec![0.0; xs.len()];
        sin_slice(&xs, &mut s);
        cos_slice(&xs, &mut c);
        for (i, &x) in xs.iter().enumerate() {
            if !x.is_finite() {
                assert!(s[i].is_nan() && c[i].is_nan());
                continue;
            }
            // Compare in absolute terms near zeros of the function, in ulps elsewhere.
            let (es, ec) = (x.sin(), x.cos());
            assert!(
                ulps(s[i], es) <= 2.0 || (s[i] - es).abs() < 1e-16,
                "sin({x}) = {} vs {es}",
                s[i]
            );
            assert!(
                ulps(c[i], ec) <= 2.0 || (c[i] - ec).abs() < 1e-16,
                "cos({x}) = {} vs {ec}",
                c[i]
            );
        }
    }

    #[test]
    fn sincos_and_fill_agree_with_the_scalar_versions() {
        let xs: Vec<f64> = (0..5000).map(|i| (uniform01(3, 0, i) - 0.5) * 3.0e5).collect();
        let (mut s, mut c, mut s1, mut c1) = (vec![0.0; 5000], vec![0.0; 5000], vec![0.0; 5000], vec![0.0; 5000]);
        sincos_slice(&xs, &mut s, &mut c);
        sin_slice(&xs, &mut s1);
        cos_slice(&xs, &mut c1);
        assert_eq!(s, s1);
        assert_eq!(c, c1);
        let idx: Vec<u64> = (100..200).collect();
        let mut u = vec![0.0; 100];
        uniform_fill(9, 1, 2.0, 3.0, &idx, &mut u);
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(u[k], 2.0 + uniform01(9, 1, i));
        }
    }

    #[test]
    fn uniform_is_in_unit_interval_and_seeded() {
        let a: Vec<f64> = (0..1000).map(|i| uniform01(1, 0, i)).collect();
        assert!(a.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = a.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05);
        assert_ne!(uniform01(1, 0, 5), uniform01(2, 0, 5));
        assert_eq!(uniform01(1, 0, 5), uniform01(1, 0, 5));
    }
}
