//! Where bytes live and how a kernel runs on them.
//!
//! [`Device`] is the closed set of places a chunk can be and a task can run. Today the
//! CPU backend ([`cpu`]) runs every op; [`cuda`] is a zero-size stand-in whose
//! constructor returns [`Error::CudaNotCompiled`](crate::Error::CudaNotCompiled), so
//! the rest of the crate is written once for both (issue 5 fills it in, together with
//! the `Backend` contract and residency-aware placement).

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
