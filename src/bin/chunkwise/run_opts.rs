//! Options every computing command shares: threads, memory limit, progress, profiling.
//!
//! The progress bar is drawn on stderr, only when stderr is a terminal and the output is
//! not JSON (so a script's stdout stays parseable and logs stay clean), unless asked for
//! or refused explicitly. `--trace` and `--explain` are for finding out where the time
//! and the memory go: the trace is a Chrome/Perfetto JSON file, the explanation the
//! optimised graph's summary (and, with `--dot`, the graph itself).

use chunkwise::bytesize::{format_size, parse_size};
use chunkwise::device::DeviceKind;
use chunkwise::graph::lower::Target;
use chunkwise::{Array, Config, Progress, Runtime};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// `--memory-limit`: a size, "none"/"unlimited" (`None`), or absent (the default budget).
///
/// # Errors
/// A size that does not parse.
pub fn parse_memory_limit(arg: Option<&str>) -> chunkwise::Result<Option<usize>> {
    match arg {
        None => Ok(Some(chunkwise::runtime::default_memory_limit())),
        Some(s) if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("unlimited") => Ok(None),
        Some(s) => parse_size(s).map(Some),
    }
}

/// A `--device` problem as one line: "invalid argument: --device cuda: CUDA: no CUDA
/// driver (libcuda.so) on this machine".
pub fn device_error(flag: &str, e: chunkwise::Error) -> chunkwise::Error {
    let m = match e {
        chunkwise::Error::InvalidArgument(m) => m,
        e => e.to_string(),
    };
    chunkwise::Error::InvalidArgument(format!("--device {flag}: {m}"))
}

/// The shared options.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Memory budget the scheduler keeps, e.g. 512MiB or 2GB ("none": unlimited;
    /// default: a quarter of physical memory).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Show a progress bar on stderr (default: when stderr is a terminal, never with
    /// --format json).
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Write a Chrome/Perfetto trace of the run (one track per worker, a memory counter).
    #[arg(long, value_name = "FILE.json")]
    pub trace: Option<PathBuf>,
    /// Print the optimised graph's summary (tasks, bytes, critical path, memory) and
    /// exit without computing.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: also write the graph as Graphviz DOT.
    #[arg(long, value_name = "FILE.dot", requires = "explain")]
    pub dot: Option<PathBuf>,
    /// Where reductions run: cpu, cuda (a GPU; needs the `cuda` feature), auto (the
    /// GPU when there is one, else the CPU) or host:N (the CPU split into N devices with
    /// explicit copies between them, to exercise placement; a line on stderr counts the copies).
    #[arg(long, default_value = "auto", value_name = "cpu|cuda|auto|host:N")]
    pub device: String,
}

impl RunArgs {
    /// The memory limit asked for (`None`: unlimited).
    ///
    /// # Errors
    /// A size that does not parse.
    pub fn memory_limit(&self) -> chunkwise::Result<Option<usize>> {
        parse_memory_limit(self.memory_limit.as_deref())
    }

    /// A runtime for these options, with a progress bar when one should be shown.
    ///
    /// # Errors
    /// A bad size or a pool that cannot start.
    pub fn runtime(&self, json: bool) -> chunkwise::Result<(Runtime, Option<ProgressBar>)> {
        let show = !self.no_progress && (self.progress || (!json && std::io::stderr().is_terminal()));
        let bar = show.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks · {msg} · ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        let progress = bar.clone().map(|b| {
            let start = std::time::Instant::now();
            Arc::new(move |p: Progress| {
                b.set_length(p.total as u64);
                b.set_position(p.done as u64);
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                b.set_message(format!(
                    "read {} ({}/s) · holding {}",
                    format_size(p.bytes_read),
                    format_size((p.bytes_read as f64 / secs) as usize),
                    format_size(p.resident_bytes)
                ));
            }) as Arc<chunkwise::scheduler::ProgressFn>
        });
        let rt = Runtime::new(Config {
            threads: self.threads,
            memory_limit: self.memory_limit()?,
            progress,
            trace: self.trace.is_some(),
            device: DeviceKind::parse(&self.device).map_err(|e| device_error(&self.device, e))?,
            ..Config::default()
        })
        .map_err(|e| match e {
            e @ (chunkwise::Error::Cuda(_) | chunkwise::Error::CudaNotCompiled) => device_error(&self.device, e),
            e => e,
        })?;
        // One line for a person at a terminal when `auto` found no GPU in a CUDA build;
        // never in JSON output or in scripts (stderr not a terminal).
        if let Some(note) = rt.device_note()
            && !json
            && cfg!(feature = "cuda")
            && std::io::stderr().is_terminal()
        {
            eprintln!("chunkwise: {note}");
        }
        Ok((rt, bar))
    }

    /// With `--explain`, prints the graph summary (and writes the DOT file); returns
    /// whether it did, in which case the caller stops.
    ///
    /// # Errors
    /// The DOT file cannot be written.
    pub fn explain(&self, rt: &Runtime, arrays: &[&Array]) -> chunkwise::Result<bool> {
        if !self.explain {
            return Ok(false);
        }
        let targets: Vec<Target<'_>> = arrays.iter().map(|a| Target::Array(a)).collect();
        let g = rt.graph(&targets);
        println!("{}", g.summary());
        let limit = rt.config().memory_limit;
        println!("memory limit   {}", limit.map_or_else(|| "none".into(), format_size));
        if let Some(limit) = limit
            && let Err(e) = chunkwise::scheduler::budget::check(&g, limit)
        {
            println!("               {e}");
        }
        if let Some(path) = &self.dot {
            std::fs::write(path, chunkwise::graph::dot::to_dot(&g)).map_err(|e| chunkwise::Error::Io {
                path: path.clone(),
                source: e,
            })?;
            println!("graph written to {}", path.display());
        }
        Ok(true)
    }

    /// After a run: clears the bar, writes the trace.
    ///
    /// # Errors
    /// The trace cannot be written.
    pub fn finish(&self, bar: Option<ProgressBar>, stats: &chunkwise::RunStats) -> chunkwise::Result<()> {
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if !stats.devices.is_empty() {
            let per: Vec<String> = stats
                .devices
                .iter()
                .enumerate()
                .map(|(d, s)| format!("host{d} {} tasks, peak {}", s.tasks, format_size(s.peak_bytes)))
                .collect();
            eprintln!(
                "host devices: {} {}, {} moved; {}",
                stats.transfers,
                if stats.transfers == 1 { "copy" } else { "copies" },
                format_size(stats.transferred_bytes),
                per.join("; ")
            );
        }
        // The budget is kept by construction for arrays; estimates that were low (a
        // custom task's output) can force a start over it rather than a stall: say so.
        if stats.over_budget > 0 {
            eprintln!(
                "chunkwise: warning: {} task{} started over the memory budget (nothing else could run; peak {} accounted): the estimates were low",
                stats.over_budget,
                if stats.over_budget == 1 { "" } else { "s" },
                format_size(stats.peak_bytes)
            );
        }
        if let (Some(path), Some(trace)) = (&self.trace, &stats.trace) {
            trace.write_chrome(path)?;
            eprintln!("trace written to {} ({} tasks)", path.display(), trace.tasks.len());
        }
        Ok(())
    }
}
