//! Every CUDA kernel compiles with NVRTC for sm_80 and sm_90, defines every kernel
//! name the backend looks up, and (through `ptxas -v`) the reduction kernels do not
//! spill registers. Runs without a GPU: NVRTC and ptxas come from the
//! `nvidia-cuda-nvrtc-cu12` / `nvidia-cuda-nvcc-cu12` wheels, which `scripts/test.sh`
//! installs (it sets `LD_LIBRARY_PATH`, `CHUNKWISE_PTXAS` and
//! `CHUNKWISE_REQUIRE_NVRTC=1`, so there a missing tool fails instead of skipping).
#![cfg(feature = "cuda")]

use chunkwise::DType;
use chunkwise::device::cuda::{codegen, nvrtc, source};
use chunkwise::ops::{BinaryOp, InstOp, Program, UnaryOp};
use std::collections::BTreeMap;
use std::path::PathBuf;

const ARCHS: [(&str, &str); 2] = [("compute_80", "sm_80"), ("compute_90", "sm_90")];

fn required() -> bool {
    std::env::var("CHUNKWISE_REQUIRE_NVRTC").is_ok_and(|v| v == "1")
}

/// NVRTC is there, or the test is skipped (failed when required).
fn nvrtc_or_skip() -> bool {
    if nvrtc::available() {
        return true;
    }
    assert!(
        !required(),
        "CHUNKWISE_REQUIRE_NVRTC=1 but libnvrtc.so.12 is not on the library path"
    );
    eprintln!("skipped: NVRTC not found (install nvidia-cuda-nvrtc-cu12 and set LD_LIBRARY_PATH)");
    false
}

fn ptxas() -> Option<PathBuf> {
    let p = std::env::var_os("CHUNKWISE_PTXAS").map(PathBuf::from)?;
    p.exists().then_some(p)
}

/// Per kernel: (registers, spill store bytes, spill load bytes), from `ptxas -v`.
fn ptxas_report(ptx: &str, sm: &str, tag: &str) -> BTreeMap<String, (u32, u32, u32)> {
    let Some(ptxas) = ptxas() else {
        assert!(
            !required(),
            "CHUNKWISE_REQUIRE_NVRTC=1 but CHUNKWISE_PTXAS is not set to a ptxas"
        );
        eprintln!("ptxas not found (CHUNKWISE_PTXAS): no register report");
        return BTreeMap::new();
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join(format!("{tag}-{sm}.ptx"));
    std::fs::write(&file, ptx).expect("write ptx");
    let out = std::process::Command::new(&ptxas)
        .args(["-v", &format!("-arch={sm}"), "-o", "/dev/null"])
        .arg(&file)
        .output()
        .expect("run ptxas");
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "ptxas failed on {tag} for {sm}:\n{text}");
    std::fs::write(dir.join(format!("{tag}-{sm}.ptxas.txt")), &text).expect("write report");
    let mut report = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut spill = (0, 0);
    for line in text.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            current = rest.split('\'').next().map(str::to_string);
        } else if line.contains("spill stores") {
            // "8 bytes stack frame, 16 bytes spill stores, 32 bytes spill loads"
            let before = |what: &str| -> u32 {
                line.split(',')
                    .find(|part| part.contains(what))
                    .and_then(|part| part.split_whitespace().next())
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(0)
            };
            spill = (before("spill stores"), before("spill loads"));
        } else if let Some(rest) = line.split("Used ").nth(1)
            && let Some(name) = current.take()
        {
            let regs: u32 = rest.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(0);
            report.insert(name, (regs, spill.0, spill.1));
        }
    }
    report
}

#[test]
fn every_kernel_file_compiles_for_sm80_and_sm90() {
    if !nvrtc_or_skip() {
        return;
    }
    let expected = source::expected_kernels();
    for (arch, sm) in ARCHS {
        let mut entries: Vec<String> = Vec::new();
        for f in source::FILES {
            let ptx = nvrtc::compile_ptx(&source::program(f), f.name, arch).unwrap_or_else(|e| panic!("{e}"));
            let names = nvrtc::ptx_entries(&ptx);
            assert!(!names.is_empty(), "{} defines no kernels", f.name);
            let report = ptxas_report(&ptx, sm, f.name.trim_end_matches(".cu"));
            if !report.is_empty() {
                assert_eq!(report.len(), names.len(), "ptxas saw every kernel of {}", f.name);
                let max = report.iter().max_by_key(|(_, r)| r.0).expect("kernels");
                eprintln!(
                    "{} {sm}: {} kernels, most registers {} ({})",
                    f.name,
                    report.len(),
                    max.1.0,
                    max.0
                );
                if f.name == "reduce.cu" {
                    let spilling: Vec<&String> = report.iter().filter(|(_, r)| r.1 + r.2 > 0).map(|(n, _)| n).collect();
                    assert!(spilling.is_empty(), "reduction kernels spill on {sm}: {spilling:?}");
                }
            }
            entries.extend(names);
        }
        let missing: Vec<&String> = expected.iter().filter(|n| !entries.contains(n)).collect();
        assert!(
            missing.is_empty(),
            "kernels the backend needs but {arch} lacks: {missing:?}"
        );
    }
}

