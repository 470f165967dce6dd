//! One CUDA kernel per fused elementwise chain.
//!
//! Fusion turns a chain of elementwise ops into one [`Program`]; on the CPU it runs
//! tile by tile, on CUDA it becomes one generated kernel: each instruction one line of
//! C++ over registers, calling the same device functions as the per-op kernels
//! (`kernels/elementwise_ops.cuh`), so a fused kernel and the op-by-op path agree
//! element for element. The kernel is named by a hash of its text, so equal chains share
//! one compiled module. Inputs are read at their own C-order offsets when they are
//! broadcast (a geometry array: ndim, the block's shape, then each input's element
//! strides, 0 along broadcast axes), or at the element index when `geom` is null.
//! Generators (arange, random numbers) are not emitted yet: such programs run on the
//! CPU ([`Error::Unsupported`]).

use super::source;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, InstOp, Program, UnaryOp};
use std::fmt::Write as _;

/// A generated kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedKernel {
    /// The `extern "C"` name (`fused_<hash>`).
    pub name: String,
    /// The kernel's own text (without prelude and device functions).
    pub body: String,
    /// Input dtypes, by slot.
    pub inputs: Vec<DType>,
    /// The output dtype.
    pub out: DType,
}

impl FusedKernel {
    /// The whole program NVRTC compiles.
    #[must_use]
    pub fn program(&self) -> String {
        source::assemble(&format!("{}.cu", self.name), &self.body, true)
    }
}

/// The C type of a dtype in kernels.
fn ctype(d: DType) -> &'static str {
    if d == DType::Bool { "cwbool" } else { d.suffix() }
}

/// A literal of dtype `d` with the scalar's value (NumPy's cast of the scalar).
fn literal(s: Scalar, d: DType) -> String {
    let f = s.as_f64();
    match d {
        DType::F64 => format!("__longlong_as_double(0x{:016x}ULL)", f.to_bits()),
        DType::F32 => format!("__int_as_float((int)0x{:08x}u)", (f as f32).to_bits()),
        DType::Bool => (if f != 0.0 || matches!(s, Scalar::Bool(true)) {
            "1"
        } else {
            "0"
        })
        .to_string(),
        _ => {
            let bits: u64 = match s {
                Scalar::Int(i) => i as u64,
                Scalar::UInt(u) => u,
                Scalar::Bool(b) => u64::from(b),
                Scalar::Float(x) => x as i64 as u64,
            };
            format!("(({})0x{bits:x}ULL)", ctype(d))
        }
    }
}

fn unary_fn(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::IsNan => "cw_isnan_op",
        UnaryOp::Not => "cw_logical_not",
        UnaryOp::Neg => "cw_neg",
        UnaryOp::Abs => "cw_abs",
        UnaryOp::Square => "cw_square",
        UnaryOp::Sqrt => "cw_sqrt",
        UnaryOp::Exp => "cw_exp",
        UnaryOp::Log => "cw_log",
        UnaryOp::Log1p => "cw_log1p",
        UnaryOp::Expm1 => "cw_expm1",
        UnaryOp::Sin => "cw_sin",
        UnaryOp::Cos => "cw_cos",
        UnaryOp::Tan => "cw_tan",
        UnaryOp::Arctan => "cw_arctan",
        UnaryOp::Arcsin => "cw_arcsin",
        UnaryOp::Arccos => "cw_arccos",
        UnaryOp::Sinh => "cw_sinh",
        UnaryOp::Cosh => "cw_cosh",
        UnaryOp::Tanh => "cw_tanh",
        UnaryOp::Arcsinh => "cw_arcsinh",
        UnaryOp::Arccosh => "cw_arccosh",
        UnaryOp::Arctanh => "cw_arctanh",
        UnaryOp::Log2 => "cw_log2",
        UnaryOp::Log10 => "cw_log10",
        UnaryOp::Exp2 => "cw_exp2",
        UnaryOp::Cbrt => "cw_cbrt",
        UnaryOp::Deg2rad => "cw_deg2rad",
        UnaryOp::Rad2deg => "cw_rad2deg",
        UnaryOp::Trunc => "cw_trunc",
        UnaryOp::Sign => "cw_sign",
        UnaryOp::Floor => "cw_floor",
        UnaryOp::Ceil => "cw_ceil",
        UnaryOp::Round => "cw_round",
        UnaryOp::IsFinite => "cw_isfinite",
    }
}

fn binary_fn(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Add => "cw_add",
        Sub => "cw_sub",
        Mul => "cw_mul",
        Div => "cw_divide",
        FloorDiv => "cw_floor_divide",
        Rem => "cw_remainder",
        Pow => "cw_power",
        Minimum => "cw_minimum",
        Maximum => "cw_maximum",
        Arctan2 => "cw_arctan2",
        Hypot => "cw_hypot",
        Fmod => "cw_fmod",
        Eq => "cw_equal",
        Ne => "cw_not_equal",
        Lt => "cw_less",
        Le => "cw_less_equal",
        Gt => "cw_greater",
        Ge => "cw_greater_equal",
        And => "cw_logical_and",
        Or => "cw_logical_or",
        Xor => "cw_logical_xor",
    }
}

