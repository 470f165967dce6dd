//! The contract every device meets: [`Backend`].
//!
//! A backend holds buffers in its own memory and runs the per-chunk kernels of the
//! core engine on them: elementwise ops, casts, fills and fused programs
//! ([`Kernel`]), a reduction's chunk step into a partial it keeps, the combine step
//! of two such partials, and the copies in and out. The scheduler does not go through
//! the trait (it dispatches on the closed [`Device`](super::Device) enum, so a task's
//! hot path has no dynamic call); the trait is what makes the devices interchangeable
//! where that matters — the conformance tests (`tests/backends.rs`) are written once
//! against it and instantiated per device, so the CPU and every GPU answer the same
//! questions the same way.
//!
//! [`CpuBackend`] is the reference: host [`Buffer`]s, the CPU kernels every other test
//! checks against unchunked ndarray references. [`CudaDevice`] runs the same contract on
//! a GPU (its stand-in without the `cuda` feature refuses every call with
//! [`Error::CudaNotCompiled`]).

use super::cpu::eval::{BlockCtx, InputRef, eval_block};
use super::cpu::reduce::{ArgInfo, RowSource, merge, partial};
use super::cuda::{CudaDevice, DeviceBuffer, DevicePartial};
use crate::dtype::{Buffer, DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, InstOp, Partial, Program, ReduceOp, UnaryOp};

/// A per-chunk kernel that makes a buffer of the block's shape.
#[derive(Clone, Copy, Debug)]
pub enum Kernel<'a> {
    /// `op(x)`, NumPy's result dtype (integer inputs of float ops are cast first).
    Unary(UnaryOp),
    /// `op(a, b)` over inputs of one length, NumPy's promotion.
    Binary(BinaryOp),
    /// `x` cast to a dtype (NumPy's casting).
    Cast(DType),
    /// The block filled with one value (no inputs).
    Fill(DType, Scalar),
    /// A fused elementwise program; inputs broadcast to the block's shape.
    Fused(&'a Program),
}

/// A device: its buffers, partials and kernels.
pub trait Backend {
    /// A buffer in the device's memory.
    type Buf;
    /// A reduction partial in the device's memory.
    type Part;

    /// The device's name (for messages).
    fn name(&self) -> String;

    /// Copies a host buffer in.
    ///
    /// # Errors
    /// Out of the device's memory; driver failures.
    fn upload(&self, host: &Buffer) -> Result<Self::Buf>;

    /// Copies a buffer out to the host (after the work that writes it).
    ///
    /// # Errors
    /// Driver failures, or a kernel's error reported at the copy.
    fn download(&self, buf: &Self::Buf) -> Result<Buffer>;

