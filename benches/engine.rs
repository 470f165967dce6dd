//! Criterion benches of the engine's hot paths (issue 2's three targets):
//!
//! - `scheduler/fanin_100k`: 100,000 trivial custom tasks + one sum (dask's fan-in
//!   graph); throughput in tasks, so criterion prints tasks/s (per-task overhead =
//!   1 / rate, including lowering, optimising and ordering the graph);
//! - `fused/sincos_sum_20000sq`: `(sin(x)**2 + cos(x)**2).sum()` over a 20000² f64
//!   random array in 2000² chunks, random generation included (fused into one pass);
//! - `reduce/nanmean_axis0_memory`: `nanmean(axis=0)` over an in-memory (365, 721, 1440)
//!   f32 field in (10, 721, 1440) chunks (throughput in bytes of input);
//! - `reduce/read_floor_memory`: the hardware's side of that bench, in the same run: a
//!   flat f32 sum of the same field on the same number of threads, each reading its
//!   half front to back (what the memory system gives a reduction that reads every byte
//!   once and writes nothing).
//!
//! - `million/*` (issue 4): a 100000×100000 array in 100×100 chunks summed — 10^6
//!   blocks, 1.33 million tasks as lowered — built (lowered and optimised), ordered, and
//!   checked against a memory budget, without running it (80 GB of ones); and a
//!   10000×10000 array in 10×10 chunks (also 10^6 blocks) summed end to end. Throughput
//!   in blocks; the graph's bytes per task are printed once.
//!
//! `cargo bench --bench engine` (set `CHUNKWISE_BENCH_QUICK=1` for a 4× smaller problem).

use chunkwise::graph::lower::{Target, lower};
use chunkwise::{Array, ChunkSpec, Config, DType, Runtime, delayed, gather};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// As the `chunkwise` binary: large blocks on transparent huge pages.
#[global_allocator]
static ALLOC: chunkwise::HugePageAlloc = chunkwise::HugePageAlloc;

fn quick() -> bool {
    std::env::var_os("CHUNKWISE_BENCH_QUICK").is_some()
}

fn scheduler(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).expect("runtime");
    let n = 100_000usize;
    let parts: Vec<_> = (0..n as i64).map(|i| delayed("inc", move || Ok(i + 1))).collect();
    let total = gather(&parts, "total", |v| Ok(v.iter().copied().sum::<i64>()));
    let mut g = c.benchmark_group("scheduler");
    g.throughput(Throughput::Elements(n as u64 + 1));
    g.sample_size(20);
    g.bench_function(format!("fanin_100k/{}threads", rt.threads()), |b| {
        b.iter(|| black_box(rt.compute_delayed(&total).expect("run")))
    });
    g.finish();
}

fn fused(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).expect("runtime");
    let n = if quick() { 10_000 } else { 20_000 };
    let x = Array::random_uniform(&[n, n], 0.0, 1.0, 1, [2000, 2000]).expect("x");
    let y = (&x.sin().square() + &x.cos().square()).sum(None).expect("sum");
    let mut g = c.benchmark_group("fused");
    g.throughput(Throughput::Bytes((n * n * 8) as u64));
    g.sample_size(10);
    g.bench_function(format!("sincos_sum_{n}sq/{}threads", rt.threads()), |b| {
        b.iter(|| black_box(rt.compute_many(&[&y]).expect("run")))
    });
    g.finish();
}

fn reduce(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).expect("runtime");
    let t = if quick() { 90 } else { 365 };
    let shape = [t, 721, 1440];
    let holes = Array::random_uniform(&shape, 0.0, 1.0, 7, [10, 721, 1440])
        .expect("u")
        .less(0.01)
        .expect("mask");
    let field = chunkwise::where_(
        &holes,
        f64::NAN,
        &Array::random_normal(&shape, 288.0, 5.0, 3, [10, 721, 1440]).expect("n"),
    )
    .expect("where")
    .astype(DType::F32)
    .compute::<f32>()
    .expect("field");
    let x = Array::from_ndarray(field.clone(), [10, 721, 1440]).expect("x");
    let y = x.nanmean(0).expect("nanmean");
    let mut g = c.benchmark_group("reduce");
    g.throughput(Throughput::Bytes(x.nbytes() as u64));
    g.sample_size(10);
    g.bench_function(
        format!("nanmean_axis0_memory_{t}x721x1440/{}threads", rt.threads()),
        |b| b.iter(|| black_box(rt.compute_many(&[&y]).expect("run"))),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rt.threads())
        .build()
        .expect("pool");
    let flat = field.as_slice().expect("a C-order field");
    let part = flat.len().div_ceil(rt.threads());
    g.bench_function(format!("read_floor_memory_{t}x721x1440/{}threads", rt.threads()), |b| {
        b.iter(|| {
            pool.install(|| {
                use rayon::prelude::*;
                black_box(flat.par_chunks(part).map(flat_sum).sum::<f32>())
            })
        })
    });
    g.finish();
}

/// A plain 16-lane f32 sum: as fast as one core reads memory.
fn flat_sum(x: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for k in 0..16 {
            lanes[k] += c[k];
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

fn million(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).expect("runtime");
    let blocks = 1_000_000u64;
    let big = Array::ones(&[100_000, 100_000], DType::F64, ChunkSpec::from([100, 100]))
        .expect("ones")
        .sum(None)
        .expect("sum");
    let lowered = lower(&[Target::Array(&big)]);
    let built = rt.graph(&[Target::Array(&big)]);
    eprintln!(
        "million: {} tasks lowered ({} bytes per task), {} after optimising ({} bytes per task)",
        lowered.len(),
        lowered.metadata_bytes() / lowered.len(),
        built.len(),
        built.metadata_bytes() / built.len()
    );
    let mut g = c.benchmark_group("million");
    g.throughput(Throughput::Elements(blocks));
    g.sample_size(10);
    g.bench_function("lower_100000sq_in_100sq", |b| {
        b.iter(|| black_box(lower(&[Target::Array(&big)]).len()))
    });
    g.bench_function("build_100000sq_in_100sq", |b| {
        b.iter(|| black_box(rt.graph(&[Target::Array(&big)]).len()))
    });
    g.bench_function("order_lowered_1.33m_tasks", |b| {
        b.iter(|| black_box(chunkwise::graph::order::priorities(&lowered).len()))
    });
    g.bench_function("budget_check_built", |b| {
        b.iter(|| black_box(chunkwise::scheduler::budget::check(&built, 1 << 30).is_ok()))
    });
    let small = Array::ones(&[10_000, 10_000], DType::F64, ChunkSpec::from([10, 10]))
        .expect("ones")
        .sum(None)
        .expect("sum");
    g.bench_function(format!("run_10000sq_in_10sq/{}threads", rt.threads()), |b| {
        b.iter(|| black_box(rt.compute_many(&[&small]).expect("run")))
    });
    g.finish();
}

criterion_group!(benches, scheduler, fused, reduce, million);
criterion_main!(benches);
