//! Block downsampling: `dask.array.coarsen` and xarray's `coarsen(...).mean()`.
//!
//! Averaging a 0.25° grid to 1°, or daily steps to 5-day means, reduces each window of
//! `factor` consecutive elements per axis to one value. It is built from two things
//! the engine already has, so every reduction keeps its NumPy dtypes, NaN rules and
//! f64 accumulation: each coarsened axis of length `n` is split into `(n / f, f)` by
//! [`Array::reshape`] (which rechunks the axis to whole windows first when its chunks
//! are not multiples of `f`, as dask's `coarsen` needs too), then the window axes are
//! reduced. Windows never straddle blocks, so the reduction is one task per block with
//! no combine tree.
//!
//! An axis whose length is not a multiple of its factor is an error by default (dask's
//! and xarray's `"exact"`); [`CoarsenBoundary::Trim`] drops the incomplete window at
//! the end, and [`CoarsenBoundary::Pad`] completes it with NaN (xarray's `boundary=
//! "pad"`, side left), so a nan-reduction reduces the values that are there: ten days
//! in 3-day means give four values, the last one of day 10 alone. Padding needs NaN,
//! so integers and bool are first converted as xarray converts them (`maybe_promote`:
//! up to 16 bits to float32, wider to float64).

use super::Array;
use super::reduce::ReduceOptions;
use crate::dtype::{DType, Kind};
use crate::error::{Error, Result};
use crate::grid::{ChunkSpec, normalize_axis};
use crate::ops::ReduceOp;

/// What [`Array::coarsen`] does with an axis whose length is not a multiple of its
/// factor (xarray's `boundary=`). A `bool` converts: `true` is `Trim` (dask's
/// `trim_excess=True`), `false` is `Exact`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoarsenBoundary {
    /// An error.
    #[default]
    Exact,
    /// The incomplete window at the end is dropped.
    Trim,
    /// The incomplete window at the end is completed with NaN.
    Pad,
}

impl From<bool> for CoarsenBoundary {
    fn from(trim_excess: bool) -> Self {
        if trim_excess { Self::Trim } else { Self::Exact }
    }
}

impl Array {
    /// Reduces each window of `factor` consecutive elements along each listed axis to
    /// one element with `op` (`dask.array.coarsen(reduction, x, {axis: factor})`;
    /// xarray's `coarsen(dim=factor, boundary=...)`).
    ///
    /// An axis whose length is not a multiple of its factor is handled by `boundary`
    /// ([`CoarsenBoundary`]; `false` is `Exact`, an error, `true` is `Trim`). Axes not
    /// listed keep their length and chunks.
    ///
    /// ```
    /// use chunkwise::{Array, CoarsenBoundary, ReduceOp};
    /// let x = Array::arange(0.0, 12.0, 1.0, [4]).unwrap().reshape(&[2, 6]).unwrap();
    /// let m = x.coarsen(ReduceOp::Mean, &[(1, 3)], false).unwrap();
    /// assert_eq!(m.compute::<f64>().unwrap().as_slice().unwrap(), &[1.0, 4.0, 7.0, 10.0]);
    /// let days = Array::arange(0.0, 10.0, 1.0, [4]).unwrap();
    /// let m = days.coarsen(ReduceOp::NanMean, &[(0, 3)], CoarsenBoundary::Pad).unwrap();
    /// assert_eq!(m.compute::<f64>().unwrap().as_slice().unwrap(), &[1.0, 4.0, 7.0, 9.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range or listed twice, a factor of 0, a length that is not a
    /// multiple of its factor (with `Exact`), or an arg-reduction (its index would be
    /// into the window, which no caller wants).
    pub fn coarsen(
        &self,
        op: ReduceOp,
        factors: &[(isize, usize)],
        boundary: impl Into<CoarsenBoundary>,
    ) -> Result<Array> {
        let boundary = boundary.into();
        if op.is_arg() {
            return Err(Error::InvalidArgument(format!(
                "coarsen takes a value reduction, not {}",
                op.name()
            )));
        }
        let nd = self.ndim();
        let mut factor = vec![1usize; nd];
        let mut listed = vec![false; nd];
        for &(axis, f) in factors {
            let a = normalize_axis(axis, nd)?;
            if f == 0 {
                return Err(Error::InvalidArgument(format!("coarsen factor 0 for axis {axis}")));
            }
            if listed[a] {
                return Err(Error::DuplicateAxis(a));
            }
            listed[a] = true;
            factor[a] = f;
        }
        let shape = self.shape();
        let mut x = self.clone();
        let ragged = (0..nd).any(|a| !shape[a].is_multiple_of(factor[a]));
        if ragged && boundary == CoarsenBoundary::Pad && x.dtype().kind() != Kind::Float {
            x = x.astype(if x.dtype().size() <= 2 { DType::F32 } else { DType::F64 });
        }
        for a in 0..nd {
            let excess = shape[a] % factor[a];
            if excess == 0 {
                continue;
            }
            match boundary {
                CoarsenBoundary::Exact => {
                    return Err(Error::InvalidArgument(format!(
                        "coarsen: axis {a} of length {} is not a multiple of its factor {} (trim drops the last {excess}, pad completes the window with NaN)",
                        shape[a], factor[a]
                    )));
                }
                CoarsenBoundary::Trim => {
                    x = x.slice_axis(a as isize, None, Some((shape[a] - excess) as isize), 1)?;
                }
                CoarsenBoundary::Pad => {
                    let mut pad_shape = x.shape();
                    pad_shape[a] = factor[a] - excess;
                    let nan = Array::full(&pad_shape, f64::NAN, x.dtype(), ChunkSpec::auto())?;
                    x = Array::concatenate(&[&x, &nan], a as isize)?;
                }
            }
        }
        let shape = x.shape();
        let out_shape: Vec<usize> = (0..nd).map(|a| shape[a] / factor[a]).collect();
        if x.size() == 0 {
            // Nothing to reduce (and `reshape` refuses empty arrays): an empty result.
            return Array::zeros(&out_shape, op.result_dtype(self.dtype()), ChunkSpec::auto());
        }
        let mut split = Vec::with_capacity(2 * nd);
        let mut windows = Vec::new();
        for a in 0..nd {
            split.push(out_shape[a] as isize);
            if factor[a] > 1 {
                windows.push(split.len() as isize);
                split.push(factor[a] as isize);
            }
        }
        if windows.is_empty() {
            // Every factor is 1: each element is its own window.
            return x.reduce(op, Vec::<isize>::new(), &ReduceOptions::default());
        }
        x.reshape(&split)?.reduce(op, windows, &ReduceOptions::default())
    }
}
