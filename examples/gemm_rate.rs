//! The GEMM floor for `chunkwise bench matmul`: the rate of block products
//! (`c += a·b`, f64, n×n, four accumulated into one block as a matmul task does) on one
//! core, and on every core at once (one task each, as the scheduler runs them).
//!
//! ```sh
//! cargo run --release --example gemm_rate -- 2000
//! ```

use chunkwise::device::cpu::gemm::Gemm;
use std::time::Instant;

fn rate(n: usize, threads: usize) -> f64 {
    let a: Vec<f64> = (0..n * n).map(|i| (i % 101) as f64 / 101.0 - 0.5).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 97) as f64 / 97.0 - 0.5).collect();
    let mut cs: Vec<Vec<f64>> = (0..threads).map(|_| vec![1.0f64; n * n]).collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in &mut cs {
            let (a, b) = (&a, &b);
            s.spawn(move || {
                for _ in 0..4 {
                    f64::gemm_acc(a, b, c, n, n, n);
                }
            });
        }
    });
    std::hint::black_box(&cs);
    8.0 * (n as f64).powi(3) * threads as f64 / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    rate(n.min(500), 1); // warm-up
    println!("f64 GEMM {n}×{n}: {:.1} GFLOP/s on one core", rate(n, 1));
    println!(
        "f64 GEMM {n}×{n}: {:.1} GFLOP/s on {cores} cores (one product each)",
        rate(n, cores)
    );
}
