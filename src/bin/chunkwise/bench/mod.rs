//! `chunkwise bench`: the built-in benchmark suite, and side-by-side runs of dask and
//! NumPy on the same data.
//!
//! For each selected workload: the data it needs are generated if missing
//! ([`data`]); one warm-up run per engine; then `--repeat` timed runs, each in a fresh
//! process ([`measure`]), interleaved across engines (chunkwise, dask, numpy, chunkwise,
//! …) so that drift on a shared machine affects them alike. Reported per engine: min /
//! median / max wall time, throughput (GB/s of uncompressed input), peak RSS of the
//! run's process, chunkwise's peak accounted bytes, and the result's checksum; with
//! `--compare`, a ratio per workload only when the engines' checksums agree
//! ([`compare`]). A table on a terminal, JSON lines with `--format json`. When a
//! workload and its floor both ran (`nanmean-zarr2` and its read-and-decode-only pass
//! `decode-zarr2`; `nanmean-memory` and `read-memory`, a plain read of the same bytes),
//! a line gives the one's median over the other's ([`floor_of`]).

mod compare;
mod data;
mod measure;
mod workloads;

use chunkwise::device::DeviceKind;
use chunkwise::{Array, Config, Error, Result, RunStats, Runtime};
use data::{Size, Stores};
use measure::{Record, Summary};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use workloads::{Ctx, Job, WORKLOADS, Workload};

/// Arguments of `chunkwise bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Run only workloads whose name contains this.
    filter: Option<String>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Problem size: tiny (20, 73, 144), small (73, 721, 1440) 0.3 GB, medium (365, …)
    /// 1.5 GB, large (1460, …) 6 GB.
    #[arg(long, value_enum, default_value = "small")]
    size: Size,
    /// Timed runs per workload and engine (after one warm-up each).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Worker threads, for chunkwise and dask alike (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Memory budget of chunkwise's scheduler, e.g. 256MiB ("none": unlimited; default:
    /// a quarter of physical memory).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Where chunkwise's reductions run: cpu, cuda (GPU 0; needs the `cuda` feature),
    /// auto (per chunk step, where it is cheaper) or host:N (the CPU as N devices with
    /// explicit copies). Reported as engine `chunkwise`, `cw-cuda`, `cw-auto` or
    /// `cw-hostN`.
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda|auto|host:N")]
    device: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// An existing array for the `*-source` workloads (`store.zarr`, `file.h5:/var`).
    #[arg(long)]
    source: Option<String>,
    /// Where the generated data live (default: $CHUNKWISE_BENCH_DATA, else the user's
    /// cache directory, `~/.cache/chunkwise/bench`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also run these engines on the same data, comma-separated: dask, numpy.
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
    /// The Python venv for --compare (default: <data-dir>/venv, created on first use).
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Internal: run one workload once in this process and print its record.
    #[arg(long, hide = true)]
    run_one: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

