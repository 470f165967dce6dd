//! The named workloads of `chunkwise bench`.
//!
//! Storage workloads read the generated stores (see [`super::data`]); each format has a
//! `decode-*` twin, a read-and-decode-only pass (every stored chunk decoded into a
//! reused buffer and dropped): the floor for anything that reads the file, so how far a
//! reduction is from it is measured, not assumed. `*-source` workloads run on any array
//! given with `--source`. In-memory workloads materialise their input before the timed
//! region. Every workload's result has a checksum (the sum of its non-NaN elements in
//! f64), which `--compare` checks against the other engine's before printing a ratio.

use super::data::{self, Size, Stores};
use chunkwise::{Array, ChunkSpec, DType, ReduceOp, Result};

/// What a workload is built from.
pub struct Ctx {
    /// Problem size.
    pub size: Size,
    /// The generated stores.
    pub stores: Stores,
    /// `--source`.
    pub source: Option<String>,
}

/// A named workload.
pub struct Workload {
    /// Name (`nanmean-zarr3`).
    pub name: &'static str,
    /// One line for `--list`.
    pub about: &'static str,
    /// Stores it needs generated ("zarr3", "zarr2", "hdf5").
    pub needs: &'static [&'static str],
    /// Relative tolerance when comparing its checksum with another engine's (dask sums
    /// float32 in float32).
    pub rtol: f64,
    /// Builds the work and the bytes of input it reads.
    pub build: fn(&Ctx) -> Result<(Job, f64)>,
}

/// What a workload computes.
pub enum Job {
    /// Arrays computed together; the checksum is the first one's.
    Arrays(Vec<Array>),
    /// A custom graph with this many tasks and an i64 result.
    Graph(chunkwise::Delayed<i64>, usize),
    /// An array written as a Zarr v3 store at this path (removed afterwards); the
    /// checksum is read back from the store after the timed region.
    Store(Array, std::path::PathBuf),
}

/// `(n, chunk)` of the `matmul` workload's square matrices.
pub fn matmul_n(size: Size) -> (usize, usize) {
    match size {
        Size::Tiny => (400, 100),
        Size::Small => (2000, 500),
        Size::Medium => (8000, 2000),
        Size::Large => (12000, 2000),
    }
}

/// `(n, chunk)` of the `overlap-mean3x3` workload's square field.
pub fn overlap_n(size: Size) -> (usize, usize) {
    match size {
        Size::Tiny => (1000, 250),
        Size::Small => (4000, 1000),
        Size::Medium => (10000, 2000),
        Size::Large => (20000, 2000),
    }
}

/// Deterministic matrices both engines build the same way (exact in f64):
/// `a[i, j] = ((31 i + 17 j) mod 101) / 101 - 0.5`, `b[i, j] = ((13 i + 29 j) mod 97) / 97 - 0.5`.
fn matmul_inputs(size: Size) -> Result<(Array, Array)> {
    let (n, c) = matmul_n(size);
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((31 * i + 17 * j) % 101) as f64 / 101.0 - 0.5);
    let b = ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((13 * i + 29 * j) % 97) as f64 / 97.0 - 0.5);
    Ok((
        Array::from_ndarray(a.into_dyn(), [c, c])?,
        Array::from_ndarray(b.into_dyn(), [c, c])?,
    ))
}

/// `x[i, j] = (7 i + 3 j) mod 101` as float32, the field of `overlap-mean3x3`.
fn overlap_input(size: Size) -> Result<Array> {
    let (n, c) = overlap_n(size);
    let x = ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((7 * i + 3 * j) % 101) as f32);
    Array::from_ndarray(x.into_dyn(), [c, c])
}

/// The 3×3 mean of the interior of an extended block (the border is trimmed away).
fn mean3x3(v: ndarray::ArrayViewD<'_, f32>) -> ndarray::ArrayD<f32> {
    let v = v.into_dimensionality::<ndarray::Ix2>().expect("a 2-D block");
    let (n, m) = v.dim();
    let mut out = ndarray::Array2::<f32>::zeros((n, m));
    if n >= 3 && m >= 3 {
        let mut acc = ndarray::Array2::<f32>::zeros((n - 2, m - 2));
        for di in 0..3 {
            for dj in 0..3 {
                acc += &v.slice(ndarray::s![di..n - 2 + di, dj..m - 2 + dj]);
            }
        }
        acc /= 9.0;
        out.slice_mut(ndarray::s![1..n - 1, 1..m - 1]).assign(&acc);
    }
    out.into_dyn()
}

