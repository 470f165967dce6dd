//! nanmean over time on a GPU and on the CPU, side by side.
//!
//! ```text
//! cargo run --release --features cuda --example gpu_mean              # in-memory (365, 721, 1440) f32
//! cargo run --release --features cuda --example gpu_mean -- 120       # 120 time steps
//! cargo run --release --features cuda --example gpu_mean -- era5.zarr # a stored (time, lat, lon) array
//! ```
//!
//! The same graph runs on two runtimes, one with `DeviceKind::Cuda` (every block's chunk
//! step on the GPU, partials combined in device memory, one result downloaded) and one
//! on the CPU; it prints the median of three timed runs after a warm-up (which
//! includes compiling the kernels with NVRTC), the data rate, the bytes moved to and
//! from the GPU, and how far the two results are apart.

use chunkwise::device::DeviceKind;
use chunkwise::{Array, Config, Runtime};
use std::time::Instant;

fn median_time(rt: &Runtime, a: &Array) -> chunkwise::Result<(f64, Vec<f64>)> {
    let mut out = rt.compute_many(&[a])?; // warm-up
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        out = rt.compute_many(&[a])?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let v = out[0].data().cast(chunkwise::DType::F64);
    let v = v.as_slice::<f64>().map(<[f64]>::to_vec).unwrap_or_default();
    Ok((times[1], v))
}

fn main() -> chunkwise::Result<()> {
    let arg = std::env::args().nth(1);
    let x = match arg.as_deref() {
        Some(p) if std::path::Path::new(p).exists() => Array::from_zarr(p)?,
        other => {
            let t: usize = other.and_then(|s| s.parse().ok()).unwrap_or(365);
            // A seasonal cycle plus a north-south gradient plus a little hash noise,
            // with ~1% NaN (the bench's generator does the same into Zarr).
            let a = ndarray::Array3::from_shape_fn((t, 721, 1440), |(i, j, k)| {
                let h = (i * 7_919 + j * 104_729 + k * 1_299_709) % 1009;
                if h < 10 {
                    f32::NAN
                } else {
                    let season = (i as f32 * std::f32::consts::TAU / 365.0).sin() * 10.0;
                    season + 30.0 - j as f32 * 0.08 + (h as f32 / 1009.0 - 0.5)
                }
            });
            Array::from_ndarray(a, vec![10usize, 721, 1440])?
        }
    };
    let m = x.nanmean(0)?;
    let gb = x.nbytes() as f64 / 1e9;
    println!(
        "nanmean over axis 0 of {:?} {} ({gb:.2} GB), chunks {:?}",
        x.shape(),
        x.dtype(),
        x.chunks().iter().map(|c| c[0]).collect::<Vec<_>>()
    );
    let gpu = Runtime::new(Config {
        device: DeviceKind::Cuda,
        ..Config::default()
    })?;
    let dev = gpu.gpu().ok_or_else(|| chunkwise::Error::msg("no GPU"))?;
    println!("GPU: {}", dev.describe()?);
    let cpu = Runtime::new(Config {
        device: DeviceKind::Cpu,
        ..Config::default()
    })?;
    dev.reset_counters()?;
    let (tg, vg) = median_time(&gpu, &m)?;
    let moved = dev.memory()?;
    let (tc, vc) = median_time(&cpu, &m)?;
    let diff = vg
        .iter()
        .zip(&vc)
        .filter(|(a, b)| !(a.is_nan() && b.is_nan()))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "cuda  {tg:.3} s  {:.1} GB/s   (4 runs moved {:.2} GB up, {:.1} MB down; device peak {:.1} MB)",
        gb / tg,
        moved.uploaded as f64 / 1e9,
        moved.downloaded as f64 / 1e6,
        moved.peak as f64 / 1e6
    );
    println!("cpu   {tc:.3} s  {:.1} GB/s   ({} threads)", gb / tc, cpu.threads());
    println!("cpu/cuda time ratio {:.2}; largest difference {diff:e}", tc / tg);
    Ok(())
}
