//! Evaluation of a [`Program`] over one block, tile by tile.
//!
//! A fused program may chain a dozen operations; evaluating each over the whole block
//! would stream the block through memory a dozen times. Instead the block's elements
//! (C order) are processed in tiles of [`TILE`] elements: every instruction runs over
//! the tile into a small register buffer that stays in L1/L2, and only the final
//! register is written out (or handed straight to a reduction, so a fused
//! `(sin(x)**2 + cos(x)**2).sum()` never materialises the mapped block at all).
//!
//! Inputs are broadcast on the fly: an input chunk whose shape has 1 where the block
//! has more (or fewer leading axes) is read with stride 0 along those axes.

use super::math;
use super::num::{Float, Num};

use crate::dtype::{Buffer, DType, Element, cast_slice};
use crate::error::{Error, Result};
use crate::grid::c_strides;
use crate::ops::{BinaryOp, Generator, InstOp, Program, UnaryOp};

/// Elements per tile.
pub const TILE: usize = 2048;

/// Where a block sits in its array (generators need global indices).
#[derive(Clone, Copy, Debug)]
pub struct BlockCtx<'a> {
    /// Shape of the whole array.
    pub global_shape: &'a [usize],
    /// First element of the block.
    pub offset: &'a [usize],
    /// Shape of the block.
    pub shape: &'a [usize],
}

/// An input chunk of a program: its data and shape (broadcastable to the block).
#[derive(Clone, Copy, Debug)]
pub struct InputRef<'a> {
    /// Data, C order.
    pub data: &'a Buffer,
    /// Shape (may have fewer axes than the block, or 1s where the block has more).
    pub shape: &'a [usize],
}

/// Reusable register file for evaluating one program over many tiles.
pub struct Evaluator<'p> {
    prog: &'p Program,
    regs: Vec<Buffer>,
    scratch: Vec<f64>,
    scratch2: Vec<f64>,
    scratch3: Vec<f64>,
    idx: Vec<u64>,
    /// `cos_of[i] = Some(j)`: instructions `i` and `j` are `sin(a)` and `cos(a)` (in either
    /// order) of the same f64 register; both are computed when `i` runs, `j` is skipped.
    cos_of: Vec<Option<usize>>,
    skip: Vec<bool>,
}

fn take_vec<T: Element>(b: Buffer, len: usize) -> Vec<T> {
    let mut v = T::vec_of(b).unwrap_or_default();
    v.resize(len, T::default());
    v
}

fn placeholder() -> Buffer {
    Buffer::Bool(Vec::new())
}

/// Calls `f(out_offset, src_offset, run_len)` for maximal runs of the flat range
/// `[start, start+len)` of a block of shape `bshape`, where `strides` gives the source
/// stride per axis (0 for broadcast axes); within a run the source advances by
/// `strides[last]` per element.
fn runs(bshape: &[usize], strides: &[isize], start: usize, len: usize, mut f: impl FnMut(usize, isize, usize)) {
    let nd = bshape.len();
    if nd == 0 {
        if len > 0 {
            f(0, 0, 1);
        }
        return;
    }
    let last = bshape[nd - 1];
    if last == 0 {
        return;
    }
    let mut idx = vec![0usize; nd];
    let mut rem = start;
    for a in (0..nd).rev() {
        idx[a] = rem % bshape[a].max(1);
        rem /= bshape[a].max(1);
    }
    let mut done = 0;
    while done < len {
        let run = (last - idx[nd - 1]).min(len - done);
        let src: isize = idx.iter().zip(strides).map(|(&i, &s)| i as isize * s).sum();
        f(done, src, run);
        done += run;
        idx[nd - 1] += run;
        let mut a = nd - 1;
        while idx[a] >= bshape[a] && a > 0 {
            idx[a] = 0;
            a -= 1;
            idx[a] += 1;
        }
    }
}

