//! Shape operations: transposes, reshape, squeeze / expand_dims, broadcast_to,
//! concatenate and stack.
//!
//! All are one task per output block reading one input block (concatenate picks the
//! block from the right input; broadcast_to reads the block its broadcast axes map
//! to), except `reshape`, which first rechunks so that every axis it merges or splits
//! is whole in each block except the leading one of each group — then the reshape of
//! each block is the reshape of its C-order data, with no copy between blocks (dask's
//! `reshape_rechunk`).

use super::Array;
use crate::chunk::{Chunk, Value};
use crate::dtype::{DType, Element};

use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::{AxisChunks, ChunkGrid, ChunkSpec, normalize_axes, normalize_axis};

/// Output axis `k` is input axis `perm[k]`.
#[derive(Debug)]
struct PermuteOp {
    in_grid: ChunkGrid,
    out_grid: ChunkGrid,
    perm: Vec<usize>,
}

impl BlockOp for PermuteOp {
    fn name(&self) -> String {
        "transpose".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let o = self.out_grid.unlinear(b);
        let mut i = vec![0; o.len()];
        for (k, &p) in self.perm.iter().enumerate() {
            i[p] = o[k];
        }
        vec![(0, self.in_grid.linear(&i))]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "transpose")?;
        let shape = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        let data = crate::dispatch_buffer!(c.data(), v, T => {
            T::into_buffer(crate::device::cpu::gather::permute(v, c.shape(), &self.perm))
        });
        Ok(Value::Chunk(Chunk::new(shape, data)?))
    }
}

/// Same C-order data, a new block shape (squeeze, expand_dims, blockwise reshape).
#[derive(Debug)]
struct ReshapeBlocksOp {
    out_grid: ChunkGrid,
}

impl BlockOp for ReshapeBlocksOp {
    fn name(&self) -> String {
        "reshape".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "reshape")?;
        let shape = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        Ok(Value::Chunk(c.try_clone()?.reshaped(shape)?))
    }
}

/// Blocks of several inputs laid end to end along an axis.
#[derive(Debug)]
struct ConcatOp {
    out_grid: ChunkGrid,
    in_grids: Vec<ChunkGrid>,
    axis: usize,
    /// Per output block along `axis`: (input, block along axis).
    map: Vec<(usize, usize)>,
    dtype: DType,
    /// Whether the input blocks are handed on as they are (see [`BlockOp::forward`]):
    /// every input already has the output dtype, and no input appears twice (the
    /// same task twice among one array's blocks is not something the scheduler's
    /// output assembly expects).
    forward: bool,
}

impl BlockOp for ConcatOp {
    fn name(&self) -> String {
        "concatenate".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let mut idx = self.out_grid.unlinear(b);
        let (inp, k) = self.map[idx[self.axis]];
        idx[self.axis] = k;
        vec![(inp, self.in_grids[inp].linear(&idx))]
    }
    fn forward(&self, b: usize) -> Option<(usize, usize)> {
        self.forward.then(|| self.deps(b)[0])
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "concatenate")?;
        let c = if c.dtype() == self.dtype {
            c.try_clone()?
        } else {
            Chunk::new(c.shape().to_vec(), c.data().cast(self.dtype))?
        };
        Ok(Value::Chunk(c))
    }
}

/// An input broadcast to a larger shape (leading new axes, length-1 axes stretched).
#[derive(Debug)]
struct BroadcastOp {
    in_grid: ChunkGrid,
    out_grid: ChunkGrid,
}

impl BlockOp for BroadcastOp {
    fn name(&self) -> String {
        "broadcast_to".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let o = self.out_grid.unlinear(b);
        let pad = o.len() - self.in_grid.ndim();
        let nb = self.in_grid.nblocks();
        let i: Vec<usize> = (0..nb.len()).map(|a| if nb[a] == 1 { 0 } else { o[pad + a] }).collect();
        vec![(0, self.in_grid.linear(&i))]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "broadcast_to")?;
        let shape = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        let data = crate::dispatch_buffer!(c.data(), v, T => {
            let view = ndarray::ArrayViewD::from_shape(ndarray::IxDyn(c.shape()), v.as_slice())
                .map_err(|e| Error::Unsupported(format!("broadcast_to: {e}")))?;
            let bc = view.broadcast(ndarray::IxDyn(&shape)).ok_or_else(|| Error::Broadcast {
                a: c.shape().to_vec(),
                b: shape.clone(),
            })?;
            T::into_buffer(bc.iter().copied().collect::<Vec<T>>())
        });
        Ok(Value::Chunk(Chunk::new(shape, data)?))
    }
}

