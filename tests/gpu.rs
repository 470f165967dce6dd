//! GPU engine tests: the CUDA device's memory accounting, what it refuses (so the CPU
//! takes it), and the engine running reductions there — every op against the CPU
//! runtime, partials kept on the device, all-NaN slices, and `--device auto`'s
//! placement. The per-kernel conformance checks (every op × dtype × layout) are in
//! `tests/backends.rs`, written once and instantiated for the CPU and the GPU.
//!
//! Skipped without a GPU (or without the `cuda` feature); failed instead when
//! `CHUNKWISE_REQUIRE_GPU=1`.

mod common;

use chunkwise::device::cpu::reduce::finalize;
use chunkwise::device::cuda::DeviceBuffer;
use chunkwise::ops::{BinaryOp, InstOp, Program, ReduceOp};
use chunkwise::{Buffer, DType};
use common::kernels::*;

#[test]
fn the_gpu_refuses_what_only_the_cpu_runs() {
    let Some(dev) = gpu_or_skip() else { return };
    // Inputs that do not broadcast, and generators (the CPU runs those).
    let mut p = Program::new(2);
    let x = p.push(InstOp::Input(0), DType::F32);
    let y = p.push(InstOp::Input(1), DType::F32);
    p.push(InstOp::Binary(BinaryOp::Add, x, y), DType::F32);
    let shape = [37usize, 129];
    let gx = dev.upload(&data(DType::F32, 37 * 129, 3)).expect("up");
    let bad = dev.upload(&data(DType::F32, 5, 1)).expect("up");
    assert!(dev.fused(&p, &[(&gx, &shape), (&bad, &[5])], &shape).is_err());
    let mut g = Program::new(0);
    g.push(
        InstOp::Gen(chunkwise::ops::Generator::Uniform {
            seed: 1,
            low: 0.0,
            high: 1.0,
        }),
        DType::F64,
    );
    assert!(dev.fused(&g, &[], &[10]).is_err());
    // Reduced axes that are not one run of the block are refused, not mis-reduced.
    let shape = [10usize, 64, 48];
    let x = dev.upload(&red_data(DType::F32, 10 * 64 * 48, 3)).expect("up");
    assert!(dev.reduce(ReduceOp::Sum, &x, &shape, &[0, 2], 0).is_err());
}

#[test]
fn device_memory_is_accounted_and_limited() {
    let Some(dev) = gpu_or_skip() else { return };
    let before = dev.memory().expect("stats");
    {
        let _a: DeviceBuffer = dev.upload(&Buffer::F64(vec![1.0; 1 << 20])).expect("up");
        let m = dev.memory().expect("stats");
        assert!(m.live >= before.live + (8 << 20), "{m:?}");
        assert!(m.uploaded >= before.uploaded + (8 << 20));
    }
    assert_eq!(
        dev.memory().expect("stats").live,
        before.live,
        "freed bytes are given back"
    );
    dev.set_memory_limit(before.live + (1 << 20)).expect("limit");
    let too_big = dev.upload(&Buffer::F32(vec![0.0; 1 << 20]));
    dev.set_memory_limit(before.limit).expect("limit");
    let e = too_big.expect_err("past the limit");
    assert!(e.to_string().contains("device memory limit"), "{e}");
    assert_eq!(dev.memory().expect("stats").live, before.live);
}

fn runtimes() -> Option<(chunkwise::Runtime, chunkwise::Runtime)> {
    use chunkwise::device::DeviceKind;
    use chunkwise::{Config, Runtime};
    gpu_or_skip()?;
    let rt = |device| {
        Runtime::new(Config {
            threads: 4,
            device,
            ..Config::default()
        })
        .expect("runtime")
    };
    Some((rt(DeviceKind::Cuda), rt(DeviceKind::Cpu)))
}