fn gather<T: Element>(
    src: &[T],
    ishape: &[usize],
    bshape: &[usize],
    start: usize,
    len: usize,
    out: &mut [T],
) -> Result<()> {
    if ishape == bshape {
        out.copy_from_slice(&src[start..start + len]);
        return Ok(());
    }
    let nd = bshape.len();
    if ishape.len() > nd {
        return Err(Error::Broadcast {
            a: ishape.to_vec(),
            b: bshape.to_vec(),
        });
    }
    let pad = nd - ishape.len();
    let full: Vec<usize> = (0..nd).map(|a| if a < pad { 1 } else { ishape[a - pad] }).collect();
    let cs = c_strides(&full);
    let mut strides = vec![0isize; nd];
    for a in 0..nd {
        if full[a] == bshape[a] {
            strides[a] = cs[a] as isize;
        } else if full[a] != 1 {
            return Err(Error::Broadcast {
                a: ishape.to_vec(),
                b: bshape.to_vec(),
            });
        }
    }
    let step = strides[nd.saturating_sub(1)].max(0) as usize;
    let src_len = src.len();
    runs(bshape, &strides, start, len, |o, s, n| {
        let s = s as usize;
        if step == 1 && s + n <= src_len {
            out[o..o + n].copy_from_slice(&src[s..s + n]);
        } else {
            let v = src[s];
            out[o..o + n].fill(v);
        }
    });
    Ok(())
}

impl<'p> Evaluator<'p> {
    /// A register file for `prog`.
    #[must_use]
    pub fn new(prog: &'p Program) -> Self {
        let n = prog.insts.len();
        let mut cos_of = vec![None; n];
        let mut skip = vec![false; n];
        for (i, inst) in prog.insts.iter().enumerate() {
            if let (InstOp::Unary(op @ (UnaryOp::Sin | UnaryOp::Cos), a), DType::F64 | DType::F32, false) =
                (inst.op, inst.dtype, skip[i])
            {
                let other = if op == UnaryOp::Sin { UnaryOp::Cos } else { UnaryOp::Sin };
                let j = (i + 1..n).find(|&j| prog.insts[j].op == InstOp::Unary(other, a) && !skip[j]);
                if let Some(j) = j {
                    cos_of[i] = Some(j);
                    skip[j] = true;
                }
            }
        }
        Evaluator {
            prog,
            regs: prog.insts.iter().map(|_| placeholder()).collect(),
            scratch: Vec::new(),
            scratch2: Vec::new(),
            scratch3: Vec::new(),
            idx: Vec::new(),
            cos_of,
            skip,
        }
    }

