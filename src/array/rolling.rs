//! Moving-window reductions along one axis: xarray's `rolling(time=w).mean()`.
//!
//! A 30-day running mean, a 5-day maximum: each element is reduced with its window of
//! `w` neighbours along the axis, so the result has the input's shape. The rules are
//! xarray's (and pandas'): the window ends at the element (`center = false`) or is
//! centred on it (starting `w / 2` before it); missing values are skipped; a window with
//! fewer than `min_periods` values (default `w`, so the first `w - 1` elements of a
//! trailing window) gives NaN; variance and std have ddof 0.
//!
//! Built on [`Array::map_overlap`]: each block is extended by `w - 1` neighbours on both
//! sides (NaN beyond the array's ends, which the missing-value rule then drops), the
//! windows are reduced in the extended block a whole row of the other axes at a time,
//! and the halo is trimmed. Each window is reduced directly, in order and in f64 (no
//! running sums whose rounding drifts along the series), so a result does not depend
//! on the chunking; that is `w` additions per element. Integer and bool data are
//! reduced as float64, float32 stays float32.

use super::Array;
use super::map_blocks::Boundary;
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
    /// mean, min, max, var or std (or their nan-names: missing values are always
    /// skipped, as xarray's `rolling` does). The result has this array's shape.
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
        let a = normalize_axis(axis, self.ndim())?;
        let kind = Kind::of(op)?;
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
                windows(&v, a, window, before, min, kind)
            });
        }
        self.astype(DType::F64)
            .map_overlap(&depth, nan, move |v: ArrayViewD<'_, f64>| {
                windows(&v, a, window, before, min, kind)
            })
    }
}

/// The reductions a window takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sum,
    Mean,
    Min,
    Max,
    Var,
    Std,
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
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "rolling takes sum, mean, min, max, var or std, not {}",
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
fn windows<T: Element>(
    v: &ArrayViewD<'_, T>,
    axis: usize,
    window: usize,
    before: usize,
    min: usize,
    kind: Kind,
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
    for o in 0..outer {
        for t in depth..len.saturating_sub(depth) {
            let start = t - before;
            sum.fill(0.0);
            n.fill(0);
            acc.fill(match kind {
                Kind::Min => f64::INFINITY,
                Kind::Max => f64::NEG_INFINITY,
                _ => 0.0,
            });
            for k in start..start + window {
                // Branch-free, so each row pass vectorises (NaN compares false).
                let r = row(o, k);
                match kind {
                    Kind::Min => extremes::<T, false>(r, &mut n, &mut acc),
                    Kind::Max => extremes::<T, true>(r, &mut n, &mut acc),
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
                        Kind::Min | Kind::Max => m,
                        Kind::Var => m / c,
                        Kind::Std => (m / c).sqrt(),
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

/// The running minimum (maximum with `MAX`) and count of the non-NaN `x`.
fn extremes<T: Element, const MAX: bool>(row: &[T], n: &mut [u32], m: &mut [f64]) {
    for ((c, m), &x) in n.iter_mut().zip(m).zip(row) {
        let x = x.to_f64();
        let better = if MAX { x > *m } else { x < *m };
        *m = if better { x } else { *m };
        *c += u32::from(!x.is_nan());
    }
}