#[test]
fn engine_reductions_on_the_gpu_match_the_cpu_runtime() {
    use chunkwise::{Array, Axes, ReduceOptions};
    let Some((gpu_rt, cpu_rt)) = runtimes() else { return };
    let dev = gpu_rt.gpu().expect("a GPU runtime");
    let shape = [24usize, 37, 50];
    let n: usize = shape.iter().product();
    let x = match red_data(DType::F32, n, 21) {
        Buffer::F32(v) => ndarray::Array::from_shape_vec(shape.to_vec(), v).expect("shape"),
        _ => unreachable!(),
    };
    for chunks in [vec![5usize, 37, 50], vec![7, 10, 50], vec![24, 37, 50]] {
        let a = Array::from_ndarray(x.clone(), chunks.clone()).expect("array");
        let b = &a * 2.0 + 1.0;
        let mut cases: Vec<(String, Array)> = Vec::new();
        for op in ReduceOp::ALL {
            for axes in [
                Axes::All,
                Axes::List(vec![0]),
                Axes::List(vec![1, 2]),
                Axes::List(vec![2]),
                Axes::List(vec![0, 2]),
            ] {
                let opts = ReduceOptions {
                    ddof: 1.0,
                    split_every: 2,
                    ..ReduceOptions::default()
                };
                if let Ok(r) = a.reduce(op, axes.clone(), &opts) {
                    cases.push((format!("{}({axes:?})", op.name()), r));
                }
                // With a fused elementwise prologue (one generated kernel per block).
                if let Ok(r) = b.reduce(op, axes.clone(), &opts) {
                    cases.push((format!("{}(2x+1, {axes:?})", op.name()), r));
                }
            }
        }
        // The anomaly: x read twice, a broadcast subtraction fused into the std.
        let m = a.nanmean(0).expect("mean");
        let anom = (&a - &m).nanstd(vec![1isize, 2], 0.0).expect("std");
        cases.push(("anomaly".into(), anom));
        let refs: Vec<&Array> = cases.iter().map(|(_, r)| r).collect();
        dev.reset_counters().expect("reset");
        let got = gpu_rt.compute_many(&refs).expect("gpu compute");
        let moved = dev.memory().expect("stats");
        let want = cpu_rt.compute_many(&refs).expect("cpu compute");
        for ((name, _), (g, w)) in cases.iter().zip(got.iter().zip(&want)) {
            assert_eq!(g.shape(), w.shape(), "{name} with chunks {chunks:?}");
            let tol = if g.dtype() == DType::F32 { 4e-6 } else { 1e-10 };
            assert_eq!(agree(g.data(), w.data(), tol), None, "{name} with chunks {chunks:?}");
        }
        assert!(moved.uploaded > 0, "the GPU runtime uploaded nothing: {moved:?}");
        eprintln!("chunks {chunks:?}: {} cases, {moved:?}", cases.len());
    }
    // Same graph, same result, run after run (fixed kernel trees, fixed block order).
    let a = Array::from_ndarray(x, vec![5usize, 37, 50]).expect("array");
    let s = a.nansum(None).expect("sum");
    let first = gpu_rt.compute_many(&[&s]).expect("gpu")[0].data().get_f64(0);
    for _ in 0..3 {
        assert_eq!(
            gpu_rt.compute_many(&[&s]).expect("gpu")[0].data().get_f64(0).to_bits(),
            first.to_bits()
        );
    }
}

#[test]
fn a_full_reduction_keeps_partials_on_the_device_and_downloads_only_the_result() {
    use chunkwise::Array;
    let Some((gpu_rt, _)) = runtimes() else { return };
    let dev = gpu_rt.gpu().expect("a GPU runtime");
    let x = ndarray::Array::from_shape_fn((64, 256, 256), |(i, j, k)| ((i * 7 + j * 3 + k) % 97) as f64 - 48.0);
    let a = Array::from_ndarray(x.clone(), vec![4usize, 256, 256]).expect("array");
    let s = a.var(None, 0.0).expect("var");
    dev.reset_counters().expect("reset");
    let got = gpu_rt.compute_many(&[&s]).expect("gpu")[0].data().get_f64(0);
    let m = dev.memory().expect("stats");
    let mean = x.mean().expect("mean");
    let want = x.mapv(|v| (v - mean) * (v - mean)).mean().expect("var");
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
    assert_eq!(m.uploaded, 64 * 256 * 256 * 8, "every block uploaded once: {m:?}");
    // 16 blocks → 16 partials of 3 × f64, combined on the device; one comes back.
    assert!(m.downloaded <= 3 * 8, "only the final partial comes back: {m:?}");
}