    /// Evaluates the flat C-order range `[start, start+len)` of the block; returns the
    /// output register (of the program's output dtype, `len` elements).
    ///
    /// # Errors
    /// When an input's dtype or shape does not fit the program (a lowering bug, reported
    /// rather than panicking).
    pub fn eval(&mut self, ctx: &BlockCtx<'_>, inputs: &[InputRef<'_>], start: usize, len: usize) -> Result<&Buffer> {
        for i in 0..self.prog.insts.len() {
            let inst = self.prog.insts[i];
            if self.skip[i] {
                continue;
            }
            if let (Some(j), InstOp::Unary(op, a)) = (self.cos_of[i], inst.op) {
                let (si, ci) = if op == UnaryOp::Sin { (i, j) } else { (j, i) };
                let s_reg = std::mem::replace(&mut self.regs[si], placeholder());
                let c_reg = std::mem::replace(&mut self.regs[ci], placeholder());
                match &self.regs[a as usize] {
                    Buffer::F64(x) => {
                        let (mut s_out, mut c_out) = (take_vec::<f64>(s_reg, len), take_vec::<f64>(c_reg, len));
                        math::sincos_slice(x, &mut s_out, &mut c_out);
                        self.regs[si] = Buffer::F64(s_out);
                        self.regs[ci] = Buffer::F64(c_out);
                    }
                    Buffer::F32(x) => {
                        // In f64 (as the unpaired f32 path), through reused scratch.
                        let (xs, ss, cs) = (&mut self.scratch, &mut self.scratch2, &mut self.scratch3);
                        xs.clear();
                        xs.extend(x.iter().map(|&v| f64::from(v)));
                        ss.clear();
                        ss.resize(len, 0.0);
                        cs.clear();
                        cs.resize(len, 0.0);
                        math::sincos_slice(xs, ss, cs);
                        let (mut s_out, mut c_out) = (take_vec::<f32>(s_reg, len), take_vec::<f32>(c_reg, len));
                        for (o, &v) in s_out.iter_mut().zip(ss.iter()) {
                            *o = v as f32;
                        }
                        for (o, &v) in c_out.iter_mut().zip(cs.iter()) {
                            *o = v as f32;
                        }
                        self.regs[si] = Buffer::F32(s_out);
                        self.regs[ci] = Buffer::F32(c_out);
                    }
                    _ => return Err(Error::Unsupported("sin/cos pair over a non-float register".into())),
                }
                continue;
            }
            let out = std::mem::replace(&mut self.regs[i], placeholder());
            let (before, _) = self.regs.split_at(i);
            let r = |x: u32| &before[x as usize];
            let res = match inst.op {
                InstOp::Input(k) => {
                    let inp = inputs
                        .get(k as usize)
                        .ok_or_else(|| Error::Unsupported(format!("program reads input {k} of {}", inputs.len())))?;
                    if inp.data.dtype() != inst.dtype {
                        return Err(Error::Unsupported(format!(
                            "input {k} is {} but the program expects {}",
                            inp.data.dtype(),
                            inst.dtype
                        )));
                    }
                    dispatch_buffer!(inp.data, v, T => {
                        let mut o = take_vec::<T>(out, len);
                        gather(v, inp.shape, ctx.shape, start, len, &mut o)?;
                        T::into_buffer(o)
                    })
                }
                // A constant's register holds only that constant (registers are written
                // by their own instruction alone), so a tile no longer than the last one
                // finds it filled: a scalar operand costs no pass per tile.
                InstOp::Const(c) => crate::dispatch_dtype!(inst.dtype, T => {
                    let mut o = T::vec_of(out).unwrap_or_default();
                    if o.len() >= len {
                        o.truncate(len);
                    } else {
                        o.clear();
                        o.resize(len, c.to::<T>());
                    }
                    T::into_buffer(o)
                }),
                InstOp::Gen(g) => {
                    self.global_indices(ctx, start, len);
                    generate(g, inst.dtype, &self.idx, out, &mut self.scratch, &mut self.scratch2)
                }
                InstOp::Unary(op, a) => unary(op, r(a), out, inst.dtype, &mut self.scratch, &mut self.scratch2)?,
                InstOp::Binary(op, a, b) => binary(op, r(a), r(b), out)?,
                InstOp::Cast(a) => {
                    let a = r(a);
                    dispatch_buffer!(a, v, S => crate::dispatch_dtype!(inst.dtype, D => {
                        let mut o = take_vec::<D>(out, len);
                        for (o, &x) in o.iter_mut().zip(v.iter()) { *o = D::cast_from(x); }
                        D::into_buffer(o)
                    }))
                }
                InstOp::Where(c, a, b) => {
                    let Buffer::Bool(c) = r(c) else {
                        return Err(Error::Unsupported("where() condition is not bool".into()));
                    };
                    let (a, b) = (r(a), r(b));
                    dispatch_buffer!(a, av, T => {
                        let bv = T::slice_of(b).ok_or_else(|| Error::Unsupported("where() branches differ in dtype".into()))?;
                        let mut o = take_vec::<T>(out, len);
                        // Exact-length slices and a select, not a branch: no bounds checks,
                        // and the compiler blends whole vectors (a branch on scattered
                        // NaN masks mispredicts).
                        let (c, av, bv) = (&c[..len], &av[..len], &bv[..len]);
                        for (((o, &c), &x), &y) in o.iter_mut().zip(c).zip(av).zip(bv) {
                            *o = if c { x } else { y };
                        }
                        T::into_buffer(o)
                    })
                }
            };
            self.regs[i] = res;
        }
        Ok(self.regs.last().expect("program is empty"))
    }

    fn global_indices(&mut self, ctx: &BlockCtx<'_>, start: usize, len: usize) {
        self.idx.clear();
        self.idx.resize(len, 0);
        let gs = c_strides(ctx.global_shape);
        let base: isize = ctx.offset.iter().zip(&gs).map(|(&o, &s)| (o * s) as isize).sum();
        let strides: Vec<isize> = gs.iter().map(|&s| s as isize).collect();
        let idx = &mut self.idx;
        runs(ctx.shape, &strides, start, len, |o, s, n| {
            let g = (base + s) as u64;
            for (j, slot) in idx[o..o + n].iter_mut().enumerate() {
                *slot = g + j as u64;
            }
        });
    }
}

