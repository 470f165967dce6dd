//! Quantiles and medians of lanes: NumPy's `quantile` with each of its 13 methods,
//! `median` and their nan-variants, value for value.
//!
//! A lane is every element of one output position (the reduced axes gathered into a
//! scratch vector). Its order statistics come from `select_nth_unstable` (expected
//! linear time; the whole lane is sorted only when several quantiles are asked for), so
//! a lane of `n` values costs O(n) and the lane's copy, not O(n log n).
//!
//! The arithmetic follows NumPy's step by step, because a quantile is an interpolation
//! whose rounding depends on the order of operations and the type it runs in:
//!
//! * the virtual index is the method's (`(n - 1) * q` for `linear`, `n·q + α + q(1 − α −
//!   β) − 1` for Hyndman & Fan's continuous methods) in f64; past the last value both
//!   neighbours are the last value and `gamma = index + 1` (NumPy's `-1` index), before
//!   the first both are the first and `gamma = index`, otherwise the neighbours are
//!   `floor(index)` and the next, `gamma = index - floor(index)`; then the method's
//!   gamma rule (`averaged_inverted_cdf`, `midpoint`);
//! * the discrete methods (`lower`, `higher`, `nearest`, `inverted_cdf`,
//!   `closest_observation`) pick one element, in the input's own dtype (bool included);
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

/// NumPy's quantile methods (`np.quantile(..., method=...)`): the nine of Hyndman and
/// Fan (1996) and NumPy's four others. `Linear` is the default of NumPy, dask and
/// xarray.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuantileMethod {
    /// H&F 1: the smallest value whose empirical CDF reaches `q` (discrete).
    InvertedCdf,
    /// H&F 2: as `InvertedCdf`, averaging at discontinuities.
    AveragedInvertedCdf,
    /// H&F 3: the nearest order statistic, ties to the even one (discrete).
    ClosestObservation,
    /// H&F 4: linear interpolation of the empirical CDF (α = 0, β = 1).
    InterpolatedInvertedCdf,
    /// H&F 5: α = β = 1/2.
    Hazen,
    /// H&F 6: α = β = 0.
    Weibull,
    /// H&F 7 (the default): α = β = 1, index `(n - 1)·q`.
    #[default]
    Linear,
    /// H&F 8: α = β = 1/3, median-unbiased whatever the distribution.
    MedianUnbiased,
    /// H&F 9: α = β = 3/8, unbiased for normally distributed data.
    NormalUnbiased,
    /// The order statistic below the linear index (discrete).
    Lower,
    /// The order statistic above the linear index (discrete).
    Higher,
    /// The mean of `Lower` and `Higher`.
    Midpoint,
    /// The order statistic nearest the linear index, halves to even (discrete).
    Nearest,
}

impl QuantileMethod {
    /// Every method, in NumPy's order.
    pub const ALL: [QuantileMethod; 13] = {
        use QuantileMethod::*;
        [
            InvertedCdf,
            AveragedInvertedCdf,
            ClosestObservation,
            InterpolatedInvertedCdf,
            Hazen,
            Weibull,
            Linear,
            MedianUnbiased,
            NormalUnbiased,
            Lower,
            Higher,
            Midpoint,
            Nearest,
        ]
    };