impl Array {
    /// Permutes the axes: output axis `k` is input axis `axes[k]` (`np.transpose`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `axes` is not a permutation of the axes.
    pub fn permute_axes(&self, axes: &[isize]) -> Result<Array> {
        let nd = self.ndim();
        let perm: Vec<usize> = axes.iter().map(|&a| normalize_axis(a, nd)).collect::<Result<_>>()?;
        if perm.len() != nd || (0..nd).any(|a| !perm.contains(&a)) {
            return Err(Error::InvalidArgument(format!(
                "axes {axes:?} do not match an array of {nd} dimensions"
            )));
        }
        if perm.iter().enumerate().all(|(k, &p)| k == p) {
            return Ok(self.clone());
        }
        let g = self.grid();
        let chunks: Vec<Vec<usize>> = perm.iter().map(|&p| g.chunks(p).to_vec()).collect();
        let shape: Vec<usize> = perm.iter().map(|&p| g.axis_len(p)).collect();
        let out_grid = ChunkGrid::from_chunks(&shape, chunks)?;
        let op = PermuteOp {
            in_grid: g.clone(),
            out_grid: out_grid.clone(),
            perm,
        };
        Ok(Array::from_block_op(op, vec![self.clone()], out_grid, self.dtype()))
    }

    /// Reverses the axes (`x.T`).
    pub fn t(&self) -> Array {
        let axes: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        self.permute_axes(&axes).expect("a reversal is a permutation")
    }

    /// Exchanges two axes.
    ///
    /// # Errors
    /// An axis out of range.
    pub fn swapaxes(&self, a: isize, b: isize) -> Result<Array> {
        let nd = self.ndim();
        let (a, b) = (normalize_axis(a, nd)?, normalize_axis(b, nd)?);
        let mut axes: Vec<isize> = (0..nd as isize).collect();
        axes.swap(a, b);
        self.permute_axes(&axes)
    }

    /// Moves axis `source` to position `destination`, keeping the others in order.
    ///
    /// # Errors
    /// An axis out of range.
    pub fn moveaxis(&self, source: isize, destination: isize) -> Result<Array> {
        let nd = self.ndim();
        let (s, d) = (normalize_axis(source, nd)?, normalize_axis(destination, nd)?);
        let mut axes: Vec<isize> = (0..nd as isize).filter(|&a| a != s as isize).collect();
        axes.insert(d, s as isize);
        self.permute_axes(&axes)
    }

    fn reshape_blocks(&self, out_grid: ChunkGrid) -> Array {
        let op = ReshapeBlocksOp {
            out_grid: out_grid.clone(),
        };
        Array::from_block_op(op, vec![self.clone()], out_grid, self.dtype())
    }

    /// Removes axes of length 1 (all of them when `axes` is `None`).
    ///
    /// # Errors
    /// An axis out of range or not of length 1.
    pub fn squeeze(&self, axes: Option<&[isize]>) -> Result<Array> {
        let shape = self.shape();
        let drop: Vec<usize> = match axes {
            None => (0..shape.len()).filter(|&a| shape[a] == 1).collect(),
            Some(ax) => normalize_axes(ax, shape.len())?,
        };
        if let Some(&a) = drop.iter().find(|&&a| shape[a] != 1) {
            return Err(Error::InvalidArgument(format!(
                "cannot squeeze axis {a} of length {} (only length-1 axes)",
                shape[a]
            )));
        }
        if drop.is_empty() {
            return Ok(self.clone());
        }
        let g = self.grid();
        let keep: Vec<usize> = (0..shape.len()).filter(|a| !drop.contains(a)).collect();
        let out = ChunkGrid::from_chunks(
            &keep.iter().map(|&a| shape[a]).collect::<Vec<_>>(),
            keep.iter().map(|&a| g.chunks(a).to_vec()).collect(),
        )?;
        Ok(self.reshape_blocks(out))
    }

    /// Inserts an axis of length 1 at position `axis` of the result (`np.expand_dims`).
    ///
    /// # Errors
    /// An axis out of range (for the result's number of axes).
    pub fn expand_dims(&self, axis: isize) -> Result<Array> {
        let a = normalize_axis(axis, self.ndim() + 1)?;
        let g = self.grid();
        let mut shape = self.shape();
        let mut chunks = g.all_chunks().to_vec();
        shape.insert(a, 1);
        chunks.insert(a, vec![1]);
        Ok(self.reshape_blocks(ChunkGrid::from_chunks(&shape, chunks)?))
    }