/// Evaluates a program over a whole block into a new buffer.
///
/// # Errors
/// As [`Evaluator::eval`].
pub fn eval_block(prog: &Program, ctx: &BlockCtx<'_>, inputs: &[InputRef<'_>]) -> Result<Buffer> {
    let n: usize = ctx.shape.iter().product();
    let mut ev = Evaluator::new(prog);
    if n <= TILE {
        ev.eval(ctx, inputs, 0, n)?;
        let last = ev.regs.len() - 1;
        return Ok(std::mem::replace(&mut ev.regs[last], placeholder()));
    }
    let dt = prog.out_dtype();
    crate::dispatch_dtype!(dt, T => {
        let mut out: Vec<T> = Vec::with_capacity(n);
        let mut s = 0;
        while s < n {
            let l = TILE.min(n - s);
            let r = ev.eval(ctx, inputs, s, l)?;
            let v = T::slice_of(r).ok_or_else(|| Error::Unsupported("program output dtype mismatch".into()))?;
            out.extend_from_slice(v);
            s += l;
        }
        Ok(T::into_buffer(out))
    })
}

fn generate(
    g: Generator,
    dt: DType,
    idx: &[u64],
    out: Buffer,
    scratch: &mut Vec<f64>,
    scratch2: &mut Vec<f64>,
) -> Buffer {
    let len = idx.len();
    match g {
        Generator::Arange { start, step } if dt.is_integer() || dt == DType::Bool => {
            crate::dispatch_dtype!(dt, T => {
                let mut o = take_vec::<T>(out, len);
                let (s, st) = (start.as_f64() as i64, step.as_f64() as i64);
                let (s, st) = match (start, step) {
                    (crate::Scalar::Int(a), crate::Scalar::Int(b)) => (a, b),
                    _ => (s, st),
                };
                for (o, &i) in o.iter_mut().zip(idx) { *o = T::from_i64(s.wrapping_add(st.wrapping_mul(i as i64))); }
                T::into_buffer(o)
            })
        }
        _ => {
            scratch.clear();
            scratch.resize(len, 0.0);
            match g {
                Generator::Arange { start, step } => {
                    let (s, st) = (start.as_f64(), step.as_f64());
                    for (o, &i) in scratch.iter_mut().zip(idx) {
                        *o = s + i as f64 * st;
                    }
                }
                Generator::Linspace {
                    start,
                    step,
                    last,
                    stop,
                } => {
                    for (o, &i) in scratch.iter_mut().zip(idx) {
                        *o = if i == last { stop } else { start + i as f64 * step };
                    }
                }
                Generator::Uniform { seed, low, high } => math::uniform_fill(seed, 0, low, high, idx, scratch),
                Generator::Normal { seed, mean, std } => {
                    // Box–Muller: u1 from stream 0, u2 (as an angle) from stream 1.
                    math::uniform_fill(seed, 0, 0.0, 1.0, idx, scratch);
                    scratch2.clear();
                    scratch2.resize(len, 0.0);
                    let mut ang = vec![0.0; len];
                    math::uniform_fill(seed, 1, 0.0, std::f64::consts::TAU, idx, &mut ang);
                    math::cos_slice(&ang, scratch2);
                    for (o, &c) in scratch.iter_mut().zip(scratch2.iter()) {
                        *o = mean + std * (-2.0 * (1.0 - *o).ln()).sqrt() * c;
                    }
                }
            }
            crate::dispatch_dtype!(dt, T => {
                let mut o = take_vec::<T>(out, len);
                for (o, &x) in o.iter_mut().zip(scratch.iter()) { *o = T::from_f64(x); }
                T::into_buffer(o)
            })
        }
    }
}

