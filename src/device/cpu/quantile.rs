//! Quantiles and medians of lanes: NumPy's `quantile(method="linear")`, `median` and
//! their nan-variants, value for value.
//!
//! A lane is every element of one output position (the reduced axes gathered into a
//! scratch vector). Its order statistics come from `select_nth_unstable` (expected
//! linear time; the whole lane is sorted only when several quantiles are asked for), so
//! a lane of `n` values costs O(n) and the lane's copy, not O(n log n).
//!
//! The arithmetic follows NumPy's step by step, because a quantile is an interpolation
//! whose rounding depends on the order of operations and the type it runs in:
//!
//! * the virtual index is `(n - 1) * q` in f64; past the last value both neighbours are
//!   the last value and `gamma = index + 1` (NumPy's `-1` index), otherwise the
//!   neighbours are `floor(index)` and the next, `gamma = index - floor(index)`;
//! * `lerp(a, b, t) = a + (b - a) * t`, or `b - (b - a) * (1 - t)` when `t ≥ 0.5`, with
//!   `b - a` in the input type (wrapping for integers, as NumPy's subtract) and the rest
//!   in the output type: f32 for f32 data and one quantile (NumPy's weak Python-float
//!   `q`), f64 otherwise;
//! * a median is the middle value, or the mean of the two middle values as
//!   `(lo + hi) / 2` in the output type (f32 stays f32, integers and bool give f64);
//! * a lane with a NaN gives NaN (`quantile`, `median`); the nan-variants drop NaN
//!   first and give NaN for a lane with nothing left.

use crate::dtype::Element;
use std::ops::{Add, Div, Mul, Sub};

/// What each lane is reduced to.
#[derive(Clone, Debug, PartialEq)]
pub enum Statistic {
    /// The median (one value per lane).
    Median,
    /// These quantiles in [0, 1], one value per lane each.
    Quantiles(Vec<f64>),
}

impl Statistic {
    /// Values per lane.
    #[must_use]
    pub fn count(&self) -> usize {
        match self {
            Statistic::Median => 1,
            Statistic::Quantiles(q) => q.len(),
        }
    }
}

/// Input element types: a total order for selection and NumPy's `b - a` in the type.
pub trait Ranked: Element {
    /// An integer key with the values' order (for floats without NaN: the IEEE bits
    /// flipped so that integer order is numeric order, -0.0 just below 0.0), so that
    /// selection compares integers instead of going through `partial_cmp` (2–3× faster
    /// on lanes of floats).
    type Key: Ord + Copy;
    /// The key of a value (never NaN here: lanes are cleared of NaN first).
    fn key(self) -> Self::Key;
    /// `b - a`, IEEE for floats, wrapping for integers (bool: `b != a`, unused by
    /// quantiles, which NumPy refuses for bool).
    fn minus(b: Self, a: Self) -> Self;
}

macro_rules! ranked_int {
    ($($t:ty),*) => {$(
        impl Ranked for $t {
            type Key = $t;
            #[inline]
            fn key(self) -> $t { self }
            #[inline]
            fn minus(b: Self, a: Self) -> Self { b.wrapping_sub(a) }
        }
    )*};
}
ranked_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! ranked_float {
    ($($t:ty => $u:ty),*) => {$(
        impl Ranked for $t {
            type Key = $u;
            #[inline]
            fn key(self) -> $u {
                let b = self.to_bits();
                let sign = <$u>::MAX ^ (<$u>::MAX >> 1);
                if b & sign != 0 { !b } else { b | sign }
            }
            #[inline]
            fn minus(b: Self, a: Self) -> Self { b - a }
        }
    )*};
}
ranked_float!(f32 => u32, f64 => u64);

impl Ranked for bool {
    type Key = bool;
    #[inline]
    fn key(self) -> bool {
        self
    }
    #[inline]
    fn minus(b: Self, a: Self) -> Self {
        b != a
    }
}

/// Output types (f32, f64): the arithmetic of the interpolation.
pub trait OutFloat:
    Element + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// NaN.
    const NAN: Self;
    /// Two.
    const TWO: Self;
}

impl OutFloat for f32 {
    const NAN: Self = f32::NAN;
    const TWO: Self = 2.0;
}

impl OutFloat for f64 {
    const NAN: Self = f64::NAN;
    const TWO: Self = 2.0;
}