    /// The same elements in C order with a new shape (one entry may be -1: inferred).
    ///
    /// Cheap when each block already holds whole rows of the merged/split axes;
    /// otherwise the input is rechunked first so it does (axes after the leading one of
    /// each merged group become whole, as dask does).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the sizes do not match.
    pub fn reshape(&self, shape: &[isize]) -> Result<Array> {
        let out_shape = infer_shape(shape, self.size())?;
        let in_shape = self.shape();
        if out_shape == in_shape {
            return Ok(self.clone());
        }
        if self.size() == 0 {
            // No elements to move: the same (empty) array in the new shape.
            return Array::zeros(&out_shape, self.dtype(), crate::grid::ChunkSpec::auto());
        }
        // Strip length-1 axes on both sides; they are re-added with one block each.
        let in_axes: Vec<usize> = (0..in_shape.len()).filter(|&a| in_shape[a] != 1).collect();
        let out_axes: Vec<usize> = (0..out_shape.len()).filter(|&a| out_shape[a] != 1).collect();
        let g = self.grid();
        let mut in_chunks: Vec<AxisChunks> = (0..in_shape.len())
            .map(|a| AxisChunks::Sizes(g.chunks(a).to_vec()))
            .collect();
        let mut out_chunks: Vec<Vec<usize>> = out_shape.iter().map(|&n| vec![n]).collect();
        let (mut i, mut j) = (0, 0);
        while i < in_axes.len() && j < out_axes.len() {
            let (i0, j0) = (i, j);
            let (mut pi, mut po) = (in_shape[in_axes[i]], out_shape[out_axes[j]]);
            while pi != po {
                if pi < po {
                    i += 1;
                    pi *= in_shape[in_axes[i]];
                } else {
                    j += 1;
                    po *= out_shape[out_axes[j]];
                }
            }
            // Group: input axes in_axes[i0..=i], output axes out_axes[j0..=j].
            let rest_in: usize = in_axes[i0 + 1..=i].iter().map(|&a| in_shape[a]).product();
            let rest_out: usize = out_axes[j0 + 1..=j].iter().map(|&a| out_shape[a]).product();
            for &a in &in_axes[i0 + 1..=i] {
                in_chunks[a] = AxisChunks::Full;
            }
            let lead = in_axes[i0];
            let unit = rest_out / gcd(rest_in, rest_out);
            let mut lead_chunks = g.chunks(lead).to_vec();
            if lead_chunks.iter().any(|c| c % unit != 0) {
                let typical = lead_chunks.iter().copied().max().unwrap_or(1);
                let size = (typical / unit).max(1) * unit;
                lead_chunks = crate::grid::regular_chunks(in_shape[lead], size);
                in_chunks[lead] = AxisChunks::Sizes(lead_chunks.clone());
            }
            // Each lead block of c rows is c·rest_in elements = c·rest_in/rest_out lead
            // output rows; the other output axes of the group are whole.
            out_chunks[out_axes[j0]] = lead_chunks.iter().map(|&c| c * rest_in / rest_out).collect();
            i += 1;
            j += 1;
        }
        let spec = ChunkSpec::per_axis(in_chunks);
        let x = self.rechunk(spec)?;
        let out = ChunkGrid::from_chunks(&out_shape, out_chunks)?;
        if x.grid().num_blocks() != out.num_blocks() {
            return Err(Error::Unsupported(format!(
                "reshape {in_shape:?} → {out_shape:?}: no blockwise plan ({} blocks in, {} out)",
                x.grid().num_blocks(),
                out.num_blocks()
            )));
        }
        Ok(x.reshape_blocks(out))
    }

