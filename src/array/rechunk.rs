//! Changing an array's chunks, in bounded memory.
//!
//! Each output block is assembled from the input blocks it overlaps (one task per
//! output block), and a rechunk of a rechunk collapses to one. A source array is
//! re-read on the new grid when that decodes little more than once (blocks that are
//! unions of stored chunks, or cut few of them); when new blocks would cut stored chunks
//! into many pieces — each block decoding whole chunks to keep a sliver, 15 decodes per
//! chunk for a median over time of an ERA5-like field — it is read on its own stored
//! chunks once and rechunked from there like any other array.
//!
//! When the grids do not nest — chunks grow along some axes and shrink along others,
//! as when a time-chunked store becomes space-chunked — every output block needs a
//! piece of many input blocks and every input block feeds many output blocks, so the
//! direct plan holds most of the array at once. Then the plan is staged as Pangeo's
//! rechunker does: the target chunks are consolidated along the shrinking axes into
//! *write* blocks as large as `max_mem` allows; the *intermediate* chunks are the
//! elementwise minimum of the input and write chunks; the array is rechunked to the
//! intermediate grid (each intermediate block reads one input block — for a stored
//! array, one region read), and from there to the target. Output blocks of one write
//! band need only that band's intermediate pieces, so the working set is about one
//! band (`max_mem`), at the price of decoding each stored input chunk once per band.

use super::Array;
use crate::error::Result;
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, ChunkSpec};

/// Decode amplification (elements decoded per element read, see
/// [`ChunkGrid::decode_factor`]) above which a stored array is read on its own chunks and
/// rechunked, rather than re-read on the new grid.
const REREAD_FACTOR: f64 = 2.0;

/// The default `max_mem` of a staged rechunk: half the default memory budget (a
/// quarter of physical memory), so one band and the reads in flight fit in it.
#[must_use]
pub fn default_rechunk_mem() -> usize {
    crate::bytesize::physical_memory().map_or(4 << 30, |m| m / 4) / 2
}

impl Array {
    /// The same array with new chunks; staged through intermediate chunks when the
    /// grids do not nest (see the module docs), with `default_rechunk_mem`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`](crate::Error::InvalidChunks) when the spec does not fit.
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        self.rechunk_bounded(chunks, default_rechunk_mem())
    }

    /// [`Array::rechunk`] with the working set of a staged plan bounded by `max_mem`
    /// bytes (a write band holds at most that much).
    ///
    /// # Errors
    /// [`Error::InvalidChunks`](crate::Error::InvalidChunks) when the spec does not fit.
    pub fn rechunk_bounded(&self, chunks: impl Into<ChunkSpec>, max_mem: usize) -> Result<Array> {
        let grid = ChunkGrid::new(&self.shape(), &chunks.into(), self.dtype().size())?;
        let item = self.dtype().size();
        // A stored array re-read on the new grid decodes every stored chunk once per
        // block that cuts it; past `REREAD_FACTOR` it is read on its stored chunks once
        // and rechunked from there like any other array.
        if let Some(stored) = self.stored_grid().filter(|stored| {
            grid.decode_factor(&stored.all_chunks().iter().map(|c| c[0]).collect::<Vec<_>>()) > REREAD_FACTOR
        }) {
            let from = self.rechunk_to(stored);
            let Some(int) = intermediate(from.grid(), &grid, item, max_mem)? else {
                return Ok(Array::from_expr(ExprKind::Rechunk { input: from }, grid, self.dtype()));
            };
            let stage1 = self.rechunk_to(int);
            return Ok(Array::from_expr(
                ExprKind::Rechunk { input: stage1 },
                grid,
                self.dtype(),
            ));
        }
        let Some(int) = intermediate(self.grid(), &grid, item, max_mem)? else {
            return Ok(self.rechunk_to(grid));
        };
        let stage1 = self.rechunk_to(int);
        Ok(Array::from_expr(
            ExprKind::Rechunk { input: stage1 },
            grid,
            self.dtype(),
        ))
    }

    /// The grid of a stored (not in-memory) source's own chunks, when this array is
    /// such a source read directly.
    fn stored_grid(&self) -> Option<ChunkGrid> {
        let ExprKind::Source(s) = &self.expr.kind else {
            return None;
        };
        if s.in_memory() {
            return None;
        }
        let nc = s.natural_chunks()?;
        ChunkGrid::new(&self.shape(), &ChunkSpec::from(nc), self.dtype().size()).ok()
    }

    pub(crate) fn rechunk_to(&self, grid: ChunkGrid) -> Array {
        if &grid == self.grid() {
            return self.clone();
        }
        match &self.expr.kind {
            ExprKind::Source(s) => Array::from_expr(ExprKind::Source(s.clone()), grid, self.dtype()),
            ExprKind::Rechunk { input } => input.rechunk_to(grid),
            ExprKind::Map { program, inputs } if inputs.is_empty() => Array::from_expr(
                ExprKind::Map {
                    program: program.clone(),
                    inputs: Vec::new(),
                },
                grid,
                self.dtype(),
            ),
            _ => Array::from_expr(ExprKind::Rechunk { input: self.clone() }, grid, self.dtype()),
        }
    }
}

