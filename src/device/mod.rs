//! Where bytes live and how a kernel runs on them.
//!
//! [`Device`] is the closed set of places a chunk can be and a task can run. The CPU
//! backend ([`cpu`]) runs every op. The CUDA backend ([`cuda`], feature `cuda`) runs
//! elementwise ops, casts, fills, fused chains and every reduction's chunk and combine
//! steps on a GPU, with partials kept in device memory; without the feature its device
//! constructor returns [`Error::CudaNotCompiled`](crate::Error::CudaNotCompiled), so the
//! rest of the crate is written once for both. [`DeviceKind`] is what a user asks for
//! (`--device cpu|cuda|auto|host:N`); `host:N` splits the CPU into N host "devices"
//! with their own residency, accounting and explicit copies, so the placement and
//! transfer machinery runs (and is tested) on a machine without a GPU.

pub mod backend;
pub mod cpu;
pub mod cuda;

pub use backend::{Backend, CpuBackend, Kernel};

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

/// Which devices a runtime computes on (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// The CPU only.
    #[default]
    Cpu,
    /// The CPU and every GPU (from GPU 0 on); an error when there is none.
    Cuda,
    /// Every GPU when there is one, else the CPU only (with a note saying why).
    Auto,
    /// `N` host "devices" (`host:N`): the CPU's workers shared by N places with their
    /// own residency and byte accounting; a value read on another device is copied
    /// there explicitly and counted. For exercising placement without a GPU.
    Hosts(u16),
}

/// The most host devices `host:N` takes.
pub const MAX_HOST_DEVICES: u16 = 64;

impl DeviceKind {
    /// Parses `cpu`, `cuda`, `auto` or `host:N` (1 ≤ N ≤ [`MAX_HOST_DEVICES`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the choices.
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" | "gpu" => Ok(DeviceKind::Cuda),
            "auto" => Ok(DeviceKind::Auto),
            _ => match s.strip_prefix("host:").map(str::parse::<u16>) {
                Some(Ok(n)) if (1..=MAX_HOST_DEVICES).contains(&n) => Ok(DeviceKind::Hosts(n)),
                Some(_) => Err(crate::Error::InvalidArgument(format!(
                    "'{s}': host devices are host:N with N from 1 to {MAX_HOST_DEVICES}"
                ))),
                None => Err(crate::Error::InvalidArgument(format!(
                    "unknown device '{s}' (cpu, cuda, auto or host:N)"
                ))),
            },
        }
    }

    /// The kind named by `CHUNKWISE_DEVICE`, or [`DeviceKind::Cpu`].
    #[must_use]
    pub fn from_env() -> Self {
        std::env::var("CHUNKWISE_DEVICE")
            .ok()
            .and_then(|s| DeviceKind::parse(&s).ok())
            .unwrap_or_default()
    }

    /// The first GPU this kind computes on (the runtime adds the others that open),
    /// and a note when `auto` found none.
    ///
    /// # Errors
    /// For [`DeviceKind::Cuda`] without a usable GPU (or without the `cuda` feature).
    pub fn resolve(self) -> crate::Result<(Option<cuda::CudaDevice>, Option<String>)> {
        match self {
            DeviceKind::Cpu | DeviceKind::Hosts(_) => Ok((None, None)),
            DeviceKind::Cuda => cuda::CudaDevice::new(0).map(|d| (Some(d), None)),
            DeviceKind::Auto => match cuda::CudaDevice::new(0) {
                Ok(d) => Ok((Some(d), None)),
                Err(e) => Ok((None, Some(format!("no GPU used ({e}): computing on the CPU")))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_kinds_parse_and_cpu_needs_no_gpu() {
        assert_eq!(DeviceKind::parse("auto").unwrap(), DeviceKind::Auto);
        assert!(
            DeviceKind::parse("tpu")
                .unwrap_err()
                .to_string()
                .contains("cpu, cuda, auto or host:N")
        );
        assert_eq!(DeviceKind::parse("host:3").unwrap(), DeviceKind::Hosts(3));
        for bad in ["host:0", "host:x", "host:", "host:65"] {
            let e = DeviceKind::parse(bad).unwrap_err().to_string();
            assert!(e.contains("host:N with N from 1 to 64"), "{bad}: {e}");
        }
        assert_eq!(DeviceKind::Hosts(2).resolve().unwrap(), (None, None));
        assert_eq!(DeviceKind::Cpu.resolve().unwrap(), (None, None));
        // Without a GPU, auto falls back with a note and cuda is an error; with one,
        // both find it.
        let (auto, note) = DeviceKind::Auto.resolve().unwrap();
        assert_eq!(auto.is_none(), note.is_some());
        assert_eq!(DeviceKind::Cuda.resolve().is_ok(), auto.is_some());
    }
}
