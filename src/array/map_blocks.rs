//! User closures over blocks: `map_blocks`, `blockwise` and `map_overlap`.
//!
//! The closure sees each block as an ndarray view and returns an owned array; the
//! engine checks the returned shape against the declared output chunks (a mismatch is
//! an error naming the block, never a silently wrong array). `map_blocks_axes` covers
//! functions that reduce axes away or add axes (dask's `drop_axis` / `new_axis`): a
//! dropped axis is rechunked to one block first (dask concatenates the blocks along it
//! for the same reason), a new axis is one block.
//!
//! `map_overlap` hands the closure a block extended by a halo of `depth` elements per
//! axis and trims the halo from the result. The halo is gathered straight from the
//! strips of the neighbour blocks that hold it (one task per block, depending on the
//! block and its neighbours) — dask builds it by slicing neighbour strips into separate
//! tasks and concatenating them, which multiplies tasks and copies (dask #3671,
//! PR #7595). Boundaries: none (no halo at the array's edges), periodic, reflect
//! (mirror including the edge element, dask's and NumPy's `symmetric`), nearest, and
//! a constant.

use super::Array;
use super::gather::{gather_block, gather_deps};
use crate::chunk::{Chunk, Value};
use crate::dtype::{Element, Scalar};
use crate::error::{Error, Result};
use crate::expr::{BlockOp, ExprKind};
use crate::grid::ChunkGrid;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// Where a block sits in its array, for closures that need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's index in the grid.
    pub index: Vec<usize>,
    /// Its first element in the array.
    pub offset: Vec<usize>,
    /// The whole array's shape.
    pub array_shape: Vec<usize>,
}

/// How `map_overlap` fills a halo beyond the array's edges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary {
    /// No halo at the edges: edge blocks are extended only inwards.
    None,
    /// Wrap around (`np.pad(mode="wrap")`).
    Periodic,
    /// Mirror including the edge element (`np.pad(mode="symmetric")`, dask's `reflect`).
    Reflect,
    /// Repeat the edge element (`np.pad(mode="edge")`).
    Nearest,
    /// A constant.
    Constant(f64),
}

fn view<'a, T: Element>(c: &'a Chunk, name: &str) -> Result<ArrayViewD<'a, T>> {
    let v = T::slice_of(c.data()).ok_or_else(|| Error::DTypeMismatch {
        requested: T::DTYPE,
        actual: c.dtype(),
    })?;
    ArrayViewD::from_shape(IxDyn(c.shape()), v).map_err(|e| Error::Unsupported(format!("{name}: {e}")))
}

fn returned<U: Element>(out: ArrayD<U>, want: &[usize], name: &str, idx: &[usize]) -> Result<Chunk> {
    if out.shape() != want {
        return Err(Error::InvalidArgument(format!(
            "{name}: the function returned shape {:?} for block {idx:?}, declared {want:?}",
            out.shape()
        )));
    }
    Ok(Chunk::from_ndarray(out))
}

type BlockFn<T, U> = dyn Fn(ArrayViewD<'_, T>) -> ArrayD<U> + Send + Sync;
type BlocksFn<T, U> = dyn Fn(&[ArrayViewD<'_, T>], &BlockInfo) -> ArrayD<U> + Send + Sync;

/// A closure over aligned blocks of several inputs.
struct MapBlocksOp<T: Element, U: Element> {
    name: String,
    in_grid: ChunkGrid,
    out_grid: ChunkGrid,
    /// For each output axis, the input axis it continues (`None`: a new axis). Input
    /// axes no output axis continues are dropped (and are one block).
    out_to_in: Vec<Option<usize>>,
    ninputs: usize,
    f: Box<BlocksFn<T, U>>,
    _t: PhantomData<fn(T) -> U>,
}

impl<T: Element, U: Element> std::fmt::Debug for MapBlocksOp<T, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapBlocks({})", self.name)
    }
}

impl<T: Element, U: Element> MapBlocksOp<T, U> {
    /// The input block index output block `b` reads (block 0 along dropped axes).
    fn input_index(&self, b: usize) -> Vec<usize> {
        let out = self.out_grid.unlinear(b);
        let mut idx = vec![0; self.in_grid.ndim()];
        for (o, a) in self.out_to_in.iter().enumerate() {
            if let Some(a) = a {
                idx[*a] = out[o];
            }
        }
        idx
    }
}

impl<T: Element, U: Element> BlockOp for MapBlocksOp<T, U> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let k = self.in_grid.linear(&self.input_index(b));
        (0..self.ninputs).map(|i| (i, k)).collect()
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let out_idx = self.out_grid.unlinear(b);
        let idx = self.input_index(b);
        let views: Vec<ArrayViewD<'_, T>> = inputs
            .iter()
            .map(|v| view::<T>(v.as_chunk()?, &self.name))
            .collect::<Result<_>>()?;
        let info = BlockInfo {
            offset: self.in_grid.block_offset(&idx),
            index: idx.clone(),
            array_shape: self.in_grid.shape(),
        };
        let out = (self.f)(&views, &info);
        Ok(Value::Chunk(returned(
            out,
            &self.out_grid.block_shape(&out_idx),
            &self.name,
            &out_idx,
        )?))
    }
}

