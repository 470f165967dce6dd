//! The CUDA backend's modules without the `cuda` feature: [`gpu::get`] returns
//! [`crate::Error::CudaNotCompiled`] and every other type is uninhabited, so the public API in
//! `mod.rs` is written once and compiles unchanged in both builds.

/// Stand-in for the opened-GPU module.
pub mod gpu {
    pub use crate::device::cuda::MemoryStats;
    use crate::dtype::DType;
    use crate::error::{Error, Result};
    use std::convert::Infallible;
    use std::sync::Arc;

    /// An opened GPU (never constructed in this build).
    pub struct Gpu(Infallible);

    impl Gpu {
        pub(crate) fn never<T>(&self) -> T {
            match self.0 {}
        }
    }

    /// Always [`crate::Error::CudaNotCompiled`].
    pub fn get(_ordinal: usize) -> Result<Arc<Gpu>> {
        Err(Error::CudaNotCompiled)
    }

    /// No GPU in this build.
    pub fn count() -> usize {
        0
    }

    /// A device buffer (never constructed in this build).
    #[derive(Debug)]
    pub struct DeviceBuffer(Infallible);

    impl DeviceBuffer {
        /// Element type.
        #[must_use]
        pub fn dtype(&self) -> DType {
            match self.0 {}
        }

        /// Number of elements.
        #[must_use]
        pub fn len(&self) -> usize {
            match self.0 {}
        }

        /// True when it holds no element.
        #[must_use]
        pub fn is_empty(&self) -> bool {
            match self.0 {}
        }

        /// Bytes held on the device.
        #[must_use]
        pub fn nbytes(&self) -> usize {
            match self.0 {}
        }
    }

    impl Gpu {
        pub(crate) fn upload(&self, _: &crate::dtype::Buffer) -> Result<DeviceBuffer> {
            self.never()
        }
        pub(crate) fn download(&self, _: &DeviceBuffer) -> Result<crate::dtype::Buffer> {
            self.never()
        }
        pub(crate) fn describe(&self) -> String {
            self.never()
        }
        pub(crate) fn synchronize(&self) -> Result<()> {
            self.never()
        }
        pub(crate) fn memory(&self) -> MemoryStats {
            self.never()
        }
        pub(crate) fn set_memory_limit(&self, _: usize) {
            self.never()
        }
        pub(crate) fn reset_counters(&self) {
            self.never()
        }
    }
}

/// Stand-in for the elementwise launches.
pub mod elementwise {
    use super::gpu::{DeviceBuffer, Gpu};
    use crate::dtype::{DType, Scalar};
    use crate::error::Result;
    use crate::ops::{BinaryOp, Program, UnaryOp};
    use std::sync::Arc;

    pub fn cast(g: &Arc<Gpu>, _: &DeviceBuffer, _: DType) -> Result<DeviceBuffer> {
        g.never()
    }
    pub fn fill(g: &Arc<Gpu>, _: DType, _: usize, _: Scalar) -> Result<DeviceBuffer> {
        g.never()
    }
    pub fn unary(g: &Arc<Gpu>, _: UnaryOp, _: &DeviceBuffer) -> Result<DeviceBuffer> {
        g.never()
    }
    pub fn binary(g: &Arc<Gpu>, _: BinaryOp, _: &DeviceBuffer, _: &DeviceBuffer) -> Result<DeviceBuffer> {
        g.never()
    }
    pub fn fused(g: &Arc<Gpu>, _: &Program, _: &[(&DeviceBuffer, &[usize])], _: &[usize]) -> Result<DeviceBuffer> {
        g.never()
    }
}

/// Stand-in for the device reductions.
pub mod reduce {
    use super::gpu::{DeviceBuffer, Gpu};
    use crate::error::Result;
    use crate::ops::{Partial, ReduceOp};
    use std::convert::Infallible;
    use std::sync::Arc;

    /// A device reduction partial (never constructed in this build).
    #[derive(Debug)]
    pub struct DevicePartial(Infallible);

    impl DevicePartial {
        /// The GPU holding it.
        #[must_use]
        pub fn ordinal(&self) -> usize {
            match self.0 {}
        }

        /// Number of output elements it covers.
        #[must_use]
        pub fn len(&self) -> usize {
            match self.0 {}
        }

        /// True when it covers no element.
        #[must_use]
        pub fn is_empty(&self) -> bool {
            match self.0 {}
        }

        /// Device bytes held.
        #[must_use]
        pub fn nbytes(&self) -> usize {
            match self.0 {}
        }

        /// Copies it to the host.
        ///
        /// # Errors
        /// Never returns in this build.
        pub fn to_host(&self) -> Result<Partial> {
            match self.0 {}
        }
    }

    /// How a block is read by the device kernels: the `cuda` build's pure function.
    #[must_use]
    pub fn view(shape: &[usize], axes: &[usize]) -> Option<(usize, usize, usize)> {
        let _ = (shape, axes);
        None
    }

    pub fn partial(
        g: &Arc<Gpu>,
        _: ReduceOp,
        _: &DeviceBuffer,
        _: &[usize],
        _: &[usize],
        _: i64,
    ) -> Result<DevicePartial> {
        g.never()
    }
    pub fn combine(g: &Arc<Gpu>, _: &mut DevicePartial, _: &DevicePartial) -> Result<()> {
        g.never()
    }
    pub fn download(g: &Arc<Gpu>, _: &DevicePartial) -> Result<Partial> {
        g.never()
    }
}