    /// Runs `kernel` on `inputs` (each with its own, broadcastable, shape) for a block
    /// of `shape`.
    ///
    /// # Errors
    /// Where NumPy refuses the op for the dtypes; generators on a GPU; launch failures.
    fn execute(&self, kernel: Kernel<'_>, inputs: &[(&Self::Buf, &[usize])], shape: &[usize]) -> Result<Self::Buf>;

    /// The chunk step of a reduction of `x` (a block of `shape`) over `axes`; `base` is
    /// the index of the block's first element along the reduced axis (arg ops).
    ///
    /// # Errors
    /// Layouts the device does not take (the CPU takes every one).
    fn reduce(&self, op: ReduceOp, x: &Self::Buf, shape: &[usize], axes: &[usize], base: i64) -> Result<Self::Part>;

    /// The combine step: `a ⊕= b`.
    ///
    /// # Errors
    /// Partials of different ops or sizes.
    fn combine(&self, a: &mut Self::Part, b: &Self::Part) -> Result<()>;

    /// Copies a partial to the host, where any tree can finish it.
    ///
    /// # Errors
    /// Driver failures.
    fn download_partial(&self, p: &Self::Part) -> Result<Partial>;

    /// Waits for all queued work.
    ///
    /// # Errors
    /// A kernel's error reported at the synchronisation.
    fn synchronize(&self) -> Result<()>;

    /// Bytes that can still be allocated under the device's limit (`None`: no limit
    /// of its own, as for host memory, which the scheduler's budget governs).
    ///
    /// # Errors
    /// The device cannot be asked.
    fn free_bytes(&self) -> Result<Option<usize>>;
}

/// The CPU as a [`Backend`]: host buffers and the CPU kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuBackend;

/// A partial in host memory and the op that made it (the combine step needs it).
#[derive(Debug)]
pub struct HostPartial {
    /// The reduction.
    pub op: ReduceOp,
    /// Its accumulators.
    pub partial: Partial,
}

/// The CPU's program for one unary or binary op on inputs of these dtypes: cast to the
/// kernel's dtype, then the op (what the array API lowers a lone op to).
///
/// # Errors
/// Where NumPy refuses the op for the dtypes; a kernel that is not unary or binary, or
/// the wrong number of dtypes.
pub fn op_program(kernel: Kernel<'_>, dtypes: &[DType]) -> Result<Program> {
    match (kernel, dtypes) {
        (Kernel::Unary(op), &[d]) => {
            let (k, out) = op.signature(d)?;
            let mut p = Program::new(1);
            let mut x = p.push(InstOp::Input(0), d);
            if k != d {
                x = p.push(InstOp::Cast(x), k);
            }
            p.push(InstOp::Unary(op, x), out);
            Ok(p)
        }
        (Kernel::Binary(op), &[da, db]) => {
            let (kop, k, out) = op.signature(DType::promote(da, db))?;
            let mut p = Program::new(2);
            let mut a = p.push(InstOp::Input(0), da);
            let mut b = p.push(InstOp::Input(1), db);
            if k != da {
                a = p.push(InstOp::Cast(a), k);
            }
            if k != db {
                b = p.push(InstOp::Cast(b), k);
            }
            p.push(InstOp::Binary(kop, a, b), out);
            Ok(p)
        }
        _ => Err(Error::InvalidArgument(format!(
            "{kernel:?} takes {} input(s), got {}",
            if matches!(kernel, Kernel::Binary(_)) { 2 } else { 1 },
            dtypes.len()
        ))),
    }
}

impl Backend for CpuBackend {
    type Buf = Buffer;
    type Part = HostPartial;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn upload(&self, host: &Buffer) -> Result<Buffer> {
        host.try_clone()
    }

    fn download(&self, buf: &Buffer) -> Result<Buffer> {
        buf.try_clone()
    }

    fn execute(&self, kernel: Kernel<'_>, inputs: &[(&Buffer, &[usize])], shape: &[usize]) -> Result<Buffer> {
        let n: usize = shape.iter().product();
        let owned;
        let prog = match kernel {
            Kernel::Fill(dtype, value) => return Ok(Buffer::filled(dtype, n, value)),
            Kernel::Cast(to) => {
                let [(x, _)] = inputs else {
                    return Err(Error::InvalidArgument("a cast takes one input".into()));
                };
                return Ok(x.cast(to));
            }
            Kernel::Fused(p) => p,
            Kernel::Unary(_) | Kernel::Binary(_) => {
                let dtypes: Vec<DType> = inputs.iter().map(|(b, _)| b.dtype()).collect();
                owned = op_program(kernel, &dtypes)?;
                &owned
            }
        };
        let offset = vec![0; shape.len()];
        let ctx = BlockCtx {
            global_shape: shape,
            offset: &offset,
            shape,
        };
        let ins: Vec<InputRef<'_>> = inputs.iter().map(|(data, shape)| InputRef { data, shape }).collect();
        eval_block(prog, &ctx, &ins)
    }