/// Month (0–11) of each day of a daily series starting 2001-01-01.
fn month_labels(n: usize) -> Result<(Vec<i64>, usize)> {
    use chunkwise::time::{Calendar, CfTime, GroupBy};
    let t = CfTime::parse_units("days since 2001-01-01", Calendar::Standard)?;
    let offsets: Vec<f64> = (0..n).map(|i| i as f64).collect();
    GroupBy::Month.labels(&t, &offsets)
}

/// dask's fan-in graph: `n` independent `inc(i)` tasks and one sum over them.
fn fanin(n: usize) -> chunkwise::Delayed<i64> {
    let parts: Vec<_> = (0..n as i64)
        .map(|i| chunkwise::delayed("inc", move || Ok(i + 1)))
        .collect();
    chunkwise::gather(&parts, "total", |v| Ok(v.iter().copied().sum::<i64>()))
}

fn source_arg(ctx: &Ctx) -> Result<&str> {
    ctx.source
        .as_deref()
        .ok_or_else(|| chunkwise::Error::InvalidArgument("the *-source workloads need --source PATH".into()))
}

fn source_array(ctx: &Ctx) -> Result<Array> {
    crate::source::open(source_arg(ctx)?)
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<chunkwise::Buffer>> = const { std::cell::RefCell::new(None) };
}

/// Every block read and decoded into a buffer the worker reuses (as reductions do),
/// then dropped: the blocks `chunkwise reduce` reads (the stored chunks, or automatic
/// blocks of unchunked data such as netCDF-3). One task per block; the result is the
/// element count.
fn decode_job(source: &str) -> Result<(Job, f64)> {
    let src = crate::source::open_reader(source)?;
    let shape = src.shape().to_vec();
    let blocks = crate::source::open(source)?.chunks().to_vec();
    let grid = chunkwise::ChunkGrid::new(&shape, &ChunkSpec::explicit(blocks), 1)?;
    let parts: Vec<_> = (0..grid.num_blocks())
        .map(|b| {
            let region = grid.block_ranges(&grid.unlinear(b));
            let src = src.clone();
            chunkwise::delayed("decode", move || {
                let spare = SPARE.with(|s| s.borrow_mut().take());
                let c = src.read_into(&region, spare)?;
                let n = c.data().len() as i64;
                SPARE.with(|s| *s.borrow_mut() = Some(c.into_data()));
                Ok(n)
            })
        })
        .collect();
    let n = parts.len();
    let total = chunkwise::gather(&parts, "count", |v| Ok(v.iter().copied().sum::<i64>()));
    Ok((
        Job::Graph(total, n + 1),
        (shape.iter().product::<usize>() * src.dtype().size()) as f64,
    ))
}

/// The in-memory field's blocks (copies made before the timed region, in the same
/// allocator as `nanmean-memory`'s), one task per block reading every byte once with
/// integer adds of the bits, 32 lanes wide, so the loop is bound by memory, not
/// arithmetic: the read rate the machine allows a pass over the field, the floor for
/// `nanmean-memory`. The result is the element count.
fn read_memory_job(size: Size) -> Result<(Job, f64)> {
    let field = data::field(size)?.compute::<f32>()?;
    let values = field
        .as_slice()
        .ok_or_else(|| chunkwise::Error::Value("the computed field is not contiguous".into()))?;
    let [_, ny, nx] = size.shape();
    let step = size.chunks()[0] * ny * nx;
    let parts: Vec<_> = values
        .chunks(step)
        .map(|block| {
            let block = std::sync::Arc::new(block.to_vec());
            chunkwise::delayed("read", move || {
                std::hint::black_box(bit_sum(&block));
                Ok(block.len() as i64)
            })
        })
        .collect();
    let n = parts.len();
    let total = chunkwise::gather(&parts, "count", |v| Ok(v.iter().copied().sum::<i64>()));
    Ok((Job::Graph(total, n + 1), std::mem::size_of_val(values) as f64))
}