    /// NumPy's name for the method.
    #[must_use]
    pub fn name(self) -> &'static str {
        use QuantileMethod::*;
        match self {
            InvertedCdf => "inverted_cdf",
            AveragedInvertedCdf => "averaged_inverted_cdf",
            ClosestObservation => "closest_observation",
            InterpolatedInvertedCdf => "interpolated_inverted_cdf",
            Hazen => "hazen",
            Weibull => "weibull",
            Linear => "linear",
            MedianUnbiased => "median_unbiased",
            NormalUnbiased => "normal_unbiased",
            Lower => "lower",
            Higher => "higher",
            Midpoint => "midpoint",
            Nearest => "nearest",
        }
    }

    /// The method NumPy calls `name`.
    ///
    /// # Errors
    /// A name NumPy does not have, listing those it has.
    pub fn parse(name: &str) -> crate::error::Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            crate::error::Error::InvalidArgument(format!(
                "unknown quantile method {name:?} (one of {})",
                all.join(", ")
            ))
        })
    }

    /// Whether the method picks one element (result in the input's dtype) rather than
    /// interpolating.
    #[must_use]
    pub fn is_discrete(self) -> bool {
        use QuantileMethod::*;
        matches!(self, InvertedCdf | ClosestObservation | Lower | Higher | Nearest)
    }

    /// The continuous methods' virtual index, as NumPy computes it.
    fn virtual_index(self, n: usize, q: f64) -> f64 {
        use QuantileMethod::*;
        let nf = n as f64;
        let hf = |alpha: f64, beta: f64| nf * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
        match self {
            AveragedInvertedCdf => nf * q - 1.0,
            InterpolatedInvertedCdf => hf(0.0, 1.0),
            Hazen => hf(0.5, 0.5),
            Weibull => hf(0.0, 0.0),
            MedianUnbiased => hf(1.0 / 3.0, 1.0 / 3.0),
            NormalUnbiased => hf(3.0 / 8.0, 3.0 / 8.0),
            Midpoint => 0.5 * (((nf - 1.0) * q).floor() + ((nf - 1.0) * q).ceil()),
            _ => (nf - 1.0) * q,
        }
    }

    /// The method's rule for gamma (the fraction past the lower neighbour).
    fn fix_gamma(self, gamma: f64, index: f64) -> f64 {
        match self {
            QuantileMethod::AveragedInvertedCdf => {
                if gamma == 0.0 {
                    0.5
                } else {
                    1.0
                }
            }
            QuantileMethod::Midpoint => {
                if index % 1.0 == 0.0 {
                    0.0
                } else {
                    0.5
                }
            }
            _ => gamma,
        }
    }

    /// The discrete methods' 0-based order statistic (in `0..n`).
    fn pick(self, n: usize, q: f64) -> usize {
        use QuantileMethod::*;
        let nf = n as f64;
        // NumPy's `_discrete_interpolation_to_boundaries`: below the index, or the next
        // one unless `take_lower` (gamma = 0 and…), never below 0.
        let bound = |index: f64, take_lower: &dyn Fn(f64, f64) -> bool| {
            let below = index.floor();
            let k = if take_lower(index - below, index) {
                below
            } else {
                below + 1.0
            };
            k.max(0.0) as usize
        };
        let k = match self {
            Lower => ((nf - 1.0) * q).floor() as usize,
            Higher => ((nf - 1.0) * q).ceil() as usize,
            Nearest => ((nf - 1.0) * q).round_ties_even() as usize,
            InvertedCdf => bound(nf * q - 1.0, &|g, _| g == 0.0),
            _ => bound(nf * q - 1.0 - 0.5, &|g, i| g == 0.0 && i.floor() % 2.0 == 1.0),
        };
        k.min(n - 1)
    }
}

/// What each lane is reduced to.
#[derive(Clone, Debug, PartialEq)]
pub enum Statistic {
    /// The median (one value per lane).
    Median,
    /// These quantiles in [0, 1] by this method, one value per lane each.
    Quantiles(Vec<f64>, QuantileMethod),
}

