//! The CUDA backend.
//!
//! - [`source`]: `kernels/*.cu` assembled with the prelude and `#line` directives;
//! - [`codegen`]: one CUDA kernel generated per fused elementwise chain;
//! - [`nvrtc`]: compilation to PTX (feature `cuda`);
//! - `gpu` / `elementwise` / `reduce` (feature `cuda`): an opened GPU (context, stream,
//!   module cache, device memory with its own byte accounting), the launches of the
//!   per-op, cast, fill and fused kernels, and device reductions whose partials stay in
//!   device memory until they are downloaded.
//!
//! [`CudaDevice`] is the handle the rest of the crate uses: a copyable ordinal. Without
//! the `cuda` feature it is a zero-size stand-in whose constructor returns
//! [`crate::Error::CudaNotCompiled`] and whose buffer types cannot be constructed, so code
//! outside `device/` needs no `#[cfg]` (the pattern of candle's `dummy_cuda_backend.rs`).
//! Opening a GPU never panics on a machine without a driver: the driver library is
//! probed before any symbol is resolved.

pub mod codegen;
pub mod nvrtc;
pub mod source;

#[cfg(feature = "cuda")]
mod elementwise;
#[cfg(feature = "cuda")]
mod gpu;
#[cfg(feature = "cuda")]
mod reduce;
#[cfg(not(feature = "cuda"))]
mod stub;
#[cfg(not(feature = "cuda"))]
use stub::{elementwise, gpu, reduce};

pub use gpu::DeviceBuffer;
pub use reduce::{DevicePartial, view as reduce_view};

use crate::dtype::{Buffer, DType, Scalar};
#[cfg(feature = "cuda")]
use crate::error::Error;
use crate::error::Result;
use crate::ops::{BinaryOp, Partial, Program, ReduceOp, UnaryOp};

/// Byte counters of one GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in live device buffers now.
    pub live: usize,
    /// The most that were live at once since the last reset.
    pub peak: usize,
    /// The limit allocations are checked against.
    pub limit: usize,
    /// Bytes copied host → device.
    pub uploaded: usize,
    /// Bytes copied device → host.
    pub downloaded: usize,
}

/// A CUDA device: the ordinal of an opened GPU (a zero-size stand-in without the
/// `cuda` feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CudaDevice {
    #[cfg(feature = "cuda")]
    ordinal: u32,
    #[cfg(not(feature = "cuda"))]
    _private: (),
}

impl CudaDevice {
    fn gpu(self) -> Result<std::sync::Arc<gpu::Gpu>> {
        gpu::get(self.ordinal())
    }

    /// Opens GPU `ordinal` (once per process; later calls return the same device).
    ///
    /// # Errors
    /// [`crate::Error::CudaNotCompiled`] in a build without the `cuda` feature; [`crate::Error::Cuda`]
    /// without a driver, without such a GPU, or when its context fails.
    pub fn new(ordinal: usize) -> Result<Self> {
        gpu::get(ordinal)?;
        Ok(CudaDevice {
            #[cfg(feature = "cuda")]
            ordinal: u32::try_from(ordinal).map_err(|_| Error::Cuda(format!("no GPU {ordinal}")))?,
            #[cfg(not(feature = "cuda"))]
            _private: (),
        })
    }

    /// Number of GPUs the driver reports (0 without a driver or without the `cuda`
    /// feature; never panics).
    #[must_use]
    pub fn count() -> usize {
        gpu::count()
    }

    /// The ordinal.
    #[must_use]
    pub fn ordinal(self) -> usize {
        #[cfg(feature = "cuda")]
        return self.ordinal as usize;
        #[cfg(not(feature = "cuda"))]
        0
    }

    /// The GPU's name and the architecture kernels are compiled for.
    ///
    /// # Errors
    /// As [`CudaDevice::new`].
    pub fn describe(self) -> Result<String> {
        Ok(self.gpu()?.describe())
    }

    /// Copies a host buffer to the device.
    ///
    /// # Errors
    /// Out of the device's memory limit; driver failures.
    pub fn upload(self, buf: &Buffer) -> Result<DeviceBuffer> {
        self.gpu()?.upload(buf)
    }

