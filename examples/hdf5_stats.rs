//! Statistics of one variable of a NetCDF-4 / HDF5 file: shape, chunks, and min, max,
//! mean, std and the count of valid values, computed in one pass (the file is read once
//! for all five: they share its blocks), its chunks inflated in parallel outside
//! libhdf5's lock.
//!
//! ```sh
//! cargo run --release --features hdf5 --example hdf5_stats                 # a generated file
//! cargo run --release --features hdf5 --example hdf5_stats -- era5.nc /t2m
//! ```

use chunkwise::io::hdf5::write::Hdf5WriteOptions;
use chunkwise::{Array, DType, Runtime, where_};

fn main() -> chunkwise::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, var) = match (args.first(), args.get(1)) {
        (Some(f), Some(v)) => (std::path::PathBuf::from(f), v.clone()),
        _ => {
            // A (120, 181, 360) f32 field with 2% missing values, gzip + shuffle.
            let f = std::env::temp_dir().join("chunkwise-example-stats.h5");
            if !f.exists() {
                let x = Array::random_normal(&[120, 181, 360], 280.0, 12.0, 5, [12, 181, 360])?;
                let holes = Array::random_uniform(&[120, 181, 360], 0.0, 1.0, 6, [12, 181, 360])?.less(0.02)?;
                let x = where_(&holes, f64::NAN, &x)?.astype(DType::F32);
                x.to_hdf5(&f, "/surface/t2m", &Hdf5WriteOptions::default())?;
            }
            (f, "/surface/t2m".to_string())
        }
    };
    // Decoded as xarray reads it: packed integers unpacked, fill values NaN.
    let x = Array::from_hdf5_cf(&file, &var)?;
    let stats = [
        ("min", x.nanmin(None)?),
        ("max", x.nanmax(None)?),
        ("mean", x.nanmean(None)?),
        ("std", x.nanstd(None, 0.0)?),
        ("valid", x.count(None)?),
    ];
    let arrays: Vec<&Array> = stats.iter().map(|(_, a)| a).collect();
    let t0 = std::time::Instant::now();
    let out = Runtime::global().compute_many(&arrays)?;
    println!(
        "{}:{var}  shape {:?}  {}  blocks {:?}  ({:.2} s)",
        file.display(),
        x.shape(),
        x.dtype(),
        x.grid().nblocks(),
        t0.elapsed().as_secs_f64()
    );
    for ((name, _), v) in stats.iter().zip(&out) {
        println!("  {name:<6} {}", v.data().get_f64(0));
    }
    Ok(())
}
