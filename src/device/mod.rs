//! Where bytes live and how a kernel runs on them.
//!
//! [`Device`] is the closed set of places a chunk can be and a task can run. Today the
//! CPU backend ([`cpu`]) runs every op. [`cuda`] holds the kernel sources, the code
//! generator for fused chains and NVRTC compilation (all checked without a GPU), but no
//! launches yet: its device constructor returns
//! [`Error::CudaNotCompiled`](crate::Error::CudaNotCompiled), so the rest of the crate
//! is written once for both (issue 5 fills in contexts, memory, the `Backend` contract
//! and residency-aware placement).

pub mod cpu;
pub mod cuda;

/// A place where chunks live and tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    /// Host memory, kernels on the rayon worker pool.
    #[default]
    Cpu,
    /// A CUDA GPU.
    Cuda(cuda::CudaDevice),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(_) => f.write_str("cuda"),
        }
    }
}