    /// Copies a device buffer to the host (waiting for the work that writes it).
    ///
    /// # Errors
    /// Driver failures, or a kernel's error reported at the synchronisation.
    pub fn download(self, buf: &DeviceBuffer) -> Result<Buffer> {
        self.gpu()?.download(buf)
    }

    /// `x` cast to `to` (NumPy's casting).
    ///
    /// # Errors
    /// Launch or allocation failures.
    pub fn cast(self, x: &DeviceBuffer, to: DType) -> Result<DeviceBuffer> {
        elementwise::cast(&self.gpu()?, x, to)
    }

    /// `n` copies of `value` as `dtype`.
    ///
    /// # Errors
    /// Launch or allocation failures.
    pub fn fill(self, dtype: DType, n: usize, value: Scalar) -> Result<DeviceBuffer> {
        elementwise::fill(&self.gpu()?, dtype, n, value)
    }

    /// `op(x)` elementwise (NumPy's result dtype; integer inputs of transcendental ops
    /// are cast to float64 on the device).
    ///
    /// # Errors
    /// Where NumPy refuses the op; launch failures.
    pub fn unary(self, op: UnaryOp, x: &DeviceBuffer) -> Result<DeviceBuffer> {
        elementwise::unary(&self.gpu()?, op, x)
    }

    /// `op(a, b)` over buffers of one length (NumPy's promotion).
    ///
    /// # Errors
    /// Different lengths; as [`CudaDevice::unary`].
    pub fn binary(self, op: BinaryOp, a: &DeviceBuffer, b: &DeviceBuffer) -> Result<DeviceBuffer> {
        elementwise::binary(&self.gpu()?, op, a, b)
    }

    /// A fused elementwise program over a block of `shape`, each input with its own
    /// (broadcastable) shape: one generated kernel, compiled once per distinct program.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for generators (arange, random: the CPU runs those).
    pub fn fused(self, prog: &Program, inputs: &[(&DeviceBuffer, &[usize])], shape: &[usize]) -> Result<DeviceBuffer> {
        elementwise::fused(&self.gpu()?, prog, inputs, shape)
    }

    /// The chunk step of a reduction: a partial kept in device memory. `base` is the
    /// index of the block's first element along the reduced axis (arg ops).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for empty blocks or reduced axes that are not one run.
    pub fn reduce(
        self,
        op: ReduceOp,
        x: &DeviceBuffer,
        shape: &[usize],
        axes: &[usize],
        base: i64,
    ) -> Result<DevicePartial> {
        reduce::partial(&self.gpu()?, op, x, shape, axes, base)
    }

    /// The combine step on the device: `a ⊕= b`.
    ///
    /// # Errors
    /// Partials of different ops, sizes or dtypes.
    pub fn combine(self, a: &mut DevicePartial, b: &DevicePartial) -> Result<()> {
        reduce::combine(&self.gpu()?, a, b)
    }

    /// Copies a partial to the host, where the CPU's merge and finalize take it.
    ///
    /// # Errors
    /// Driver failures.
    pub fn download_partial(self, p: &DevicePartial) -> Result<Partial> {
        reduce::download(&self.gpu()?, p)
    }

    /// Waits for all queued work.
    ///
    /// # Errors
    /// A kernel's error reported at the synchronisation.
    pub fn synchronize(self) -> Result<()> {
        self.gpu()?.synchronize()
    }

    /// Live and peak device bytes, the limit, and bytes moved each way.
    ///
    /// # Errors
    /// As [`CudaDevice::new`].
    pub fn memory(self) -> Result<MemoryStats> {
        Ok(self.gpu()?.memory())
    }

    /// Sets the byte limit device allocations are checked against (default: nine
    /// tenths of the card).
    ///
    /// # Errors
    /// As [`CudaDevice::new`].
    pub fn set_memory_limit(self, bytes: usize) -> Result<()> {
        self.gpu()?.set_memory_limit(bytes);
        Ok(())
    }

    /// Starts a new peak and zeroes the transfer counters.
    ///
    /// # Errors
    /// As [`CudaDevice::new`].
    pub fn reset_counters(self) -> Result<()> {
        self.gpu()?.reset_counters();
        Ok(())
    }
}
