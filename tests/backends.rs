//! Backend conformance: every kernel of every device against the CPU's result on fresh
//! input — elementwise ops × dtypes (NumPy promotion, refusals), casts, fills, fused
//! programs with broadcasting, every reduction × dtype × block layout (rows, long rows,
//! columns, a block inside a larger array for arg ops), combine steps, and partials
//! that finish on the host.
//!
//! Each check is written once, generic over [`Backend`], and the [`conformance!`] macro
//! instantiates all of them per device: `cpu` (the reference backend through the same
//! contract; always runs) and `cuda` (GPU 0: skipped without a GPU or the `cuda` feature,
//! failed instead when `CHUNKWISE_REQUIRE_GPU=1`). Mismatches are collected and
//! reported together, so one run on a lent GPU shows every disagreement at once.

mod common;

use chunkwise::device::backend::op_program;
use chunkwise::device::cpu::reduce::{finalize, merge};
use chunkwise::device::{Backend, CpuBackend, Kernel};
use chunkwise::ops::{BinaryOp, InstOp, Program, ReduceOp, UnaryOp};
use chunkwise::{Buffer, DType, Scalar};
use common::kernels::*;

fn elementwise_ops_match_the_cpu_for_every_dtype<B: Backend>(dev: &B) {
    let n = 4099; // not a multiple of a block
    let mut bad = Vec::new();
    let mut checked = 0;
    for (j, &d) in DType::ALL.iter().enumerate() {
        let x = data(d, n, 7 + j as u64);
        let gx = dev.upload(&x).expect("upload");
        for op in UnaryOp::ALL {
            let Ok(p) = op_program(Kernel::Unary(op), &[d]) else {
                assert!(
                    dev.execute(Kernel::Unary(op), &[(&gx, &[n])], &[n]).is_err(),
                    "{} of {d} should be refused",
                    op.name()
                );
                continue;
            };
            let want = cpu_eval(&p, &[(&x, &[n])], &[n]);
            let got = dev
                .download(&dev.execute(Kernel::Unary(op), &[(&gx, &[n])], &[n]).expect("launch"))
                .expect("download");
            checked += 1;
            if let Some(m) = agree(&got, &want, rtol_for(want.dtype())) {
                bad.push(format!("{}({d}): {m}", op.name()));
            }
        }
        for (k, &e) in DType::ALL.iter().enumerate() {
            // Every dtype with itself, and with float32 and int64 (promotion on device).
            if e != d && e != DType::F32 && e != DType::I64 {
                continue;
            }
            let y = data(e, n, 1000 + (j * 16 + k) as u64);
            let gy = dev.upload(&y).expect("upload");
            for op in BinaryOp::ALL {
                let Ok(p) = op_program(Kernel::Binary(op), &[d, e]) else {
                    assert!(
                        dev.execute(Kernel::Binary(op), &[(&gx, &[n]), (&gy, &[n])], &[n])
                            .is_err(),
                        "{} of {d}, {e} should be refused",
                        op.name()
                    );
                    continue;
                };
                let want = cpu_eval(&p, &[(&x, &[n]), (&y, &[n])], &[n]);
                let got = dev
                    .download(
                        &dev.execute(Kernel::Binary(op), &[(&gx, &[n]), (&gy, &[n])], &[n])
                            .expect("launch"),
                    )
                    .expect("download");
                checked += 1;
                if let Some(m) = agree(&got, &want, rtol_for(want.dtype())) {
                    bad.push(format!("{}({d}, {e}): {m}", op.name()));
                }
            }
        }
    }
    eprintln!("{checked} op/dtype combinations checked, {} disagree", bad.len());
    assert!(bad.is_empty(), "device and CPU disagree:\n{}", bad.join("\n"));
}

fn casts_and_fills_match_the_cpu<B: Backend>(dev: &B) {
    let n = 1000;
    let mut bad = Vec::new();
    for &from in &DType::ALL {
        for &to in &DType::ALL {
            // Values every target holds: out-of-range float → integer casts are
            // undefined in C and NumPy alike.
            let src = match (from, to) {
                (DType::F32 | DType::F64, t) if t != DType::Bool && t != DType::F32 && t != DType::F64 => {
                    let mut r = Rng(5);
                    Buffer::F64((0..n).map(|_| (r.unit() * 120.0).floor() + 0.5).collect()).cast(from)
                }
                _ => data(from, n, 11),
            };
            let got = dev
                .download(
                    &dev.execute(Kernel::Cast(to), &[(&dev.upload(&src).expect("up"), &[n])], &[n])
                        .expect("cast"),
                )
                .expect("down");
            if let Some(m) = agree(&got, &src.cast(to), 0.0) {
                bad.push(format!("cast {from} → {to}: {m}"));
            }
        }
        let v = Scalar::Int(-3);
        let got = dev
            .download(&dev.execute(Kernel::Fill(from, v), &[], &[777]).expect("fill"))
            .expect("down");
        if let Some(m) = agree(&got, &Buffer::filled(from, 777, v), 0.0) {
            bad.push(format!("fill {from}: {m}"));
        }
    }
    assert!(bad.is_empty(), "device and CPU disagree:\n{}", bad.join("\n"));
}

