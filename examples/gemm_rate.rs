//! The GEMM floor for `chunkwise bench matmul`: the rate of block products
//! (`c += a·b`, f64, n×n, four accumulated into one block as a matmul task does) on one
//! core, and on every core at once (one task each, as the scheduler runs them), for
//! the kernel chunkwise uses and for the portable `matrixmultiply` path; and the
//! micro-kernel's own rate with its panels in L1, the ceiling of a core.
//!
//! ```sh
//! cargo run --release --example gemm_rate -- 2000
//! ```

use chunkwise::device::cpu::gemm::{Gemm, gemm_acc_portable, kernel_peak_gflops, uses_packed_kernels};
use std::time::Instant;

type Product = fn(&[f64], &[f64], &mut [f64], usize, usize, usize);

fn rate(n: usize, threads: usize, product: Product) -> f64 {
    let a: Vec<f64> = (0..n * n).map(|i| (i % 101) as f64 / 101.0 - 0.5).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 97) as f64 / 97.0 - 0.5).collect();
    let mut cs: Vec<Vec<f64>> = (0..threads).map(|_| vec![1.0f64; n * n]).collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in &mut cs {
            let (a, b) = (&a, &b);
            s.spawn(move || {
                for _ in 0..4 {
                    product(a, b, c, n, n, n);
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
    if let Some(peak) = kernel_peak_gflops(400_000) {
        println!("micro-kernel alone (panels in L1): {peak:.1} GFLOP/s on one core");
    }
    let kernels: [(&str, Product); 2] = [
        (
            if uses_packed_kernels() {
                "chunkwise (packed; f64 AVX-512 where the CPU has it, else AVX2)"
            } else {
                "chunkwise (portable)"
            },
            f64::gemm_acc,
        ),
        ("matrixmultiply", gemm_acc_portable::<f64>),
    ];
    for (name, product) in kernels {
        rate(n.min(500), 1, product); // warm-up
        println!(
            "{name}: f64 GEMM {n}×{n}: {:.1} GFLOP/s on one core",
            rate(n, 1, product)
        );
        println!(
            "{name}: f64 GEMM {n}×{n}: {:.1} GFLOP/s on {cores} cores (one product each)",
            rate(n, cores, product)
        );
    }
}