macro_rules! num_dispatch {
    ($buf:expr, $v:ident, $T:ident => $body:expr, bool => $b:expr) => {{
        match $buf {
            Buffer::Bool(_) => $b,
            Buffer::I8($v) => {
                #[allow(dead_code)]
                type $T = i8;
                $body
            }
            Buffer::I16($v) => {
                type $T = i16;
                $body
            }
            Buffer::I32($v) => {
                type $T = i32;
                $body
            }
            Buffer::I64($v) => {
                type $T = i64;
                $body
            }
            Buffer::U8($v) => {
                type $T = u8;
                $body
            }
            Buffer::U16($v) => {
                type $T = u16;
                $body
            }
            Buffer::U32($v) => {
                type $T = u32;
                $body
            }
            Buffer::U64($v) => {
                type $T = u64;
                $body
            }
            Buffer::F32($v) => {
                type $T = f32;
                $body
            }
            Buffer::F64($v) => {
                type $T = f64;
                $body
            }
        }
    }};
}
pub(crate) use num_dispatch;

fn map_into<T: Element, U: Element>(v: &[T], out: Buffer, f: impl Fn(T) -> U) -> Buffer {
    let mut o = take_vec::<U>(out, v.len());
    for (o, &x) in o.iter_mut().zip(v) {
        *o = f(x);
    }
    U::into_buffer(o)
}

fn float_unary<T: Float>(
    op: UnaryOp,
    v: &[T],
    out: Buffer,
    scratch: &mut Vec<f64>,
    wide: &mut Vec<f64>,
) -> Result<Buffer> {
    use UnaryOp::*;
    Ok(match op {
        Sin | Cos => {
            let f = if op == Sin { math::sin_slice } else { math::cos_slice };
            let mut o = take_vec::<T>(out, v.len());
            scratch.clear();
            scratch.resize(v.len(), 0.0);
            match T::as_f64s(v) {
                Some(xs) => f(xs, scratch),
                None => {
                    wide.clear();
                    wide.extend(v.iter().map(|&x| T::widen(x)));
                    f(wide, scratch);
                }
            }
            for (o, &r) in o.iter_mut().zip(scratch.iter()) {
                *o = T::narrow(r);
            }
            T::into_buffer(o)
        }
        Sqrt => map_into(v, out, T::sqrt),
        Exp => map_into(v, out, T::exp),
        Log => map_into(v, out, T::ln),
        Log1p => map_into(v, out, T::ln_1p),
        Expm1 => map_into(v, out, T::exp_m1),
        Tan => map_into(v, out, T::tan),
        Arctan => map_into(v, out, T::atan),
        Arcsin => map_into(v, out, T::asin),
        Arccos => map_into(v, out, T::acos),
        Sinh => map_into(v, out, T::sinh),
        Cosh => map_into(v, out, T::cosh),
        Tanh => map_into(v, out, T::tanh),
        Arcsinh => map_into(v, out, T::asinh),
        Arccosh => map_into(v, out, T::acosh),
        Arctanh => map_into(v, out, T::atanh),
        Log2 => map_into(v, out, T::log2),
        Log10 => map_into(v, out, T::log10),
        Exp2 => map_into(v, out, T::exp2),
        Cbrt => map_into(v, out, T::cbrt),
        Deg2rad => map_into(v, out, T::to_radians),
        Rad2deg => map_into(v, out, T::to_degrees),
        _ => return Err(Error::Unsupported(format!("{} is not a float op", op.name()))),
    })
}

fn unary(
    op: UnaryOp,
    a: &Buffer,
    out: Buffer,
    out_dt: DType,
    scratch: &mut Vec<f64>,
    wide: &mut Vec<f64>,
) -> Result<Buffer> {
    use UnaryOp::*;
    Ok(match op {
        Not => dispatch_buffer!(a, v, _T => map_into(v, out, |x| !x.truthy())),
        IsNan => dispatch_buffer!(a, v, _T => map_into(v, out, |x| x.is_nan())),
        IsFinite => dispatch_buffer!(a, v, _T => map_into(v, out, |x| x.to_f64().is_finite())),
        _ if op.needs_float() => match a {
            Buffer::F32(v) => float_unary(op, v, out, scratch, wide)?,
            Buffer::F64(v) => float_unary(op, v, out, scratch, wide)?,
            _ => {
                return Err(Error::Unsupported(format!(
                    "{} of {} (expected a float input)",
                    op.name(),
                    a.dtype()
                )));
            }
        },
        _ => num_dispatch!(a, v, T => {
            match op {
                Neg => map_into(v, out, <T as Num>::neg),
                Abs => map_into(v, out, <T as Num>::abs),
                Square => map_into(v, out, |x| <T as Num>::mul(x, x)),
                Floor => map_into(v, out, <T as Num>::floor),
                Ceil => map_into(v, out, <T as Num>::ceil),
                Round => map_into(v, out, <T as Num>::round),
                Trunc => map_into(v, out, <T as Num>::trunc),
                Sign => map_into(v, out, <T as Num>::sign),
                _ => return Err(Error::Unsupported(op.name().into())),
            }
        }, bool => {
            let Buffer::Bool(v) = a else { unreachable!() };
            if out_dt != DType::Bool { return Err(Error::Unsupported(format!("{} of bool", op.name()))); }
            map_into(v, out, |x| x)
        }),
    })
}