/// The per-dtype build of `reduce.cu` (what a GPU loads) has that dtype's kernels, the
/// combines its partials need, and nothing of other dtypes.
#[test]
fn the_build_of_reduce_for_one_dtype_has_exactly_its_kernels() {
    if !nvrtc_or_skip() {
        return;
    }
    let file = source::FILES.iter().find(|f| f.name == "reduce.cu").expect("reduce.cu");
    let ptx = nvrtc::compile_ptx(
        &source::program_for(file, Some(DType::F32)),
        "reduce.cu[f32]",
        "compute_90",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let names = nvrtc::ptx_entries(&ptx);
    let want_f32: Vec<String> = source::expected_kernels()
        .into_iter()
        .filter(|n| n.starts_with("reduce_") && n.ends_with("_f32"))
        .collect();
    assert_eq!(want_f32.len(), 38, "19 ops × rows/cols");
    for n in want_f32
        .iter()
        .map(String::as_str)
        .chain([
            "combine_min_f32",
            "combine_nanargmax_f32",
            "combine_sum_f64",
            "combine_prod_i64",
        ])
        .chain(["combine_mean", "combine_moments", "combine_count", "combine_any"])
    {
        assert!(names.iter().any(|k| k == n), "{n} missing from the f32 build");
    }
    let foreign: Vec<&String> = names
        .iter()
        .filter(|k| k.starts_with("reduce_") && !k.ends_with("_f32") || k.ends_with("_i16"))
        .collect();
    assert!(
        foreign.is_empty(),
        "other dtypes' kernels in the f32 build: {foreign:?}"
    );
}

/// A few fused chains of the kinds fusion produces.
fn samples() -> Vec<Program> {
    let mut out = Vec::new();
    for d in [DType::F32, DType::F64] {
        // sin(x)^2 + cos(x)^2
        let mut p = Program::new(1);
        let x = p.push(InstOp::Input(0), d);
        let s = p.push(InstOp::Unary(UnaryOp::Sin, x), d);
        let c = p.push(InstOp::Unary(UnaryOp::Cos, x), d);
        let s2 = p.push(InstOp::Unary(UnaryOp::Square, s), d);
        let c2 = p.push(InstOp::Unary(UnaryOp::Square, c), d);
        p.push(InstOp::Binary(BinaryOp::Add, s2, c2), d);
        out.push(p);
    }
    // where(isnan(x), 0, x - mean) with a broadcast second input, as f64.
    let mut p = Program::new(2);
    let x = p.push(InstOp::Input(0), DType::F32);
    let m = p.push(InstOp::Input(1), DType::F64);
    let xf = p.push(InstOp::Cast(x), DType::F64);
    let nan = p.push(InstOp::Unary(UnaryOp::IsNan, xf), DType::Bool);
    let d = p.push(InstOp::Binary(BinaryOp::Sub, xf, m), DType::F64);
    let z = p.push(InstOp::Const(0.0.into()), DType::F64);
    p.push(InstOp::Where(nan, z, d), DType::F64);
    out.push(p);
    // Integer arithmetic with constants, a comparison and a logical op.
    let mut p = Program::new(2);
    let a = p.push(InstOp::Input(0), DType::I32);
    let b = p.push(InstOp::Input(1), DType::I32);
    let k = p.push(InstOp::Const((-7i64).into()), DType::I32);
    let q = p.push(InstOp::Binary(BinaryOp::FloorDiv, a, k), DType::I32);
    let r = p.push(InstOp::Binary(BinaryOp::Rem, b, k), DType::I32);
    let lt = p.push(InstOp::Binary(BinaryOp::Lt, q, r), DType::Bool);
    let ne = p.push(InstOp::Binary(BinaryOp::Ne, a, b), DType::Bool);
    p.push(InstOp::Binary(BinaryOp::And, lt, ne), DType::Bool);
    out.push(p);
    // u8 → f32 scaling and a clip through minimum/maximum.
    let mut p = Program::new(1);
    let a = p.push(InstOp::Input(0), DType::U8);
    let f = p.push(InstOp::Cast(a), DType::F32);
    let s = p.push(InstOp::Const(0.5.into()), DType::F32);
    let y = p.push(InstOp::Binary(BinaryOp::Mul, f, s), DType::F32);
    let lo = p.push(InstOp::Const(10.0.into()), DType::F32);
    let hi = p.push(InstOp::Const(100.0.into()), DType::F32);
    let y = p.push(InstOp::Binary(BinaryOp::Maximum, y, lo), DType::F32);
    p.push(InstOp::Binary(BinaryOp::Minimum, y, hi), DType::F32);
    out.push(p);
    out
}

#[test]
fn generated_fused_kernels_compile() {
    if !nvrtc_or_skip() {
        return;
    }
    for p in samples() {
        let k = codegen::fused_kernel(&p).expect("generate");
        for (arch, sm) in ARCHS {
            let ptx = nvrtc::compile_ptx(&k.program(), &k.name, arch)
                .unwrap_or_else(|e| panic!("{e}\n--- generated ---\n{}", k.body));
            assert_eq!(nvrtc::ptx_entries(&ptx), vec![k.name.clone()]);
            let report = ptxas_report(&ptx, sm, &k.name);
            if let Some((regs, st, ld)) = report.get(&k.name) {
                assert_eq!((st, ld), (&0, &0), "{} spills on {sm} ({regs} registers)", k.name);
            }
        }
    }
}

#[test]
fn a_broken_kernel_reports_nvrtc_log_with_its_file_and_line() {
    if !nvrtc_or_skip() {
        return;
    }
    let program = source::assemble(
        "broken.cu",
        "extern \"C\" __global__ void k() {\n  undefined_thing();\n}\n",
        false,
    );
    let e = nvrtc::compile_ptx(&program, "broken.cu", "compute_80")
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken.cu") && e.contains("undefined_thing"), "{e}");
    assert!(e.contains("broken.cu(2)"), "the #line directive points at line 2: {e}");
}