impl Statistic {
    /// Values per lane.
    #[must_use]
    pub fn count(&self) -> usize {
        match self {
            Statistic::Median => 1,
            Statistic::Quantiles(q, _) => q.len(),
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

/// One quantile of `v` (no NaN, not empty) by a continuous method.
fn quantile<T: Ranked, O: OutFloat>(v: &mut [T], q: f64, method: QuantileMethod, sorted: bool) -> O {
    let n = v.len();
    let index = method.virtual_index(n, q);
    let (a, b, below) = if index >= (n - 1) as f64 {
        // NumPy's `-1` index: both neighbours the last value, gamma measured from -1.
        let last = if sorted { v[n - 1] } else { kth(v, n - 1) };
        (last, last, -1.0)
    } else if index < 0.0 {
        let first = if sorted { v[0] } else { kth(v, 0) };
        (first, first, 0.0)
    } else {
        let below = index.floor();
        // `below` is in 0..n-1 here, an exact integer.
        let (a, b) = pair(v, below as usize, sorted);
        (a, b, below)
    };
    let gamma = method.fix_gamma(index - below, index);
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
/// of the lane's values (reordered, and with `skip_nan` stripped of its NaN). Discrete
/// methods write the picked element converted to `O`; [`lane_picks`] keeps their dtype.
pub fn lane<T: Ranked, O: OutFloat>(lane: &mut Vec<T>, stat: &Statistic, skip_nan: bool, out: &mut [O]) {
    if !clean(lane, skip_nan) {
        out.fill(O::NAN);
        return;
    }
    match stat {
        Statistic::Median => out[0] = median(lane),
        Statistic::Quantiles(qs, method) => {
            // Several quantiles share one sort; one needs only a selection.
            let sorted = qs.len() > 2;
            if sorted {
                lane.sort_unstable_by_key(|x| x.key());
            }
            for (o, &q) in out.iter_mut().zip(qs) {
                *o = if method.is_discrete() {
                    let k = method.pick(lane.len(), q);
                    O::cast_from(if sorted { lane[k] } else { kth(lane, k) })
                } else {
                    quantile(lane, q, *method, sorted)
                };
            }
        }
    }
}

/// Drops NaN with `skip_nan`; false when the lane has no answer (empty, or a NaN kept).
fn clean<T: Ranked>(lane: &mut Vec<T>, skip_nan: bool) -> bool {
    if skip_nan {
        lane.retain(|x| !x.is_nan());
    }
    !(lane.is_empty() || (!skip_nan && lane.iter().any(|x| x.is_nan())))
}

/// A discrete method's quantiles of one lane, in the lane's dtype: NaN (float lanes)
/// where the lane has no answer.
pub fn lane_picks<T: Ranked>(lane: &mut Vec<T>, qs: &[f64], method: QuantileMethod, skip_nan: bool, out: &mut [T]) {
    if !clean(lane, skip_nan) {
        out.fill(T::from_f64(f64::NAN));
        return;
    }
    let sorted = qs.len() > 2;
    if sorted {
        lane.sort_unstable_by_key(|x| x.key());
    }
    for (o, &q) in out.iter_mut().zip(qs) {
        let k = method.pick(lane.len(), q);
        *o = if sorted { lane[k] } else { kth(lane, k) };
    }
}

/// Reduces lanes gathered from `data`: lane `i` is `data[bases[i] + offsets[j]]` for
/// every `j` (a block's reduced axes, read in place with their strides: no transposed
/// copy of the block). `out` holds `nstat` values per lane, statistic `k` of lane `i`
/// at `out[k * bases.len() + i]` (the quantile axis leads, as in NumPy), each lane's
/// written by `reduce(lane, its nstat values)`. Consecutive lanes are neighbouring
/// elements of the same rows, so a lane's cache lines serve the next ones too.
pub fn lanes<T: Ranked, O: Copy>(
    data: &[T],
    bases: &[usize],
    offsets: &[usize],
    nstat: usize,
    fill: O,
    mut reduce: impl FnMut(&mut Vec<T>, &mut [O]),
    out: &mut [O],
) {
    let nlanes = bases.len();
    let mut scratch = Vec::with_capacity(offsets.len());
    let mut vals = vec![fill; nstat];
    for (i, &base) in bases.iter().enumerate() {
        scratch.clear();
        scratch.extend(offsets.iter().map(|&o| data[base + o]));
        reduce(&mut scratch, &mut vals);
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
        lane(
            &mut v.to_vec(),
            &Statistic::Quantiles(vec![q], QuantileMethod::Linear),
            skip,
            &mut out,
        );
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
            let stat = Statistic::Quantiles(vec![0.0, 0.5, 1.0], QuantileMethod::Linear);
            let f = |l: &mut Vec<f64>, o: &mut [f64]| lane(l, &stat, false, o);
            lanes(&data, &bases, &offsets, 3, f64::NAN, f, &mut out);
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
