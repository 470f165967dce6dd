//! Running sums and products along one axis of a C-order block.
//!
//! A block of shape `(outer, n, inner)` (the scanned axis in the middle, the axes
//! before and after it flattened) is scanned row by row of `inner` contiguous
//! accumulators, so the inner loop is a vectorisable add or multiply over a
//! contiguous run whatever the axis.

/// The accumulator types scans run in: f64 for floats, wrapping i64/u64 for integers.
pub trait ScanAcc: Copy + Send + Sync + 'static {
    /// The identity of addition.
    const ZERO: Self;
    /// The identity of multiplication.
    const ONE: Self;
    /// `a + b` (wrapping for integers).
    fn add(a: Self, b: Self) -> Self;
    /// `a * b` (wrapping for integers).
    fn mul(a: Self, b: Self) -> Self;
    /// NaN test (false for integers).
    fn nan(a: Self) -> bool;
}

impl ScanAcc for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn add(a: Self, b: Self) -> Self {
        a + b
    }
    #[inline(always)]
    fn mul(a: Self, b: Self) -> Self {
        a * b
    }
    #[inline(always)]
    fn nan(a: Self) -> bool {
        a.is_nan()
    }
}

macro_rules! scan_int {
    ($($t:ty),*) => {$(
        impl ScanAcc for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            #[inline(always)] fn nan(_: Self) -> bool { false }
        }
    )*};
}
scan_int!(i64, u64);

/// Scans `data` (shape `(outer, n, inner)`, C order) in place along the middle axis:
/// with `prod` a running product, else a running sum; with `skip_nan` NaN counts as
/// the identity. Inclusive (element `k` includes itself).
pub fn scan_in_place<A: ScanAcc>(data: &mut [A], outer: usize, n: usize, inner: usize, prod: bool, skip_nan: bool) {
    let (id, op): (A, fn(A, A) -> A) = if prod { (A::ONE, A::mul) } else { (A::ZERO, A::add) };
    if skip_nan {
        for v in data.iter_mut() {
            if A::nan(*v) {
                *v = id;
            }
        }
    }
    for o in 0..outer {
        let base = o * n * inner;
        for k in 1..n {
            let (prev, cur) = data[base + (k - 1) * inner..base + (k + 1) * inner].split_at_mut(inner);
            for (c, p) in cur.iter_mut().zip(prev.iter()) {
                *c = op(*p, *c);
            }
        }
    }
}

/// Exclusive scan in place: element `k` becomes the combination of elements `0..k`
/// (the identity for `k = 0`).
pub fn exclusive_in_place<A: ScanAcc>(data: &mut [A], outer: usize, n: usize, inner: usize, prod: bool) {
    let (id, op): (A, fn(A, A) -> A) = if prod { (A::ONE, A::mul) } else { (A::ZERO, A::add) };
    for o in 0..outer {
        let base = o * n * inner;
        let mut acc = vec![id; inner];
        for k in 0..n {
            let row = &mut data[base + k * inner..base + (k + 1) * inner];
            for (r, a) in row.iter_mut().zip(acc.iter_mut()) {
                let v = *r;
                *r = *a;
                *a = op(*a, v);
            }
        }
    }
}

/// `data[o, k, i] ⊕= carry[o, i]` for every `k` (the carry of earlier blocks).
pub fn apply_carry<A: ScanAcc>(data: &mut [A], carry: &[A], outer: usize, n: usize, inner: usize, prod: bool) {
    let op: fn(A, A) -> A = if prod { A::mul } else { A::add };
    for o in 0..outer {
        let c = &carry[o * inner..(o + 1) * inner];
        for k in 0..n {
            let base = (o * n + k) * inner;
            for (d, &cv) in data[base..base + inner].iter_mut().zip(c) {
                *d = op(cv, *d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_along_middle_axis() {
        // shape (1, 3, 2)
        let mut d = vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0];
        scan_in_place(&mut d, 1, 3, 2, false, true);
        assert_eq!(d, vec![1.0, 2.0, 1.0, 6.0, 6.0, 12.0]);
        let mut e = vec![2i64, 3, 4];
        exclusive_in_place(&mut e, 1, 3, 1, true);
        assert_eq!(e, vec![1, 2, 6]);
    }
}