/// The wrapping sum of the values' bits in 32 lanes (vectorised; no float semantics to
/// keep in order).
fn bit_sum(values: &[f32]) -> u32 {
    let mut lanes = [0u32; 32];
    let mut it = values.chunks_exact(32);
    for c in &mut it {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l = l.wrapping_add(v.to_bits());
        }
    }
    let tail = it.remainder().iter().fold(0u32, |a, v| a.wrapping_add(v.to_bits()));
    lanes.iter().fold(tail, |a, l| a.wrapping_add(*l))
}

fn nanmean0(x: &Array) -> Result<(Job, f64)> {
    Ok((Job::Arrays(vec![x.nanmean(0)?]), x.nbytes() as f64))
}

fn nanstd0(x: &Array) -> Result<(Job, f64)> {
    Ok((Job::Arrays(vec![x.nanstd(0, 0.0)?]), x.nbytes() as f64))
}

fn nansum_all(x: &Array) -> Result<(Job, f64)> {
    Ok((Job::Arrays(vec![x.nansum(None)?]), x.nbytes() as f64))
}

/// One spatial std of the departures from the time mean per time step,
/// `nanstd(x - nanmean(x, axis=0), axis=(1, 2))`: reads `x` twice, or holds it.
fn anomaly(x: &Array) -> Result<(Job, f64)> {
    let a = (x - &x.nanmean(0)?).nanstd([1, 2], 0.0)?;
    Ok((Job::Arrays(vec![a]), x.nbytes() as f64))
}

fn zarr3(ctx: &Ctx) -> Result<Array> {
    Array::from_zarr(&ctx.stores.zarr3)
}

fn zarr2(ctx: &Ctx) -> Result<Array> {
    Array::from_zarr(&ctx.stores.zarr2)
}

/// The side of a square for `fused-sincos`.
pub fn sincos_n(size: Size) -> usize {
    match size {
        Size::Tiny => 1000,
        Size::Small => 6000,
        Size::Medium => 20000,
        Size::Large => 40000,
    }
}

