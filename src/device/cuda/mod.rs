//! The CUDA backend.
//!
//! What exists: the kernel sources ([`source`]: `kernels/*.cu` assembled with the
//! prelude and `#line` directives), CUDA source generated for fused elementwise chains
//! ([`codegen`]), and NVRTC compilation to PTX ([`nvrtc`], feature `cuda`) — all
//! checked without a GPU by `tests/cuda_kernels.rs` (every kernel compiled for sm_80 and
//! sm_90, registers and spills from `ptxas -v`). What does not exist yet: contexts,
//! streams, device memory and launching (issue 5), so [`CudaDevice::new`] returns
//! [`Error::CudaNotCompiled`] and code outside `device/` needs no `#[cfg]` (the
//! zero-size stand-in pattern of candle's `dummy_cuda_backend.rs`).

pub mod codegen;
pub mod nvrtc;
pub mod source;

use crate::error::{Error, Result};

/// A CUDA device (zero-size stand-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaDevice {
    _private: (),
}

impl CudaDevice {
    /// Opens GPU `ordinal`.
    ///
    /// # Errors
    /// Always [`Error::CudaNotCompiled`] in this build.
    pub fn new(ordinal: usize) -> Result<Self> {
        let _ = ordinal;
        Err(Error::CudaNotCompiled)
    }

    /// Number of GPUs usable by this build (0).
    #[must_use]
    pub fn count() -> usize {
        0
    }
}
