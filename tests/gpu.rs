//! GPU conformance: every CUDA kernel against the CPU kernel that the rest of the test
//! suite checks against unchunked ndarray references — elementwise ops × dtypes, casts,
//! fills, fused programs (with broadcasting), every reduction × dtype × block layout
//! (rows, long rows split into segments, columns, a block inside a larger array for
//! arg ops), device combine steps, partials that finish on the host, and the device
//! memory accounting.
//!
//! Skipped without a GPU (or without the `cuda` feature); failed instead when
//! `CHUNKWISE_REQUIRE_GPU=1`. Mismatches are collected and reported together, so one
//! run on a lent GPU shows every disagreement at once.

use chunkwise::device::cpu::eval::{BlockCtx, InputRef, eval_block};
use chunkwise::device::cpu::reduce::{ArgInfo, RowSource, finalize, merge, partial};
use chunkwise::device::cuda::{CudaDevice, DeviceBuffer};
use chunkwise::ops::{BinaryOp, InstOp, Program, ReduceOp, UnaryOp};
use chunkwise::{Buffer, DType, Scalar};

fn gpu_or_skip() -> Option<CudaDevice> {
    let required = std::env::var("CHUNKWISE_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match CudaDevice::new(0) {
        Ok(d) => {
            eprintln!("GPU: {}", d.describe().unwrap_or_default());
            Some(d)
        }
        Err(e) => {
            assert!(!required, "CHUNKWISE_REQUIRE_GPU=1 but no GPU: {e}");
            eprintln!("skipped: no GPU ({e})");
            None
        }
    }
}

/// A small counter-based generator (splitmix64): the same inputs on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SPECIAL: [f64; 12] = [
    0.0,
    -0.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1.0,
    -1.0,
    3.0,
    f64::INFINITY,
    f64::NAN,
];

/// `n` values of `dt`: floats mixing uniform(-10, 10), specials and large values;
/// integers mixing small values (division and power edge cases) and full-range bits.
fn data(dt: DType, n: usize, seed: u64) -> Buffer {
    let mut r = Rng(seed);
    let f: Vec<f64> = (0..n)
        .map(|i| match r.next() % 8 {
            0 => SPECIAL[i % SPECIAL.len()] * if r.next().is_multiple_of(2) { 1.0 } else { -1.0 },
            1 => (r.unit() - 0.5) * 1e30,
            _ => (r.unit() - 0.5) * 20.0,
        })
        .collect();
    let ints = |r: &mut Rng| -> Vec<i64> {
        (0..n)
            .map(|_| {
                if r.next().is_multiple_of(2) {
                    (r.next() % 11) as i64 - 5
                } else {
                    r.next() as i64
                }
            })
            .collect()
    };
    match dt {
        DType::F64 => Buffer::F64(f),
        DType::F32 => Buffer::F32(f.iter().map(|&x| x as f32).collect()),
        DType::Bool => Buffer::Bool((0..n).map(|_| r.next().is_multiple_of(3)).collect()),
        _ => Buffer::I64(ints(&mut r)).cast(dt),
    }
}

/// Data for reductions: moderate floats (sums and products stay finite) with ~3% NaN.
fn red_data(dt: DType, n: usize, seed: u64) -> Buffer {
    let mut r = Rng(seed);
    match dt {
        DType::F32 | DType::F64 => {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    if r.next().is_multiple_of(32) {
                        f64::NAN
                    } else {
                        (0.5 + r.unit()) * if r.next().is_multiple_of(2) { 1.0 } else { -1.0 }
                    }
                })
                .collect();
            Buffer::F64(v).cast(dt)
        }
        DType::Bool => Buffer::Bool((0..n).map(|_| r.next().is_multiple_of(3)).collect()),
        _ => Buffer::I64((0..n).map(|_| (r.next() % 200) as i64 - 100).collect()).cast(dt),
    }
}

/// Equal as NumPy results: bit-equal integers and bools; floats within `rtol` (NaN
/// matches NaN, infinities match by sign, ±0 match).
fn agree(a: &Buffer, b: &Buffer, rtol: f64) -> Option<String> {
    if a.dtype() != b.dtype() || a.len() != b.len() {
        return Some(format!("{} × {} vs {} × {}", a.dtype(), a.len(), b.dtype(), b.len()));
    }
    let float = matches!(a.dtype(), DType::F32 | DType::F64);
    for i in 0..a.len() {
        let (x, y) = (a.get_f64(i), b.get_f64(i));
        let ok = if !float {
            // Compare integers exactly through their bits (get_f64 rounds 64-bit ones).
            match (a, b) {
                (Buffer::I64(p), Buffer::I64(q)) => p[i] == q[i],
                (Buffer::U64(p), Buffer::U64(q)) => p[i] == q[i],
                _ => x == y,
            }
        } else if x.is_nan() || y.is_nan() {
            x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= rtol * x.abs().max(y.abs()) + f64::MIN_POSITIVE
        };
        if !ok {
            return Some(format!("element {i}: gpu {x:e} vs cpu {y:e}"));
        }
    }
    None
}

fn rtol_for(dt: DType) -> f64 {
    if dt == DType::F32 { 4e-6 } else { 1e-13 }
}

fn cpu_eval(p: &Program, inputs: &[(&Buffer, &[usize])], shape: &[usize]) -> Buffer {
    let offset = vec![0; shape.len()];
    let ctx = BlockCtx {
        global_shape: shape,
        offset: &offset,
        shape,
    };
    let ins: Vec<InputRef<'_>> = inputs.iter().map(|(data, shape)| InputRef { data, shape }).collect();
    eval_block(p, &ctx, &ins).expect("cpu eval")
}

