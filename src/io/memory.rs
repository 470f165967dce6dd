//! An in-memory array as a [`ChunkSource`] (`Array::from_ndarray`).
//!
//! The array is split once into the blocks of its grid; a Load task for one of those
//! blocks gets it without a copy (a shared `Arc`), so reducing an in-memory array
//! streams over the caller's data once, as NumPy views would. Any other box (after a
//! rechunk) is assembled from the blocks it overlaps.

use super::ChunkSource;
use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::grid::{ChunkGrid, IndexIter};
use std::ops::Range;
use std::sync::Arc;

/// A whole array held in memory, as blocks.
#[derive(Debug)]
pub struct MemorySource {
    shape: Vec<usize>,
    dtype: DType,
    grid: ChunkGrid,
    blocks: Vec<Arc<Chunk>>,
}

impl MemorySource {
    /// Wraps a materialised array as one block.
    #[must_use]
    pub fn new(data: Chunk) -> Self {
        let grid = ChunkGrid::single(data.shape());
        Self::from_blocks(grid, vec![Arc::new(data)])
    }

    /// Splits a materialised array into the blocks of `grid`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when the grid's shape is not the data's.
    pub fn split(data: Chunk, grid: ChunkGrid) -> Result<Self> {
        if grid.shape() != data.shape() {
            return Err(Error::InvalidChunks(format!(
                "grid of shape {:?} for data of shape {:?}",
                grid.shape(),
                data.shape()
            )));
        }
        if grid.num_blocks() == 1 {
            return Ok(Self::from_blocks(grid, vec![Arc::new(data)]));
        }
        let blocks = (0..grid.num_blocks())
            .map(|b| Arc::new(data.slice(&grid.block_ranges(&grid.unlinear(b)))))
            .collect();
        Ok(Self::from_blocks(grid, blocks))
    }

    /// An array held as the given blocks of `grid` (C order), shared without copies.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when the block count or a block's shape does not match.
    pub fn from_grid_blocks(grid: ChunkGrid, blocks: Vec<Arc<Chunk>>) -> Result<Self> {
        if blocks.len() != grid.num_blocks()
            || blocks
                .iter()
                .enumerate()
                .any(|(b, c)| c.shape() != grid.block_shape(&grid.unlinear(b)).as_slice())
        {
            return Err(Error::InvalidChunks(format!(
                "{} blocks do not fit a grid of {} blocks {:?}",
                blocks.len(),
                grid.num_blocks(),
                grid.all_chunks()
            )));
        }
        Ok(Self::from_blocks(grid, blocks))
    }

    fn from_blocks(grid: ChunkGrid, blocks: Vec<Arc<Chunk>>) -> Self {
        let dtype = blocks.first().map_or(DType::F64, |b| b.dtype());
        MemorySource {
            shape: grid.shape(),
            dtype,
            grid,
            blocks,
        }
    }
}

impl ChunkSource for MemorySource {
    fn in_memory(&self) -> bool {
        true
    }
    fn reads_shared(&self, region: &[Range<usize>]) -> bool {
        let g = &self.grid;
        if region.len() != g.ndim()
            || region
                .iter()
                .zip(&self.shape)
                .any(|(r, &n)| r.start >= r.end || r.end > n)
        {
            return false;
        }
        let idx: Vec<usize> = region.iter().enumerate().map(|(a, r)| g.locate(a, r.start)).collect();
        g.block_ranges(&idx) == region
    }
    fn name(&self) -> String {
        "memory".into()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.grid.all_chunks().iter().map(|c| c[0]).collect())
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        let c = self.read_shared(region)?;
        Arc::try_unwrap(c).or_else(|c| c.try_clone())
    }
    fn read_shared(&self, region: &[Range<usize>]) -> Result<Arc<Chunk>> {
        let g = &self.grid;
        if region.len() != g.ndim()
            || region
                .iter()
                .zip(&self.shape)
                .any(|(r, &n)| r.end > n || r.start > r.end)
        {
            return Err(Error::InvalidArgument(format!(
                "region {region:?} outside an array of shape {:?}",
                self.shape
            )));
        }
        assemble(g, self.dtype, region, |b| Ok(self.blocks[b].clone()))
    }
}

/// The box `region` of an array stored as the blocks of `g`: block `b` itself (shared)
/// when the region is exactly one block, else a new chunk assembled from the blocks it
/// overlaps, each fetched with `fetch(b)`.
pub(crate) fn assemble(
    g: &ChunkGrid,
    dtype: DType,
    region: &[Range<usize>],
    fetch: impl Fn(usize) -> Result<Arc<Chunk>>,
) -> Result<Arc<Chunk>> {
    let first: Vec<usize> = region
        .iter()
        .enumerate()
        .map(|(a, r)| if r.is_empty() { 0 } else { g.locate(a, r.start) })
        .collect();
    if g.block_ranges(&first).as_slice() == region {
        return fetch(g.linear(&first));
    }
    let shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
    let mut out = Chunk::new(
        shape.clone(),
        crate::dtype::Buffer::zeros(dtype, shape.iter().product()),
    )?;
    if shape.contains(&0) {
        return Ok(Arc::new(out));
    }
    let spans: Vec<(usize, usize)> = region
        .iter()
        .enumerate()
        .map(|(a, r)| (g.locate(a, r.start), g.locate(a, r.end - 1) + 1))
        .collect();
    let lens: Vec<usize> = spans.iter().map(|(s, e)| e - s).collect();
    for k in IndexIter::new(&lens) {
        let bidx: Vec<usize> = k.iter().zip(&spans).map(|(&k, (s, _))| s + k).collect();
        let br = g.block_ranges(&bidx);
        let src: Vec<Range<usize>> = br
            .iter()
            .zip(region)
            .map(|(b, r)| r.start.max(b.start) - b.start..r.end.min(b.end) - b.start)
            .collect();
        let dst: Vec<usize> = br
            .iter()
            .zip(region)
            .map(|(b, r)| r.start.max(b.start) - r.start)
            .collect();
        let block = fetch(g.linear(&bidx))?;
        out.write_box(&dst, &block, &src)?;
    }
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Buffer;

    #[test]
    fn only_whole_blocks_are_read_without_a_copy() {
        let data = Chunk::new(vec![6, 4], Buffer::F32((0..24).map(|i| i as f32).collect())).expect("chunk");
        let grid = ChunkGrid::new(&[6, 4], &crate::grid::ChunkSpec::from([4, 4]), 4).expect("grid");
        let src = MemorySource::split(data, grid).expect("split");
        assert!(src.reads_shared(&[0..4, 0..4]));
        assert!(src.reads_shared(&[4..6, 0..4]));
        assert!(!src.reads_shared(&[0..2, 0..4]), "part of a block");
        assert!(!src.reads_shared(&[2..6, 0..4]), "across two blocks");
        assert!(!src.reads_shared(&[4..7, 0..4]), "past the end");
        assert!(!src.reads_shared(std::slice::from_ref(&(0..4))), "wrong rank");
        // What reads_shared promises: the stored block itself comes back.
        let a = src.read_shared(&[4..6, 0..4]).expect("read");
        let b = src.read_shared(&[4..6, 0..4]).expect("read");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
