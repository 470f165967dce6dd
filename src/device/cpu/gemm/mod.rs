//! Block matrix products: `c += a · b` for C-order row-major blocks.
//!
//! Floats run through our packed, cache-blocked GEMM (`packed`) with AVX2/FMA
//! micro-kernels (`avx2`; f64 in AVX-512 where the CPU has it) when the CPU has them
//! (checked once at run time), else
//! through ndarray's `general_mat_mul` (`matrixmultiply`). Single-threaded: the
//! scheduler already runs one block product per core. Integers (and bools, as 0/1)
//! use a plain `i-k-j` loop with wrapping arithmetic, as NumPy's integer matmul does.

use ndarray::{ArrayView2, ArrayViewMut2};

#[cfg(target_arch = "x86_64")]
mod avx2;
mod packed;

/// Whether float products use the packed AVX2 (f64: AVX-512 where available) kernels (else `matrixmultiply`).
pub fn uses_packed_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(avx2::available)
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether f64 products use the AVX-512 micro-kernel (checked once).
#[cfg(target_arch = "x86_64")]
fn wide_f64() -> bool {
    static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WIDE.get_or_init(avx2::available512)
}

/// The f64 micro-kernel's own rate in GFLOP/s, on panels that stay in L1: the ceiling
/// a block product can approach on this core (`None` without the packed kernels).
pub fn kernel_peak_gflops(reps: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    if uses_packed_kernels() {
        use packed::MicroKernel;
        type K = avx2::f64k::Avx2F64;
        let kc = 256;
        let a = vec![1.0f64; kc * K::MR];
        let b = vec![0.5f64; kc * K::NR];
        let mut c = vec![0.0f64; K::MR * K::NR];
        let t = std::time::Instant::now();
        for _ in 0..reps {
            // SAFETY: the panels hold kc·MR and kc·NR values, the tile MR·NR with
            // stride NR; the CPU has AVX2 and FMA.
            unsafe { K::tile(kc, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), K::NR) };
            std::hint::black_box(&mut c);
        }
        let flops = 2.0 * (reps * kc * K::MR * K::NR) as f64;
        return Some(flops / t.elapsed().as_secs_f64() / 1e9);
    }
    let _ = reps;
    None
}

/// `c (m×n) += a (m×k) · b (k×n)` through `matrixmultiply`, whatever the CPU: the
/// portable path, kept callable for comparisons.
pub fn gemm_acc_portable<T: ndarray::LinalgScalar>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    let a = ArrayView2::from_shape((m, k), &a[..m * k]).expect("a block of m×k");
    let b = ArrayView2::from_shape((k, n), &b[..k * n]).expect("a block of k×n");
    let mut c = ArrayViewMut2::from_shape((m, n), &mut c[..m * n]).expect("a block of m×n");
    ndarray::linalg::general_mat_mul(T::one(), &a, &b, T::one(), &mut c);
}

/// Element types a block product runs in.
pub trait Gemm: Copy + Send + Sync + 'static {
    /// `c (m×n) += a (m×k) · b (k×n)`.
    fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize);
}

macro_rules! gemm_float {
    ($($t:ty => $kernel:path),*) => {$(
        impl Gemm for $t {
            fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize) {
                #[cfg(target_arch = "x86_64")]
                if uses_packed_kernels() {
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    unsafe { packed::gemm::<$kernel>(a, b, c, m, k, n) };
                    return;
                }
                gemm_acc_portable(a, b, c, m, k, n);
            }
        }
    )*};
}
gemm_float!(f32 => avx2::f32k::Avx2F32);

impl Gemm for f64 {
    fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize) {
        #[cfg(target_arch = "x86_64")]
        if uses_packed_kernels() {
            if wide_f64() {
                // SAFETY: the CPU has AVX-512 F (checked above).
                unsafe { packed::gemm::<avx2::f64z::Avx512F64>(a, b, c, m, k, n) };
                return;
            }
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { packed::gemm::<avx2::f64k::Avx2F64>(a, b, c, m, k, n) };
            return;
        }
        gemm_acc_portable(a, b, c, m, k, n);
    }
}