/// A closure over blocks extended by halos.
struct OverlapOp<T: Element, U: Element> {
    in_grid: ChunkGrid,
    depth: Vec<usize>,
    boundary: Boundary,
    f: Box<BlockFn<T, U>>,
}

impl<T: Element, U: Element> std::fmt::Debug for OverlapOp<T, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapOverlap(depth {:?}, {:?})", self.depth, self.boundary)
    }
}

/// The source position of extended position `p` (may be outside `0..n`) on an axis of
/// length `n`: `Some(Some(q))` read `q`, `Some(None)` the constant, `None` no element.
fn boundary_position(p: isize, n: usize, b: Boundary) -> Option<Option<usize>> {
    let n = n as isize;
    if (0..n).contains(&p) {
        return Some(Some(p as usize));
    }
    match b {
        Boundary::None => None,
        Boundary::Constant(_) => Some(None),
        Boundary::Periodic => Some(Some(p.rem_euclid(n) as usize)),
        Boundary::Nearest => Some(Some(p.clamp(0, n - 1) as usize)),
        Boundary::Reflect => {
            // Period 2n: 0..n forwards, then n..2n mirrored (n → n-1, 2n-1 → 0).
            let q = p.rem_euclid(2 * n);
            Some(Some(if q < n { q } else { 2 * n - 1 - q } as usize))
        }
    }
}

impl<T: Element, U: Element> OverlapOp<T, U> {
    /// Per axis: the extended positions of block `b` and how many of them lie before
    /// the block.
    fn picks(&self, b: usize) -> (Vec<Vec<Option<usize>>>, Vec<usize>) {
        let idx = self.in_grid.unlinear(b);
        let mut before = Vec::with_capacity(idx.len());
        let picks = idx
            .iter()
            .enumerate()
            .map(|(a, &i)| {
                let r = self.in_grid.range(a, i);
                let n = self.in_grid.axis_len(a);
                let d = self.depth[a] as isize;
                let mut v = Vec::with_capacity(r.len() + 2 * self.depth[a]);
                let mut pre = 0;
                for p in r.start as isize - d..r.end as isize + d {
                    if let Some(q) = boundary_position(p, n, self.boundary) {
                        if p < r.start as isize {
                            pre += 1;
                        }
                        v.push(q);
                    }
                }
                before.push(pre);
                v
            })
            .collect();
        (picks, before)
    }
}

impl<T: Element, U: Element> BlockOp for OverlapOp<T, U> {
    fn name(&self) -> String {
        "map_overlap".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let (picks, _) = self.picks(b);
        let refs: Vec<&[Option<usize>]> = picks.iter().map(Vec::as_slice).collect();
        gather_deps(&self.in_grid, &refs).into_iter().map(|k| (0, k)).collect()
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let (picks, before) = self.picks(b);
        let refs: Vec<&[Option<usize>]> = picks.iter().map(Vec::as_slice).collect();
        let fill = match self.boundary {
            Boundary::Constant(c) => Scalar::from(c),
            _ => Scalar::from(0.0),
        };
        let ext = gather_block(&self.in_grid, &refs, inputs, T::DTYPE, fill, "map_overlap")?;
        let idx = self.in_grid.unlinear(b);
        let out = (self.f)(view::<T>(&ext, "map_overlap")?);
        let out = returned(out, ext.shape(), "map_overlap", &idx)?;
        let shape = self.in_grid.block_shape(&idx);
        let trim: Vec<std::ops::Range<usize>> = before.iter().zip(&shape).map(|(&s, &n)| s..s + n).collect();
        Ok(Value::Chunk(out.slice(&trim)))
    }
}

impl Array {
    fn check_dtype<T: Element>(&self, what: &str) -> Result<()> {
        if self.dtype() != T::DTYPE {
            return Err(Error::InvalidArgument(format!(
                "{what}: the function takes {} blocks but the array is {}",
                T::DTYPE,
                self.dtype()
            )));
        }
        Ok(())
    }

