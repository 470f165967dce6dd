//! The `chunkwise` command line. Uses only the public library API.
//!
//! Exit codes: 0 success, 1 a user or data error (one line on stderr), 2 a usage error.

mod bench;
mod info;
mod output;
mod reduce;
mod run_opts;
mod select;
mod source;
mod timecoord;
mod weights;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Large blocks get transparent huge pages (see [`chunkwise::HugePageAlloc`]).
#[global_allocator]
static ALLOC: chunkwise::HugePageAlloc = chunkwise::HugePageAlloc;

/// Chunked n-dimensional arrays: reductions over large arrays, in parallel, in bounded memory.
#[derive(Parser, Debug)]
#[command(name = "chunkwise", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in benchmark suite on generated data
    ///
    /// Examples:
    ///   chunkwise bench                       # every workload, small size
    ///   chunkwise bench fused --size medium --repeat 5
    ///   chunkwise bench --list
    ///   chunkwise bench --format json
    #[command(verbatim_doc_comment)]
    Bench(bench::BenchArgs),
    /// Reduce a stored array (Zarr v2/v3, HDF5/NetCDF-4) over some or all axes
    ///
    /// Examples:
    ///   chunkwise reduce era5.zarr/t2m --op nanmean --axis 0 --out clim.npy
    ///   chunkwise reduce data.zarr --op max --format json
    ///   chunkwise reduce data.zarr --op argmin --axis -1 --threads 2
    ///   chunkwise reduce big.zarr --op nanmean --axis 0 --memory-limit 256MiB --trace run.json
    ///   chunkwise reduce data.nc:/t2m --op nanstd --axis 0 --explain --dot graph.dot
    ///   chunkwise reduce era5.zarr/t2m --op mean --axis lat,lon --weights coslat --out gmst.npy
    ///   chunkwise reduce era5.nc:/t2m --op nanstd --axis time --ddof 1
    ///   chunkwise reduce 'era5_*.nc:t2m' --op nanmean --groupby month --out clim.zarr   # files as one
    #[command(verbatim_doc_comment)]
    Reduce(Box<reduce::ReduceArgs>),
    /// Describe a stored array (shape, dims, dtype, chunks, codecs, fill value, CF decoding, sizes), or list a group's arrays
    ///
    /// Examples:
    ///   chunkwise info era5.zarr/t2m
    ///   chunkwise info era5.zarr              # the arrays of a group, as xarray lists them
    ///   chunkwise info era5.nc:/surface/t2m
    ///   chunkwise info era5.zarr/t2m --format json | jq .chunks
    #[command(verbatim_doc_comment)]
    Info(info::InfoArgs),
}

/// Output into a closed pipe (`chunkwise info … | head -3`) ends the process quietly,
/// as it ends `cat` or `grep`: Rust starts programs with SIGPIPE ignored, so a write to
/// the closed pipe fails and `println!` panics. Output files are complete before
/// anything is printed about them (written under a temporary name, then renamed), so
/// the signal never leaves a partial one.
fn default_sigpipe() {
    // SIGPIPE is 13 and SIG_DFL 0 on Linux, macOS and the BSDs.
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: restores the default disposition of one signal, before any thread
        // is started; no handler code is installed.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let r = match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Reduce(args) => reduce::run(&args),
        Command::Info(args) => info::run(&args),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chunkwise: error: {}", one_line(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

/// An error message as one line: control characters (a newline in a variable name read
/// from a garbled file) written as escapes (`\n`), so that one error is one line.
fn one_line(msg: &str) -> String {
    msg.chars().fold(String::with_capacity(msg.len()), |mut s, c| {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
        s
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_print_as_one_line() {
        assert_eq!(
            super::one_line("no variable 'fl\ng' (the file holds: a\tb\r)"),
            "no variable 'fl\\ng' (the file holds: a\\tb\\r)"
        );
        assert_eq!(super::one_line("café: ok"), "café: ok");
        assert_eq!(super::one_line("x\u{1}y"), "x\\u{1}y");
    }
}