macro_rules! gemm_int {
    ($($t:ty),*) => {$(
        impl Gemm for $t {
            fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize) {
                for i in 0..m {
                    let crow = &mut c[i * n..(i + 1) * n];
                    for p in 0..k {
                        let av = a[i * k + p];
                        if av == 0 {
                            continue;
                        }
                        for (cv, &bv) in crow.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                            *cv = cv.wrapping_add(av.wrapping_mul(bv));
                        }
                    }
                }
            }
        }
    )*};
}
gemm_int!(i64, u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_f64_kernel_gives_the_bits_of_the_avx2_one() {
        // Edge tiles in both directions (13 = 2·6 + 1 rows, 37 = 2·16 + 5 columns), a
        // depth over one KC block (300 > 256), and a C that is added to.
        if !(avx2::available() && avx2::available512()) {
            eprintln!("no AVX-512 here: nothing to compare");
            return;
        }
        let (m, k, n) = (13, 300, 37);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7919) % 1009) as f64 / 97.0 - 5.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 104_729) % 997) as f64 / 89.0 - 5.5).collect();
        let c0: Vec<f64> = (0..m * n).map(|i| i as f64 * 0.1).collect();
        let (mut c2, mut c5) = (c0.clone(), c0.clone());
        // SAFETY: the CPU has AVX2, FMA and AVX-512 F (checked above).
        unsafe {
            packed::gemm::<avx2::f64k::Avx2F64>(&a, &b, &mut c2, m, k, n);
            packed::gemm::<avx2::f64z::Avx512F64>(&a, &b, &mut c5, m, k, n);
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&c5), bits(&c2));
        let want: f64 = (0..k).map(|p| a[12 * k + p] * b[p * n + 36]).sum::<f64>() + c0[12 * n + 36];
        assert!((c5[12 * n + 36] - want).abs() < 1e-9 * want.abs().max(1.0));
    }

    #[test]
    fn small_products() {
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2×3
        let b = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3×2
        let mut c = [1.0f64; 4];
        f64::gemm_acc(&a, &b, &mut c, 2, 3, 2);
        assert_eq!(c, [5.0, 6.0, 11.0, 12.0]);
        let mut ci = [0i64; 4];
        i64::gemm_acc(&[1, 2, 3, 4, 5, 6], &[1, 0, 0, 1, 1, 1], &mut ci, 2, 3, 2);
        assert_eq!(ci, [4, 5, 10, 11]);
    }

    /// `c + a·b` with f64 accumulation, the unblocked reference.
    fn naive<T: Copy + Into<f64>>(a: &[T], b: &[T], c: &[T], m: usize, k: usize, n: usize) -> Vec<f64> {
        (0..m * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                c[ij].into() + (0..k).map(|p| a[i * k + p].into() * b[p * n + j].into()).sum::<f64>()
            })
            .collect()
    }

    fn check<T: Gemm + Copy + Into<f64> + ndarray::LinalgScalar>(from: fn(f64) -> T, tol: f64) {
        // Shapes on both sides of every tile and block edge (MR 6, NR 8/16, MC 72/144,
        // KC 256), degenerate ones included.
        let shapes = [
            (1, 1, 1),
            (6, 8, 16),
            (7, 9, 17),
            (5, 1, 3),
            (1, 300, 1),
            (13, 257, 33),
            (73, 256, 15),
            (145, 513, 40),
            (200, 30, 4100),
            (0, 5, 3),
            (4, 0, 3),
        ];
        for (m, k, n) in shapes {
            let a: Vec<T> = (0..m * k).map(|i| from(((i * 37) % 101) as f64 / 50.0 - 1.0)).collect();
            let b: Vec<T> = (0..k * n).map(|i| from(((i * 53) % 97) as f64 / 48.0 - 1.0)).collect();
            let c0: Vec<T> = (0..m * n).map(|i| from((i % 7) as f64)).collect();
            let want = naive(&a, &b, &c0, m, k, n);
            for (path, got) in [
                ("dispatch", {
                    let mut c = c0.clone();
                    T::gemm_acc(&a, &b, &mut c, m, k, n);
                    c
                }),
                ("portable", {
                    let mut c = c0.clone();
                    gemm_acc_portable(&a, &b, &mut c, m, k, n);
                    c
                }),
            ] {
                for (ij, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    let g: f64 = g.into();
                    assert!(
                        (g - w).abs() <= tol * (1.0 + w.abs()) * (k.max(1) as f64).sqrt(),
                        "{path} {m}x{k}x{n} at {ij}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn packed_products_match_the_reference_across_tile_edges() {
        check::<f64>(|v| v, 1e-14);
        check::<f32>(|v| v as f32, 1e-6);
    }

    #[test]
    fn products_are_bit_identical_on_every_thread() {
        let (m, k, n) = (50, 300, 70);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64).cos()).collect();
        let run = || {
            let mut c = vec![0.0f64; m * n];
            f64::gemm_acc(&a, &b, &mut c, m, k, n);
            c
        };
        let here = run();
        let there = std::thread::scope(|s| s.spawn(run).join().expect("thread"));
        assert!(here.iter().zip(&there).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
