//! Moving-window reductions along one axis: xarray's `rolling(time=w).mean()`.
//!
//! A 30-day running mean, a 5-day maximum, an 11-day running median or 90th
//! percentile (heat-wave thresholds): each element is reduced with its window of
//! `w` neighbours along the axis, so the result has the input's shape. The rules are
//! xarray's (and pandas'): the window ends at the element (`center = false`) or is
//! centred on it (starting `w / 2` before it); missing values are skipped; a window with
//! fewer than `min_periods` values (default `w`, so the first `w - 1` elements of a
//! trailing window) gives NaN; variance and std have ddof 0; `count` is float64 with
//! NaN where it is below `min_periods` (xarray's `rolling_count.where(enough)`); a
//! median averages the two middle values as NumPy's does, and a quantile interpolates
//! linearly (NumPy's default method).
//!
//! Built on [`Array::map_overlap`]: each block is extended by `w - 1` neighbours on both
//! sides (NaN beyond the array's ends, which the missing-value rule then drops), the
//! windows are reduced in the extended block a whole row of the other axes at a time,
//! and the halo is trimmed. Each window is reduced directly, in order and in f64 (no
//! running sums whose rounding drifts along the series), so a result does not depend
//! on the chunking; that is `w` additions per element (for an order statistic, a
//! selection among the window's `w` values). Integer and bool data are reduced as
//! float64, float32 stays float32 (xarray gives float32 for the rolling median of
//! 8- and 16-bit integers; chunkwise float64).

use super::Array;
use super::map_blocks::Boundary;
use crate::device::cpu::quantile::{OutFloat, QuantileMethod, Ranked, Statistic, lane};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::normalize_axis;
use crate::ops::ReduceOp;
use ndarray::{ArrayD, ArrayViewD};

/// Options of [`Array::rolling`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollingOptions {
    /// Centre the window on each element instead of ending it there.
    pub center: bool,
    /// The fewest values a window needs for a result (default: the window length).
    pub min_periods: Option<usize>,
}

impl Array {
    /// Reduces each element's window of `window` elements along `axis` with `op`: sum,
    /// mean, min, max, var, std, prod or count (or their nan-names: missing values are
    /// always skipped, as xarray's `rolling` does). The result has this array's shape.
    ///
    /// ```
    /// use chunkwise::{Array, ReduceOp, RollingOptions};
    /// let x = Array::from_ndarray(ndarray::arr1(&[1.0, 2.0, f64::NAN, 4.0, 5.0]).into_dyn(), [2]).unwrap();
    /// let opts = RollingOptions { min_periods: Some(1), ..RollingOptions::default() };
    /// let m = x.rolling(0, 3, ReduceOp::Mean, &opts).unwrap().compute::<f64>().unwrap();
    /// assert_eq!(m.as_slice().unwrap(), &[1.0, 1.5, 1.5, 3.0, 4.5]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range, a window of 0, `min_periods` of 0 or above the window, or
    /// an op other than those above.
    pub fn rolling(&self, axis: isize, window: usize, op: ReduceOp, opts: &RollingOptions) -> Result<Array> {
        let kind = Kind::of(op)?;
        let r = self.rolling_kind(axis, window, kind, opts)?;
        // xarray's count is the counts `where` there are enough: float64.
        Ok(if op == ReduceOp::Count { r.astype(DType::F64) } else { r })
    }

    /// The median of each element's window of `window` elements along `axis`, missing
    /// values skipped (xarray's `rolling(...).median()`; an even count averages the
    /// two middle values).
    ///
    /// # Errors
    /// As [`Array::rolling`].
    pub fn rolling_median(&self, axis: isize, window: usize, opts: &RollingOptions) -> Result<Array> {
        self.rolling_kind(axis, window, Kind::Order(Statistic::Median), opts)
    }

