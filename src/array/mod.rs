//! The lazy array API: [`Array`], a cheap handle to an expression node.
//!
//! Nothing is computed when an `Array` is built; operations return new handles whose
//! shape, dtype and chunks are known immediately. `compute()` (in [`runtime`]) lowers
//! the expression to a task graph, optimises it and runs it.
//!
//! ```
//! use chunkwise::{Array, ChunkSpec};
//! let x = Array::from_ndarray(ndarray::Array::range(0.0, 10.0, 1.0).into_dyn(), [4]).unwrap();
//! let y = (&x * 2.0 + 1.0).sum(None).unwrap();   // lazy
//! assert_eq!(y.shape(), &[] as &[usize]);
//! assert_eq!(y.compute_scalar::<f64>().unwrap(), 100.0);
//! ```
//!
//! [`runtime`]: crate::runtime

mod broadcast;
mod cf;
mod close;
mod coarsen;
mod creation;
mod elementwise;
mod gather;
mod groupby;
mod histogram;
mod index;
mod linalg;
mod map_blocks;
mod mask;
mod quantile;
/// Operands and `where_` (re-exported at the crate root).
pub mod elementwise_api {
    pub use super::elementwise::{Operand, where_};
}
mod rechunk;
mod reduce;
mod rolling;
mod scan;
mod shape;
mod weighted;

pub use broadcast::broadcast_shapes;
pub use coarsen::CoarsenBoundary;
pub use groupby::GroupByOptions;
pub use index::{Index, slice_positions};
pub use linalg::K_GROUP;
pub use map_blocks::{BlockInfo, Boundary};
pub use quantile::QuantileOptions;
pub use reduce::{Axes, ReduceOptions};
pub use rolling::RollingOptions;
pub use scan::ScanKind;
pub use weighted::Weighted;

use crate::dtype::DType;
use crate::expr::{Expr, ExprKind};
use crate::grid::ChunkGrid;
use std::sync::Arc;

/// A lazy, chunked n-dimensional array.
#[derive(Clone)]
#[must_use = "arrays are lazy and do nothing unless computed"]
pub struct Array {
    pub(crate) expr: Arc<Expr>,
}

impl Array {
    pub(crate) fn from_expr(kind: ExprKind, grid: ChunkGrid, dtype: DType) -> Array {
        Array {
            expr: Arc::new(Expr { kind, grid, dtype }),
        }
    }

    /// A [`BlockOp`](crate::expr::BlockOp) node over `inputs` with output `grid`.
    pub(crate) fn from_block_op(
        op: impl crate::expr::BlockOp + 'static,
        inputs: Vec<Array>,
        grid: ChunkGrid,
        dtype: DType,
    ) -> Array {
        Array::from_expr(
            ExprKind::Blocks {
                op: Arc::new(op),
                inputs,
            },
            grid,
            dtype,
        )
    }

    /// The expression node (for graph lowering and inspection).
    #[must_use]
    pub fn expr(&self) -> &Arc<Expr> {
        &self.expr
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> Vec<usize> {
        self.expr.grid.shape()
    }

    /// Number of dimensions.
    #[must_use]
    pub fn ndim(&self) -> usize {
        self.expr.grid.ndim()
    }

    /// Number of elements.
    #[must_use]
    pub fn size(&self) -> usize {
        self.expr.grid.size()
    }

    /// Element type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.expr.dtype
    }

    /// The chunk grid.
    #[must_use]
    pub fn grid(&self) -> &ChunkGrid {
        &self.expr.grid
    }

    /// Block sizes per axis (dask's `.chunks`).
    #[must_use]
    pub fn chunks(&self) -> &[Vec<usize>] {
        self.expr.grid.all_chunks()
    }

    /// Number of blocks.
    #[must_use]
    pub fn num_blocks(&self) -> usize {
        self.expr.grid.num_blocks()
    }

    /// Bytes of the whole array when materialised.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.size() * self.dtype().size()
    }

    /// The name of the storage this array is read from directly (a path, `"memory"`,
    /// `"spill DIR"`), or `None` when it is computed.
    #[must_use]
    pub fn source_name(&self) -> Option<String> {
        match &self.expr.kind {
            ExprKind::Source(s) => Some(s.name()),
            _ => None,
        }
    }

    /// Whether two handles are the same node.
    #[must_use]
    pub fn same_node(&self, other: &Array) -> bool {
        Arc::ptr_eq(&self.expr, &other.expr)
    }
}

/// The first input chunk of a block op, or an error naming the op.
pub(crate) fn first_input<'a>(
    inputs: &[&'a crate::chunk::Value],
    name: &str,
) -> crate::error::Result<&'a crate::chunk::Chunk> {
    inputs
        .first()
        .ok_or_else(|| crate::error::Error::Unsupported(format!("{name}: an input block is missing")))?
        .as_chunk()
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Array<shape={:?}, dtype={}, chunks={:?}>",
            self.shape(),
            self.dtype(),
            self.chunks()
        )
    }
}