/// The `k`-th smallest value (0-based) of `v`, partially reordering `v`.
fn kth<T: Ranked>(v: &mut [T], k: usize) -> T {
    *v.select_nth_unstable_by_key(k, |x| x.key()).1
}

/// The `k`-th and `k + 1`-th smallest values (the second is `v[k]` when `k` is last).
fn pair<T: Ranked>(v: &mut [T], k: usize, sorted: bool) -> (T, T) {
    if sorted {
        return (v[k], v[(k + 1).min(v.len() - 1)]);
    }
    let (_, &mut lo, rest) = v.select_nth_unstable_by_key(k, |x| x.key());
    let hi = rest.iter().copied().min_by_key(|x| x.key()).unwrap_or(lo);
    (lo, hi)
}

/// One quantile of `v` (no NaN, not empty), NumPy's linear method.
fn quantile<T: Ranked, O: OutFloat>(v: &mut [T], q: f64, sorted: bool) -> O {
    let n = v.len();
    let index = (n - 1) as f64 * q;
    let (a, b, gamma) = if index >= (n - 1) as f64 {
        let last = if sorted { v[n - 1] } else { kth(v, n - 1) };
        (last, last, index + 1.0)
    } else {
        let below = index.floor();
        // `below` is in 0..n-1 here, an exact integer.
        let (a, b) = pair(v, below as usize, sorted);
        (a, b, index - below)
    };
    let diff = O::cast_from(T::minus(b, a));
    let (a, b) = (O::cast_from(a), O::cast_from(b));
    if gamma >= 0.5 {
        b - diff * O::from_f64(1.0 - gamma)
    } else {
        a + diff * O::from_f64(gamma)
    }
}

/// The median of `v` (no NaN, not empty).
fn median<T: Ranked, O: OutFloat>(v: &mut [T]) -> O {
    let n = v.len();
    if n % 2 == 1 {
        O::cast_from(kth(v, n / 2))
    } else {
        let (lo, hi) = pair(v, n / 2 - 1, false);
        (O::cast_from(lo) + O::cast_from(hi)) / O::TWO
    }
}

/// Reduces one lane: writes `stat.count()` values to `out`. `lane` is the scratch copy
/// of the lane's values (reordered, and with `skip_nan` stripped of its NaN).
pub fn lane<T: Ranked, O: OutFloat>(lane: &mut Vec<T>, stat: &Statistic, skip_nan: bool, out: &mut [O]) {
    if skip_nan {
        lane.retain(|x| !x.is_nan());
    }
    if lane.is_empty() || (!skip_nan && lane.iter().any(|x| x.is_nan())) {
        out.fill(O::NAN);
        return;
    }
    match stat {
        Statistic::Median => out[0] = median(lane),
        Statistic::Quantiles(qs) => {
            // Several quantiles share one sort; one needs only a selection.
            let sorted = qs.len() > 2;
            if sorted {
                lane.sort_unstable_by_key(|x| x.key());
            }
            for (o, &q) in out.iter_mut().zip(qs) {
                *o = quantile(lane, q, sorted);
            }
        }
    }
}

