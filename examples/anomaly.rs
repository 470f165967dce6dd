//! Departure from the time mean and its spatial spread per time step, on a generated
//! ERA5-like daily field: `nanstd(x - nanmean(x, axis=0), axis=(1, 2))`.
//!
//! `cargo run --release --example anomaly`

use chunkwise::{Array, DType, Runtime, where_};
use std::time::Instant;

fn main() -> chunkwise::Result<()> {
    let shape = [365, 181, 360];
    let chunks = [10, 181, 360];
    let noise = Array::random_normal(&shape, 288.0, 4.0, 1, chunks)?;
    let holes = Array::random_uniform(&shape, 0.0, 1.0, 2, chunks)?.less(0.01)?;
    let t2m = where_(&holes, f64::NAN, &noise)?.astype(DType::F32);
    let t0 = Instant::now();
    let clim = t2m.nanmean(0)?;
    let spread = (&t2m - &clim).nanstd([1, 2], 0.0)?;
    let out = Runtime::global().compute_many(&[&spread])?;
    let s = out[0].to_ndarray::<f32>()?;
    println!(
        "{} daily spreads in {:.2} s; first {:.3}, mean {:.3}",
        s.len(),
        t0.elapsed().as_secs_f64(),
        s[0],
        s.mean().unwrap_or(f32::NAN)
    );
    Ok(())
}
