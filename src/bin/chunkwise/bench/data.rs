//! The benchmark's data: an ERA5-like (time, lat, lon) f32 field, generated
//! deterministically and only when missing, stored as Zarr v3 + zstd-1, Zarr v2 +
//! blosc-lz4 and (with the `hdf5` feature) HDF5 + gzip-1 + shuffle, all in
//! (10, lat, lon) chunks, under a cache directory (`--data-dir`; default
//! `$CHUNKWISE_BENCH_DATA`, else `$XDG_CACHE_HOME/chunkwise/bench`, else
//! `~/.cache/chunkwise/bench`, else the temp directory) in one folder per size.
//!
//! The field is a seasonal cycle plus a latitude gradient plus Gaussian noise from the
//! engine's counter-based generator (the same values for any chunking or thread
//! count), rounded to 0.01 like ERA5's packed values, with ~1% NaN holes. Every
//! store is written through `to_zarr` / `to_hdf5`, which stage and rename, so an
//! interrupted generation leaves nothing that would be mistaken for data.

use chunkwise::io::zarr_write::{ZarrCodec, ZarrVersion, ZarrWriteOptions};
use chunkwise::{Array, DType, Error, Result, where_};
use std::path::{Path, PathBuf};

/// Problem sizes: the time length of the (time, 721, 1440) field (tiny: a coarse grid).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// (20, 73, 144), 0.8 MB: for tests.
    Tiny,
    /// (73, 721, 1440), 0.3 GB.
    Small,
    /// (365, 721, 1440), 1.5 GB.
    Medium,
    /// (1460, 721, 1440), 6 GB.
    Large,
}

impl Size {
    /// The field's shape.
    pub fn shape(self) -> [usize; 3] {
        match self {
            Size::Tiny => [20, 73, 144],
            Size::Small => [73, 721, 1440],
            Size::Medium => [365, 721, 1440],
            Size::Large => [1460, 721, 1440],
        }
    }

    /// Stored (and in-memory) chunks: ten time steps of the whole grid.
    pub fn chunks(self) -> [usize; 3] {
        let s = self.shape();
        [10, s[1], s[2]]
    }

    /// Lower-case name, for paths and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }
}

/// The default cache directory.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CHUNKWISE_BENCH_DATA") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache.map_or_else(
        || std::env::temp_dir().join("chunkwise-bench"),
        |c| c.join("chunkwise/bench"),
    )
}

/// The field, lazily: a pure function of its size.
pub fn field(size: Size) -> Result<Array> {
    let shape = size.shape();
    let chunks = size.chunks();
    let (nt, ny) = (shape[0], shape[1]);
    let season = ndarray::Array::from_shape_fn((nt, 1, 1), |(t, _, _)| {
        10.0 * (std::f64::consts::TAU * t as f64 / 365.0).cos()
    });
    let half = (ny as f64 - 1.0) / 2.0;
    let lat = ndarray::Array::from_shape_fn((1, ny, 1), |(_, j, _)| -40.0 * ((j as f64 - half) / half).powi(2));
    let noise = Array::random_normal(&shape, 288.0, 3.0, 20240917, chunks)?;
    let x = (&noise + &Array::from_ndarray(season, [10, 1, 1])?) + Array::from_ndarray(lat, [1, ny, 1])?;
    let x = (&x * 100.0).round() / 100.0;
    let holes = Array::random_uniform(&shape, 0.0, 1.0, 7, chunks)?.less(0.01)?;
    Ok(where_(&holes, f64::NAN, &x)?.astype(DType::F32))
}

/// The field materialised in memory (outside any timed region).
pub fn memory_field(size: Size) -> Result<Array> {
    Array::from_ndarray(field(size)?.compute::<f32>()?, size.chunks())
}

/// Where one size's stores live.
pub struct Stores {
    /// Zarr v3, zstd-1.
    pub zarr3: PathBuf,
    /// Zarr v2, blosc-lz4 + shuffle.
    pub zarr2: PathBuf,
    /// HDF5, gzip-1 + shuffle, dataset `/t2m`.
    pub hdf5: PathBuf,
}

impl Stores {
    /// The paths for `size` under `dir` (nothing is created).
    pub fn at(dir: &Path, size: Size) -> Self {
        let d = dir.join(size.name());
        Stores {
            zarr3: d.join("t2m_zarr3.zarr"),
            zarr2: d.join("t2m_zarr2.zarr"),
            hdf5: d.join("t2m.h5"),
        }
    }

    /// The SOURCE string of the HDF5 store.
    #[cfg(feature = "hdf5")]
    pub fn hdf5_source(&self) -> String {
        format!("{}:/t2m", self.hdf5.display())
    }

    /// Writes whichever of the stores `formats` names ("zarr3", "zarr2", "hdf5") is
    /// missing; the field is computed once for all of them.
    pub fn ensure(&self, size: Size, formats: &[&str]) -> Result<()> {
        let missing: Vec<&str> = formats
            .iter()
            .copied()
            .filter(|f| match *f {
                "zarr3" => !self.zarr3.exists(),
                "zarr2" => !self.zarr2.exists(),
                "hdf5" => cfg!(feature = "hdf5") && !self.hdf5.exists(),
                _ => false,
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let dir = self.zarr3.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        eprintln!(
            "generating the {} field for {} under {}",
            size.name(),
            missing.join(", "),
            dir.display()
        );
        let x = memory_field(size)?;
        for f in missing {
            match f {
                "zarr3" => x.to_zarr(&self.zarr3, &ZarrWriteOptions::default())?,
                "zarr2" => x.to_zarr(
                    &self.zarr2,
                    &ZarrWriteOptions {
                        codec: ZarrCodec::BloscLz4(5),
                        version: ZarrVersion::V2,
                        ..ZarrWriteOptions::default()
                    },
                )?,
                #[cfg(feature = "hdf5")]
                "hdf5" => {
                    let opts = chunkwise::io::hdf5::write::Hdf5WriteOptions {
                        deflate: Some(1),
                        ..Default::default()
                    };
                    x.to_hdf5(&self.hdf5, "t2m", &opts)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
