//! Device-resident reduction rate against the card's copy bandwidth.
//!
//! ```text
//! cargo run --release --features cuda --example gpu_bandwidth          # 1 GiB of f32
//! cargo run --release --features cuda --example gpu_bandwidth -- 4096  # MiB
//! ```
//!
//! The data is uploaded once; then, timed with the stream synchronised (median of 20
//! after 3 warm-ups): a copy kernel (`cast` f32 → f32, bytes read + written: the
//! ceiling a reduction can approach), a sum over everything (the rows kernel, long rows
//! split into segments), a nanmean over axis 0 of a (time, space) view (the columns
//! kernel, as the nanmean-over-time workload), and a nanstd over axis 0.

use chunkwise::device::cuda::CudaDevice;
use chunkwise::{Buffer, DType, ReduceOp};
use std::time::Instant;

fn median(dev: CudaDevice, mut f: impl FnMut() -> chunkwise::Result<()>) -> chunkwise::Result<f64> {
    for _ in 0..3 {
        f()?;
    }
    dev.synchronize()?;
    let mut t = Vec::new();
    for _ in 0..20 {
        let s = Instant::now();
        f()?;
        dev.synchronize()?;
        t.push(s.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn main() -> chunkwise::Result<()> {
    let mib: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let n = mib << 18; // f32 elements
    let dev = CudaDevice::new(0)?;
    println!("{}; {mib} MiB of f32 resident", dev.describe()?);
    let host: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 0.001).collect();
    let x = dev.upload(&Buffer::F32(host))?;
    let bytes = (n * 4) as f64;
    let copy = median(dev, || dev.cast(&x, DType::F32).map(drop))?;
    println!("copy kernel   {:7.1} GB/s (read + write)", 2.0 * bytes / copy / 1e9);
    let sum = median(dev, || dev.reduce(ReduceOp::Sum, &x, &[n], &[0], 0).map(drop))?;
    let cols = 721 * 1440;
    let rows = n / cols;
    let view = [rows, cols];
    let m = n - n % cols;
    let xv = if m == n {
        None
    } else {
        Some(dev.upload(&Buffer::F32(vec![0.5; m]))?)
    };
    let xv = xv.as_ref().unwrap_or(&x);
    let mean = median(dev, || dev.reduce(ReduceOp::NanMean, xv, &view, &[0], 0).map(drop))?;
    let std = median(dev, || dev.reduce(ReduceOp::NanStd, xv, &view, &[0], 0).map(drop))?;
    let vb = (m * 4) as f64;
    for (what, t, b) in [
        ("sum (all)", sum, bytes),
        ("nanmean axis 0", mean, vb),
        ("nanstd axis 0", std, vb),
    ] {
        println!(
            "{what:<14}{:7.1} GB/s read, {:.2} of the copy kernel's read+write rate",
            b / t / 1e9,
            (b / t) / (2.0 * bytes / copy)
        );
    }
    Ok(())
}