    fn reduce(&self, op: ReduceOp, x: &Buffer, shape: &[usize], axes: &[usize], base: i64) -> Result<HostPartial> {
        let base = usize::try_from(base).map_err(|_| Error::InvalidArgument(format!("negative block base {base}")))?;
        // A block at `base` along its one reduced axis of an array that long; a flat
        // index over several axes needs the whole array's shape, which a base cannot say.
        let (mut global, mut offset) = (shape.to_vec(), vec![0; shape.len()]);
        let axis = match (axes, shape.len()) {
            (&[a], _) => Some(a),
            (_, 1) => Some(0),
            _ if base == 0 => None,
            _ => {
                return Err(Error::Unsupported(
                    "a flat arg index over several axes of a block inside an array".into(),
                ));
            }
        };
        if let Some(a) = axis.filter(|&a| a < shape.len()) {
            global[a] += base;
            offset[a] = base;
        }
        let ctx = BlockCtx {
            global_shape: &global,
            offset: &offset,
            shape,
        };
        let arg = op.is_arg().then_some(ArgInfo {
            global_shape: &global,
            offset: &offset,
            axis: if shape.len() > 1 { axis } else { Some(0) },
        });
        let partial = partial(op, axes, &RowSource::Block(x), &ctx, arg, None)?;
        Ok(HostPartial { op, partial })
    }

    fn combine(&self, a: &mut HostPartial, b: &HostPartial) -> Result<()> {
        if a.op != b.op || a.partial.len() != b.partial.len() {
            return Err(Error::InvalidArgument(format!(
                "cannot combine a {} partial of {} with a {} partial of {}",
                a.op.name(),
                a.partial.len(),
                b.op.name(),
                b.partial.len()
            )));
        }
        merge(a.op, &mut a.partial, &b.partial)
    }

    fn download_partial(&self, p: &HostPartial) -> Result<Partial> {
        Ok(p.partial.copy())
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn free_bytes(&self) -> Result<Option<usize>> {
        Ok(None)
    }
}

impl Backend for CudaDevice {
    type Buf = DeviceBuffer;
    type Part = DevicePartial;

    fn name(&self) -> String {
        self.describe().unwrap_or_else(|_| format!("cuda:{}", self.ordinal()))
    }

    fn upload(&self, host: &Buffer) -> Result<DeviceBuffer> {
        CudaDevice::upload(*self, host)
    }

    fn download(&self, buf: &DeviceBuffer) -> Result<Buffer> {
        CudaDevice::download(*self, buf)
    }

    fn execute(
        &self,
        kernel: Kernel<'_>,
        inputs: &[(&DeviceBuffer, &[usize])],
        shape: &[usize],
    ) -> Result<DeviceBuffer> {
        let n: usize = shape.iter().product();
        match (kernel, inputs) {
            (Kernel::Fill(dtype, value), []) => self.fill(dtype, n, value),
            (Kernel::Cast(to), [(x, _)]) => self.cast(x, to),
            (Kernel::Unary(op), [(x, _)]) => self.unary(op, x),
            (Kernel::Binary(op), [(a, _), (b, _)]) => self.binary(op, a, b),
            (Kernel::Fused(p), _) => self.fused(p, inputs, shape),
            _ => Err(Error::InvalidArgument(format!(
                "{kernel:?} cannot take {} input(s)",
                inputs.len()
            ))),
        }
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &DeviceBuffer,
        shape: &[usize],
        axes: &[usize],
        base: i64,
    ) -> Result<DevicePartial> {
        CudaDevice::reduce(*self, op, x, shape, axes, base)
    }

    fn combine(&self, a: &mut DevicePartial, b: &DevicePartial) -> Result<()> {
        CudaDevice::combine(*self, a, b)
    }

    fn download_partial(&self, p: &DevicePartial) -> Result<Partial> {
        CudaDevice::download_partial(*self, p)
    }

    fn synchronize(&self) -> Result<()> {
        CudaDevice::synchronize(*self)
    }

    fn free_bytes(&self) -> Result<Option<usize>> {
        let m = self.memory()?;
        Ok(Some(m.limit.saturating_sub(m.live)))
    }
}