/// Every workload, in run order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "nanmean-zarr3",
        about: "nanmean(axis=0) of the field as Zarr v3 + zstd-1 in (10, lat, lon) chunks",
        needs: &["zarr3"],
        rtol: 1e-5,
        build: |ctx| nanmean0(&zarr3(ctx)?),
    },
    Workload {
        name: "decode-zarr3",
        about: "read-and-decode-only pass over the Zarr v3 store (the floor for nanmean-zarr3)",
        needs: &["zarr3"],
        rtol: 0.0,
        build: |ctx| decode_job(&ctx.stores.zarr3.display().to_string()),
    },
    Workload {
        name: "nanmean-zarr2",
        about: "nanmean(axis=0) of the field as Zarr v2 + blosc-lz4 + shuffle",
        needs: &["zarr2"],
        rtol: 1e-5,
        build: |ctx| nanmean0(&zarr2(ctx)?),
    },
    Workload {
        name: "decode-zarr2",
        about: "read-and-decode-only pass over the Zarr v2 store (the floor for nanmean-zarr2)",
        needs: &["zarr2"],
        rtol: 0.0,
        build: |ctx| decode_job(&ctx.stores.zarr2.display().to_string()),
    },
    #[cfg(feature = "hdf5")]
    Workload {
        name: "nanmean-hdf5",
        about: "nanmean(axis=0) of the field as HDF5 + gzip-1 + shuffle",
        needs: &["hdf5"],
        rtol: 1e-5,
        build: |ctx| nanmean0(&Array::from_hdf5(&ctx.stores.hdf5, "t2m")?),
    },
    #[cfg(feature = "hdf5")]
    Workload {
        name: "decode-hdf5",
        about: "read-and-decode-only pass over the HDF5 file (the floor for nanmean-hdf5)",
        needs: &["hdf5"],
        rtol: 0.0,
        build: |ctx| decode_job(&ctx.stores.hdf5_source()),
    },
    Workload {
        name: "nansum-zarr3",
        about: "nansum over all axes of the Zarr v3 field",
        needs: &["zarr3"],
        rtol: 1e-3,
        build: |ctx| nansum_all(&zarr3(ctx)?),
    },
    Workload {
        name: "nanstd-zarr3",
        about: "nanstd(axis=0) of the Zarr v3 field",
        needs: &["zarr3"],
        rtol: 1e-5,
        build: |ctx| nanstd0(&zarr3(ctx)?),
    },
    Workload {
        name: "nanmedian-zarr3",
        about: "nanmedian(axis=0) of the Zarr v3 field (an order statistic: rechunked to whole time series first)",
        needs: &["zarr3"],
        rtol: 1e-6,
        build: |ctx| {
            let x = zarr3(ctx)?;
            Ok((Job::Arrays(vec![x.nanmedian(0)?]), x.nbytes() as f64))
        },
    },
    Workload {
        name: "wmean-zarr3",
        about: "area-weighted (cos latitude) mean over (lat, lon) per time step, missing values dropped from the weights (xarray's weighted mean)",
        needs: &["zarr3"],
        rtol: 1e-9,
        build: |ctx| {
            let x = zarr3(ctx)?;
            let n = x.shape()[1];
            let coslat = Array::linspace(90.0, -90.0, n, [n])?
                .deg2rad()
                .cos()
                .reshape(&[n as isize, 1])?;
            Ok((Job::Arrays(vec![x.weighted(&coslat)?.mean([1, 2])?]), x.nbytes() as f64))
        },
    },
    Workload {
        name: "coarsen-zarr3",
        about: "4×4 nanmean box average of the Zarr v3 field over (lat, lon), the odd latitude trimmed (0.25° → 1°)",
        needs: &["zarr3"],
        rtol: 1e-5,
        build: |ctx| {
            let x = zarr3(ctx)?;
            let y = x.coarsen(ReduceOp::NanMean, &[(1, 4), (2, 4)], true)?;
            Ok((Job::Arrays(vec![y]), x.nbytes() as f64))
        },
    },
    Workload {
        name: "anomaly-zarr3",
        about: "nanstd(x - nanmean(x, axis=0), axis=(1, 2)) of the Zarr v3 field",
        needs: &["zarr3"],
        rtol: 1e-5,
        build: |ctx| anomaly(&zarr3(ctx)?),
    },
    Workload {
        name: "nanmean-memory",
        about: "nanmean(axis=0) of the field held in memory (materialised before timing)",
        needs: &[],
        rtol: 1e-5,
        build: |ctx| nanmean0(&data::memory_field(ctx.size)?),
    },
    Workload {
        name: "read-memory",
        about: "every byte of the in-memory field read once on the worker threads (the memory-bandwidth floor for nanmean-memory)",
        needs: &[],
        rtol: 0.0,
        build: |ctx| read_memory_job(ctx.size),
    },
    Workload {
        name: "fused-sincos",
        about: "(sin(x)**2 + cos(x)**2).sum(), x random f64 (20000² medium) in 2000² chunks, generated on the fly",
        needs: &[],
        rtol: 1e-9,
        build: |ctx| {
            let n = sincos_n(ctx.size);
            let x = Array::random_uniform(&[n, n], -10.0, 10.0, 42, [2000, 2000])?;
            let y = (&x.sin().square() + &x.cos().square()).sum(None)?;
            Ok((Job::Arrays(vec![y]), (n * n * 8) as f64))
        },
    },
    Workload {
        name: "climatology-zarr3",
        about: "monthly nanmean climatology (groupby month) of the daily Zarr v3 field from 2001-01-01",
        needs: &["zarr3"],
        rtol: 1e-5,
        build: |ctx| {
            let x = zarr3(ctx)?;
            let (labels, n) = month_labels(x.shape()[0])?;
            let opts = chunkwise::GroupByOptions {
                ngroups: Some(n),
                ..chunkwise::GroupByOptions::default()
            };
            let y = x.groupby_reduce(&labels, 0, chunkwise::ReduceOp::NanMean, &opts)?;
            Ok((Job::Arrays(vec![y]), x.nbytes() as f64))
        },
    },
    Workload {
        name: "rechunk-zarr3",
        about: "the Zarr v3 field (10, lat, lon) chunks rechunked to (time, 64, 64) and written as Zarr v3 (staged, 512 MiB bands)",
        needs: &["zarr3"],
        rtol: 1e-6,
        build: |ctx| {
            let x = zarr3(ctx)?;
            let t = x.shape()[0];
            let y = x.rechunk_bounded([t, 64, 64], 512 << 20)?;
            let out = ctx
                .stores
                .zarr3
                .with_file_name(format!("rechunk_out_{}.zarr", std::process::id()));
            Ok((Job::Store(y, out), x.nbytes() as f64))
        },
    },
    Workload {
        name: "overlap-mean3x3",
        about: "map_overlap 3×3 mean (reflect boundary) of a float32 field (10000² medium, 2000² chunks), then its mean",
        needs: &[],
        rtol: 1e-6,
        build: |ctx| {
            let x = overlap_input(ctx.size)?;
            let y = x
                .map_overlap(&[1, 1], chunkwise::Boundary::Reflect, mean3x3)?
                .mean(None)?;
            Ok((Job::Arrays(vec![y]), x.nbytes() as f64))
        },
    },
    Workload {
        name: "matmul",
        about: "a @ b of float64 matrices (8000² medium in 2000² chunks, in memory); GFLOP/s = 2n³ / time",
        needs: &[],
        rtol: 1e-9,
        build: |ctx| {
            let (a, b) = matmul_inputs(ctx.size)?;
            let bytes = (a.nbytes() + b.nbytes()) as f64;
            Ok((Job::Arrays(vec![a.matmul(&b)?]), bytes))
        },
    },
    Workload {
        name: "scheduler-fanin",
        about: "100,000 independent inc(i) tasks and one sum over them (dask's fan-in graph)",
        needs: &[],
        rtol: 0.0,
        build: |_| Ok((Job::Graph(fanin(100_000), 100_001), 0.0)),
    },
    Workload {
        name: "scheduler-array",
        about: "sum of ones over 100,000 one-element blocks (~133,000 trivial array tasks)",
        needs: &[],
        rtol: 0.0,
        build: |_| {
            let x = Array::ones(&[100_000], DType::F64, ChunkSpec::from([1]))?;
            Ok((Job::Arrays(vec![x.sum(None)?]), 800_000.0))
        },
    },
    Workload {
        name: "decode-source",
        about: "read-and-decode-only pass over --source",
        needs: &[],
        rtol: 0.0,
        build: |ctx| decode_job(source_arg(ctx)?),
    },
    Workload {
        name: "nanmean-source",
        about: "nanmean(axis=0) of --source",
        needs: &[],
        rtol: 1e-5,
        build: |ctx| nanmean0(&source_array(ctx)?),
    },
    Workload {
        name: "nanstd-source",
        about: "nanstd(axis=0) of --source",
        needs: &[],
        rtol: 1e-5,
        build: |ctx| nanstd0(&source_array(ctx)?),
    },
    Workload {
        name: "anomaly-source",
        about: "nanstd(x - nanmean(x, axis=0), axis=(1, 2)) of --source",
        needs: &[],
        rtol: 1e-5,
        build: |ctx| anomaly(&source_array(ctx)?),
    },
];

/// The sum of a result's non-NaN elements in f64.
pub fn checksum(c: &chunkwise::Chunk) -> f64 {
    let d = c.data();
    (0..d.len()).map(|i| d.get_f64(i)).filter(|v| !v.is_nan()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_floor_reads_every_element() {
        for n in [0usize, 1, 31, 32, 33, 100, 1000] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 1.5 - 7.0).collect();
            let naive = v.iter().fold(0u32, |a, x| a.wrapping_add(x.to_bits()));
            assert_eq!(bit_sum(&v), naive, "n = {n}");
        }
    }

    #[test]
    fn the_read_floor_job_counts_the_tiny_field() -> Result<()> {
        let (job, bytes) = read_memory_job(Size::Tiny)?;
        let [t, y, x] = Size::Tiny.shape();
        assert_eq!(bytes, (t * y * x * 4) as f64);
        let Job::Graph(total, tasks) = job else {
            panic!("a graph job");
        };
        assert_eq!(tasks, t.div_ceil(10) + 1);
        assert_eq!(
            chunkwise::Runtime::new(chunkwise::Config::default())?.compute_delayed(&total)?,
            (t * y * x) as i64
        );
        Ok(())
    }
}
