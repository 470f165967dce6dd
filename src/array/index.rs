//! Indexing: NumPy's basic slicing, integer indices, `newaxis`, `take`, `compress`,
//! `flip` and `roll`.
//!
//! Every selection becomes a gather node ([`super::gather`]) whose output blocks read
//! only the input blocks they need; on an array read straight from storage, a
//! selection with unit steps is pushed into the read itself
//! ([`SlicedSource`](crate::io::sliced::SlicedSource)), so the stored chunks outside
//! the box are never decoded.
//!
//! Output chunks follow the input's chunk boundaries along sliced axes (dask's rule),
//! except that a large step or a scattered `take` groups positions from up to 8
//! input blocks into one output block instead of making one block per element.
//!
//! ```
//! use chunkwise::{Array, Index};
//! let x = Array::from_ndarray(ndarray::Array::range(0.0, 20.0, 1.0).into_shape_with_order((4, 5)).unwrap().into_dyn(), [2, 2]).unwrap();
//! let y = x.slice(&[Index::at(-1), Index::range(None, None, -2)]).unwrap();  // x[-1, ::-2]
//! assert_eq!(y.compute::<f64>().unwrap().as_slice().unwrap(), &[19.0, 17.0, 15.0]);
//! ```

use super::Array;
use super::gather::{AxisPicks, GatherOp, picks_grid, split_positions};
use crate::dtype::Scalar;
use crate::error::{Error, Result};
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, normalize_axis};
use crate::io::sliced::SlicedSource;
use std::sync::Arc;

/// One entry of an index expression (`x[a:b:s, i, newaxis, ...]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    /// `start:stop:step`, NumPy semantics (negative values count from the end; a
    /// negative step walks backwards; missing bounds are the ends for that step).
    Slice {
        /// First position (default: the start for that step's direction).
        start: Option<isize>,
        /// One past the last (default: the end for that step's direction).
        stop: Option<isize>,
        /// Nonzero.
        step: isize,
    },
    /// One position; the axis is dropped.
    At(isize),
    /// A new axis of length 1.
    NewAxis,
    /// As many full slices as needed to index every axis.
    Ellipsis,
}

impl Index {
    /// `start:stop:step`.
    #[must_use]
    pub fn range(start: Option<isize>, stop: Option<isize>, step: isize) -> Index {
        Index::Slice { start, stop, step }
    }

    /// The whole axis (`:`).
    #[must_use]
    pub fn full() -> Index {
        Index::range(None, None, 1)
    }

    /// One position (negative counts from the end).
    #[must_use]
    pub fn at(i: isize) -> Index {
        Index::At(i)
    }
}

impl From<std::ops::Range<isize>> for Index {
    fn from(r: std::ops::Range<isize>) -> Self {
        Index::range(Some(r.start), Some(r.end), 1)
    }
}
impl From<std::ops::RangeFrom<isize>> for Index {
    fn from(r: std::ops::RangeFrom<isize>) -> Self {
        Index::range(Some(r.start), None, 1)
    }
}
impl From<std::ops::RangeTo<isize>> for Index {
    fn from(r: std::ops::RangeTo<isize>) -> Self {
        Index::range(None, Some(r.end), 1)
    }
}
impl From<std::ops::RangeFull> for Index {
    fn from(_: std::ops::RangeFull) -> Self {
        Index::full()
    }
}
impl From<isize> for Index {
    fn from(i: isize) -> Self {
        Index::At(i)
    }
}

/// The positions `start:stop:step` selects on an axis of length `n` (Python's
/// `slice.indices`).
///
/// # Errors
/// [`Error::InvalidArgument`] for a zero step.
pub fn slice_positions(start: Option<isize>, stop: Option<isize>, step: isize, n: usize) -> Result<Vec<usize>> {
    if step == 0 {
        return Err(Error::InvalidArgument("slice step cannot be zero".into()));
    }
    let n = n as isize;
    let clamp = |v: isize, lo: isize, hi: isize| v.clamp(lo, hi);
    let norm = |v: isize| if v < 0 { v + n } else { v };
    let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let s = start.map_or(if step > 0 { 0 } else { n - 1 }, |v| clamp(norm(v), lo, hi));
    let e = stop.map_or(if step > 0 { n } else { -1 }, |v| clamp(norm(v), lo, hi));
    let mut out = Vec::new();
    let mut i = s;
    while (step > 0 && i < e) || (step < 0 && i > e) {
        out.push(i as usize);
        i += step;
    }
    Ok(out)
}

