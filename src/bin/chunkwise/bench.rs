//! `chunkwise bench`: the built-in benchmark suite.
//!
//! Each workload builds its input lazily (or materialises it once, outside the timed
//! region, when it measures an in-memory reduction), runs one warm-up, then `--repeat`
//! timed runs, and reports min / median / max wall time, throughput in GB/s of input,
//! the engine's peak accounted bytes, and a checksum of the result so runs (and
//! engines) can be compared.
//!
//! Storage workloads write the ERA5-like field once (Zarr v3 + zstd-1, and HDF5 +
//! gzip-1 + shuffle with the `hdf5` feature) under the system temp directory and reuse
//! it; `--source` runs the same pair on any array instead. Each format has two
//! workloads: `decode-*`, a read-and-decode-only pass (every block loaded, then
//! dropped: the floor for anything that reads the file), and `nanmean-*`, the
//! reduction, so how far the reduction is from the floor is measured, not assumed.

use chunkwise::{Array, ChunkSpec, Config, DType, RunStats, Runtime, where_};
use std::time::Instant;

/// Arguments of `chunkwise bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Run only workloads whose name contains this.
    filter: Option<String>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Problem size.
    #[arg(long, value_enum, default_value = "small")]
    size: Size,
    /// Timed runs per workload (after one warm-up).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// An existing array for the `*-source` workloads (`store.zarr`, `file.h5:/var`).
    #[arg(long)]
    source: Option<String>,
    /// Memory budget the scheduler keeps, e.g. 256MiB ("none": unlimited; default: a
    /// quarter of physical memory).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
}