    /// Quantile `q` (in [0, 1]) of each element's window of `window` elements along
    /// `axis`, missing values skipped, linearly interpolated (NumPy's default method;
    /// pandas' `rolling(...).quantile(q)`): a running 90th percentile is
    /// `rolling_quantile(0, 15, 0.9, …)`.
    ///
    /// ```
    /// use chunkwise::{Array, RollingOptions};
    /// let x = Array::from_ndarray(ndarray::arr1(&[4.0, 1.0, 3.0, 2.0]).into_dyn(), [3]).unwrap();
    /// let p = x.rolling_quantile(0, 3, 0.25, &RollingOptions::default()).unwrap();
    /// let p = p.compute::<f64>().unwrap();
    /// assert!(p[0].is_nan() && p[1].is_nan());
    /// assert_eq!((p[2], p[3]), (2.0, 1.5));
    /// ```
    ///
    /// # Errors
    /// As [`Array::rolling`], and `q` outside [0, 1].
    pub fn rolling_quantile(&self, axis: isize, window: usize, q: f64, opts: &RollingOptions) -> Result<Array> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::InvalidArgument(format!(
                "rolling_quantile: q {q} is not in [0, 1]"
            )));
        }
        let stat = Statistic::Quantiles(vec![q], QuantileMethod::Linear);
        self.rolling_kind(axis, window, Kind::Order(stat), opts)
    }

    fn rolling_kind(&self, axis: isize, window: usize, kind: Kind, opts: &RollingOptions) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        if window == 0 {
            return Err(Error::InvalidArgument("rolling: a window of 0 elements".into()));
        }
        let min = opts.min_periods.unwrap_or(window);
        if min == 0 || min > window {
            return Err(Error::InvalidArgument(format!(
                "rolling: min_periods {min} must be in 1..={window}"
            )));
        }
        let out = if self.dtype() == DType::F32 {
            DType::F32
        } else {
            DType::F64
        };
        if self.size() == 0 {
            return Ok(self.astype(out));
        }
        let before = if opts.center { window / 2 } else { window - 1 };
        let mut depth = vec![0; self.ndim()];
        depth[a] = window - 1;
        let nan = Boundary::Constant(f64::NAN);
        if out == DType::F32 {
            return self.map_overlap(&depth, nan, move |v: ArrayViewD<'_, f32>| {
                windows(&v, a, window, before, min, &kind)
            });
        }
        self.astype(DType::F64)
            .map_overlap(&depth, nan, move |v: ArrayViewD<'_, f64>| {
                windows(&v, a, window, before, min, &kind)
            })
    }
}

/// The reductions a window takes.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Sum,
    Mean,
    Min,
    Max,
    Var,
    Std,
    Prod,
    Count,
    /// A median or a quantile, by selection among the window's values.
    Order(Statistic),
}

impl Kind {
    fn of(op: ReduceOp) -> Result<Kind> {
        use ReduceOp::*;
        Ok(match op {
            Sum | NanSum => Kind::Sum,
            Mean | NanMean => Kind::Mean,
            Min | NanMin => Kind::Min,
            Max | NanMax => Kind::Max,
            Var | NanVar => Kind::Var,
            Std | NanStd => Kind::Std,
            Prod | NanProd => Kind::Prod,
            Count => Kind::Count,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "rolling takes sum, mean, min, max, var, std, prod or count (rolling_median and rolling_quantile for order statistics), not {}",
                    op.name()
                )));
            }
        })
    }
}

