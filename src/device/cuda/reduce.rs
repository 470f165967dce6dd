//! Reductions on the device (feature `cuda`): the chunk step (a block → a partial that
//! stays in device memory), the combine step (partial ⊕ partial, on the device), and
//! the download of a partial into the host [`Partial`] the CPU's finalize step takes.
//!
//! Partials have the CPU's layouts ([`PartialKind`]: the same accumulator dtypes, bool
//! data reduced as int8), so a partial made on either side merges with one from the
//! other and a tree can end on the host.

use super::elementwise::launch_u64;
use super::gpu::{DeviceBuffer, Gpu};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::{Partial, PartialKind, ReduceOp};
use cudarc::driver::LaunchConfig;
use std::sync::Arc;

const FILE: &str = "reduce.cu";

/// A reduction partial in device memory: the CPU's [`Partial`] field by field.
#[derive(Debug)]
pub struct DevicePartial {
    pub(crate) op: ReduceOp,
    /// The dtype the kernels read (bool data as int8): which build of `reduce.cu`.
    pub(crate) kd: DType,
    /// Acc: \[acc]; Mean: \[sum, n]; Moments: \[n, mean, m2]; Arg: \[value, index].
    pub(crate) parts: Vec<DeviceBuffer>,
    /// Elements covered (the buffers may be longer: segment scratch).
    pub(crate) len: usize,
}

impl DevicePartial {
    /// The GPU holding it.
    #[must_use]
    pub fn ordinal(&self) -> usize {
        self.parts.first().map_or(0, |b| b.gpu.ordinal)
    }

    /// Number of output elements it covers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it covers no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Device bytes held.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.parts.iter().map(DeviceBuffer::nbytes).sum()
    }

    /// Copies it to the host, where the CPU's merge and finalize take it.
    ///
    /// # Errors
    /// Driver failures.
    pub fn to_host(&self) -> Result<Partial> {
        let gpu = self
            .parts
            .first()
            .map(|b| b.gpu.clone())
            .ok_or_else(|| Error::Unsupported("a device partial without buffers".into()))?;
        download(&gpu, self)
    }
}

/// The kernel's name for an op (`var` and `std` share `moments`).
fn kernel_op(op: ReduceOp) -> &'static str {
    use ReduceOp::*;
    match op {
        Var | Std => "moments",
        NanVar | NanStd => "nanmoments",
        _ => op.name(),
    }
}

/// How a block of `shape` reduced over `axes` is read: `(outer, red, inner)` after
/// dropping length-1 axes and merging neighbours, or `None` when the reduced axes are
/// not one run (e.g. axes 0 and 2 of a 3-d block with axis 1 longer than 1).
#[must_use]
pub fn view(shape: &[usize], axes: &[usize]) -> Option<(usize, usize, usize)> {
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (a, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let r = axes.contains(&a);
        match groups.last_mut() {
            Some((len, red)) if *red == r => *len *= n,
            _ => groups.push((n, r)),
        }
    }
    Some(match groups.as_slice() {
        [] => (1, 1, 1),
        [(r, true)] => (1, *r, 1),
        [(k, false)] => (1, 1, *k),
        [(r, true), (k, false)] => (1, *r, *k),
        [(k, false), (r, true)] => (*k, *r, 1),
        [(o, false), (r, true), (k, false)] => (*o, *r, *k),
        _ => return None,
    })
}

/// The partial's buffers for `len` elements of input (kernel) dtype `kd`.
fn alloc_parts(gpu: &Arc<Gpu>, op: ReduceOp, kd: DType, len: usize) -> Result<Vec<DeviceBuffer>> {
    let dts: Vec<DType> = match op.partial_kind() {
        PartialKind::Acc => vec![op.acc_dtype(kd)],
        PartialKind::Mean => vec![DType::F64; 2],
        PartialKind::Moments => vec![DType::F64; 3],
        PartialKind::Arg => vec![kd, DType::I64],
    };
    dts.into_iter().map(|d| gpu.alloc(d, len)).collect()
}