/// Reduces lanes gathered from `data`: lane `i` is `data[bases[i] + offsets[j]]` for
/// every `j` (a block's reduced axes, read in place with their strides: no transposed
/// copy of the block). `out` holds `stat.count()` values per lane, statistic `k` of
/// lane `i` at `out[k * bases.len() + i]` (the quantile axis leads, as in NumPy).
/// Consecutive lanes are neighbouring elements of the same rows, so a lane's cache
/// lines serve the next ones too.
pub fn lanes<T: Ranked, O: OutFloat>(
    data: &[T],
    bases: &[usize],
    offsets: &[usize],
    stat: &Statistic,
    skip_nan: bool,
    out: &mut [O],
) {
    let nstat = stat.count();
    let nlanes = bases.len();
    let mut scratch = Vec::with_capacity(offsets.len());
    let mut vals = vec![O::NAN; nstat];
    for (i, &base) in bases.iter().enumerate() {
        scratch.clear();
        scratch.extend(offsets.iter().map(|&o| data[base + o]));
        lane(&mut scratch, stat, skip_nan, &mut vals);
        for (k, &v) in vals.iter().enumerate() {
            out[k * nlanes + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q1<T: Ranked, O: OutFloat>(v: &[T], q: f64, skip: bool) -> O {
        let mut out = [O::NAN];
        lane(&mut v.to_vec(), &Statistic::Quantiles(vec![q]), skip, &mut out);
        out[0]
    }

    #[test]
    fn values_numpy_gives() {
        // np.quantile(np.array([1, 2, 3, 4], np.float32), 0.3) == 1.9 (float32)
        assert_eq!(q1::<f32, f32>(&[4.0, 1.0, 3.0, 2.0], 0.3, false), 1.9f32);
        // np.quantile(np.array([1, 2, 3, 4], np.int8), 0.999) == 3.997
        assert_eq!(q1::<i8, f64>(&[1, 2, 3, 4], 0.999, false), 3.997);
        // np.quantile([1., inf], 1.0) and 0.5 are nan (b - a = inf, then inf - inf)
        assert!(q1::<f64, f64>(&[1.0, f64::INFINITY], 1.0, false).is_nan());
        assert!(q1::<f64, f64>(&[1.0, f64::INFINITY], 0.5, false).is_nan());
        // a NaN poisons quantile, not nanquantile
        assert!(q1::<f32, f32>(&[1.0, f32::NAN, 3.0], 0.5, false).is_nan());
        assert_eq!(q1::<f32, f32>(&[1.0, f32::NAN, 3.0], 0.5, true), 2.0);
        // nothing left
        assert!(q1::<f32, f32>(&[f32::NAN], 0.5, true).is_nan());
        // q = 0 and 1 are the extremes
        assert_eq!(q1::<u16, f64>(&[9, 3, 7], 0.0, false), 3.0);
        assert_eq!(q1::<u16, f64>(&[9, 3, 7], 1.0, false), 9.0);
    }

    #[test]
    fn medians_average_the_middle_pair_in_the_output_type() {
        let mut out = [0.0f64];
        lane(&mut vec![3i64, 1, 4, 2], &Statistic::Median, false, &mut out);
        assert_eq!(out[0], 2.5);
        let mut out = [0.0f32];
        lane(&mut vec![f32::MAX, f32::MAX], &Statistic::Median, false, &mut out);
        assert_eq!(out[0], f32::INFINITY, "(lo + hi) / 2 in float32 overflows, as in NumPy");
        lane(&mut vec![5.0f32, 1.0, 3.0], &Statistic::Median, false, &mut out);
        assert_eq!(out[0], 3.0);
        let mut out = [0.0f64];
        lane(&mut vec![true, false], &Statistic::Median, false, &mut out);
        assert_eq!(out[0], 0.5);
    }

    #[test]
    fn lanes_put_the_quantile_axis_first() {
        // Lanes [1, 2, 3] and [10, 20, 30], as rows of a (2, 3) layout and down the
        // columns of a (3, 2) one.
        let rows = [1.0f64, 2.0, 3.0, 10.0, 20.0, 30.0];
        let cols = [1.0f64, 10.0, 2.0, 20.0, 3.0, 30.0];
        for (data, bases, offsets) in [(rows, [0, 3], [0, 1, 2]), (cols, [0, 1], [0, 2, 4])] {
            let mut out = [0.0f64; 6];
            let stat = Statistic::Quantiles(vec![0.0, 0.5, 1.0]);
            lanes(&data, &bases, &offsets, &stat, false, &mut out);
            assert_eq!(out, [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
        }
    }

    #[test]
    fn float_keys_order_as_the_numbers() {
        let v = [f64::NEG_INFINITY, -3.5, -1e-300, -0.0, 0.0, 1e-300, 2.0, f64::INFINITY];
        assert!(v.windows(2).all(|w| w[0].key() < w[1].key()));
        let v = [f32::NEG_INFINITY, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY];
        assert!(v.windows(2).all(|w| w[0].key() < w[1].key()));
    }

    #[test]
    fn integer_differences_wrap_as_numpy_subtract_does() {
        // np.quantile(np.array([-100, 100], np.int8), 0.25): b - a wraps to -56 in int8,
        // so NumPy gives -100 + -56 * 0.25 = -114.0.
        assert_eq!(q1::<i8, f64>(&[100, -100], 0.25, false), -114.0);
    }
}