fn position(i: isize, n: usize, axis: usize) -> Result<usize> {
    let j = if i < 0 { i + n as isize } else { i };
    if j < 0 || j >= n as isize {
        return Err(Error::InvalidArgument(format!(
            "index {i} is out of bounds for axis {axis} with size {n}"
        )));
    }
    Ok(j as usize)
}

impl Array {
    /// Basic indexing, `x[index...]`: slices with any step, integer positions (the axis
    /// is dropped), [`Index::NewAxis`] and one [`Index::Ellipsis`]. Axes not named
    /// are kept whole.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for too many indices, an out-of-range position, a
    /// zero step or two ellipses.
    pub fn slice(&self, index: &[Index]) -> Result<Array> {
        let nd = self.ndim();
        let named = index
            .iter()
            .filter(|i| !matches!(i, Index::NewAxis | Index::Ellipsis))
            .count();
        let ellipses = index.iter().filter(|i| matches!(i, Index::Ellipsis)).count();
        if ellipses > 1 {
            return Err(Error::InvalidArgument(
                "an index can only have a single ellipsis".into(),
            ));
        }
        if named > nd {
            return Err(Error::InvalidArgument(format!(
                "too many indices: {named} for an array of {nd} dimensions"
            )));
        }
        let mut full: Vec<Index> = Vec::with_capacity(nd + index.len());
        let mut seen_ellipsis = false;
        for i in index {
            if matches!(i, Index::Ellipsis) {
                full.extend(std::iter::repeat_n(Index::full(), nd - named));
                seen_ellipsis = true;
            } else {
                full.push(*i);
            }
        }
        if !seen_ellipsis {
            full.extend(std::iter::repeat_n(Index::full(), nd - named));
        }
        let shape = self.shape();
        let mut pos: Vec<Vec<usize>> = Vec::with_capacity(nd);
        let mut axes: Vec<Option<usize>> = Vec::new();
        for i in full {
            let a = pos.len();
            match i {
                Index::NewAxis => axes.push(None),
                Index::At(k) => pos.push(vec![position(k, shape[a], a)?]),
                Index::Slice { start, stop, step } => {
                    pos.push(slice_positions(start, stop, step, shape[a])?);
                    axes.push(Some(a));
                }
                Index::Ellipsis => unreachable!("expanded above"),
            }
        }
        self.select(pos, axes, "getitem")
    }

    /// `x[start:stop:step]` along one axis.
    ///
    /// # Errors
    /// As [`Array::slice`]; an axis out of range.
    pub fn slice_axis(&self, axis: isize, start: Option<isize>, stop: Option<isize>, step: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        let mut idx = vec![Index::full(); self.ndim()];
        idx[a] = Index::range(start, stop, step);
        self.slice(&idx)
    }

    /// `x[..., i, ...]` along one axis (the axis is dropped).
    ///
    /// # Errors
    /// An axis or position out of range.
    pub fn index_axis(&self, axis: isize, i: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        let mut idx = vec![Index::full(); self.ndim()];
        idx[a] = Index::At(i);
        self.slice(&idx)
    }

    /// `np.take(x, indices, axis)`: the positions `indices` (negative counts from the
    /// end, repeats and any order allowed) along `axis`.
    ///
    /// # Errors
    /// An axis or index out of range.
    pub fn take(&self, indices: &[isize], axis: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        let n = self.shape()[a];
        let p: Vec<usize> = indices.iter().map(|&i| position(i, n, a)).collect::<Result<_>>()?;
        self.select_axis(a, p, "take")
    }

    /// `np.compress(mask, x, axis)`: the positions where `mask` is true along `axis`
    /// (a mask shorter than the axis selects from its first positions, as NumPy).
    ///
    /// # Errors
    /// An axis out of range, or a mask longer than the axis.
    pub fn compress(&self, mask: &[bool], axis: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        let n = self.shape()[a];
        if mask.len() > n {
            return Err(Error::InvalidArgument(format!(
                "compress: a mask of length {} for axis {a} of size {n}",
                mask.len()
            )));
        }
        let p: Vec<usize> = mask.iter().enumerate().filter(|&(_, &m)| m).map(|(i, _)| i).collect();
        self.select_axis(a, p, "compress")
    }

    /// `compress` with a lazy 1-D boolean mask. The result's length depends on the
    /// mask's values, so the mask (one value per position of the axis, small) is
    /// computed now — dask leaves such chunk sizes unknown (NaN) until computed; here
    /// they are known as soon as the array is built.
    ///
    /// # Errors
    /// A mask that is not 1-D bool, or any error computing it.
    pub fn compress_by(&self, mask: &Array, axis: isize) -> Result<Array> {
        if mask.ndim() != 1 || mask.dtype() != crate::DType::Bool {
            return Err(Error::InvalidArgument(format!(
                "compress needs a 1-D bool mask, got {:?} {}",
                mask.shape(),
                mask.dtype()
            )));
        }
        let m = mask.compute::<bool>()?;
        self.compress(&m.iter().copied().collect::<Vec<_>>(), axis)
    }

