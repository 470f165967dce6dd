//! Elementwise launches (feature `cuda`): per-op kernels of `kernels/elementwise.cu`,
//! casts, fills, and one generated kernel per fused chain ([`super::codegen`]).
//!
//! The per-op entry points take NumPy's view of their inputs: mixed dtypes are promoted
//! and cast on the device, integer inputs of transcendental ops become float64, bool
//! `+` is `or` — the same signatures ([`UnaryOp::signature`], [`BinaryOp::signature`])
//! the CPU planner uses, so both backends run the same kernel dtype.

use super::codegen;
use super::gpu::{DeviceBuffer, Gpu};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, Program, UnaryOp};
use cudarc::driver::{LaunchConfig, PushKernelArg};
use std::sync::Arc;

const FILE: &str = "elementwise.cu";

fn launch_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Cuda(format!("launching {what}: {e:?}"))
}

/// Launches `f` with the pointer and scalar arguments in `args` (each 8 bytes: device
/// addresses and u64 counts), over `cfg`.
pub(crate) fn launch_u64(
    gpu: &Gpu,
    f: &cudarc::driver::CudaFunction,
    name: &str,
    args: &[u64],
    cfg: LaunchConfig,
) -> Result<()> {
    let stream = gpu.stream()?;
    let mut b = stream.launch_builder(f);
    for a in args {
        b.arg(a);
    }
    // SAFETY: every kernel of ours takes 8-byte pointer and integer arguments in the
    // order given here (checked by the conformance tests against the CPU kernels), and
    // the buffers behind the pointers outlive the launch (they are freed stream-ordered).
    unsafe { b.launch(cfg) }.map(|_| ()).map_err(|e| launch_err(name, e))
}

/// `x` cast to `to` (a new buffer; NumPy's casting).
///
/// # Errors
/// Launch or allocation failures.
pub fn cast(gpu: &Arc<Gpu>, x: &DeviceBuffer, to: DType) -> Result<DeviceBuffer> {
    let out = gpu.alloc(to, x.len())?;
    if x.is_empty() {
        return Ok(out);
    }
    let name = format!("cast_{}_{}", x.dtype().suffix(), to.suffix());
    let f = gpu.function(FILE, &name)?;
    launch_u64(
        gpu,
        &f,
        &name,
        &[x.ptr_at(0), out.ptr_at(0), x.len() as u64],
        gpu.grid_for(x.len()),
    )?;
    Ok(out)
}

fn cast_if(gpu: &Arc<Gpu>, x: &DeviceBuffer, to: DType) -> Result<Option<DeviceBuffer>> {
    if x.dtype() == to {
        Ok(None)
    } else {
        cast(gpu, x, to).map(Some)
    }
}

/// A buffer of `n` copies of `value` (cast to `dtype`).
///
/// # Errors
/// Launch or allocation failures.
pub fn fill(gpu: &Arc<Gpu>, dtype: DType, n: usize, value: Scalar) -> Result<DeviceBuffer> {
    let out = gpu.alloc(dtype, n)?;
    if n == 0 {
        return Ok(out);
    }
    let name = format!("fill_{}", dtype.suffix());
    let f = gpu.function(FILE, &name)?;
    let stream = gpu.stream()?;
    let mut b = stream.launch_builder(&f);
    let ptr = out.ptr_at(0);
    let n64 = n as u64;
    b.arg(&ptr);
    // The value is passed in the kernel's own type.
    macro_rules! with_value {
        ($($d:ident => $t:ty),*) => {
            match dtype {
                DType::Bool => {
                    let v: u8 = u8::from(value.as_f64() != 0.0 || matches!(value, Scalar::Bool(true)));
                    b.arg(&v).arg(&n64);
                    // SAFETY: fill_bool(u8* y, u8 v, u64 n).
                    unsafe { b.launch(gpu.grid_for(n)) }
                }
                $(DType::$d => {
                    let v: $t = value.to::<$t>();
                    b.arg(&v).arg(&n64);
                    // SAFETY: fill_<T>(T* y, T v, u64 n) with T the dtype's type.
                    unsafe { b.launch(gpu.grid_for(n)) }
                })*
            }
        };
    }
    with_value!(I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32, U64 => u64, F32 => f32, F64 => f64)
        .map_err(|e| launch_err(&name, e))?;
    Ok(out)
}

/// `op(x)` elementwise, with NumPy's result dtype.
///
/// # Errors
/// [`Error::Unsupported`] where NumPy refuses the op (`-` of bool); launch failures.
pub fn unary(gpu: &Arc<Gpu>, op: UnaryOp, x: &DeviceBuffer) -> Result<DeviceBuffer> {
    let (k, out_dt) = op.signature(x.dtype())?;
    let cx = cast_if(gpu, x, k)?;
    let x = cx.as_ref().unwrap_or(x);
    let out = gpu.alloc(out_dt, x.len())?;
    if x.is_empty() {
        return Ok(out);
    }
    let name = format!("{}_{}", op.name(), k.suffix());
    let f = gpu.function(FILE, &name)?;
    launch_u64(
        gpu,
        &f,
        &name,
        &[x.ptr_at(0), out.ptr_at(0), x.len() as u64],
        gpu.grid_for(x.len()),
    )?;
    Ok(out)
}

