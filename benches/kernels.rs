//! Criterion benches of the per-chunk hot paths, with throughput in bytes of input:
//!
//! - `reduce/<op>_<dtype>`: one reduction over one in-memory block of 4 Mi elements
//!   (a single-block array, so the time is the kernel's plus one task), for the ops
//!   users run most, in f32 and f64, over all axes and along axis 0 of a (64, 65536)
//!   block; and `nanmedian` along axis 0 (lanes of 64 values, by selection);
//! - `elementwise/<expr>_<dtype>`: a fused elementwise expression summed;
//! - `decode_reduce/zarr3_zstd_chunk`: read + zstd-decode + nanmean of one stored
//!   (10, 721, 1440) f32 chunk (written once to the temp directory).
//!
//! `cargo bench --bench kernels` (filter: `cargo bench --bench kernels -- reduce/nanmean`).

use chunkwise::io::memory::MemorySource;
use chunkwise::io::zarr_write::ZarrWriteOptions;
use chunkwise::{Array, Config, DType, ReduceOp, ReduceOptions, Runtime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const ROWS: usize = 64;
const COLS: usize = 65536;

fn block(dtype: DType) -> Array {
    let x = Array::random_normal(&[ROWS, COLS], 0.0, 1.0, 9, [ROWS, COLS]).expect("x");
    let holes = Array::random_uniform(&[ROWS, COLS], 0.0, 1.0, 10, [ROWS, COLS])
        .expect("u")
        .less(0.01)
        .expect("mask");
    let x = chunkwise::where_(&holes, f64::NAN, &x).expect("where").astype(dtype);
    let c = x.compute_chunk().expect("materialise");
    Array::from_source(std::sync::Arc::new(MemorySource::new(c)), [ROWS, COLS]).expect("array")
}

fn reduce(c: &mut Criterion) {
    let rt = Runtime::new(Config {
        threads: 1,
        ..Config::default()
    })
    .expect("runtime");
    let mut g = c.benchmark_group("reduce");
    g.sample_size(20);
    for dtype in [DType::F32, DType::F64] {
        let x = block(dtype);
        g.throughput(Throughput::Bytes((ROWS * COLS * dtype.size()) as u64));
        for op in [
            ReduceOp::Sum,
            ReduceOp::NanSum,
            ReduceOp::NanMean,
            ReduceOp::NanStd,
            ReduceOp::NanMax,
            ReduceOp::ArgMax,
        ] {
            for (axes, tag) in [(chunkwise::Axes::All, "all"), (chunkwise::Axes::List(vec![0]), "axis0")] {
                let r = x.reduce(op, axes, &ReduceOptions::default()).expect("reduce");
                g.bench_function(format!("{}_{dtype}_{tag}", op.name()), |b| {
                    b.iter(|| black_box(rt.compute_many(&[&r]).expect("run")))
                });
            }
        }
        // An order statistic: 65536 lanes of 64 values, each selected in place.
        let m = x.nanmedian(0).expect("nanmedian");
        g.bench_function(format!("nanmedian_{dtype}_axis0"), |b| {
            b.iter(|| black_box(rt.compute_many(&[&m]).expect("run")))
        });
    }
    g.finish();
}

fn elementwise(c: &mut Criterion) {
    let rt = Runtime::new(Config {
        threads: 1,
        ..Config::default()
    })
    .expect("runtime");
    let mut g = c.benchmark_group("elementwise");
    g.sample_size(20);
    for dtype in [DType::F32, DType::F64] {
        let x = block(dtype);
        g.throughput(Throughput::Bytes((ROWS * COLS * dtype.size()) as u64));
        let exprs: [(&str, Array); 3] = [
            ("axpy_sum", (&(&x * 2.5) + 1.0).nansum(None).expect("sum")),
            (
                "sincos_sum",
                (&x.sin().square() + &x.cos().square()).nansum(None).expect("sum"),
            ),
            ("sqrt_abs_sum", x.abs().sqrt().nansum(None).expect("sum")),
        ];
        for (name, e) in &exprs {
            g.bench_function(format!("{name}_{dtype}"), |b| {
                b.iter(|| black_box(rt.compute_many(&[e]).expect("run")))
            });
        }
    }
    g.finish();
}

fn decode_reduce(c: &mut Criterion) {
    let rt = Runtime::new(Config {
        threads: 1,
        ..Config::default()
    })
    .expect("runtime");
    let path = std::env::temp_dir().join("chunkwise-bench-kernels-chunk.zarr");
    if !path.exists() {
        let x = Array::random_normal(&[10, 721, 1440], 288.0, 5.0, 4, [10, 721, 1440]).expect("x");
        let x = (&x * 100.0).round() / 100.0;
        x.astype(DType::F32)
            .to_zarr(&path, &ZarrWriteOptions::default())
            .expect("write");
    }
    let x = Array::from_zarr(&path).expect("open");
    let m = x.nanmean(0).expect("nanmean");
    let mut g = c.benchmark_group("decode_reduce");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(x.nbytes() as u64));
    g.bench_function("zarr3_zstd_chunk_nanmean_axis0", |b| {
        b.iter(|| black_box(rt.compute_many(&[&m]).expect("run")))
    });
    g.finish();
}

criterion_group!(benches, reduce, elementwise, decode_reduce);
criterion_main!(benches);
