//! The `chunkwise` command line. Uses only the public library API.
//!
//! Exit codes: 0 success, 1 a user or data error (one line on stderr), 2 a usage error.

mod bench;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Chunked n-dimensional arrays: reductions over large arrays, in parallel, in bounded memory.
#[derive(Parser, Debug)]
#[command(name = "chunkwise", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in benchmark suite on generated data.
    ///
    /// Examples:
    ///   chunkwise bench                       # every workload, small size
    ///   chunkwise bench fused --size medium --repeat 5
    ///   chunkwise bench --list
    ///   chunkwise bench --format json
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
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
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chunkwise: error: {e}");
            ExitCode::from(1)
        }
    }
}
