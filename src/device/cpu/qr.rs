//! Reduced QR of a small dense block by Householder reflections (for tall-skinny QR).
//!
//! `A` (m × n, m ≥ n, row-major f64) = `Q` (m × n, orthonormal columns) · `R` (n × n,
//! upper triangular). Numerically stable (reflections, not Gram–Schmidt); O(m n²).

/// Returns `(Q, R)`, row-major. `m >= n` is the caller's to ensure.
#[must_use]
pub fn householder_qr(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    debug_assert!(m >= n && a.len() == m * n);
    let mut r = a.to_vec();
    // Reflector k: v_k (length m - k), stored per column.
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(n);
    for k in 0..n {
        let norm = (k..m).map(|i| r[i * n + k] * r[i * n + k]).sum::<f64>().sqrt();
        let mut v: Vec<f64> = (k..m).map(|i| r[i * n + k]).collect();
        if norm == 0.0 {
            vs.push(vec![0.0; m - k]);
            continue;
        }
        let alpha = if v[0] >= 0.0 { -norm } else { norm };
        v[0] -= alpha;
        let vnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if vnorm > 0.0 {
            v.iter_mut().for_each(|x| *x /= vnorm);
        }
        // R[k.., k..] -= 2 v (vᵀ R[k.., k..])
        for j in k..n {
            let d: f64 = (k..m).map(|i| v[i - k] * r[i * n + j]).sum();
            for i in k..m {
                r[i * n + j] -= 2.0 * v[i - k] * d;
            }
        }
        vs.push(v);
    }
    // Q = H_0 H_1 … H_{n-1} applied to the first n columns of the identity.
    let mut q = vec![0.0; m * n];
    for j in 0..n {
        q[j * n + j] = 1.0;
    }
    for k in (0..n).rev() {
        let v = &vs[k];
        for j in 0..n {
            let d: f64 = (k..m).map(|i| v[i - k] * q[i * n + j]).sum();
            for i in k..m {
                q[i * n + j] -= 2.0 * v[i - k] * d;
            }
        }
    }
    let mut rr = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            rr[i * n + j] = r[i * n + j];
        }
    }
    (q, rr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstructs_and_is_orthonormal() {
        let (m, n) = (7, 3);
        let a: Vec<f64> = (0..m * n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let (q, r) = householder_qr(&a, m, n);
        for i in 0..m {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| q[i * n + k] * r[k * n + j]).sum();
                assert!((v - a[i * n + j]).abs() < 1e-12);
            }
        }
        for a_ in 0..n {
            for b in 0..n {
                let d: f64 = (0..m).map(|i| q[i * n + a_] * q[i * n + b]).sum();
                assert!((d - f64::from(u8::from(a_ == b))).abs() < 1e-12);
            }
        }
    }
}