/// The windows of an extended block along `axis`, as whole rows: the block is seen as
/// `(outer, len, inner)` and each output row `t` is accumulated from its window's `w`
/// input rows of `inner` contiguous elements (streamed, vectorisable; no strided lanes).
/// Only the core — the block without its `w - 1` halo rows on each side, which
/// `map_overlap` trims — is computed; every window there lies inside the block.
fn windows<T: Ranked + OutFloat>(
    v: &ArrayViewD<'_, T>,
    axis: usize,
    window: usize,
    before: usize,
    min: usize,
    kind: &Kind,
) -> ArrayD<T> {
    let v = v.as_standard_layout();
    let data = v.as_slice().unwrap_or(&[]);
    let shape = v.shape().to_vec();
    let len = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let depth = window - 1;
    let nan = T::from_f64(f64::NAN);
    let mut out = vec![nan; data.len()];
    let (mut sum, mut n, mut acc) = (vec![0.0f64; inner], vec![0u32; inner], vec![0.0f64; inner]);
    let row = |o: usize, t: usize| &data[(o * len + t) * inner..][..inner];
    if let Kind::Order(stat) = kind {
        // Each output element's window gathered (strided by `inner`) and selected.
        let mut vals: Vec<T> = Vec::with_capacity(window);
        let mut one = [nan];
        for o in 0..outer {
            for t in depth..len.saturating_sub(depth) {
                let start = t - before;
                let dst = &mut out[(o * len + t) * inner..][..inner];
                for (j, d) in dst.iter_mut().enumerate() {
                    vals.clear();
                    vals.extend((start..start + window).map(|k| data[(o * len + k) * inner + j]));
                    if vals.iter().filter(|x| !x.to_f64().is_nan()).count() >= min {
                        lane(&mut vals, stat, true, &mut one);
                        *d = one[0];
                    }
                }
            }
        }
        return ArrayD::from_shape_vec(shape, out).expect("the block's own shape");
    }
    for o in 0..outer {
        for t in depth..len.saturating_sub(depth) {
            let start = t - before;
            sum.fill(0.0);
            n.fill(0);
            acc.fill(match kind {
                Kind::Min => f64::INFINITY,
                Kind::Max => f64::NEG_INFINITY,
                Kind::Prod => 1.0,
                _ => 0.0,
            });
            for k in start..start + window {
                // Branch-free, so each row pass vectorises (NaN compares false).
                let r = row(o, k);
                match kind {
                    Kind::Min => extremes::<T, false>(r, &mut n, &mut acc),
                    Kind::Max => extremes::<T, true>(r, &mut n, &mut acc),
                    Kind::Prod => products(r, &mut n, &mut acc),
                    _ => sums(r, &mut sum, &mut n),
                }
            }
            if matches!(kind, Kind::Var | Kind::Std) {
                // Second pass: squared departures from each window's mean.
                for k in start..start + window {
                    for (((m, s), &c), &x) in acc.iter_mut().zip(&sum).zip(&n).zip(row(o, k)) {
                        let x = x.to_f64();
                        if !x.is_nan() {
                            let d = x - s / f64::from(c);
                            *m += d * d;
                        }
                    }
                }
            }
            let dst = &mut out[(o * len + t) * inner..][..inner];
            for (((d, &s), &c), &m) in dst.iter_mut().zip(&sum).zip(&n).zip(&acc) {
                if c as usize >= min {
                    let c = f64::from(c);
                    *d = T::from_f64(match kind {
                        Kind::Sum => s,
                        Kind::Mean => s / c,
                        Kind::Min | Kind::Max | Kind::Prod => m,
                        Kind::Var => m / c,
                        Kind::Std => (m / c).sqrt(),
                        Kind::Count => c,
                        // Order statistics are selected above.
                        Kind::Order(_) => f64::NAN,
                    });
                }
            }
        }
    }
    ArrayD::from_shape_vec(shape, out).expect("the block's own shape")
}

/// `sum += x`, `n += 1` where `x` is not NaN.
fn sums<T: Element>(row: &[T], sum: &mut [f64], n: &mut [u32]) {
    for ((s, c), &x) in sum.iter_mut().zip(n).zip(row) {
        let x = x.to_f64();
        let valid = !x.is_nan();
        *s += if valid { x } else { 0.0 };
        *c += u32::from(valid);
    }
}

/// The running product and count of the non-NaN `x` (NaN counts as 1).
fn products<T: Element>(row: &[T], n: &mut [u32], p: &mut [f64]) {
    for ((c, p), &x) in n.iter_mut().zip(p).zip(row) {
        let x = x.to_f64();
        let valid = !x.is_nan();
        *p *= if valid { x } else { 1.0 };
        *c += u32::from(valid);
    }
}

/// The running minimum (maximum with `MAX`) and count of the non-NaN `x`.
fn extremes<T: Element, const MAX: bool>(row: &[T], n: &mut [u32], m: &mut [f64]) {
    for ((c, m), &x) in n.iter_mut().zip(m).zip(row) {
        let x = x.to_f64();
        let better = if MAX { x > *m } else { x < *m };
        *m = if better { x } else { *m };
        *c += u32::from(!x.is_nan());
    }
}
