//! Helpers for the kernel conformance tests (`tests/backends.rs`) and the GPU engine
//! tests (`tests/gpu.rs`): fresh deterministic data with the values kernels get wrong
//! (specials, extremes, NaN), NumPy-style agreement, and the CPU's reference results.

use chunkwise::device::cpu::eval::BlockCtx;
use chunkwise::device::cpu::reduce::{ArgInfo, RowSource, partial};
use chunkwise::device::cuda::CudaDevice;
use chunkwise::device::{Backend, CpuBackend, Kernel};
use chunkwise::ops::{Program, ReduceOp};
use chunkwise::{Buffer, DType};

/// GPU 0, or `None` (the test skips) — a failure instead with `CHUNKWISE_REQUIRE_GPU=1`.
pub fn gpu_or_skip() -> Option<CudaDevice> {
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
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub const SPECIAL: [f64; 12] = [
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
pub fn data(dt: DType, n: usize, seed: u64) -> Buffer {
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
pub fn red_data(dt: DType, n: usize, seed: u64) -> Buffer {
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
pub fn agree(a: &Buffer, b: &Buffer, rtol: f64) -> Option<String> {
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
            return Some(format!("element {i}: device {x:e} vs cpu {y:e}"));
        }
    }
    None
}

pub fn rtol_for(dt: DType) -> f64 {
    if dt == DType::F32 { 4e-6 } else { 1e-13 }
}

/// The CPU's result of a fused program (the reference every device is held to).
pub fn cpu_eval(p: &Program, inputs: &[(&Buffer, &[usize])], shape: &[usize]) -> Buffer {
    CpuBackend.execute(Kernel::Fused(p), inputs, shape).expect("cpu eval")
}

/// The CPU's finished result of reducing `x` (a block at `offset` of an array of
/// `global`) over `axes`.
pub fn cpu_reduce(
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

pub fn rtol_reduce(op: ReduceOp, dt: DType) -> f64 {
    if matches!(dt, DType::F32) && !op.is_moment() && op.result_dtype(dt) == DType::F32 {
        2e-6
    } else {
        1e-10
    }
}
