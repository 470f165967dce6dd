//! # chunkwise
//!
//! Chunked n-dimensional arrays on the model of `dask.array`: a large array is a grid of
//! in-memory blocks; NumPy-style operations build a lazy expression; `compute()` lowers
//! it to a graph of per-block tasks, fuses elementwise chains, and runs the graph on a
//! pool of worker threads in a memory-aware order, releasing every intermediate block
//! as soon as its last consumer has run and reducing partial results tree-wise.
//!
//! ```
//! use chunkwise::Array;
//! // A 2000 × 2000 random field in 500 × 500 blocks: generated lazily, block by block.
//! let x = Array::random_normal(&[2000, 2000], 10.0, 2.0, 7, [500, 500]).unwrap();
//! let anomaly = &x - &x.mean(0).unwrap();             // broadcasting, lazily
//! let spread = anomaly.std(None, 0.0).unwrap();        // one tree reduction
//! let s = spread.compute_scalar::<f64>().unwrap();
//! assert!((s - 2.0).abs() < 0.05);
//! ```
//!
//! Layers (a module uses only its own layer or lower ones; see DESIGN.md):
//! L0 [`error`], [`bytesize`], [`dtype`], [`grid`], [`ops`], [`time`] · L1 [`device`] · L2 [`chunk`] · L3 [`io`] ·
//! L4 [`expr`], [`array`](mod@array), [`graph`], [`optimize`], [`delayed`](mod@delayed) · L5 [`scheduler`] ·
//! L6 [`runtime`], [`store`], [`persist`].
//!
//! Feature flags: `zarr` (default; Zarr v2/v3 through `zarrs`), `hdf5` (HDF5/NetCDF-4,
//! links the system libhdf5), `cuda` (CUDA devices; builds without a toolkit).

#![warn(missing_docs)]

pub mod bytesize;
pub mod error;
#[macro_use]
pub mod dtype;
pub mod grid;
pub mod ops;
pub mod time;

pub mod device;

pub mod chunk;

pub mod io;

pub mod array;
pub mod delayed;
pub mod expr;
pub mod graph;
pub mod optimize;

pub mod scheduler;

pub mod persist;
pub mod runtime;
pub mod store;

pub use array::elementwise_api::{Operand, where_};
pub use array::{
    Array, Axes, BlockInfo, Boundary, CoarsenBoundary, GroupByOptions, Index, QuantileOptions, ReduceOptions,
    RollingOptions, Weighted,
};
pub use chunk::{Chunk, Value};
pub use delayed::{Delayed, delayed, gather};
pub use device::cpu::alloc::HugePageAlloc;
pub use device::cpu::quantile::QuantileMethod;
pub use dtype::{Buffer, DType, Element, Scalar};
pub use error::{Error, Result};
pub use grid::{AxisChunks, ChunkGrid, ChunkSpec};
pub use ops::{BinaryOp, ReduceOp, UnaryOp};
pub use runtime::{Config, Runtime};
pub use scheduler::{Progress, RunStats, SchedulerKind};