/// What a workload is built from.
struct Ctx {
    size: Size,
    source: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    Small,
    Medium,
    Large,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

struct Workload {
    name: &'static str,
    about: &'static str,
    /// Builds the work and the bytes of input it reads.
    build: fn(&Ctx) -> chunkwise::Result<(Job, f64)>,
}

/// What a workload computes.
enum Job {
    /// Arrays computed together.
    Arrays(Vec<Array>),
    /// A custom graph with this many tasks and an i64 result.
    Graph(chunkwise::Delayed<i64>, usize),
}

/// dask's `dask_fanin_100k` graph: `n` independent `inc(i)` tasks and one sum over them.
fn fanin(n: usize) -> chunkwise::Delayed<i64> {
    let parts: Vec<_> = (0..n as i64)
        .map(|i| chunkwise::delayed("inc", move || Ok(i + 1)))
        .collect();
    chunkwise::gather(&parts, "total", |v| Ok(v.iter().copied().sum::<i64>()))
}

fn field_shape(size: Size) -> [usize; 3] {
    match size {
        Size::Small => [73, 721, 1440],
        Size::Medium => [365, 721, 1440],
        Size::Large => [1460, 721, 1440],
    }
}

/// An ERA5-like f32 field (seasonal cycle + latitude gradient + noise, rounded to 0.01,
/// ~1% NaN), materialised in memory once, outside the timed region.
fn memory_field(size: Size) -> chunkwise::Result<Array> {
    let shape = field_shape(size);
    let chunks = [10, 721, 1440];
    let season = ndarray::Array::from_shape_fn((shape[0], 1, 1), |(t, _, _)| {
        10.0 * (std::f64::consts::TAU * t as f64 / 365.0).cos()
    });
    let lat = ndarray::Array::from_shape_fn((1, shape[1], 1), |(_, j, _)| {
        -40.0 * ((j as f64 - 360.0) / 360.0).powi(2)
    });
    let noise = Array::random_normal(&shape, 288.0, 3.0, 20240917, chunks)?;
    let x = (&noise + &Array::from_ndarray(season, [10, 1, 1])?) + Array::from_ndarray(lat, [1, 721, 1])?;
    let x = (&x * 100.0).round() / 100.0;
    let holes = Array::random_uniform(&shape, 0.0, 1.0, 7, chunks)?.less(0.01)?;
    let field = where_(&holes, f64::NAN, &x)?.astype(DType::F32);
    Array::from_ndarray(field.compute::<f32>()?, chunks)
}

/// The field written once per size under the temp directory (`zarr` or `hdf5`), and
/// opened lazily.
fn stored_field(size: Size, format: &str) -> chunkwise::Result<Array> {
    let dir = std::env::temp_dir().join(format!("chunkwise-bench-{size:?}").to_lowercase());
    std::fs::create_dir_all(&dir).map_err(|e| chunkwise::Error::Io {
        path: dir.clone(),
        source: e,
    })?;
    match format {
        #[cfg(feature = "hdf5")]
        "hdf5" => {
            let path = dir.join("t2m.h5");
            if !path.exists() {
                let opts = chunkwise::io::hdf5::write::Hdf5WriteOptions {
                    deflate: Some(1),
                    ..Default::default()
                };
                memory_field(size)?.to_hdf5(&path, "t2m", &opts)?;
            }
            Array::from_hdf5(&path, "t2m")
        }
        _ => {
            let path = dir.join("t2m.zarr");
            if !path.exists() {
                memory_field(size)?.to_zarr(&path, &chunkwise::io::zarr_write::ZarrWriteOptions::default())?;
            }
            Array::from_zarr(&path)
        }
    }
}

fn source_arg(ctx: &Ctx) -> chunkwise::Result<&str> {
    ctx.source
        .as_deref()
        .ok_or_else(|| chunkwise::Error::InvalidArgument("the *-source workloads need --source PATH".into()))
}

fn source_array(ctx: &Ctx) -> chunkwise::Result<Array> {
    crate::source::open(source_arg(ctx)?)
}

/// The SOURCE string of a generated store.
fn stored_path(size: Size, format: &str) -> String {
    let dir = std::env::temp_dir().join(format!("chunkwise-bench-{size:?}").to_lowercase());
    match format {
        "hdf5" => format!("{}:/t2m", dir.join("t2m.h5").display()),
        _ => dir.join("t2m.zarr").display().to_string(),
    }
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<chunkwise::Buffer>> = const { std::cell::RefCell::new(None) };
}

/// Every stored chunk read and decoded into a buffer the worker reuses (as reductions
/// do), then dropped: the floor for anything that reads the source. One task per
/// chunk; the result is the element count.
fn decode_job(source: &str) -> chunkwise::Result<(Job, f64)> {
    let src = crate::source::open_reader(source)?;
    let shape = src.shape().to_vec();
    let grid = chunkwise::ChunkGrid::new(
        &shape,
        &ChunkSpec::from(src.natural_chunks().unwrap_or_else(|| shape.clone())),
        1,
    )?;
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

fn nanmean_job(x: &Array) -> chunkwise::Result<(Job, f64)> {
    Ok((Job::Arrays(vec![x.nanmean(0)?]), x.nbytes() as f64))
}

fn nanstd_job(x: &Array) -> chunkwise::Result<(Job, f64)> {
    Ok((Job::Arrays(vec![x.nanstd(0, 0.0)?]), x.nbytes() as f64))
}

/// The anomaly: one spatial std of the departures from the time mean per time step,
/// `nanstd(x - nanmean(x, axis=0), axis=(1, 2))` (reads `x` twice, or holds it).
fn anomaly_job(x: &Array) -> chunkwise::Result<(Job, f64)> {
    let a = (x - &x.nanmean(0)?).nanstd([1, 2], 0.0)?;
    Ok((Job::Arrays(vec![a]), x.nbytes() as f64))
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "fused-sincos",
        about: "(sin(x)**2 + cos(x)**2).sum(), x random f64 (20000² medium) in 2000² chunks, generated on the fly",
        build: |ctx| {
            let n = match ctx.size {
                Size::Small => 6000,
                Size::Medium => 20000,
                Size::Large => 40000,
            };
            let x = Array::random_uniform(&[n, n], -10.0, 10.0, 42, [2000, 2000])?;
            let y = (&x.sin().square() + &x.cos().square()).sum(None)?;
            Ok((Job::Arrays(vec![y]), (n * n * 8) as f64))
        },
    },
    Workload {
        name: "nanmean-memory",
        about: "nanmean(axis=0) of an in-memory ERA5-like f32 field ((365, 721, 1440) medium) in (10, 721, 1440) chunks",
        build: |ctx| {
            let x = memory_field(ctx.size)?;
            let bytes = x.nbytes() as f64;
            Ok((Job::Arrays(vec![x.nanmean(0)?]), bytes))
        },
    },
    Workload {
        name: "decode-zarr",
        about: "read-and-decode-only pass over the field stored as Zarr v3 + zstd-1 (the floor for nanmean-zarr)",
        build: |ctx| {
            let _generated = stored_field(ctx.size, "zarr")?;
            decode_job(&stored_path(ctx.size, "zarr"))
        },
    },
    Workload {
        name: "nanmean-zarr",
        about: "nanmean(axis=0) of the field stored as Zarr v3 + zstd-1 in (10, 721, 1440) chunks",
        build: |ctx| nanmean_job(&stored_field(ctx.size, "zarr")?),
    },
    Workload {
        name: "nanstd-zarr",
        about: "nanstd(axis=0) of the Zarr v3 field",
        build: |ctx| nanstd_job(&stored_field(ctx.size, "zarr")?),
    },
    Workload {
        name: "anomaly-zarr",
        about: "nanstd(x - nanmean(x, axis=0), axis=(1, 2)) of the Zarr v3 field (x read twice or held, per the budget)",
        build: |ctx| anomaly_job(&stored_field(ctx.size, "zarr")?),
    },
    #[cfg(feature = "hdf5")]
    Workload {
        name: "decode-hdf5",
        about: "read-and-decode-only pass over the field stored as HDF5 + gzip-1 + shuffle (the floor for nanmean-hdf5)",
        build: |ctx| {
            let _generated = stored_field(ctx.size, "hdf5")?;
            decode_job(&stored_path(ctx.size, "hdf5"))
        },
    },
    #[cfg(feature = "hdf5")]
    Workload {
        name: "nanmean-hdf5",
        about: "nanmean(axis=0) of the field stored as HDF5 + gzip-1 + shuffle in (10, 721, 1440) chunks",
        build: |ctx| nanmean_job(&stored_field(ctx.size, "hdf5")?),
    },
    Workload {
        name: "decode-source",
        about: "read-and-decode-only pass over --source",
        build: |ctx| decode_job(source_arg(ctx)?),
    },
    Workload {
        name: "nanmean-source",
        about: "nanmean(axis=0) of --source",
        build: |ctx| nanmean_job(&source_array(ctx)?),
    },
    Workload {
        name: "nanstd-source",
        about: "nanstd(axis=0) of --source",
        build: |ctx| nanstd_job(&source_array(ctx)?),
    },
    Workload {
        name: "anomaly-source",
        about: "nanstd(x - nanmean(x, axis=0), axis=(1, 2)) of --source",
        build: |ctx| anomaly_job(&source_array(ctx)?),
    },
    Workload {
        name: "scheduler-fanin",
        about: "100,000 independent inc(i) tasks and one sum over them (dask's fan-in graph)",
        build: |_| Ok((Job::Graph(fanin(100_000), 100_001), 0.0)),
    },
    Workload {
        name: "scheduler-array",
        about: "sum of ones over 100,000 one-element blocks (~133,000 trivial array tasks)",
        build: |_| {
            let x = Array::ones(&[100_000], DType::F64, ChunkSpec::from([1]))?;
            Ok((Job::Arrays(vec![x.sum(None)?]), 800_000.0))
        },
    },
];

fn checksum(c: &chunkwise::Chunk) -> f64 {
    let d = c.data();
    (0..d.len()).map(|i| d.get_f64(i)).filter(|v| !v.is_nan()).sum()
}

/// Runs the suite.
///
/// # Errors
/// The first failing workload's error.
pub fn run(args: &BenchArgs) -> chunkwise::Result<()> {
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        // Workloads over --source run only when there is one.
        .filter(|w| !w.name.ends_with("-source") || args.source.is_some())
        .collect();
    if args.list {
        for w in WORKLOADS {
            println!("{:<20} {}", w.name, w.about);
        }
        return Ok(());
    }
    if selected.is_empty() {
        return Err(chunkwise::Error::InvalidArgument(format!(
            "no workload matches '{}' (see chunkwise bench --list)",
            args.filter.as_deref().unwrap_or("")
        )));
    }
    let memory_limit = crate::run_opts::parse_memory_limit(args.memory_limit.as_deref())?;
    let rt = Runtime::new(Config {
        threads: args.threads,
        memory_limit,
        ..Config::default()
    })?;
    if args.format == Format::Table {
        println!(
            "chunkwise bench · size {:?} · {} threads · {} timed runs after a warm-up",
            args.size,
            rt.threads(),
            args.repeat
        );
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>13}",
            "workload", "min s", "median s", "max s", "GB/s", "tasks", "µs/task", "peak MB", "checksum"
        );
    }
    for w in selected {
        let ctx = Ctx {
            size: args.size,
            source: args.source.clone(),
        };
        let (job, bytes) = (w.build)(&ctx)?;
        let run_once = || -> chunkwise::Result<(f64, RunStats)> {
            match &job {
                Job::Arrays(arrays) => {
                    let refs: Vec<&Array> = arrays.iter().collect();
                    let (out, s) = rt.compute_with_stats(&refs)?;
                    Ok((checksum(&out[0]), s))
                }
                Job::Graph(d, n) => {
                    let v = rt.compute_delayed(d)?;
                    Ok((
                        v as f64,
                        RunStats {
                            tasks: *n,
                            ..RunStats::default()
                        },
                    ))
                }
            }
        };
        let (sum, _) = run_once()?;
        let mut times = Vec::with_capacity(args.repeat);
        let mut stats = RunStats::default();
        for _ in 0..args.repeat.max(1) {
            let t0 = Instant::now();
            let (c, s) = run_once()?;
            times.push(t0.elapsed().as_secs_f64());
            if c.to_bits() != sum.to_bits() {
                return Err(chunkwise::Error::Value(format!(
                    "{}: result changed between runs ({sum} vs {c})",
                    w.name
                )));
            }
            stats = s;
        }
        times.sort_by(f64::total_cmp);
        let (min, med, max) = (times[0], times[times.len() / 2], times[times.len() - 1]);
        let gbs = bytes / med / 1e9;
        let peak_mb = stats.peak_bytes as f64 / 1e6;
        match args.format {
            Format::Table => println!(
                "{:<20} {:>9.3} {:>9.3} {:>9.3} {:>9.2} {:>9} {:>9.2} {:>10.1} {:>13.6e}",
                w.name,
                min,
                med,
                max,
                gbs,
                stats.tasks,
                med * 1e6 / stats.tasks.max(1) as f64,
                peak_mb,
                sum
            ),
            Format::Json => println!(
                "{{\"workload\":\"{}\",\"engine\":\"chunkwise\",\"size\":\"{:?}\",\"threads\":{},\"runs\":{},\"min_s\":{min},\"median_s\":{med},\"max_s\":{max},\"gb_per_s\":{gbs},\"tasks\":{},\"us_per_task\":{},\"peak_accounted_mb\":{peak_mb},\"checksum\":{sum}}}",
                w.name,
                args.size,
                rt.threads(),
                times.len(),
                stats.tasks,
                med * 1e6 / stats.tasks as f64
            ),
        }
    }
    Ok(())
}
