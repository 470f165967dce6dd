//! The anomaly: departures of a daily (time, lat, lon) field from its time mean, and
//! their spatial standard deviation per day — `nanstd(x - nanmean(x, axis=0), axis=(1, 2))`.
//!
//! `x` is needed twice, and the second use waits for the whole mean: dask holds all of
//! `x` in memory for that. chunkwise holds what fits an eighth of the memory budget and
//! reads the rest from storage again (the `reread-shared` rule); set a small budget and
//! it reads everything twice, in bounded memory.
//!
//! ```sh
//! cargo run --release --example anomaly                       # a generated 0.3 GB field
//! cargo run --release --example anomaly -- t2m.zarr 512MiB    # a store of yours, a budget
//! ```

use chunkwise::io::zarr_write::ZarrWriteOptions;
use chunkwise::{Array, Config, DType, Runtime, bytesize};

fn main() -> chunkwise::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.first() {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            // A (73, 721, 1440) field: noise around a seasonal cycle, written once.
            let p = std::env::temp_dir().join("chunkwise-example-anomaly.zarr");
            if !p.exists() {
                let season = ndarray::Array::from_shape_fn((73, 1, 1), |(t, _, _)| {
                    10.0 * (std::f64::consts::TAU * t as f64 / 73.0).cos()
                });
                let x = Array::random_normal(&[73, 721, 1440], 288.0, 3.0, 1, [10, 721, 1440])?
                    + Array::from_ndarray(season, [10, 1, 1])?;
                x.astype(DType::F32).to_zarr(&p, &ZarrWriteOptions::default())?;
            }
            p
        }
    };
    let limit = args.get(1).map(|s| bytesize::parse_size(s)).transpose()?;
    let rt = Runtime::new(Config {
        memory_limit: limit.or(Some(chunkwise::runtime::default_memory_limit())),
        ..Config::default()
    })?;
    let x = Array::from_zarr(&path)?;
    let spread = (&x - &x.nanmean(0)?).nanstd([1, 2], 0.0)?;
    let t0 = std::time::Instant::now();
    let (out, stats) = rt.compute_with_stats(&[&spread])?;
    let s = out[0].to_ndarray::<f32>()?;
    println!(
        "{}: {:?} {} -> spatial std of the anomaly for {} steps in {:.2} s",
        path.display(),
        x.shape(),
        x.dtype(),
        s.len(),
        t0.elapsed().as_secs_f64()
    );
    println!("first steps: {:?}", s.iter().take(5).collect::<Vec<_>>());
    println!(
        "read {} (the array is {}), held at most {} under a budget of {}",
        bytesize::format_size(stats.bytes_read),
        bytesize::format_size(x.nbytes()),
        bytesize::format_size(stats.peak_bytes),
        rt.config()
            .memory_limit
            .map_or_else(|| "none".into(), bytesize::format_size)
    );
    Ok(())
}
