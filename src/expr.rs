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
//! - `Rechunk` changes chunks only, never shape or dtype.

use crate::array::Array;
use crate::dtype::DType;
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
}