const UNARY: [UnaryOp; 18] = UnaryOp::ALL;

const BINARY: [BinaryOp; 19] = BinaryOp::ALL;

/// The CPU's program for `op` on dtype `d`: cast to the kernel dtype, then the op.
fn unary_program(op: UnaryOp, d: DType) -> Option<Program> {
    let (k, out) = op.signature(d).ok()?;
    let mut p = Program::new(1);
    let mut x = p.push(InstOp::Input(0), d);
    if k != d {
        x = p.push(InstOp::Cast(x), k);
    }
    p.push(InstOp::Unary(op, x), out);
    Some(p)
}

fn binary_program(op: BinaryOp, da: DType, db: DType) -> Option<Program> {
    let (kop, k, out) = op.signature(DType::promote(da, db)).ok()?;
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
    Some(p)
}

#[test]
fn elementwise_ops_match_the_cpu_for_every_dtype() {
    let Some(dev) = gpu_or_skip() else { return };
    let n = 4099; // not a multiple of a block
    let mut bad = Vec::new();
    let mut checked = 0;
    for (j, &d) in DType::ALL.iter().enumerate() {
        let x = data(d, n, 7 + j as u64);
        let gx = dev.upload(&x).expect("upload");
        for op in UNARY {
            let Some(p) = unary_program(op, d) else {
                assert!(dev.unary(op, &gx).is_err(), "{} of {d} should be refused", op.name());
                continue;
            };
            let want = cpu_eval(&p, &[(&x, &[n])], &[n]);
            let got = dev.download(&dev.unary(op, &gx).expect("launch")).expect("download");
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
            for op in BINARY {
                let Some(p) = binary_program(op, d, e) else {
                    assert!(
                        dev.binary(op, &gx, &gy).is_err(),
                        "{} of {d}, {e} should be refused",
                        op.name()
                    );
                    continue;
                };
                let want = cpu_eval(&p, &[(&x, &[n]), (&y, &[n])], &[n]);
                let got = dev
                    .download(&dev.binary(op, &gx, &gy).expect("launch"))
                    .expect("download");
                checked += 1;
                if let Some(m) = agree(&got, &want, rtol_for(want.dtype())) {
                    bad.push(format!("{}({d}, {e}): {m}", op.name()));
                }
            }
        }
    }
    eprintln!("{checked} op/dtype combinations checked, {} disagree", bad.len());
    assert!(bad.is_empty(), "GPU and CPU disagree:\n{}", bad.join("\n"));
}

#[test]
fn casts_and_fills_match_the_cpu() {
    let Some(dev) = gpu_or_skip() else { return };
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
                .download(&dev.cast(&dev.upload(&src).expect("up"), to).expect("cast"))
                .expect("down");
            if let Some(m) = agree(&got, &src.cast(to), 0.0) {
                bad.push(format!("cast {from} → {to}: {m}"));
            }
        }
        let v = Scalar::Int(-3);
        let got = dev.download(&dev.fill(from, 777, v).expect("fill")).expect("down");
        if let Some(m) = agree(&got, &Buffer::filled(from, 777, v), 0.0) {
            bad.push(format!("fill {from}: {m}"));
        }
    }
    assert!(bad.is_empty(), "GPU and CPU disagree:\n{}", bad.join("\n"));
}

#[test]
fn fused_programs_match_the_cpu_with_broadcasting() {
    let Some(dev) = gpu_or_skip() else { return };
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
            .download(&dev.fused(&p, &[(&gx, &shape), (&gy, &yshape)], &shape).expect("fused"))
            .expect("down");
        assert_eq!(agree(&got, &want, 4e-6), None, "fused with y of shape {yshape:?}");
    }
    // Inputs that do not broadcast, and generators, are refused (the CPU runs those).
    let bad = dev.upload(&data(DType::F32, 5, 1)).expect("up");
    let gx = dev.upload(&xs).expect("up");
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
}

/// The CPU's finished result of reducing `x` (a block at `offset` of an array of
/// `global`) over `axes`.
fn cpu_reduce(
    op: ReduceOp,
    x: &Buffer,
    shape: &[usize],
    axes: &[usize],
    global: &[usize],
    offset: &[usize],
) -> chunkwise::ops::Partial {
    let ctx = BlockCtx {
        global_shape: global,
        offset,
        shape,
    };
    let arg = op.is_arg().then(|| ArgInfo {
        global_shape: global,
        offset,
        axis: if axes.len() == 1 && global.len() > 1 {
            Some(axes[0])
        } else if global.len() == 1 {
            Some(0)
        } else {
            None
        },
    });
    partial(op, axes, &RowSource::Block(x), &ctx, arg, None).expect("cpu partial")
}

fn rtol_reduce(op: ReduceOp, dt: DType) -> f64 {
    if matches!(dt, DType::F32) && !op.is_moment() && op.result_dtype(dt) == DType::F32 {
        2e-6
    } else {
        1e-10
    }
}

#[test]
fn every_reduction_matches_the_cpu_on_every_layout() {
    let Some(dev) = gpu_or_skip() else { return };
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
    assert!(bad.is_empty(), "GPU and CPU disagree:\n{}", bad.join("\n"));
}

#[test]
fn arg_reductions_of_a_block_inside_an_array_use_global_indices() {
    let Some(dev) = gpu_or_skip() else { return };
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

#[test]
fn device_combines_and_host_finishes_agree_with_the_cpu_tree() {
    let Some(dev) = gpu_or_skip() else { return };
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
    // Axes that are not one run are refused, not mis-reduced.
    let x = dev.upload(&red_data(DType::F32, n, 3)).expect("up");
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