#[test]
fn all_nan_slices_follow_numpy_on_the_device() {
    let Some(dev) = gpu_or_skip() else { return };
    // Row 0 all NaN, row 1 one number; rows long enough to be split into segments.
    let cols = 70_000;
    let mut v = vec![f64::NAN; 2 * cols];
    v[cols + 12_345] = 4.0;
    let x = Buffer::F64(v);
    let gx = dev.upload(&x).expect("up");
    let shape = [2usize, cols];
    for op in [ReduceOp::NanArgMin, ReduceOp::NanArgMax] {
        let p = dev
            .download_partial(&dev.reduce(op, &gx, &shape, &[1], 0).expect("reduce"))
            .expect("down");
        let e = finalize(op, p, 0.0, DType::I64).expect_err("an all-NaN slice");
        assert!(e.to_string().contains("All-NaN"), "{e}");
        // The row with a number alone gives its index.
        let row = dev
            .upload(&Buffer::F64(x.as_slice::<f64>().expect("f64")[cols..].to_vec()))
            .expect("up");
        let p = dev
            .download_partial(&dev.reduce(op, &row, &[cols], &[0], 0).expect("reduce"))
            .expect("down");
        assert_eq!(
            finalize(op, p, 0.0, DType::I64).expect("index"),
            Buffer::I64(vec![12_345])
        );
    }
    for (op, want) in [
        (ReduceOp::NanMax, f64::NAN),
        (ReduceOp::NanMean, f64::NAN),
        (ReduceOp::NanSum, 0.0),
        (ReduceOp::Count, 0.0),
    ] {
        let out = op.result_dtype(DType::F64);
        let p = dev
            .download_partial(&dev.reduce(op, &gx, &shape, &[1], 0).expect("reduce"))
            .expect("down");
        let got = finalize(op, p, 0.0, out).expect("finalize").get_f64(0);
        assert!(
            got == want || (got.is_nan() && want.is_nan()),
            "{}: {got} vs {want}",
            op.name()
        );
    }
    // Plain argmax takes the first NaN.
    let p = dev
        .download_partial(&dev.reduce(ReduceOp::ArgMax, &gx, &shape, &[1], 0).expect("reduce"))
        .expect("down");
    assert_eq!(
        finalize(ReduceOp::ArgMax, p, 0.0, DType::I64).expect("index"),
        Buffer::I64(vec![0, 0])
    );
}

#[test]
fn auto_places_plain_means_on_the_cpu_and_moments_on_the_gpu() {
    use chunkwise::device::DeviceKind;
    use chunkwise::{Array, Config, Runtime};
    let Some(dev) = gpu_or_skip() else { return };
    let rt = Runtime::new(Config {
        threads: 4,
        device: DeviceKind::Auto,
        ..Config::default()
    })
    .expect("runtime");
    let x = ndarray::Array::from_shape_fn((40, 300, 200), |(i, j, k)| (i + 2 * j + 3 * k) as f32 * 0.01);
    let a = Array::from_ndarray(x, vec![10usize, 300, 200]).expect("array");
    let uploaded_by = |r: &Array| {
        dev.reset_counters().expect("reset");
        rt.compute_many(&[r]).expect("compute");
        dev.memory().expect("stats").uploaded
    };
    assert_eq!(
        uploaded_by(&a.nanmean(0).expect("mean")),
        0,
        "a plain mean stays on the CPU"
    );
    assert_eq!(
        uploaded_by(&a.nanstd(0, 0.0).expect("std")),
        a.nbytes(),
        "moments go to the GPU"
    );
    assert_eq!(
        uploaded_by(&(&a * 2.0).nansum(0).expect("sum")),
        a.nbytes(),
        "so does a fused prologue"
    );
}