/// The intermediate grid of a staged plan, or `None` when the direct plan is fine (the
/// grids nest, or the whole array fits in `max_mem`).
fn intermediate(from: &ChunkGrid, to: &ChunkGrid, itemsize: usize, max_mem: usize) -> Result<Option<ChunkGrid>> {
    let nd = from.ndim();
    let big = |g: &ChunkGrid, a: usize| g.chunks(a).iter().copied().max().unwrap_or(0);
    let grows = (0..nd).any(|a| big(to, a) > big(from, a));
    let shrinks: Vec<usize> = (0..nd).filter(|&a| big(to, a) < big(from, a)).collect();
    if !grows || shrinks.is_empty() || from.size() * itemsize <= max_mem {
        return Ok(None);
    }
    // Write blocks: target chunks, consolidated along the shrinking axes (last axis
    // first: longer contiguous runs) up to the input chunk, within max_mem.
    let mut write: Vec<usize> = (0..nd).map(|a| big(to, a).max(1)).collect();
    let bytes = |w: &[usize]| w.iter().product::<usize>() * itemsize;
    for &a in shrinks.iter().rev() {
        let unit = write[a];
        let cap = big(from, a).div_ceil(unit) * unit;
        let mut k = 1;
        while unit * (k + 1) <= cap.min(from.axis_len(a).div_ceil(unit) * unit) {
            let mut w = write.clone();
            w[a] = unit * (k + 1);
            if bytes(&w) > max_mem {
                break;
            }
            k += 1;
        }
        write[a] = unit * k;
    }
    let shape = from.shape();
    let chunks: Vec<Vec<usize>> = (0..nd)
        .map(|a| crate::grid::regular_chunks(shape[a], write[a].min(big(from, a)).max(1)))
        .collect();
    let int = ChunkGrid::from_chunks(&shape, chunks)?;
    Ok((&int != from && &int != to).then_some(int))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_to_space_is_staged_through_bands() {
        let from = ChunkGrid::from_chunks(
            &[365, 721, 1440],
            vec![vec![10; 36].into_iter().chain([5]).collect(), vec![721], vec![1440]],
        )
        .unwrap();
        let to = ChunkGrid::new(&[365, 721, 1440], &ChunkSpec::from([365, 64, 64]), 4).unwrap();
        let int = intermediate(&from, &to, 4, 512 << 20).unwrap().unwrap();
        // Write bands of (365, 192, 1440) f32 = 404 MB; pieces of (10, 192, 1440).
        assert_eq!(int.chunks(0)[0], 10);
        assert_eq!(int.chunks(1)[0], 192);
        assert_eq!(int.chunks(2), &[1440]);
        // Nesting grids, or a small array, are not staged.
        let split = ChunkGrid::new(&[365, 721, 1440], &ChunkSpec::from([5, 721, 1440]), 4).unwrap();
        assert!(intermediate(&from, &split, 4, 512 << 20).unwrap().is_none());
        assert!(intermediate(&from, &to, 4, 2 << 30).unwrap().is_none());
    }
}
