//! The gather node behind slicing, `take`, `flip`, `roll` and halos.
//!
//! A [`GatherOp`] picks, along every input axis, a list of source positions for each
//! output block (or `None`: the fill value, for constant boundaries). An output block
//! depends on exactly the input blocks its positions touch — the Cartesian product of
//! the touched blocks per axis — so slicing one time step out of a long series reads
//! one block, and a halo reads the neighbours it needs, nothing more.
//!
//! Positions are per block, not per axis, so blocks may overlap (halos) or repeat
//! (`take` with repeated indices). The gathered block is laid out in input-axis order;
//! [`GatherOp::out_grid`] may then drop axes that were indexed by an integer and insert
//! new axes of length 1 (the C-order data is the same).

use crate::chunk::{Chunk, Value};
use crate::dtype::{Buffer, DType, Element, Scalar};
use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::{ChunkGrid, IndexIter};

/// Source positions along one input axis, per output block along that axis.
pub(crate) type AxisPicks = Vec<Vec<Option<usize>>>;

/// Copies selected positions of the input into each output block.
#[derive(Debug)]
pub(crate) struct GatherOp {
    pub name: &'static str,
    pub in_grid: ChunkGrid,
    /// One entry per input axis.
    pub picks: Vec<AxisPicks>,
    /// The output grid (after dropping/inserting length-1 axes).
    pub out_grid: ChunkGrid,
    pub dtype: DType,
    /// Value for `None` positions.
    pub fill: Scalar,
}

impl GatherOp {
    /// Output block index along each input axis.
    fn in_space_index(&self, b: usize) -> Vec<usize> {
        let counts: Vec<usize> = self.picks.iter().map(Vec::len).collect();
        let mut rem = b;
        let mut idx = vec![0; counts.len()];
        for a in (0..counts.len()).rev() {
            idx[a] = rem % counts[a];
            rem /= counts[a];
        }
        idx
    }

    /// The positions output block `b` picks along each input axis.
    fn block_picks(&self, b: usize) -> Vec<&[Option<usize>]> {
        self.in_space_index(b)
            .iter()
            .enumerate()
            .map(|(a, &i)| self.picks[a][i].as_slice())
            .collect()
    }
}

/// Sorted distinct blocks of `grid` along `axis` that `positions` fall in.
fn touched(grid: &ChunkGrid, axis: usize, positions: &[Option<usize>]) -> Vec<usize> {
    let mut t: Vec<usize> = positions.iter().flatten().map(|&p| grid.locate(axis, p)).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// The input blocks (C-order numbers) a block gathered with per-axis `picks` reads,
/// in the order [`gather_block`] expects them.
pub(crate) fn gather_deps(grid: &ChunkGrid, picks: &[&[Option<usize>]]) -> Vec<usize> {
    let lists: Vec<Vec<usize>> = picks.iter().enumerate().map(|(a, p)| touched(grid, a, p)).collect();
    let lens: Vec<usize> = lists.iter().map(Vec::len).collect();
    if lens.is_empty() {
        return vec![0];
    }
    IndexIter::new(&lens)
        .map(|k| {
            let blk: Vec<usize> = k.iter().zip(&lists).map(|(&j, l)| l[j]).collect();
            grid.linear(&blk)
        })
        .collect()
}

/// Assembles the block with per-axis source positions `picks` (`None`: `fill`) from
/// the input blocks [`gather_deps`] listed, in input-axis order.
pub(crate) fn gather_block(
    grid: &ChunkGrid,
    picks: &[&[Option<usize>]],
    inputs: &[&Value],
    dtype: DType,
    fill: Scalar,
    name: &str,
) -> Result<Chunk> {
    let shape: Vec<usize> = picks.iter().map(|p| p.len()).collect();
    let n: usize = shape.iter().product();
    let any_fill = picks.iter().any(|p| p.iter().any(Option::is_none));
    let data = if any_fill {
        Buffer::filled(dtype, n, fill)
    } else {
        Buffer::zeros(dtype, n)
    };
    let mut out = Chunk::new(shape, data)?;
    let lists: Vec<Vec<usize>> = picks.iter().enumerate().map(|(a, p)| touched(grid, a, p)).collect();
    let lens: Vec<usize> = lists.iter().map(Vec::len).collect();
    if lens.is_empty() {
        return inputs.first().ok_or_else(|| missing(name))?.as_chunk()?.try_clone();
    }
    let mut inputs = inputs.iter();
    for k in IndexIter::new(&lens) {
        let src = inputs.next().ok_or_else(|| missing(name))?.as_chunk()?;
        let pairs: Vec<Vec<(usize, usize)>> = k
            .iter()
            .enumerate()
            .map(|(a, &j)| {
                let r = grid.range(a, lists[a][j]);
                picks[a]
                    .iter()
                    .enumerate()
                    .filter_map(|(d, p)| p.filter(|p| r.contains(p)).map(|p| (d, p - r.start)))
                    .collect()
            })
            .collect();
        copy_pairs(src, &mut out, &pairs)?;
    }
    Ok(out)
}

impl BlockOp for GatherOp {
    fn name(&self) -> String {
        self.name.to_string()
    }

    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let picks = self.block_picks(b);
        gather_deps(&self.in_grid, &picks).into_iter().map(|k| (0, k)).collect()
    }

    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let picks = self.block_picks(b);
        let out = gather_block(&self.in_grid, &picks, inputs, self.dtype, self.fill, self.name)?;
        let oidx = self.out_grid.unlinear(b);
        Ok(Value::Chunk(out.reshaped(self.out_grid.block_shape(&oidx))?))
    }
}

