//! Counting: `histogram` (fixed bins, over everything or along an axis), `bincount`
//! and `unique`.
//!
//! Each block counts into a partial histogram (one task per block), and the partials
//! are added with the engine's tree sum, so a histogram of a store larger than memory
//! is one streaming pass. Bin edges and the bin of a value follow `np.histogram`
//! exactly: edges are `np.linspace(lo, hi, bins + 1)`, the last bin is closed, values
//! outside the range and NaN are not counted, and a value is checked against the
//! computed edges so rounding never puts it one bin off.
//!
//! `bincount`'s length and `unique`'s values depend on the data: they are computed
//! when called (one reduction, or one pass over the blocks), as dask computes them.

use super::Array;
use crate::chunk::{Chunk, Value};
use crate::dtype::{Buffer, DType, Element, Kind};
use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::{ChunkGrid, normalize_axis};
use std::sync::Arc;

/// NumPy's bin of `v` for `bins` equal bins over `[lo, hi]` with `edges`, if any.
fn bin_of(v: f64, lo: f64, hi: f64, bins: usize, edges: &[f64]) -> Option<usize> {
    if !(v >= lo && v <= hi) {
        return None;
    }
    let norm = bins as f64 / (hi - lo);
    let mut i = (((v - lo) * norm) as usize).min(bins);
    if i == bins {
        i -= 1;
    }
    if v < edges[i] {
        i = i.saturating_sub(1);
    } else if v >= edges[i + 1] && i != bins - 1 {
        i += 1;
    }
    Some(i)
}

/// `np.linspace(lo, hi, n + 1)`.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let step = (hi - lo) / n as f64;
    let mut e: Vec<f64> = (0..=n).map(|i| lo + step * i as f64).collect();
    e[n] = hi;
    e
}

/// Per-block histogram: output block `(k, ..., bins, ...)` of an array with a new
/// leading axis of one entry per input block along `axis` (or per block, for `None`).
#[derive(Debug)]
struct HistOp {
    in_grid: ChunkGrid,
    out_grid: ChunkGrid,
    axis: Option<usize>,
    lo: f64,
    hi: f64,
    bins: usize,
    edges: Vec<f64>,
}

impl BlockOp for HistOp {
    fn name(&self) -> String {
        "histogram".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        match self.axis {
            None => vec![(0, b)],
            Some(ax) => {
                // Output (k, rest with axis → bins): k is the block along `axis`.
                let o = self.out_grid.unlinear(b);
                let mut i = o[1..].to_vec();
                i[ax] = o[0];
                vec![(0, self.in_grid.linear(&i))]
            }
        }
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "histogram")?;
        let shape = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        let mut counts = vec![0i64; shape.iter().product()];
        let count = |v: f64| bin_of(v, self.lo, self.hi, self.bins, &self.edges);
        crate::dispatch_buffer!(c.data(), d, T => {
            match self.axis {
                None => {
                    for &x in d.iter() {
                        if let Some(i) = count(x.to_f64()) {
                            counts[i] += 1;
                        }
                    }
                }
                Some(ax) => {
                    let s = c.shape();
                    let outer: usize = s[..ax].iter().product();
                    let n = s[ax];
                    let inner: usize = s[ax + 1..].iter().product();
                    for o in 0..outer {
                        for k in 0..n {
                            for j in 0..inner {
                                if let Some(i) = count(d[(o * n + k) * inner + j].to_f64()) {
                                    counts[(o * self.bins + i) * inner + j] += 1;
                                }
                            }
                        }
                    }
                }
            }
        });
        Ok(Value::Chunk(Chunk::new(shape, Buffer::I64(counts))?))
    }
}

/// Per-block `bincount`: a `(1, length)` row of counts per block.
#[derive(Debug)]
struct BincountOp {
    length: usize,
}

