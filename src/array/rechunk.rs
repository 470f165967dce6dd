//! Changing an array's chunks.
//!
//! Each output block is assembled from the input blocks it overlaps (one task per
//! output block). A source array is simply re-read on the new grid, and a rechunk of a
//! rechunk collapses to one. Staged plans for grids that do not nest (time-chunked to
//! space-chunked under a memory budget) are issue 6's.

use super::Array;
use crate::error::Result;
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, ChunkSpec};

impl Array {
    /// The same array with new chunks.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`](crate::Error::InvalidChunks) when the spec does not fit.
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let grid = ChunkGrid::new(&self.shape(), &chunks.into(), self.dtype().size())?;
        Ok(self.rechunk_to(grid))
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