/// The chunk step: reduces `x` (a block of `shape`, C order) over `axes` into a partial
/// on the device. `base` is the index of the block's first element along the reduced
/// axis, for argmin/argmax (0 otherwise).
///
/// # Errors
/// [`Error::Unsupported`] for an empty block or reduced axes that are not one run
/// (the CPU takes those); launch failures.
pub fn partial(
    gpu: &Arc<Gpu>,
    op: ReduceOp,
    x: &DeviceBuffer,
    shape: &[usize],
    axes: &[usize],
    base: i64,
) -> Result<DevicePartial> {
    let n: usize = shape.iter().product();
    if n == 0 || n != x.len() {
        return Err(Error::Unsupported(format!(
            "a device reduction of {} elements as shape {shape:?}",
            x.len()
        )));
    }
    let (outer, red, inner) = view(shape, axes)
        .ok_or_else(|| Error::Unsupported(format!("reducing axes {axes:?} of {shape:?} on a GPU (not one run)")))?;
    // Bool data reduces as int8 (the same bytes), as on the CPU.
    let kd = if x.dtype() == DType::Bool { DType::I8 } else { x.dtype() };
    let name_of = |shape: &str| format!("reduce_{}_{shape}_{}", kernel_op(op), kd.suffix());
    if inner == 1 {
        // Long rows and few of them: split each row over several blocks so every SM
        // has work, then merge the segments on the device.
        let want = gpu.sms as usize * 4;
        let segs = if outer < want && red >= 1 << 14 {
            (red >> 12).min(want.div_ceil(outer)).max(1)
        } else {
            1
        };
        let parts = alloc_parts(gpu, op, kd, outer * segs)?;
        let name = name_of("rows");
        let f = gpu.function_for(FILE, Some(kd), &name)?;
        let blocks = (outer * segs).min(gpu.sms as usize * 64);
        let cfg = LaunchConfig {
            grid_dim: (u32::try_from(blocks).unwrap_or(u32::MAX), 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut args = vec![x.ptr_at(0), outer as u64, red as u64, segs as u64, base as u64];
        args.extend(ptrs(&parts, 0));
        launch_u64(gpu, &f, &name, &args, cfg)?;
        let mut p = DevicePartial {
            op,
            kd,
            parts,
            len: outer * segs,
        };
        // Halve the segments: s ⊕= s + (m - h), until one is left.
        let mut m = segs;
        while m > 1 {
            let h = m / 2;
            combine_at(gpu, op, kd, &p.parts, 0, &p.parts, (m - h) * outer, h * outer)?;
            m -= h;
        }
        p.len = outer;
        return Ok(p);
    }
    let parts = alloc_parts(gpu, op, kd, outer * inner)?;
    let name = name_of("cols");
    let f = gpu.function_for(FILE, Some(kd), &name)?;
    let mut args = vec![x.ptr_at(0), outer as u64, red as u64, inner as u64, base as u64];
    args.extend(ptrs(&parts, 0));
    launch_u64(gpu, &f, &name, &args, gpu.grid_for(outer * inner))?;
    Ok(DevicePartial {
        op,
        kd,
        parts,
        len: outer * inner,
    })
}

/// The three output pointers a chunk-step kernel takes (unused ones 0).
fn ptrs(parts: &[DeviceBuffer], offset: usize) -> [u64; 3] {
    let mut p = [0u64; 3];
    for (slot, b) in p.iter_mut().zip(parts) {
        *slot = b.ptr_at(offset);
    }
    p
}

/// `a[ao..ao+n] ⊕= b[bo..bo+n]` part by part (kernels from the build for `kd`).
#[allow(clippy::too_many_arguments)]
fn combine_at(
    gpu: &Arc<Gpu>,
    op: ReduceOp,
    kd: DType,
    a: &[DeviceBuffer],
    ao: usize,
    b: &[DeviceBuffer],
    bo: usize,
    n: usize,
) -> Result<()> {
    use ReduceOp::*;
    if n == 0 {
        return Ok(());
    }
    let typed = |k: &str| format!("combine_{k}_{}", a[0].dtype().suffix());
    let name = match op {
        Sum | NanSum => typed("sum"),
        Prod | NanProd => typed("prod"),
        Min | Max | NanMin | NanMax | ArgMin | ArgMax | NanArgMin | NanArgMax => typed(op.name()),
        Any | All | Count => format!("combine_{}", op.name()),
        Mean | NanMean => "combine_mean".into(),
        Var | Std | NanVar | NanStd => "combine_moments".into(),
    };
    let f = gpu.function_for(FILE, Some(kd), &name)?;
    let mut args: Vec<u64> = a.iter().map(|d| d.ptr_at(ao)).collect();
    args.extend(b.iter().map(|d| d.ptr_at(bo)));
    args.push(n as u64);
    launch_u64(gpu, &f, &name, &args, gpu.grid_for(n))
}

/// The combine step: `a ⊕= b`.
///
/// # Errors
/// [`Error::Unsupported`] for partials of different ops, sizes or dtypes.
pub fn combine(gpu: &Arc<Gpu>, a: &mut DevicePartial, b: &DevicePartial) -> Result<()> {
    let same = a.op == b.op
        && a.kd == b.kd
        && a.len == b.len
        && a.parts.len() == b.parts.len()
        && a.parts.iter().zip(&b.parts).all(|(x, y)| x.dtype() == y.dtype());
    if !same {
        return Err(Error::Unsupported(
            "combining device partials of different ops, sizes or dtypes".into(),
        ));
    }
    combine_at(gpu, a.op, a.kd, &a.parts, 0, &b.parts, 0, a.len)
}

/// Copies a partial to the host.
///
/// # Errors
/// Copy failures, or a kernel error reported at the synchronisation.
pub fn download(gpu: &Arc<Gpu>, p: &DevicePartial) -> Result<Partial> {
    let mut bufs = p
        .parts
        .iter()
        .map(|d| gpu.download_n(d, p.len))
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    let mut next = || {
        bufs.next()
            .ok_or_else(|| Error::Unsupported("a device partial short of parts".into()))
    };
    let f64s = |b: crate::dtype::Buffer| match b {
        crate::dtype::Buffer::F64(v) => Ok(v),
        _ => Err(Error::Unsupported("a device partial part that is not float64".into())),
    };
    Ok(match p.op.partial_kind() {
        PartialKind::Acc => Partial::Acc(next()?),
        PartialKind::Mean => Partial::Mean {
            sum: f64s(next()?)?,
            n: f64s(next()?)?,
        },
        PartialKind::Moments => Partial::Moments {
            n: f64s(next()?)?,
            mean: f64s(next()?)?,
            m2: f64s(next()?)?,
        },
        PartialKind::Arg => {
            let val = next()?;
            let idx = match next()? {
                crate::dtype::Buffer::I64(v) => v,
                _ => return Err(Error::Unsupported("a device arg partial without int64 indices".into())),
            };
            Partial::Arg { val, idx }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::view;

    #[test]
    fn blocks_are_read_as_one_reduced_run() {
        assert_eq!(view(&[10, 721, 1440], &[0]), Some((1, 10, 721 * 1440)));
        assert_eq!(view(&[10, 721, 1440], &[1, 2]), Some((10, 721 * 1440, 1)));
        assert_eq!(view(&[10, 721, 1440], &[1]), Some((10, 721, 1440)));
        assert_eq!(view(&[10, 1, 1440], &[0, 2]), Some((1, 10 * 1440, 1)));
        assert_eq!(view(&[10, 7, 1440], &[0, 2]), None);
        assert_eq!(view(&[1, 1], &[0]), Some((1, 1, 1)));
        assert_eq!(view(&[5, 1], &[1]), Some((1, 1, 5)));
    }
}