impl BlockOp for BincountOp {
    fn name(&self) -> String {
        "bincount".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "bincount")?;
        let mut counts = vec![0i64; self.length];
        crate::dispatch_buffer!(c.data(), d, T => {
            for &x in d.iter() {
                let v = x.to_i64();
                if v < 0 || v as usize >= self.length {
                    return Err(Error::Value(format!("bincount: value {v} outside 0..{}", self.length)));
                }
                counts[v as usize] += 1;
            }
        });
        Ok(Value::Chunk(Chunk::new(vec![1, self.length], Buffer::I64(counts))?))
    }
}

impl Array {
    /// `np.histogram` counts (int64) with `bins` equal bins over `range` (`None`: the
    /// data's min and max, computed now), over all elements (`axis` `None`, shape
    /// `(bins,)`) or along `axis` (that axis replaced by `bins`: one histogram per
    /// lane). The edges are [`Array::histogram_edges`].
    ///
    /// # Errors
    /// Zero bins, an empty or non-finite range, an axis out of range.
    pub fn histogram(&self, bins: usize, range: Option<(f64, f64)>, axis: Option<isize>) -> Result<Array> {
        let (lo, hi) = self.histogram_range(range)?;
        if bins == 0 {
            return Err(Error::InvalidArgument("histogram needs at least one bin".into()));
        }
        let edges = linspace(lo, hi, bins);
        let g = self.grid();
        match axis {
            None => {
                let nb = g.num_blocks();
                let out_grid = ChunkGrid::from_chunks(&[nb, bins], vec![vec![1; nb], vec![bins]])?;
                let x = if self.ndim() == 0 {
                    self.reshape(&[1])?
                } else {
                    self.clone()
                };
                let op = HistOp {
                    in_grid: x.grid().clone(),
                    out_grid: out_grid.clone(),
                    axis: None,
                    lo,
                    hi,
                    bins,
                    edges,
                };
                Array::from_block_op(op, vec![x], out_grid, DType::I64).sum(0)
            }
            Some(a) => {
                let ax = normalize_axis(a, self.ndim())?;
                let nb = g.nblocks()[ax];
                let mut chunks = vec![vec![1; nb]];
                chunks.extend(g.all_chunks().iter().cloned());
                chunks[ax + 1] = vec![bins];
                let shape: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
                let out_grid = ChunkGrid::from_chunks(&shape, chunks)?;
                let op = HistOp {
                    in_grid: g.clone(),
                    out_grid: out_grid.clone(),
                    axis: Some(ax),
                    lo,
                    hi,
                    bins,
                    edges,
                };
                Array::from_block_op(op, vec![self.clone()], out_grid, DType::I64).sum(0)
            }
        }
    }

    /// The `bins + 1` edges [`Array::histogram`] uses for `range` (computing the
    /// data's min and max when `None`).
    ///
    /// # Errors
    /// As [`Array::histogram`].
    pub fn histogram_edges(&self, bins: usize, range: Option<(f64, f64)>) -> Result<Vec<f64>> {
        let (lo, hi) = self.histogram_range(range)?;
        if bins == 0 {
            return Err(Error::InvalidArgument("histogram needs at least one bin".into()));
        }
        Ok(linspace(lo, hi, bins))
    }