    /// Reverses the order of elements along `axis` (`np.flip`).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn flip(&self, axis: isize) -> Result<Array> {
        self.slice_axis(axis, None, None, -1)
    }

    /// Shifts elements along `axis` by `shift` positions, wrapping around (`np.roll`).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn roll(&self, shift: isize, axis: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim())?;
        let n = self.shape()[a];
        if n == 0 {
            return Ok(self.clone());
        }
        let s = shift.rem_euclid(n as isize) as usize;
        let p: Vec<usize> = (0..n).map(|i| (i + n - s) % n).collect();
        self.select_axis(a, p, "roll")
    }

    pub(super) fn select_axis(&self, axis: usize, p: Vec<usize>, name: &'static str) -> Result<Array> {
        let shape = self.shape();
        let pos: Vec<Vec<usize>> = (0..self.ndim())
            .map(|a| if a == axis { p.clone() } else { (0..shape[a]).collect() })
            .collect();
        let axes = (0..self.ndim()).map(Some).collect();
        self.select(pos, axes, name)
    }

    /// The general selection: positions per input axis, then the output axes (input
    /// axes not listed have one position and are dropped; `None` inserts an axis).
    fn select(&self, pos: Vec<Vec<usize>>, axes: Vec<Option<usize>>, name: &'static str) -> Result<Array> {
        let identity = axes.len() == pos.len()
            && axes.iter().enumerate().all(|(k, a)| *a == Some(k))
            && pos
                .iter()
                .enumerate()
                .all(|(a, p)| p.len() == self.shape()[a] && p.iter().enumerate().all(|(i, &q)| i == q));
        if identity {
            return Ok(self.clone());
        }
        let grid = self.grid();
        let contiguous = pos
            .iter()
            .all(|p| p.windows(2).all(|w| w[1] == w[0] + 1) && !p.is_empty());
        if let (ExprKind::Source(src), true) = (&self.expr.kind, contiguous) {
            let bounds: Vec<std::ops::Range<usize>> = pos.iter().map(|p| p[0]..p[p.len() - 1] + 1).collect();
            let chunks: Vec<Vec<usize>> = axes
                .iter()
                .map(|a| match a {
                    None => vec![1],
                    Some(a) => clip_chunks(grid, *a, &bounds[*a]),
                })
                .collect();
            let sliced = SlicedSource::new(src.clone(), bounds, axes);
            let shape = crate::io::ChunkSource::shape(&sliced).to_vec();
            let g = ChunkGrid::from_chunks(&shape, chunks)?;
            return Ok(Array::from_expr(ExprKind::Source(Arc::new(sliced)), g, self.dtype()));
        }
        let picks: Vec<AxisPicks> = pos
            .iter()
            .enumerate()
            .map(|(a, p)| {
                let cap = grid.chunks(a).iter().copied().max().unwrap_or(1);
                split_positions(p, grid, a, cap)
            })
            .collect();
        let in_space = picks_grid(&picks)?;
        let out_chunks: Vec<Vec<usize>> = axes
            .iter()
            .map(|a| a.map_or_else(|| vec![1], |a| in_space.chunks(a).to_vec()))
            .collect();
        let out_shape: Vec<usize> = out_chunks.iter().map(|c| c.iter().sum()).collect();
        let out_grid = ChunkGrid::from_chunks(&out_shape, out_chunks)?;
        let op = GatherOp {
            name,
            in_grid: grid.clone(),
            picks,
            out_grid: out_grid.clone(),
            dtype: self.dtype(),
            fill: Scalar::from(0u8),
        };
        Ok(Array::from_expr(
            ExprKind::Blocks {
                op: Arc::new(op),
                inputs: vec![self.clone()],
            },
            out_grid,
            self.dtype(),
        ))
    }
}

/// The input grid's blocks along `axis` clipped to `r` (so a slice of a stored array
/// keeps reading whole stored chunks where it can).
fn clip_chunks(grid: &ChunkGrid, axis: usize, r: &std::ops::Range<usize>) -> Vec<usize> {
    let out: Vec<usize> = (0..grid.chunks(axis).len())
        .filter_map(|i| {
            let b = grid.range(axis, i);
            let s = b.start.max(r.start);
            let e = b.end.min(r.end);
            (s < e).then(|| e - s)
        })
        .collect();
    if out.is_empty() { vec![0] } else { out }
}