fn threads(args: &BenchArgs) -> usize {
    if args.threads > 0 {
        args.threads
    } else {
        std::env::var("CHUNKWISE_THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Child mode: one run of one workload, one JSON line.
fn run_one(args: &BenchArgs, w: &Workload, ctx: &Ctx) -> Result<()> {
    let memory_limit = crate::run_opts::parse_memory_limit(args.memory_limit.as_deref())?;
    let rt = Runtime::new(Config {
        threads: threads(args),
        memory_limit,
        device: DeviceKind::parse(&args.device)?,
        ..Config::default()
    })?;
    let (job, _) = (w.build)(ctx)?;
    let t0 = Instant::now();
    // The timed region ends when the result is computed; its checksum is taken after
    // (as the Python side does: `benches/compare/engines.py`).
    let mut wall_s = None;
    let (checksum, stats) = match &job {
        Job::Arrays(arrays) => {
            let refs: Vec<&Array> = arrays.iter().collect();
            let (out, s) = rt.compute_with_stats(&refs)?;
            wall_s = Some(t0.elapsed().as_secs_f64());
            (workloads::checksum(&out[0]), s)
        }
        Job::Store(a, path) => {
            let opts = chunkwise::io::zarr_write::ZarrWriteOptions {
                overwrite: true,
                ..Default::default()
            };
            let chunks: Vec<usize> = a.chunks().iter().map(|c| c[0].max(1)).collect();
            let sink = chunkwise::io::zarr_write::ZarrSink::create(path, &a.shape(), a.dtype(), &chunks, &opts)?;
            let written = rt.store(a, std::sync::Arc::new(sink));
            let wall = t0.elapsed().as_secs_f64();
            let sum = written.and_then(|()| {
                let back = Array::from_zarr(path)?.astype(chunkwise::DType::F64).nansum(None)?;
                rt.compute_many(&[&back])
            });
            std::fs::remove_dir_all(path).ok();
            let rec = Record {
                wall_s: wall,
                peak_rss_mb: measure::own_peak_rss_mb(),
                peak_accounted_mb: None,
                tasks: Some(a.num_blocks()),
                checksum: sum?[0].data().get_f64(0),
            };
            println!("{}", rec.to_json());
            return Ok(());
        }
        Job::Graph(d, n) => {
            let v = rt.compute_delayed(d)?;
            (
                v as f64,
                RunStats {
                    tasks: *n,
                    ..RunStats::default()
                },
            )
        }
    };
    let wall_s = wall_s.unwrap_or_else(|| t0.elapsed().as_secs_f64());
    let rec = Record {
        wall_s,
        peak_rss_mb: measure::own_peak_rss_mb(),
        peak_accounted_mb: Some(stats.peak_bytes as f64 / 1e6),
        tasks: Some(stats.tasks),
        checksum,
    };
    println!("{}", rec.to_json());
    Ok(())
}

/// The command line of a chunkwise child run.
fn child(args: &BenchArgs, w: &Workload, dir: &std::path::Path) -> Result<Command> {
    let exe = std::env::current_exe().map_err(|e| Error::Value(format!("cannot find this binary: {e}")))?;
    let mut c = Command::new(exe);
    c.args(["bench", w.name, "--run-one", "--size", args.size.name()])
        .arg("--data-dir")
        .arg(dir)
        .args(["--threads", &threads(args).to_string()])
        .args(["--device", &args.device]);
    if let Some(m) = &args.memory_limit {
        c.args(["--memory-limit", m]);
    }
    if let Some(s) = &args.source {
        c.args(["--source", s]);
    }
    Ok(c)
}

/// The command line of another engine's run.
fn other(
    py: &std::path::Path,
    script: &std::path::Path,
    engine: &str,
    args: &BenchArgs,
    w: &Workload,
    stores: &Stores,
) -> Command {
    let mut c = Command::new(py);
    c.arg(script)
        .arg(w.name)
        .args(["--engine", engine, "--threads", &threads(args).to_string()])
        .arg("--zarr3")
        .arg(&stores.zarr3)
        .arg("--zarr2")
        .arg(&stores.zarr2)
        .arg("--h5")
        .arg(&stores.hdf5)
        .args(["--size-n", &workloads::sincos_n(args.size).to_string()])
        .args(["--size", args.size.name()]);
    if let Some(s) = &args.source {
        c.args(["--source", s]);
    }
    c
}

fn gbs(bytes: f64, s: &Summary) -> f64 {
    bytes / s.median() / 1e9
}

fn print_engine(args: &BenchArgs, w: &Workload, engine: &str, s: &Summary, bytes: f64) {
    let tasks = s.runs.first().and_then(|r| r.tasks);
    match args.format {
        Format::Table => {
            let per_task = tasks.map_or_else(String::new, |t| format!("{:.2}", s.median() * 1e6 / t.max(1) as f64));
            let acc = s.peak_accounted_mb().map_or_else(String::new, |m| format!("{m:.1}"));
            println!(
                "{:<16} {:<9} {:>8.3} {:>8.3} {:>8.3} {:>7.2} {:>9.1} {:>9} {:>9} {:>15.8e}",
                w.name,
                engine,
                s.min(),
                s.median(),
                s.max(),
                gbs(bytes, s),
                s.peak_rss_mb(),
                acc,
                per_task,
                s.checksum()
            );
        }
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "workload": w.name,
                "engine": engine,
                "size": args.size.name(),
                "threads": threads(args),
                "runs": s.runs.len(),
                "min_s": s.min(),
                "median_s": s.median(),
                "max_s": s.max(),
                "gb_per_s": gbs(bytes, s),
                "peak_rss_mb": s.peak_rss_mb(),
                "peak_accounted_mb": s.peak_accounted_mb(),
                "tasks": tasks,
                "us_per_task": tasks.map(|t| s.median() * 1e6 / t.max(1) as f64),
                "checksum": s.checksum(),
            })
        ),
    }
}

