//! Block matrix products: `c += a · b` for C-order row-major blocks.
//!
//! Floats go through ndarray's `general_mat_mul`, which calls `matrixmultiply`'s packed,
//! cache-blocked kernels (AVX2/FMA selected at run time): single-threaded, because the
//! scheduler already runs one block product per core. Integers (and bools, as 0/1)
//! use a plain `i-k-j` loop with wrapping arithmetic, as NumPy's integer matmul does.

use ndarray::{ArrayView2, ArrayViewMut2};

/// Element types a block product runs in.
pub trait Gemm: Copy + Send + Sync + 'static {
    /// `c (m×n) += a (m×k) · b (k×n)`.
    fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize);
}

macro_rules! gemm_float {
    ($($t:ty),*) => {$(
        impl Gemm for $t {
            fn gemm_acc(a: &[Self], b: &[Self], c: &mut [Self], m: usize, k: usize, n: usize) {
                let a = ArrayView2::from_shape((m, k), a).expect("a block of m×k");
                let b = ArrayView2::from_shape((k, n), b).expect("a block of k×n");
                let mut c = ArrayViewMut2::from_shape((m, n), c).expect("a block of m×n");
                ndarray::linalg::general_mat_mul(1.0, &a, &b, 1.0, &mut c);
            }
        }
    )*};
}
gemm_float!(f32, f64);

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
}