    /// Broadcasts to `shape` (NumPy rules); new and stretched axes are one block each
    /// when small, else split so a block stays within the input's largest block size
    /// times the stretch of the first stretched axis.
    ///
    /// # Errors
    /// [`Error::Broadcast`] when the shapes are incompatible.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        let in_shape = self.shape();
        let target = super::broadcast_shapes(&[&in_shape, shape])?;
        if target != shape {
            return Err(Error::Broadcast {
                a: in_shape,
                b: shape.to_vec(),
            });
        }
        if in_shape == shape {
            return Ok(self.clone());
        }
        let pad = shape.len() - in_shape.len();
        let g = self.grid();
        let spec: Vec<AxisChunks> = (0..shape.len())
            .map(|a| {
                if a >= pad && in_shape[a - pad] == shape[a] {
                    AxisChunks::Sizes(g.chunks(a - pad).to_vec())
                } else {
                    AxisChunks::Auto
                }
            })
            .collect();
        let out_grid = ChunkGrid::new(shape, &ChunkSpec::per_axis(spec), self.dtype().size())?;
        let op = BroadcastOp {
            in_grid: g.clone(),
            out_grid: out_grid.clone(),
        };
        Ok(Array::from_block_op(op, vec![self.clone()], out_grid, self.dtype()))
    }

    /// Joins arrays along an existing axis (`np.concatenate`); dtypes are promoted and
    /// the other axes take the first array's chunks.
    ///
    /// # Errors
    /// No arrays, differing numbers of axes, or shapes that differ off `axis`.
    pub fn concatenate(arrays: &[&Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::InvalidArgument("concatenate needs at least one array".into()))?;
        let nd = first.ndim();
        if nd == 0 {
            return Err(Error::InvalidArgument(
                "zero-dimensional arrays cannot be concatenated".into(),
            ));
        }
        let ax = normalize_axis(axis, nd)?;
        let s0 = first.shape();
        let mut dtype = first.dtype();
        for a in arrays {
            let s = a.shape();
            if s.len() != nd || (0..nd).any(|k| k != ax && s[k] != s0[k]) {
                return Err(Error::InvalidArgument(format!(
                    "concatenate along axis {ax}: shapes {s0:?} and {s:?} differ off that axis"
                )));
            }
            dtype = DType::promote(dtype, a.dtype());
        }
        let g0 = first.grid();
        let mut inputs = Vec::with_capacity(arrays.len());
        let mut map = Vec::new();
        let mut axis_chunks = Vec::new();
        for a in arrays {
            let want: Vec<Vec<usize>> = (0..nd)
                .map(|k| {
                    if k == ax {
                        a.grid().chunks(ax).to_vec()
                    } else {
                        g0.chunks(k).to_vec()
                    }
                })
                .collect();
            let x = a.rechunk_to(ChunkGrid::from_chunks(&a.shape(), want)?);
            if x.shape()[ax] == 0 {
                continue;
            }
            for (k, &c) in x.grid().chunks(ax).iter().enumerate() {
                map.push((inputs.len(), k));
                axis_chunks.push(c);
            }
            inputs.push(x);
        }
        if inputs.is_empty() {
            return Ok(first.astype(dtype));
        }
        if inputs.len() == 1 {
            return Ok(inputs[0].astype(dtype));
        }
        let mut shape = s0.clone();
        shape[ax] = axis_chunks.iter().sum();
        let chunks: Vec<Vec<usize>> = (0..nd)
            .map(|k| {
                if k == ax {
                    axis_chunks.clone()
                } else {
                    g0.chunks(k).to_vec()
                }
            })
            .collect();
        let out_grid = ChunkGrid::from_chunks(&shape, chunks)?;
        let distinct = inputs
            .iter()
            .enumerate()
            .all(|(i, x)| inputs[..i].iter().all(|y| !std::sync::Arc::ptr_eq(&x.expr, &y.expr)));
        let op = ConcatOp {
            out_grid: out_grid.clone(),
            in_grids: inputs.iter().map(|x| x.grid().clone()).collect(),
            axis: ax,
            map,
            dtype,
            forward: distinct && inputs.iter().all(|x| x.dtype() == dtype),
        };
        Ok(Array::from_block_op(op, inputs, out_grid, dtype))
    }

    /// Joins arrays of one shape along a new axis (`np.stack`).
    ///
    /// # Errors
    /// As [`Array::concatenate`], or shapes that differ.
    pub fn stack(arrays: &[&Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::InvalidArgument("stack needs at least one array".into()))?;
        if arrays.iter().any(|a| a.shape() != first.shape()) {
            return Err(Error::InvalidArgument("stack needs arrays of one shape".into()));
        }
        let ax = normalize_axis(axis, first.ndim() + 1)? as isize;
        let expanded: Vec<Array> = arrays.iter().map(|a| a.expand_dims(ax)).collect::<Result<_>>()?;
        let refs: Vec<&Array> = expanded.iter().collect();
        Array::concatenate(&refs, ax)
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn infer_shape(shape: &[isize], size: usize) -> Result<Vec<usize>> {
    let unknown = shape.iter().filter(|&&s| s == -1).count();
    if unknown > 1 || shape.iter().any(|&s| s < -1) {
        return Err(Error::InvalidArgument(format!("invalid shape {shape:?} for reshape")));
    }
    let known: usize = shape.iter().filter(|&&s| s >= 0).map(|&s| s as usize).product();
    let out: Vec<usize> = shape
        .iter()
        .map(|&s| {
            if s == -1 {
                size.checked_div(known).unwrap_or(0)
            } else {
                s as usize
            }
        })
        .collect();
    if out.iter().product::<usize>() != size {
        return Err(Error::InvalidArgument(format!(
            "cannot reshape an array of size {size} into shape {shape:?}"
        )));
    }
    Ok(out)
}