    fn histogram_range(&self, range: Option<(f64, f64)>) -> Result<(f64, f64)> {
        let (lo, hi) = match range {
            Some(r) => r,
            None => {
                if self.size() == 0 {
                    (0.0, 1.0)
                } else {
                    let x = self.astype(DType::F64);
                    let lo = x.nanmin(None)?.compute_scalar::<f64>()?;
                    let hi = x.nanmax(None)?.compute_scalar::<f64>()?;
                    (lo, hi)
                }
            }
        };
        if !(lo.is_finite() && hi.is_finite()) || lo > hi {
            return Err(Error::InvalidArgument(format!(
                "histogram range ({lo}, {hi}) must be finite with min <= max"
            )));
        }
        // NumPy widens an empty range by 0.5 on each side.
        Ok(if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) })
    }

    /// `np.bincount` of a 1-D array of non-negative integers: counts of each value,
    /// at least `minlength` long. The length (the largest value + 1) is computed now.
    ///
    /// # Errors
    /// A non-integer or not 1-D array, or a negative value.
    pub fn bincount(&self, minlength: usize) -> Result<Array> {
        if self.ndim() != 1 || !matches!(self.dtype().kind(), Kind::Signed | Kind::Unsigned | Kind::Bool) {
            return Err(Error::InvalidArgument(format!(
                "bincount needs a 1-D integer array, got {:?} {}",
                self.shape(),
                self.dtype()
            )));
        }
        let length = if self.size() == 0 {
            minlength
        } else {
            let x = self.astype(DType::I64);
            let lo = x.min(None)?.compute_scalar::<i64>()?;
            if lo < 0 {
                return Err(Error::Value(format!("bincount: the input has a negative value ({lo})")));
            }
            let hi = x.max(None)?.compute_scalar::<i64>()?;
            (hi as usize + 1).max(minlength)
        };
        if self.size() == 0 {
            return Array::zeros(&[length], DType::I64, [length.max(1)]);
        }
        let nb = self.num_blocks();
        let grid = ChunkGrid::from_chunks(&[nb, length], vec![vec![1; nb], vec![length]])?;
        Array::from_block_op(BincountOp { length }, vec![self.clone()], grid, DType::I64).sum(0)
    }

    /// `np.unique`: the sorted distinct values, as a 1-D array (NaN once, last). The
    /// blocks are reduced to their distinct values in parallel and merged now, so the
    /// result must fit in memory (the number of distinct values, not the array).
    ///
    /// # Errors
    /// Any error computing the blocks.
    pub fn unique(&self) -> Result<Array> {
        let parts = (0..self.num_blocks())
            .map(|b| self.block_then(b, "unique", |c| Ok(Arc::new(distinct(c)))))
            .collect::<Result<Vec<_>>>()?;
        let merged = crate::delayed::gather(&parts, "unique-merge", |v| {
            let all: Vec<&Chunk> = v.iter().map(|c| -> &Chunk { c }).collect();
            Ok(Arc::new(merge_distinct(&all)?))
        });
        let c =
            Arc::try_unwrap(crate::runtime::Runtime::global().compute_delayed(&merged)?).or_else(|c| c.try_clone())?;
        let n = c.shape()[0];
        let src = crate::io::memory::MemorySource::new(c);
        Array::from_source(Arc::new(src), [n.max(1)])
    }
}

fn sort_dedup<T: Element>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    v.dedup_by(|a, b| a == b || (a.is_nan() && b.is_nan()));
    v
}

fn distinct(c: &Chunk) -> Chunk {
    let data = crate::dispatch_buffer!(c.data(), d, T => T::into_buffer(sort_dedup(d.to_vec())));
    let n = data.len();
    Chunk::new(vec![n], data).expect("1-D of its own length")
}

fn merge_distinct(parts: &[&Chunk]) -> Result<Chunk> {
    let Some(first) = parts.first() else {
        return Chunk::new(vec![0], Buffer::F64(Vec::new()));
    };
    let data = crate::dispatch_buffer!(first.data(), _d, T => {
        let mut all: Vec<T> = Vec::new();
        for p in parts {
            all.extend_from_slice(T::slice_of(p.data()).ok_or_else(|| Error::Unsupported("unique: mixed dtypes".into()))?);
        }
        T::into_buffer(sort_dedup(all))
    });
    let n = data.len();
    Chunk::new(vec![n], data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_numpy_edges() {
        let e = linspace(0.0, 1.0, 10);
        assert_eq!(bin_of(1.0, 0.0, 1.0, 10, &e), Some(9));
        assert_eq!(bin_of(0.0, 0.0, 1.0, 10, &e), Some(0));
        // linspace's third edge is 0.30000000000000004, so NumPy puts 0.3 in bin 2
        // (`np.histogram([0.3], 10, (0, 1))`).
        assert_eq!(bin_of(0.3, 0.0, 1.0, 10, &e), Some(2));
        assert_eq!(bin_of(0.35, 0.0, 1.0, 10, &e), Some(3));
        assert_eq!(bin_of(1.0000001, 0.0, 1.0, 10, &e), None);
        assert_eq!(bin_of(f64::NAN, 0.0, 1.0, 10, &e), None);
    }
}