/// `op(a, b)` elementwise over buffers of one length, with NumPy's type promotion.
///
/// # Errors
/// [`Error::Shape`]-like [`Error::Unsupported`] for different lengths (broadcasting is
/// the fused path's: [`fused`]); as [`unary`].
pub fn binary(gpu: &Arc<Gpu>, op: BinaryOp, a: &DeviceBuffer, b: &DeviceBuffer) -> Result<DeviceBuffer> {
    if a.len() != b.len() {
        return Err(Error::Unsupported(format!(
            "{} of device buffers of {} and {} elements (broadcast through a fused program)",
            op.name(),
            a.len(),
            b.len()
        )));
    }
    let common = DType::promote(a.dtype(), b.dtype());
    let (kop, k, out_dt) = op.signature(common)?;
    let (ca, cb) = (cast_if(gpu, a, k)?, cast_if(gpu, b, k)?);
    let (a, b) = (ca.as_ref().unwrap_or(a), cb.as_ref().unwrap_or(b));
    let out = gpu.alloc(out_dt, a.len())?;
    if a.is_empty() {
        return Ok(out);
    }
    let name = format!("{}_{}", kop.name(), k.suffix());
    let f = gpu.function(FILE, &name)?;
    launch_u64(
        gpu,
        &f,
        &name,
        &[a.ptr_at(0), b.ptr_at(0), out.ptr_at(0), a.len() as u64],
        gpu.grid_for(a.len()),
    )?;
    Ok(out)
}

/// Runs a fused program over a block of `shape`: input `k` is `inputs[k]` with its own
/// shape, broadcastable to the block (fewer axes, or 1s), as the CPU's `eval_block`.
///
/// # Errors
/// [`Error::Unsupported`] for programs with generators (they run on the CPU) or inputs
/// that do not broadcast; NVRTC's log when the generated kernel does not compile.
pub fn fused(
    gpu: &Arc<Gpu>,
    prog: &Program,
    inputs: &[(&DeviceBuffer, &[usize])],
    shape: &[usize],
) -> Result<DeviceBuffer> {
    let k = codegen::fused_kernel(prog)?;
    if inputs.len() != k.inputs.len() {
        return Err(Error::Unsupported(format!(
            "a fused program of {} inputs given {}",
            k.inputs.len(),
            inputs.len()
        )));
    }
    for (j, ((b, _), want)) in inputs.iter().zip(&k.inputs).enumerate() {
        if b.dtype() != *want {
            return Err(Error::Unsupported(format!(
                "fused program input {j} is {} on the device, the program reads {want}",
                b.dtype()
            )));
        }
    }
    let n: usize = shape.iter().product();
    let out = gpu.alloc(k.out, n)?;
    if n == 0 {
        return Ok(out);
    }
    // Geometry only when some input is broadcast.
    let nd = shape.len();
    let mut geom: Vec<u64> = vec![nd as u64];
    geom.extend(shape.iter().map(|&s| s as u64));
    let mut broadcast = false;
    for (b, s) in inputs {
        let st = strides_in(s, shape).ok_or_else(|| {
            Error::Unsupported(format!(
                "an input of shape {s:?} does not broadcast to the block {shape:?}"
            ))
        })?;
        if b.len() != s.iter().product::<usize>() {
            return Err(Error::Unsupported(format!(
                "a device input of {} elements for shape {s:?}",
                b.len()
            )));
        }
        broadcast |= b.len() != n;
        geom.extend(st);
    }
    let geom_buf = if broadcast {
        Some(gpu.upload(&crate::dtype::Buffer::U64(geom))?)
    } else {
        None
    };
    let name = k.name.clone();
    let module = gpu.module(&name, || Ok(k.program()))?;
    let f = module
        .load_function(&name)
        .map_err(|e| Error::Cuda(format!("{gpu:?}: kernel {name}: {e:?}")))?;
    let mut args: Vec<u64> = inputs.iter().map(|(b, _)| b.ptr_at(0)).collect();
    args.push(out.ptr_at(0));
    args.push(geom_buf.as_ref().map_or(0, |g| g.ptr_at(0)));
    args.push(n as u64);
    launch_u64(gpu, &f, &name, &args, gpu.grid_for(n))?;
    Ok(out)
}

/// Element strides of an input of shape `s` read over a block of `shape` (right-aligned,
/// 0 along broadcast axes), or `None` when it does not broadcast.
fn strides_in(s: &[usize], shape: &[usize]) -> Option<Vec<u64>> {
    if s.len() > shape.len() {
        return None;
    }
    let lead = shape.len() - s.len();
    let mut st = vec![0u64; shape.len()];
    let mut acc = 1u64;
    for a in (0..s.len()).rev() {
        let (n, want) = (s[a], shape[lead + a]);
        if n == want && n != 1 {
            st[lead + a] = acc;
        } else if n != 1 {
            return None;
        }
        acc *= n as u64;
    }
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::strides_in;

    #[test]
    fn broadcast_strides_are_right_aligned_and_zero_on_broadcast_axes() {
        assert_eq!(strides_in(&[3, 4], &[3, 4]), Some(vec![4, 1]));
        assert_eq!(strides_in(&[4], &[3, 4]), Some(vec![0, 1]));
        assert_eq!(strides_in(&[3, 1], &[3, 4]), Some(vec![1, 0]));
        assert_eq!(strides_in(&[1, 1], &[3, 4]), Some(vec![0, 0]));
        assert_eq!(strides_in(&[2, 4], &[3, 4]), None);
        assert_eq!(strides_in(&[1, 3, 4], &[3, 4]), None);
    }
}