/// The nanmean workload a floor workload (`decode-*` for a store, `read-memory` for
/// the in-memory field) is the floor of, or the floor of a `nanmean-*` workload:
/// `(nanmean, floor)`, when both exist.
fn floor_of(name: &str) -> Option<(&'static str, &'static str)> {
    let fmt = ["decode-", "read-", "nanmean-"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let find = |n: String| WORKLOADS.iter().find(|w| w.name == n).map(|w| w.name);
    let floor = find(format!("decode-{fmt}")).or_else(|| find(format!("read-{fmt}")))?;
    Some((find(format!("nanmean-{fmt}"))?, floor))
}

/// Prints how far a nanmean is from its floor, once both have run (medians).
fn print_floor(args: &BenchArgs, name: &str, medians: &std::collections::HashMap<&str, f64>) {
    let Some((nanmean, decode)) = floor_of(name) else {
        return;
    };
    let (Some(&n), Some(&d)) = (medians.get(nanmean), medians.get(decode)) else {
        return;
    };
    let ratio = n / d;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"workload": nanmean, "floor": decode, "floor_ratio": ratio})
        ),
        Format::Table => println!("{nanmean:<16} {:<9} {ratio:.2}× its floor ({decode}, medians)", "floor"),
    }
}

/// Runs the suite.
///
/// # Errors
/// A failing workload, a bad argument, or (with `--compare`) results that disagree.
pub fn run(args: &BenchArgs) -> Result<()> {
    if args.list {
        for w in WORKLOADS {
            println!("{:<16} {}", w.name, w.about);
        }
        return Ok(());
    }
    crate::run_opts::parse_memory_limit(args.memory_limit.as_deref())?;
    // The engine's label says where it ran; a GPU asked for and missing is an error
    // before any data is generated.
    let (gpu, _) = DeviceKind::parse(&args.device)
        .and_then(DeviceKind::resolve)
        .map_err(|e| crate::run_opts::device_error(&args.device, e))?;
    let label = match (gpu.is_some(), args.device.as_str()) {
        (true, "auto") => "cw-auto".to_string(),
        (true, _) => "cw-cuda".to_string(),
        (false, d) if d.starts_with("host:") => format!("cw-host{}", &d[5..]),
        (false, _) => "chunkwise".to_string(),
    };
    if let Some(e) = args.compare.iter().find(|e| !compare::ENGINES.contains(&e.as_str())) {
        return Err(Error::InvalidArgument(format!("--compare {e}: dask or numpy")));
    }
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .filter(|w| !w.name.ends_with("-source") || args.source.is_some())
        .collect();
    if selected.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no workload matches '{}' (see chunkwise bench --list)",
            args.filter.as_deref().unwrap_or("")
        )));
    }
    let dir = args.data_dir.clone().unwrap_or_else(data::default_dir);
    let ctx = Ctx {
        size: args.size,
        stores: Stores::at(&dir, args.size),
        source: args.source.clone(),
    };
    if args.run_one {
        return run_one(args, selected[0], &ctx);
    }
    let py = if args.compare.is_empty() {
        None
    } else {
        let venv = args.venv.clone().unwrap_or_else(|| dir.join("venv"));
        Some((compare::python(&venv)?, compare::script(&dir)?))
    };
    if args.format == Format::Table {
        println!(
            "chunkwise bench · size {} · {} threads · {} timed runs after a warm-up, each in a fresh process · data in {}",
            args.size.name(),
            threads(args),
            args.repeat,
            dir.display()
        );
        println!(
            "{:<16} {:<9} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>15}",
            "workload", "engine", "min s", "median s", "max s", "GB/s", "RSS MB", "acct MB", "µs/task", "checksum"
        );
    }
    let mut needs: Vec<&str> = selected.iter().flat_map(|w| w.needs.iter().copied()).collect();
    needs.sort_unstable();
    needs.dedup();
    ctx.stores.ensure(args.size, &needs)?;
    let mut disagree = Vec::new();
    let mut medians = std::collections::HashMap::new();
    for w in selected {
        let (_, bytes) = (w.build)(&ctx)?;
        let engines: Vec<&str> = args
            .compare
            .iter()
            .map(String::as_str)
            .filter(|e| compare::supports(e, w.name))
            .collect();
        let mut cw = Summary { runs: Vec::new() };
        let mut others: Vec<Summary> = engines.iter().map(|_| Summary { runs: Vec::new() }).collect();
        for i in 0..=args.repeat.max(1) {
            let r = measure::run_child(&format!("chunkwise {}", w.name), &mut child(args, w, &dir)?)?;
            if i > 0 {
                cw.runs.push(r);
            }
            for (e, s) in engines.iter().zip(&mut others) {
                let (py, script) = py
                    .as_ref()
                    .ok_or_else(|| Error::Value("--compare: no Python interpreter".into()))?;
                let r = measure::run_child(
                    &format!("{e} {}", w.name),
                    &mut other(py, script, e, args, w, &ctx.stores),
                )?;
                if i > 0 {
                    s.runs.push(r);
                }
            }
        }
        if cw.runs.iter().any(|r| r.checksum.to_bits() != cw.checksum().to_bits()) {
            return Err(Error::Value(format!(
                "{}: chunkwise's result changed between runs",
                w.name
            )));
        }
        print_engine(args, w, &label, &cw, bytes);
        medians.insert(w.name, cw.median());
        print_floor(args, w.name, &medians);
        for (e, s) in engines.iter().zip(&others) {
            print_engine(args, w, e, s, bytes);
            let c = compare::compare(e, &cw, s, w.rtol);
            if !c.results_agree {
                disagree.push(format!(
                    "{} ({e}: {} vs chunkwise {})",
                    w.name,
                    s.checksum(),
                    cw.checksum()
                ));
            }
            match args.format {
                Format::Json => println!("{}", c.to_json(w.name)),
                Format::Table => match (c.ratio, c.rss_ratio) {
                    (Some(r), Some(m)) => println!(
                        "{:<16} {:<9} chunkwise {r:.2}× faster than {e} (median), peak RSS {m:.2}× {e}'s",
                        w.name, "ratio"
                    ),
                    _ => println!("{:<16} {:<9} no ratio: the results disagree", w.name, "ratio"),
                },
            }
        }
    }
    if disagree.is_empty() {
        Ok(())
    } else {
        Err(Error::Value(format!("results disagree: {}", disagree.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decode_workload_is_the_floor_of_a_nanmean_and_back() {
        let decodes: Vec<&str> = WORKLOADS
            .iter()
            .map(|w| w.name)
            .filter(|n| n.starts_with("decode-"))
            .collect();
        assert!(decodes.len() >= 3, "{decodes:?}");
        for d in decodes {
            let (n, dd) = floor_of(d).unwrap_or_else(|| panic!("{d} has no nanmean"));
            assert_eq!(dd, d);
            assert_eq!(n, d.replacen("decode-", "nanmean-", 1));
            assert_eq!(floor_of(n), Some((n, d)));
        }
        assert_eq!(floor_of("nanstd-zarr3"), None);
        assert_eq!(floor_of("nanmean-memory"), Some(("nanmean-memory", "read-memory")));
        assert_eq!(floor_of("read-memory"), Some(("nanmean-memory", "read-memory")));
    }
}
