//! Boolean-mask indexing: NumPy's `x[mask]` for a mask over the leading axes.
//!
//! The result has one axis for the selected positions (in C order of the masked
//! axes) followed by the unmasked axes. Its length depends on the mask's values, so
//! the mask's per-block counts are computed when the array is built (a small
//! reduction, one integer per block: the mask itself is never held whole) — dask
//! leaves such chunk sizes unknown (NaN) until `compute_chunk_sizes()`; here they are
//! known at once. The masked axes are flattened into one first (a reshape, which keeps
//! whole rows of the trailing masked axes per block), so every output block comes
//! from exactly one block of `x` and one of the mask, and C order holds across blocks.

use super::Array;
use crate::chunk::{Chunk, Value};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::ChunkGrid;

/// Output block → the rows its source block keeps.
#[derive(Debug)]
struct MaskSelectOp {
    x_grid: ChunkGrid,
    out_grid: ChunkGrid,
    /// For each output block along axis 0, the source block along axis 0.
    source: Vec<usize>,
}

impl BlockOp for MaskSelectOp {
    fn name(&self) -> String {
        "mask-select".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let mut idx = self.out_grid.unlinear(b);
        idx[0] = self.source[idx[0]];
        let mask_block = idx[0];
        vec![(0, self.x_grid.linear(&idx)), (1, mask_block)]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let x = inputs[0].as_chunk()?;
        let m = inputs[1].as_chunk()?;
        let keep = m
            .data()
            .as_slice::<bool>()
            .ok_or_else(|| Error::Unsupported("mask block that is not bool".into()))?;
        let row: usize = x.shape()[1..].iter().product();
        let want = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        let data = crate::dispatch_buffer!(x.data(), v, T => {
            let mut out: Vec<T> = Vec::with_capacity(want.iter().product());
            for (r, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
                out.extend_from_slice(&v[r * row..(r + 1) * row]);
            }
            T::into_buffer(out)
        });
        Ok(Value::Chunk(Chunk::new(want, data)?))
    }
}

impl Array {
    /// NumPy's boolean indexing `x[mask]`: `mask` is a bool array whose shape is the
    /// leading `k` axes of this array; the result has shape `(count, rest...)` where
    /// `count` is the number of true values and `rest` the remaining axes, elements
    /// in C order of the masked axes. A mask of the whole shape gives the 1-D array of
    /// the selected elements. The mask's per-block counts are computed now (see the
    /// module docs); the selection itself stays lazy.
    ///
    /// ```
    /// # use chunkwise::Array;
    /// # use ndarray::{ArrayD, IxDyn};
    /// let x = Array::from_ndarray(ArrayD::from_shape_fn(IxDyn(&[4, 5]), |i| (i[0] * 5 + i[1]) as i64), [3, 2])?;
    /// let odd = x.remainder(2.0)?.equal(1.0)?;
    /// let sel = x.boolean_index(&odd)?;
    /// assert_eq!(sel.shape(), vec![10]);
    /// assert_eq!(sel.compute::<i64>()?.iter().copied().collect::<Vec<_>>(), (0..10).map(|k| 2 * k + 1).collect::<Vec<i64>>());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// A mask that is not bool, has more axes than this array or a shape that is not
    /// its leading axes; any error computing the mask's counts.
    pub fn boolean_index(&self, mask: &Array) -> Result<Array> {
        let shape = self.shape();
        let k = mask.ndim();
        if mask.dtype() != DType::Bool || k == 0 || k > shape.len() || mask.shape() != shape[..k] {
            return Err(Error::InvalidArgument(format!(
                "boolean index: a {} mask of shape {:?} for an array of shape {shape:?} (the mask must be bool, \
                 shaped like the array's leading axes)",
                mask.dtype(),
                mask.shape()
            )));
        }
        let lead: usize = shape[..k].iter().product();
        let mut flat: Vec<isize> = vec![lead as isize];
        flat.extend(shape[k..].iter().map(|&n| n as isize));
        let x = if k == 1 { self.clone() } else { self.reshape(&flat)? };
        let m = if k == 1 {
            mask.clone()
        } else {
            mask.reshape(&[lead as isize])?
        };
        let m = m.rechunk_to(ChunkGrid::from_chunks(&[lead], vec![x.chunks()[0].clone()])?);
        let nb = m.grid().nblocks()[0];
        let counts = m
            .map_blocks_with(vec![vec![1; nb]], |v: ndarray::ArrayViewD<'_, bool>, _| {
                ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1]), v.iter().filter(|&&b| b).count() as i64)
            })?
            .compute::<i64>()?;
        let source: Vec<usize> = (0..nb).filter(|&i| counts[[i]] > 0).collect();
        if source.is_empty() {
            return x.select_axis(0, Vec::new(), "boolean index");
        }
        let mut chunks: Vec<Vec<usize>> = vec![source.iter().map(|&i| counts[[i]] as usize).collect()];
        chunks.extend(x.chunks()[1..].iter().cloned());
        let mut out_shape = vec![chunks[0].iter().sum()];
        out_shape.extend(&shape[k..]);
        let out_grid = ChunkGrid::from_chunks(&out_shape, chunks)?;
        let op = MaskSelectOp {
            x_grid: x.grid().clone(),
            out_grid: out_grid.clone(),
            source,
        };
        Ok(Array::from_block_op(op, vec![x.clone(), m], out_grid, x.dtype()))
    }
}
