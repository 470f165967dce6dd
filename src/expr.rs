//! The logical IR of lazy arrays.
//!
//! Every [`Array`] is an `Arc<Expr>`: an operation on other arrays plus the chunk grid
//! and dtype of its result, fixed when the node is built (so shape and type errors are
//! reported when the user writes the expression, not when it runs). Nodes are shared,
//! never copied: the same sub-expression used twice is one node, lowered once, so its
//! blocks are computed once and shared by both uses.
//!
//! Invariants the lowering relies on:
//! - `Map` inputs are already broadcast-compatible with the node's shape and have the
//!   node's chunks along every axis where they are not broadcast (size 1 or missing);
//! - `Reduce` axes are normalised, sorted and unique;
//! - `Rechunk` changes chunks only, never shape or dtype;
//! - `Blocks` output block `b` reads exactly the input blocks [`BlockOp::deps`] names.

use crate::array::Array;
use crate::chunk::Value;
use crate::dtype::DType;
use crate::error::Result;
use crate::grid::ChunkGrid;
use crate::io::ChunkSource;
use crate::ops::{Program, ReduceSpec};
use std::sync::Arc;

/// One node of the expression graph.
#[derive(Debug)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its chunk grid (and so its shape).
    pub grid: ChunkGrid,
    /// Its element type.
    pub dtype: DType,
}

/// The operation of a node.
#[derive(Debug)]
pub enum ExprKind {
    /// Blocks read from storage (or an in-memory array).
    Source(Arc<dyn ChunkSource>),
    /// An elementwise program over broadcast inputs (none for generated arrays).
    Map {
        /// The program; input slot `k` reads `inputs[k]`.
        program: Arc<Program>,
        /// Inputs.
        inputs: Vec<Array>,
    },
    /// A tree reduction.
    Reduce {
        /// What is reduced.
        input: Array,
        /// How.
        spec: ReduceSpec,
    },
    /// The same values on another chunk grid.
    Rechunk {
        /// The array re-chunked.
        input: Array,
    },
    /// Any other per-block operation.
    Blocks {
        /// What each output block computes from which input blocks.
        op: Arc<dyn BlockOp>,
        /// Inputs, numbered as in [`BlockOp::deps`].
        inputs: Vec<Array>,
    },
}

/// A per-block operation that is not elementwise: slicing, transposes, concatenation,
/// halos, scans, matrix products, user closures.
///
/// The engine's own node kinds (maps, reductions, rechunks) are closed and optimised;
/// everything else is a `BlockOp`: output block `b` is computed by [`BlockOp::compute`]
/// from the input blocks [`BlockOp::deps`] lists, and from nothing else, so the graph
/// reads only those blocks (slicing one time step reads one chunk) and the scheduler
/// frees each input block as soon as its last consumer has run.
pub trait BlockOp: Send + Sync + std::fmt::Debug {
    /// A short name for graphs, traces and errors (`"getitem"`, `"matmul"`).
    fn name(&self) -> String;
    /// The input blocks output block `b` reads: `(input number, C-order block number)`,
    /// in the order [`BlockOp::compute`] receives them.
    fn deps(&self, b: usize) -> Vec<(usize, usize)>;
    /// Computes output block `b` from its input blocks.
    ///
    /// # Errors
    /// A dtype or shape mismatch (a lowering bug), or whatever a user closure returns.
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value>;
    /// Estimated bytes of output block `b` (the memory budget reserves it); `None`: the
    /// block's size in the node's dtype.
    fn out_bytes(&self, _b: usize) -> Option<u64> {
        None
    }
    /// `Some((input, block))` when output block `b` *is* that input block — same shape,
    /// dtype and values, as a concatenation's blocks are — so the lowering hands the
    /// input block's task to the consumers instead of adding a task that copies it (and
    /// a reduction over the concatenation reads, and fuses with, the inputs' own tasks).
    fn forward(&self, _b: usize) -> Option<(usize, usize)> {
        None
    }
}
