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

use super::Array;
use super::reduce::ReduceOptions;
use crate::error::{Error, Result};
use crate::grid::{ChunkSpec, normalize_axis};
use crate::ops::ReduceOp;

impl Array {
    /// Reduces each window of `factor` consecutive elements along each listed axis to
    /// one element with `op` (`dask.array.coarsen(reduction, x, {axis: factor})`;
    /// xarray's `coarsen(dim=factor, boundary="exact" | "trim")`).
    ///
    /// An axis whose length is not a multiple of its factor is an error, unless
    /// `trim_excess`, which drops the incomplete window at the end (dask's
    /// `trim_excess=True`). Axes not listed keep their length and chunks.
    ///
    /// ```
    /// use chunkwise::{Array, ReduceOp};
    /// let x = Array::arange(0.0, 12.0, 1.0, [4]).unwrap().reshape(&[2, 6]).unwrap();
    /// let m = x.coarsen(ReduceOp::Mean, &[(1, 3)], false).unwrap();
    /// assert_eq!(m.compute::<f64>().unwrap().as_slice().unwrap(), &[1.0, 4.0, 7.0, 10.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range or listed twice, a factor of 0, a length that is not a
    /// multiple of its factor (without `trim_excess`), or an arg-reduction (its index
    /// would be into the window, which no caller wants).
    pub fn coarsen(&self, op: ReduceOp, factors: &[(isize, usize)], trim_excess: bool) -> Result<Array> {
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
        for a in 0..nd {
            let excess = shape[a] % factor[a];
            if excess == 0 {
                continue;
            }
            if !trim_excess {
                return Err(Error::InvalidArgument(format!(
                    "coarsen: axis {a} of length {} is not a multiple of its factor {} (trim_excess drops the last {excess})",
                    shape[a], factor[a]
                )));
            }
            x = x.slice_axis(a as isize, None, Some((shape[a] - excess) as isize), 1)?;
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