fn zip_into<T: Element, U: Element>(a: &[T], b: &[T], out: Buffer, f: impl Fn(T, T) -> U) -> Buffer {
    let mut o = take_vec::<U>(out, a.len());
    for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
    U::into_buffer(o)
}

fn binary(op: BinaryOp, a: &Buffer, b: &Buffer, out: Buffer) -> Result<Buffer> {
    use BinaryOp::*;
    if a.dtype() != b.dtype() {
        return Err(Error::Unsupported(format!(
            "{} of {} and {} (operands must be promoted first)",
            op.name(),
            a.dtype(),
            b.dtype()
        )));
    }
    if op.is_comparison() {
        return Ok(dispatch_buffer!(a, av, T => {
            let bv = T::slice_of(b).expect("dtype checked");
            match op {
                Eq => zip_into(av, bv, out, |x, y| x == y),
                Ne => zip_into(av, bv, out, |x, y| x != y),
                Lt => zip_into(av, bv, out, |x, y| x.lt(&y)),
                Le => zip_into(av, bv, out, |x, y| x <= y),
                Gt => zip_into(av, bv, out, |x, y| x.gt(&y)),
                _ => zip_into(av, bv, out, |x, y| x >= y),
            }
        }));
    }
    if op.is_logical() {
        return Ok(dispatch_buffer!(a, av, T => {
            let bv = T::slice_of(b).expect("dtype checked");
            match op {
                And => zip_into(av, bv, out, |x, y| x.truthy() && y.truthy()),
                Or => zip_into(av, bv, out, |x, y| x.truthy() || y.truthy()),
                _ => zip_into(av, bv, out, |x, y| x.truthy() != y.truthy()),
            }
        }));
    }
    Ok(num_dispatch!(a, av, T => {
        let bv = T::slice_of(b).expect("dtype checked");
        match op {
            Add => zip_into(av, bv, out, <T as Num>::add),
            Sub => zip_into(av, bv, out, <T as Num>::sub),
            Mul => zip_into(av, bv, out, <T as Num>::mul),
            Div => zip_into(av, bv, out, <T as Num>::div),
            FloorDiv => zip_into(av, bv, out, <T as Num>::floordiv),
            Rem => zip_into(av, bv, out, <T as Num>::rem),
            Pow => zip_into(av, bv, out, <T as Num>::pow),
            Minimum => zip_into(av, bv, out, <T as Num>::minimum),
            Maximum => zip_into(av, bv, out, <T as Num>::maximum),
            Arctan2 => zip_into(av, bv, out, |x, y| T::from_f64(x.to_f64().atan2(y.to_f64()))),
            Hypot => zip_into(av, bv, out, |x, y| T::from_f64(x.to_f64().hypot(y.to_f64()))),
            Fmod => zip_into(av, bv, out, <T as Num>::fmod),
            _ => return Err(Error::Unsupported(op.name().into())),
        }
    }, bool => return Err(Error::Unsupported(format!("{} of bool arrays", op.name())))))
}

/// Casts a whole buffer (used by reductions over bool data).
#[must_use]
pub fn cast_buffer(b: &Buffer, to: DType) -> Buffer {
    dispatch_buffer!(b, v, S => crate::dispatch_dtype!(to, D => D::into_buffer(cast_slice::<S, D>(v))))
}