fn fused_programs_match_the_cpu_with_broadcasting<B: Backend>(dev: &B) {
    // where(x > y * 2.5, sin(x)**2 + cos(x)**2, -x) with y broadcast along axis 0,
    // then cast to float64.
    let shape = [37usize, 129];
    let mut p = Program::new(2);
    let x = p.push(InstOp::Input(0), DType::F32);
    let y = p.push(InstOp::Input(1), DType::F32);
    let c = p.push(InstOp::Const(Scalar::Float(2.5)), DType::F32);
    let yc = p.push(InstOp::Binary(BinaryOp::Mul, y, c), DType::F32);
    let m = p.push(InstOp::Binary(BinaryOp::Gt, x, yc), DType::Bool);
    let s = p.push(InstOp::Unary(UnaryOp::Sin, x), DType::F32);
    let co = p.push(InstOp::Unary(UnaryOp::Cos, x), DType::F32);
    let s2 = p.push(InstOp::Unary(UnaryOp::Square, s), DType::F32);
    let c2 = p.push(InstOp::Unary(UnaryOp::Square, co), DType::F32);
    let sum = p.push(InstOp::Binary(BinaryOp::Add, s2, c2), DType::F32);
    let neg = p.push(InstOp::Unary(UnaryOp::Neg, x), DType::F32);
    let w = p.push(InstOp::Where(m, sum, neg), DType::F32);
    p.push(InstOp::Cast(w), DType::F64);
    let xs = data(DType::F32, shape[0] * shape[1], 3);
    for yshape in [vec![129usize], vec![1, 129], vec![37, 1], vec![37, 129]] {
        let ys = data(DType::F32, yshape.iter().product(), 4);
        let want = cpu_eval(&p, &[(&xs, &shape), (&ys, &yshape)], &shape);
        let (gx, gy) = (dev.upload(&xs).expect("up"), dev.upload(&ys).expect("up"));
        let got = dev
            .download(
                &dev.execute(Kernel::Fused(&p), &[(&gx, &shape), (&gy, &yshape)], &shape)
                    .expect("fused"),
            )
            .expect("down");
        assert_eq!(agree(&got, &want, 4e-6), None, "fused with y of shape {yshape:?}");
    }
}

fn every_reduction_matches_the_cpu_on_every_layout<B: Backend>(dev: &B) {
    // (shape, axes, offset of the block in an array of `global` along the reduced axis)
    let layouts: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![1000], vec![0]),           // one row
        (vec![37, 513], vec![1]),        // rows
        (vec![6, 50_000], vec![1]),      // long rows: split into segments
        (vec![200_003], vec![0]),        // one long row, segments, odd length
        (vec![37, 513], vec![0]),        // columns
        (vec![3, 40, 5], vec![1]),       // outer × red × inner
        (vec![4, 1, 30], vec![0, 1, 2]), // everything, with a length-1 axis
        (vec![12, 7, 9], vec![0]),       // columns over a merged inner run
    ];
    let mut bad = Vec::new();
    let mut checked = 0;
    for op in ReduceOp::ALL {
        for (j, &d) in DType::ALL.iter().enumerate() {
            let out = op.result_dtype(d);
            for (k, (shape, axes)) in layouts.iter().enumerate() {
                if op.is_arg() && axes.len() > 1 && shape.len() > 1 && axes.len() != shape.len() {
                    continue;
                }
                let n: usize = shape.iter().product();
                let x = red_data(d, n, (j * 100 + k) as u64);
                let offset = vec![0; shape.len()];
                let want =
                    finalize(op, cpu_reduce(op, &x, shape, axes, shape, &offset), 1.0, out).expect("cpu finalize");
                let gx = dev.upload(&x).expect("upload");
                let gp = dev.reduce(op, &gx, shape, axes, 0).expect("device partial");
                let got = finalize(op, dev.download_partial(&gp).expect("download"), 1.0, out).expect("finalize");
                checked += 1;
                if let Some(m) = agree(&got, &want, rtol_reduce(op, d)) {
                    bad.push(format!("{}({d}) over {axes:?} of {shape:?}: {m}", op.name()));
                }
            }
        }
    }
    eprintln!("{checked} reductions checked, {} disagree", bad.len());
    assert!(bad.is_empty(), "device and CPU disagree:\n{}", bad.join("\n"));
}

