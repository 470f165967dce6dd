//! The CUDA backend.
//!
//! This build has no CUDA support compiled in, or the `cuda` feature's backend has not
//! been written yet: [`CudaDevice::new`] returns [`Error::CudaNotCompiled`], so code
//! outside `device/` needs no `#[cfg]` (the zero-size stand-in pattern of candle's
//! `dummy_cuda_backend.rs`). Kernels live in `kernels/*.cu` and are compiled by NVRTC
//! at run time (see DESIGN.md); the backend itself is the subject of issue 5.

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