fn missing(name: &str) -> Error {
    Error::Unsupported(format!("{name}: an input block is missing"))
}

/// `dst[pairs] = src[pairs]` for chunks of one dtype.
pub(crate) fn copy_pairs(src: &Chunk, dst: &mut Chunk, pairs: &[Vec<(usize, usize)>]) -> Result<()> {
    let dst_shape = dst.shape().to_vec();
    let dtype = dst.dtype();
    let mut data = std::mem::replace(dst, Chunk::new(vec![0], Buffer::zeros(dtype, 0))?).into_data();
    crate::dispatch_buffer!(&mut data, d, T => {
        let s = T::slice_of(src.data()).ok_or_else(|| Error::Unsupported(format!(
            "copy of a {} block into a {} block", src.dtype(), T::DTYPE
        )))?;
        crate::device::cpu::gather::gather_pairs(s, src.shape(), d, &dst_shape, pairs);
    });
    *dst = Chunk::new(dst_shape, data)?;
    Ok(())
}

/// Splits an axis's output positions into blocks: a new block starts where the input
/// block changes (so a sliced axis keeps its input's chunk boundaries) unless the
/// current block is still small (under a quarter of `cap`) and has touched fewer than
/// 8 input blocks — so a large step does not make one block per element — and in any
/// case when it reaches `cap` elements.
pub(crate) fn split_positions(pos: &[usize], grid: &ChunkGrid, axis: usize, cap: usize) -> AxisPicks {
    if pos.is_empty() {
        return vec![Vec::new()];
    }
    let cap = cap.max(1);
    let mut out: AxisPicks = Vec::new();
    let mut cur: Vec<Option<usize>> = Vec::new();
    let mut last_block = usize::MAX;
    let mut touched = 0usize;
    for &p in pos {
        let blk = grid.locate(axis, p);
        let changes = blk != last_block;
        let full = cur.len() >= cap;
        let break_here = !cur.is_empty() && (full || (changes && (cur.len() * 4 >= cap || touched >= 8)));
        if break_here {
            out.push(std::mem::take(&mut cur));
            touched = 0;
            last_block = usize::MAX;
        }
        if blk != last_block {
            touched += 1;
            last_block = blk;
        }
        cur.push(Some(p));
    }
    out.push(cur);
    out
}

/// A chunk grid from per-axis picks (in input-axis order).
pub(crate) fn picks_grid(picks: &[AxisPicks]) -> Result<ChunkGrid> {
    let chunks: Vec<Vec<usize>> = picks.iter().map(|a| a.iter().map(Vec::len).collect()).collect();
    let shape: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
    ChunkGrid::from_chunks(&shape, chunks)
}
