//! A monthly climatology of a daily field — xarray's `ds.groupby("time.month").mean()` —
//! in one pass over the data, in bounded memory (the group-by keeps per-month partials
//! only for the months present in each block).
//!
//! ```sh
//! cargo run --release --example climatology                    # a generated 2-year field
//! cargo run --release --example climatology -- t2m.zarr 2001-01-01
//! ```
//!
//! On the command line the same is
//! `chunkwise reduce t2m.zarr --op nanmean --groupby month --time-origin 2001-01-01 --time-step 1d`
//! (or, with a CF `time` coordinate in the store, just `--groupby month`).

use chunkwise::io::zarr_write::ZarrWriteOptions;
use chunkwise::time::{Calendar, CfTime, GroupBy};
use chunkwise::{Array, DType, GroupByOptions, ReduceOp};

fn main() -> chunkwise::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, origin) = match args.first() {
        Some(p) => (
            std::path::PathBuf::from(p),
            args.get(1).cloned().unwrap_or("2001-01-01".into()),
        ),
        None => {
            // Two years of daily data on a coarse grid: a seasonal cycle plus noise.
            let p = std::env::temp_dir().join("chunkwise-example-climatology.zarr");
            if !p.exists() {
                let season = ndarray::Array::from_shape_fn((730, 1, 1), |(t, _, _)| {
                    -10.0 * (std::f64::consts::TAU * t as f64 / 365.0).cos()
                });
                let x = Array::random_normal(&[730, 181, 360], 288.0, 2.0, 5, [10, 181, 360])?
                    + Array::from_ndarray(season, [10, 1, 1])?;
                x.astype(DType::F32).to_zarr(&p, &ZarrWriteOptions::default())?;
            }
            (p, "2001-01-01".into())
        }
    };
    let x = Array::from_zarr(&path)?;
    let time = CfTime::parse_units(&format!("days since {origin}"), Calendar::Standard)?;
    let days: Vec<f64> = (0..x.shape()[0]).map(|d| d as f64).collect();
    let (labels, n) = GroupBy::Month.labels(&time, &days)?;
    let opts = GroupByOptions {
        ngroups: Some(n),
        ..GroupByOptions::default()
    };
    let t = std::time::Instant::now();
    let clim = x.groupby_reduce(&labels, 0, ReduceOp::NanMean, &opts)?;
    let c = clim.compute::<f32>()?;
    let names = GroupBy::Month.group_names(n, 0);
    for (m, name) in names.iter().enumerate() {
        let month = c.index_axis(ndarray::Axis(0), m);
        println!(
            "{name}: mean {:.2}",
            month.iter().map(|&v| f64::from(v)).sum::<f64>() / month.len() as f64
        );
    }
    println!(
        "{:?} → {:?} in {:.2} s",
        x.shape(),
        c.shape(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
