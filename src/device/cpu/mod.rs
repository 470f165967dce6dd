//! The CPU backend: kernels over host buffers, run on the scheduler's rayon workers.
//!
//! - [`eval`]: fused elementwise programs, tile by tile;
//! - [`gather`]: copying selected elements between blocks (slicing, halos);
//! - [`scan`]: running sums and products along an axis;
//! - [`quantile`]: quantiles and medians of lanes (NumPy's linear method);
//! - [`gemm`]: block matrix products;
//! - [`qr`]: Householder QR of a small block (tall-skinny QR);
//! - [`reduce`]: the chunk / combine / aggregate steps of every reduction (with
//!   `mean512`, its AVX-512 f32 mean loop);
//! - [`math`]: vectorisable `sin`/`cos` and counter-based random numbers;
//! - [`num`]: NumPy arithmetic semantics per element type.
//!
//! Kernels are plain functions of buffers and shapes; they neither allocate threads nor
//! know about graphs. Parallelism comes from running many blocks at once.

pub mod alloc;
pub mod eval;
pub mod gather;
pub mod gemm;
pub mod math;
mod mean512;
pub mod num;
pub mod qr;
pub mod quantile;
pub mod reduce;
pub mod scan;