    /// Applies `f` to every block (dask's `map_blocks`); the result has the same
    /// chunks, and `f` must return a block of its input's shape.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the array's dtype is not `T`; when computed, a
    /// block of the wrong shape.
    pub fn map_blocks<T: Element, U: Element>(
        &self,
        f: impl Fn(ArrayViewD<'_, T>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        self.map_blocks_with(self.chunks().to_vec(), move |v, _| f(v))
    }

    /// `map_blocks` with declared output chunks (one size per block along each axis, so
    /// the block grid is the input's) and the block's position passed to `f`.
    ///
    /// # Errors
    /// As [`Array::map_blocks`]; chunks whose block counts differ from the input's.
    pub fn map_blocks_with<T: Element, U: Element>(
        &self,
        chunks: Vec<Vec<usize>>,
        f: impl Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        Array::blockwise_with(&[self], chunks, move |v: &[ArrayViewD<'_, T>], info| {
            f(v[0].clone(), info)
        })
    }

    /// `map_blocks` for functions that remove or add axes (dask's `drop_axis` and
    /// `new_axis`). Each axis in `drop_axis` (input axes) is first rechunked to one
    /// block, so `f` sees it whole, and is absent from the result; each `(position,
    /// length)` in `new_axis` is an axis of the result (positions in the result), one
    /// block of that length. The other axes keep the input's chunks, in order. `f`
    /// receives the input block (and its place in the input) and must return a block
    /// of the result's shape for that position.
    ///
    /// ```
    /// # use chunkwise::Array;
    /// # use ndarray::{ArrayD, Axis, IxDyn};
    /// // Per-column (axis 0) statistics [min, max] as a new trailing axis of length 2.
    /// let x = Array::from_ndarray(ArrayD::from_shape_fn(IxDyn(&[6, 4]), |i| (i[0] * 4 + i[1]) as f64), [2, 2])?;
    /// let r = x.map_blocks_axes(&[0], &[(1, 2)], |b: ndarray::ArrayViewD<'_, f64>, _| {
    ///     let lo = b.fold_axis(Axis(0), f64::INFINITY, |a, &v| a.min(v));
    ///     let hi = b.fold_axis(Axis(0), f64::NEG_INFINITY, |a, &v| a.max(v));
    ///     ndarray::stack(Axis(1), &[lo.view(), hi.view()]).unwrap().into_dyn()
    /// })?;
    /// assert_eq!(r.shape(), vec![4, 2]);
    /// assert_eq!(r.compute::<f64>()?[[3, 1]], 23.0);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// A dtype that is not `T`, an axis out of range or repeated, a new-axis position
    /// outside the result; when computed, a block of the wrong shape.
    pub fn map_blocks_axes<T: Element, U: Element>(
        &self,
        drop_axis: &[isize],
        new_axis: &[(isize, usize)],
        f: impl Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        self.map_blocks_axes_named("map_blocks", drop_axis, new_axis, f)
    }

    /// [`Array::map_blocks_axes`] under another name (in the graph and in errors).
    pub(crate) fn map_blocks_axes_named<T: Element, U: Element>(
        &self,
        name: &str,
        drop_axis: &[isize],
        new_axis: &[(isize, usize)],
        f: impl Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        self.check_dtype::<T>(name)?;
        let nd = self.ndim();
        let mut drop: Vec<usize> = drop_axis
            .iter()
            .map(|&a| crate::grid::normalize_axis(a, nd))
            .collect::<Result<_>>()?;
        drop.sort_unstable();
        if drop.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "{name}: drop_axis {drop_axis:?} repeats an axis"
            )));
        }
        let out_nd = nd - drop.len() + new_axis.len();
        let mut news: Vec<(usize, usize)> = new_axis
            .iter()
            .map(|&(p, n)| Ok((crate::grid::normalize_axis(p, out_nd)?, n)))
            .collect::<Result<_>>()?;
        news.sort_unstable();
        if news.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidArgument(format!(
                "{name}: new_axis {new_axis:?} repeats a position"
            )));
        }
        // Dropped axes become one block: the function sees them whole.
        let in_chunks: Vec<Vec<usize>> = (0..nd)
            .map(|a| {
                if drop.contains(&a) {
                    vec![self.shape()[a]]
                } else {
                    self.chunks()[a].clone()
                }
            })
            .collect();
        let x = self.rechunk_to(ChunkGrid::from_chunks(&self.shape(), in_chunks)?);
        let mut kept = (0..nd).filter(|a| !drop.contains(a));
        let mut out_to_in = Vec::with_capacity(out_nd);
        let mut chunks = Vec::with_capacity(out_nd);
        for o in 0..out_nd {
            if let Some(&(_, n)) = news.iter().find(|(p, _)| *p == o) {
                out_to_in.push(None);
                chunks.push(vec![n]);
            } else {
                let a = kept.next().expect("kept axes fill the other positions");
                out_to_in.push(Some(a));
                chunks.push(x.chunks()[a].clone());
            }
        }
        let shape: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
        let out_grid = ChunkGrid::from_chunks(&shape, chunks)?;
        let op = MapBlocksOp {
            name: name.into(),
            in_grid: x.grid().clone(),
            out_grid: out_grid.clone(),
            out_to_in,
            ninputs: 1,
            f: Box::new(move |v: &[ArrayViewD<'_, T>], info: &BlockInfo| f(v[0].clone(), info)),
            _t: PhantomData,
        };
        Ok(Array::from_block_op(op, vec![x], out_grid, U::DTYPE))
    }

    /// Applies `f` to the blocks of several arrays of one shape at once (they are
    /// rechunked to common chunks first); the result has those chunks.
    ///
    /// # Errors
    /// No arrays, shapes that differ, or a dtype that is not `T`.
    pub fn blockwise<T: Element, U: Element>(
        arrays: &[&Array],
        f: impl Fn(&[ArrayViewD<'_, T>]) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::InvalidArgument("blockwise needs at least one array".into()))?;
        if arrays.iter().any(|a| a.shape() != first.shape()) {
            return Err(Error::InvalidArgument("blockwise needs arrays of one shape".into()));
        }
        let (aligned, grid) = super::broadcast::align(arrays)?;
        let refs: Vec<&Array> = aligned.iter().collect();
        Array::blockwise_with(&refs, grid.all_chunks().to_vec(), move |v, _| f(v))
    }

    fn blockwise_with<T: Element, U: Element>(
        arrays: &[&Array],
        chunks: Vec<Vec<usize>>,
        f: impl Fn(&[ArrayViewD<'_, T>], &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        let first = arrays[0];
        for a in arrays {
            a.check_dtype::<T>("map_blocks")?;
        }
        let in_grid = first.grid().clone();
        if chunks.len() != in_grid.ndim() || chunks.iter().zip(in_grid.all_chunks()).any(|(o, i)| o.len() != i.len()) {
            return Err(Error::InvalidChunks(format!(
                "map_blocks: output chunks {chunks:?} must have the input's block counts {:?}",
                in_grid.nblocks()
            )));
        }
        let shape: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
        let out_grid = ChunkGrid::from_chunks(&shape, chunks)?;
        let op = MapBlocksOp {
            name: "map_blocks".into(),
            out_to_in: (0..in_grid.ndim()).map(Some).collect(),
            in_grid,
            out_grid: out_grid.clone(),
            ninputs: arrays.len(),
            f: Box::new(f),
            _t: PhantomData,
        };
        Ok(Array::from_expr(
            ExprKind::Blocks {
                op: Arc::new(op),
                inputs: arrays.iter().map(|a| (*a).clone()).collect(),
            },
            out_grid,
            U::DTYPE,
        ))
    }

    /// Applies `f` to every block extended by `depth[a]` neighbouring elements along
    /// each axis `a` and trims the halo from what `f` returns (dask's `map_overlap`
    /// with `trim=True`). `f` must return an array of the extended block's shape.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a dtype that is not `T` or a `depth` of the wrong
    /// length; when computed, a block of the wrong shape.
    pub fn map_overlap<T: Element, U: Element>(
        &self,
        depth: &[usize],
        boundary: Boundary,
        f: impl Fn(ArrayViewD<'_, T>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<Array> {
        self.check_dtype::<T>("map_overlap")?;
        if depth.len() != self.ndim() {
            return Err(Error::InvalidArgument(format!(
                "map_overlap: {} depths for an array of {} axes",
                depth.len(),
                self.ndim()
            )));
        }
        if self.size() == 0 {
            return Err(Error::Unsupported("map_overlap of an empty array".into()));
        }
        let op = OverlapOp {
            in_grid: self.grid().clone(),
            depth: depth.to_vec(),
            boundary,
            f: Box::new(f),
        };
        Ok(Array::from_expr(
            ExprKind::Blocks {
                op: Arc::new(op),
                inputs: vec![self.clone()],
            },
            self.grid().clone(),
            U::DTYPE,
        ))
    }
}
