//! The CUDA sources as NVRTC compiles them.
//!
//! Kernels include no headers (NVRTC without a toolkit finds none): each program is
//! the prelude, the shared device functions it needs, then `#line 1 "<file>"` and the
//! file, so a compiler error names the right file and line. Plain strings, built in
//! every configuration: the `cuda` feature is needed only to hand them to NVRTC.

use crate::dtype::DType;

/// Fixed-width types, NaN/infinity, the grid-stride loop.
pub const PRELUDE: &str = include_str!("../../../kernels/prelude.cuh");
/// Elementwise device functions (NumPy semantics), shared with generated kernels.
pub const ELEMENTWISE_OPS: &str = include_str!("../../../kernels/elementwise_ops.cuh");

/// One kernel file and the headers it is compiled after.
#[derive(Clone, Copy, Debug)]
pub struct KernelFile {
    /// File name under `kernels/`.
    pub name: &'static str,
    /// Its text.
    pub body: &'static str,
    /// Whether it uses the elementwise device functions.
    pub needs_ops: bool,
}

/// Every kernel file.
pub const FILES: &[KernelFile] = &[
    KernelFile {
        name: "elementwise.cu",
        body: include_str!("../../../kernels/elementwise.cu"),
        needs_ops: true,
    },
    KernelFile {
        name: "reduce.cu",
        body: include_str!("../../../kernels/reduce.cu"),
        needs_ops: true,
    },
];

/// The full program text NVRTC compiles for `file`.
#[must_use]
pub fn program(file: &KernelFile) -> String {
    assemble(file.name, file.body, file.needs_ops)
}

/// The program of `file` built for one input dtype: `reduce.cu` then instantiates only
/// that dtype's chunk-step, min/max and arg-combine kernels (plus the dtype-free
/// combines). `None` builds everything.
#[must_use]
pub fn program_for(file: &KernelFile, dtype: Option<DType>) -> String {
    match dtype {
        Some(d) => format!(
            "#define CW_ONLY 1\n#define CW_KEEP_{}(x) x\n{}",
            d.suffix(),
            program(file)
        ),
        None => program(file),
    }
}

/// Prelude, optionally the elementwise functions, then `body` under `#line 1 "name"`.
#[must_use]
pub fn assemble(name: &str, body: &str, needs_ops: bool) -> String {
    let mut s = String::with_capacity(PRELUDE.len() + ELEMENTWISE_OPS.len() + body.len() + 128);
    s.push_str("#line 1 \"prelude.cuh\"\n");
    s.push_str(PRELUDE);
    if needs_ops {
        s.push_str("\n#line 1 \"elementwise_ops.cuh\"\n");
        s.push_str(ELEMENTWISE_OPS);
    }
    s.push_str(&format!("\n#line 1 \"{name}\"\n"));
    s.push_str(body);
    s
}

/// The kernel name for an op and a dtype (`sin_f32`, `reduce_sum_rows_f32`).
#[must_use]
pub fn kernel_name(op: &str, dtype: DType) -> String {
    format!("{op}_{}", dtype.suffix())
}

/// The kernels `elementwise.cu` and `reduce.cu` must define: what the backend looks
/// up, so a missing instantiation is caught when the files are compiled, not when a
/// GPU first needs it.
#[must_use]
pub fn expected_kernels() -> Vec<String> {
    use crate::ops::{BinaryOp, UnaryOp};
    let all = DType::ALL;
    let mut out = Vec::new();
    for &d in &all {
        for u in UnaryOp::ALL {
            // The op as the CPU planner would run it on this dtype.
            if let Ok((k, _)) = u.signature(d)
                && k == d
            {
                out.push(kernel_name(u.name(), d));
            }
        }
        for b in BinaryOp::ALL {
            if let Ok((op, k, _)) = b.signature(d)
                && k == d
            {
                out.push(kernel_name(op.name(), d));
            }
        }
        for &to in &all {
            out.push(format!("cast_{}_{}", d.suffix(), to.suffix()));
        }
        out.push(kernel_name("fill", d));
        for op in [
            "sum",
            "nansum",
            "prod",
            "nanprod",
            "min",
            "nanmin",
            "max",
            "nanmax",
            "any",
            "all",
            "count",
            "mean",
            "nanmean",
            "moments",
            "nanmoments",
            "argmin",
            "nanargmin",
            "argmax",
            "nanargmax",
        ] {
            for shape in ["rows", "cols"] {
                out.push(format!("reduce_{op}_{shape}_{}", d.suffix()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_carry_line_directives_and_every_instantiated_name() {
        for f in FILES {
            let p = program(f);
            assert!(p.starts_with("#line 1 \"prelude.cuh\""));
            assert!(p.contains(&format!("#line 1 \"{}\"", f.name)), "{}", f.name);
        }
        let names = expected_kernels();
        assert!(names.contains(&"sin_f32".to_string()));
        assert!(names.contains(&"reduce_nanmean_cols_f32".to_string()));
        assert!(names.contains(&"equal_bool".to_string()));
        assert!(
            !names.contains(&"sin_i32".to_string()),
            "integer sin runs on a cast, not a kernel"
        );
    }
}