fn arg_reductions_of_a_block_inside_an_array_use_global_indices<B: Backend>(dev: &B) {
    let global = [3usize, 100_000];
    let (offset, shape) = ([0usize, 40_000], [3usize, 60_000]);
    for op in [
        ReduceOp::ArgMin,
        ReduceOp::ArgMax,
        ReduceOp::NanArgMin,
        ReduceOp::NanArgMax,
    ] {
        for d in [DType::F32, DType::I16, DType::U64] {
            let x = red_data(d, 3 * 60_000, 9);
            let want = cpu_reduce(op, &x, &shape, &[1], &global, &offset);
            let got = dev
                .download_partial(
                    &dev.reduce(op, &dev.upload(&x).expect("up"), &shape, &[1], 40_000)
                        .expect("reduce"),
                )
                .expect("down");
            let (chunkwise::ops::Partial::Arg { idx: a, .. }, chunkwise::ops::Partial::Arg { idx: b, .. }) =
                (&got, &want)
            else {
                panic!("arg partials expected");
            };
            assert_eq!(a, b, "{}({d})", op.name());
        }
    }
}

fn device_combines_and_host_finishes_agree_with_the_cpu_tree<B: Backend>(dev: &B) {
    let shape = [10usize, 64, 48];
    let n: usize = shape.iter().product();
    let offset = [0usize; 3];
    for op in ReduceOp::ALL {
        if op.is_arg() {
            continue; // indices along axis 0 need block offsets: covered above
        }
        for d in [DType::F32, DType::F64, DType::I32, DType::U8, DType::Bool] {
            let out = op.result_dtype(d);
            let (a, b) = (red_data(d, n, 1), red_data(d, n, 2));
            let mut cpu = cpu_reduce(op, &a, &shape, &[0], &shape, &offset);
            merge(op, &mut cpu, &cpu_reduce(op, &b, &shape, &[0], &shape, &offset)).expect("merge");
            let want = finalize(op, cpu, 1.0, out).expect("finalize");
            // Both partials on the device, combined there.
            let (ga, gb) = (dev.upload(&a).expect("up"), dev.upload(&b).expect("up"));
            let mut pa = dev.reduce(op, &ga, &shape, &[0], 0).expect("reduce a");
            let pb = dev.reduce(op, &gb, &shape, &[0], 0).expect("reduce b");
            dev.combine(&mut pa, &pb).expect("combine");
            let got = finalize(op, dev.download_partial(&pa).expect("down"), 1.0, out).expect("finalize");
            assert_eq!(
                agree(&got, &want, rtol_reduce(op, d)),
                None,
                "{}({d}) combined on the device",
                op.name()
            );
            // One partial from each side, merged on the host.
            let mut mixed = dev
                .download_partial(&dev.reduce(op, &ga, &shape, &[0], 0).expect("r"))
                .expect("down");
            merge(op, &mut mixed, &cpu_reduce(op, &b, &shape, &[0], &shape, &offset)).expect("merge");
            let got = finalize(op, mixed, 1.0, out).expect("finalize");
            assert_eq!(
                agree(&got, &want, rtol_reduce(op, d)),
                None,
                "{}({d}) finished on the host",
                op.name()
            );
        }
    }
}

/// One test per check and device: `$device::$check` runs `$check(&backend)`, or
/// returns (skipped) when `$make` gives no device.
macro_rules! conformance {
    ($($device:ident => $make:expr;)*) => {$(
        mod $device {
            use super::*;
            conformance!(@checks $make;
                elementwise_ops_match_the_cpu_for_every_dtype,
                casts_and_fills_match_the_cpu,
                fused_programs_match_the_cpu_with_broadcasting,
                every_reduction_matches_the_cpu_on_every_layout,
                arg_reductions_of_a_block_inside_an_array_use_global_indices,
                device_combines_and_host_finishes_agree_with_the_cpu_tree,
            );
        }
    )*};
    (@checks $make:expr; $($check:ident,)*) => {$(
        #[test]
        fn $check() {
            if let Some(b) = $make {
                eprintln!("device: {}", b.name());
                super::$check(&b);
            }
        }
    )*};
}

conformance! {
    cpu => Some(CpuBackend);
    cuda => gpu_or_skip();
}