/// Generates the kernel for `p`.
///
/// # Errors
/// [`Error::Unsupported`] for programs with generators, or an empty program.
pub fn fused_kernel(p: &Program) -> Result<FusedKernel> {
    if p.insts.is_empty() {
        return Err(Error::Unsupported("an empty fused program".into()));
    }
    let mut inputs = vec![DType::Bool; p.n_inputs as usize];
    for inst in &p.insts {
        if let InstOp::Input(k) = inst.op {
            inputs[k as usize] = inst.dtype;
        }
    }
    let dt = |r: u32| p.insts[r as usize].dtype;
    let mut lines = String::new();
    for (j, inst) in p.insts.iter().enumerate() {
        let t = ctype(inst.dtype);
        let expr = match inst.op {
            InstOp::Input(k) => format!("in{k}[geom ? cw_offset(i, geom, {k}) : i]"),
            InstOp::Const(s) => literal(s, inst.dtype),
            InstOp::Gen(_) => {
                return Err(Error::Unsupported(
                    "generated values (arange, random) in a CUDA kernel: runs on the CPU".into(),
                ));
            }
            InstOp::Unary(op, a) => format!("{}<{}>(r{a})", unary_fn(op), ctype(dt(a))),
            InstOp::Binary(op, a, b) => format!("{}<{}>(r{a}, r{b})", binary_fn(op), ctype(dt(a))),
            InstOp::Cast(a) if inst.dtype == DType::Bool => format!("(cwbool)(r{a} != 0)"),
            InstOp::Cast(a) => format!("({t})r{a}"),
            InstOp::Where(c, a, b) => format!("r{c} ? r{a} : r{b}"),
        };
        let _ = writeln!(lines, "        const {t} r{j} = {expr};");
    }
    let out = p.out_dtype();
    let params: String = inputs
        .iter()
        .enumerate()
        .map(|(k, d)| format!("const {}* __restrict__ in{k}, ", ctype(*d)))
        .collect();
    let body_of = |name: &str| {
        format!(
            "extern \"C\" __global__ void {name}({params}{}* __restrict__ out, const u64* __restrict__ geom, u64 n) {{\n    \
             CW_FOR(i, n) {{\n{lines}        out[i] = r{};\n    }}\n}}\n",
            ctype(out),
            p.insts.len() - 1
        )
    };
    // The name hashes the text with a placeholder name, so it is stable.
    let text = body_of("KERNEL");
    let name = format!("fused_{:016x}", fnv1a(text.as_bytes()));
    let body = format!("{OFFSET_FN}\n{}", body_of(&name));
    Ok(FusedKernel {
        name,
        body,
        inputs,
        out,
    })
}

/// C-order offset of element `i` of the block in input `k` (strides 0 on broadcast axes).
const OFFSET_FN: &str = "__device__ __forceinline__ u64 cw_offset(u64 i, const u64* __restrict__ g, int k) {
    const u64 nd = g[0];
    const u64* shape = g + 1;
    const u64* st = g + 1 + nd + (u64)k * nd;
    u64 off = 0;
    for (int a = (int)nd - 1; a >= 0; --a) {
        const u64 q = i % shape[a];
        i /= shape[a];
        off += q * st[a];
    }
    return off;
}";

/// FNV-1a: a stable 64-bit hash (the standard library's may change between releases).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Generator;

    fn sincos() -> Program {
        let mut p = Program::new(1);
        let x = p.push(InstOp::Input(0), DType::F32);
        let s = p.push(InstOp::Unary(UnaryOp::Sin, x), DType::F32);
        let c = p.push(InstOp::Unary(UnaryOp::Cos, x), DType::F32);
        let s2 = p.push(InstOp::Unary(UnaryOp::Square, s), DType::F32);
        let c2 = p.push(InstOp::Unary(UnaryOp::Square, c), DType::F32);
        p.push(InstOp::Binary(BinaryOp::Add, s2, c2), DType::F32);
        p
    }

    #[test]
    fn a_chain_becomes_one_kernel_named_by_its_text() {
        let k = fused_kernel(&sincos()).expect("kernel");
        assert!(k.name.starts_with("fused_"));
        assert_eq!(k, fused_kernel(&sincos()).expect("again"), "same chain, same kernel");
        assert!(
            k.body.contains("cw_sin<f32>(r0)") && k.body.contains("cw_add<f32>(r3, r4)"),
            "{}",
            k.body
        );
        assert!(k.body.contains("out[i] = r5;"));
        assert_eq!((k.inputs.clone(), k.out), (vec![DType::F32], DType::F32));
        assert!(k.program().contains(&format!("#line 1 \"{}.cu\"", k.name)));
    }

    #[test]
    fn constants_are_exact_and_generators_stay_on_the_cpu() {
        assert_eq!(
            literal(Scalar::Float(0.1), DType::F64),
            "__longlong_as_double(0x3fb999999999999aULL)"
        );
        assert_eq!(literal(Scalar::Int(-1), DType::I8), "((i8)0xffffffffffffffffULL)");
        assert_eq!(literal(Scalar::Bool(true), DType::Bool), "1");
        let mut p = Program::new(0);
        p.push(
            InstOp::Gen(Generator::Uniform {
                seed: 1,
                low: 0.0,
                high: 1.0,
            }),
            DType::F64,
        );
        assert!(matches!(fused_kernel(&p), Err(Error::Unsupported(_))));
    }
}
