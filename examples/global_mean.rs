//! The global-mean temperature series of a (time, lat, lon) field, the way a climate
//! scientist computes it: area-weighted by cos(latitude), missing values dropped from
//! the weights too, smoothed with a centred running mean; plus the field box-averaged
//! from 0.25° to 1°.
//!
//! ```sh
//! cargo run --release --example global_mean                  # a generated field in memory
//! cargo run --release --example global_mean -- t2m.zarr      # a store of yours (time, lat, lon)
//! ```

use chunkwise::{Array, ReduceOp, RollingOptions};

fn main() -> chunkwise::Result<()> {
    let x = match std::env::args().nth(1) {
        // Decoded as xarray reads it: packed integers unpacked, fill values NaN.
        Some(path) => Array::from_zarr_cf(&path)?,
        // 120 steps of a 0.25° grid: a seasonal cycle and noise, never held whole.
        None => {
            let season = ndarray::Array::from_shape_fn((120, 1, 1), |(t, _, _)| {
                10.0 * (std::f64::consts::TAU * t as f64 / 120.0).cos()
            });
            Array::random_normal(&[120, 721, 1440], 288.0, 3.0, 7, [10, 721, 1440])?
                + Array::from_ndarray(season, [10, 1, 1])?
        }
    };
    let t0 = std::time::Instant::now();
    let series = x.weighted(&coslat(x.shape()[1])?)?.mean([1, 2])?;
    let centred = RollingOptions {
        center: true,
        min_periods: Some(1),
    };
    let smooth = series.rolling(0, 5, ReduceOp::Mean, &centred)?;
    let coarse = x.coarsen(ReduceOp::NanMean, &[(1, 4), (2, 4)], true)?;
    // (Its latitudes are the box centres only approximately: a sketch, not a regridder.)
    let coarse_mean = coarse.weighted(&coslat(coarse.shape()[1])?)?.mean(None)?;
    let out = chunkwise::Runtime::global().compute_many(&[&series, &smooth, &coarse_mean])?;
    let (series, smooth) = (out[0].to_ndarray::<f64>()?, out[1].to_ndarray::<f64>()?);
    println!(
        "{:?} {} field, {:.2} s",
        x.shape(),
        x.dtype(),
        t0.elapsed().as_secs_f64()
    );
    println!(
        "area-weighted global mean, first steps: {:?}",
        series.iter().take(4).collect::<Vec<_>>()
    );
    println!(
        "5-step centred running mean:           {:?}",
        smooth.iter().take(4).collect::<Vec<_>>()
    );
    println!(
        "mean of the 1° box averages (shape {:?}): {}",
        coarse.shape(),
        out[2].data().get_f64(0)
    );
    Ok(())
}

/// cos(latitude) of `n` rows from 90° to -90°, as a (lat, 1) array that broadcasts over
/// longitude.
fn coslat(n: usize) -> chunkwise::Result<Array> {
    Array::linspace(90.0, -90.0, n, [n])?
        .deg2rad()
        .cos()
        .reshape(&[n as isize, 1])
}
