//! Compiling kernel programs to PTX with NVRTC (cudarc, loaded at run time).
//!
//! `libnvrtc.so.12` is looked up on the library path (the `nvidia-cuda-nvrtc-cu12`
//! wheel ships it; `scripts/test.sh` installs it and sets `LD_LIBRARY_PATH`). Its
//! absence is an error value, never a panic: cudarc panics when a symbol is resolved
//! from a library that is not there, so presence is probed first.

use crate::error::{Error, Result};

/// Whether NVRTC can be loaded (always false without the `cuda` feature).
#[must_use]
pub fn available() -> bool {
    #[cfg(feature = "cuda")]
    {
        // SAFETY: only tries to dlopen the candidate library names.
        unsafe { cudarc::nvrtc::sys::is_culib_present() }
    }
    #[cfg(not(feature = "cuda"))]
    false
}

/// Compiles `program` (named `name` in messages) to PTX for the virtual architecture
/// `arch` (`"compute_80"`, `"compute_90"`).
///
/// # Errors
/// [`Error::CudaNotCompiled`] without the `cuda` feature; [`Error::KernelCompile`] when
/// NVRTC is missing or rejects the program (with NVRTC's log).
pub fn compile_ptx(program: &str, name: &str, arch: &'static str) -> Result<String> {
    #[cfg(feature = "cuda")]
    {
        use cudarc::nvrtc::{CompileError, CompileOptions, compile_ptx_with_opts};
        if !available() {
            return Err(Error::KernelCompile(
                "NVRTC (libnvrtc.so.12) not found on the library path; install the nvidia-cuda-nvrtc-cu12 wheel \
                 and point LD_LIBRARY_PATH at its nvidia/cuda_nvrtc/lib"
                    .into(),
            ));
        }
        let opts = CompileOptions {
            arch: Some(arch),
            name: Some(name.to_string()),
            options: vec!["--std=c++17".into()],
            ..Default::default()
        };
        compile_ptx_with_opts(program, opts)
            .map(|p| p.to_src())
            .map_err(|e| match e {
                CompileError::CompileError { log, .. } => {
                    Error::KernelCompile(format!("{name} for {arch}:\n{}", log.to_string_lossy()))
                }
                other => Error::KernelCompile(format!("{name} for {arch}: {other:?}")),
            })
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (program, name, arch);
        Err(Error::CudaNotCompiled)
    }
}

/// The names of the `.entry` points (kernels) in a PTX module.
#[must_use]
pub fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix(".visible .entry ")
                .or_else(|| l.strip_prefix(".entry "))?;
            Some(rest.split('(').next().unwrap_or(rest).trim().to_string())
        })
        .collect()
}
