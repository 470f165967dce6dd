//! Storage round trip: generate a small ERA5-like field, write it as Zarr v3 (zstd) and,
//! with the `hdf5` feature, as an HDF5 dataset (gzip + shuffle), read both back lazily
//! and compare their time means.
//!
//! ```sh
//! cargo run --release --example convert [--features hdf5]
//! ```

use chunkwise::io::zarr_write::{ZarrCodec, ZarrWriteOptions};
use chunkwise::{Array, DType};

fn main() -> chunkwise::Result<()> {
    let dir = std::env::temp_dir().join(format!("chunkwise-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| chunkwise::Error::Io {
        path: dir.clone(),
        source: e,
    })?;
    // 60 days × 1° grid, in 10-day blocks; generated lazily, written block by block.
    let t2m = Array::random_normal(&[60, 181, 360], 288.0, 5.0, 7, [10, 181, 360])?.astype(DType::F32);
    let zarr = dir.join("t2m.zarr");
    t2m.to_zarr(
        &zarr,
        &ZarrWriteOptions {
            codec: ZarrCodec::Zstd(1),
            ..ZarrWriteOptions::default()
        },
    )?;
    let from_zarr = Array::from_zarr(&zarr)?.nanmean(0)?.compute::<f32>()?;
    println!(
        "Zarr v3: {} chunks, mean of the time mean {:.3}",
        Array::from_zarr(&zarr)?.num_blocks(),
        from_zarr.mean().unwrap_or(f32::NAN)
    );

    #[cfg(feature = "hdf5")]
    {
        use chunkwise::io::hdf5::write::Hdf5WriteOptions;
        let h5 = dir.join("t2m.h5");
        t2m.to_hdf5(&h5, "/surface/t2m", &Hdf5WriteOptions::default())?;
        let from_h5 = Array::from_hdf5(&h5, "/surface/t2m")?.nanmean(0)?.compute::<f32>()?;
        assert_eq!(from_h5, from_zarr, "both stores hold the same values");
        println!("HDF5: identical time mean");
    }
    std::fs::remove_dir_all(&dir).map_err(|e| chunkwise::Error::Io { path: dir, source: e })?;
    Ok(())
}
