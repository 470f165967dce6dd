//! Parsing a SOURCE argument into a lazy array.
//!
//! `path/store.zarr` or `path/store.zarr/group/array` (Zarr v2 or v3, recognised by its
//! metadata files), or `file.h5:/group/dataset` / `file.nc:/group/var` (HDF5, NetCDF-4;
//! `file.nc:var` too).

use chunkwise::{Array, Error, Result};
use std::path::Path;

/// A parsed SOURCE.
pub enum Source<'a> {
    /// A Zarr array directory.
    Zarr(&'a Path),
    /// An HDF5 file and a dataset path inside it.
    Hdf5(&'a Path, &'a str),
}

/// Splits `file.h5:/dataset` forms from plain paths. The `/` after the colon may be
/// left out (`file.nc:t2m`, as netCDF tools and xarray users name variables); the part
/// before the colon must then end as an HDF5/netCDF file does or be a file, so a Zarr
/// directory with a colon in its name (`run:2020.zarr`) stays a Zarr path.
pub fn parse(s: &str) -> Source<'_> {
    let hdf5_file = |file: &str| {
        let lower = file.to_ascii_lowercase();
        [".h5", ".hdf5", ".hdf", ".nc", ".nc4", ".he5"]
            .iter()
            .any(|e| lower.ends_with(e))
            || Path::new(file).is_file()
    };
    if let Some(i) = s.rfind(":/") {
        let file = &s[..i];
        if hdf5_file(file) {
            return Source::Hdf5(Path::new(file), &s[i + 1..]);
        }
    }
    if let Some((file, dataset)) = s.rsplit_once(':')
        && !dataset.is_empty()
        && !dataset.starts_with('/')
        && hdf5_file(file)
    {
        return Source::Hdf5(Path::new(file), dataset);
    }
    Source::Zarr(Path::new(s))
}

/// Opens a SOURCE.
///
/// # Errors
/// A missing path, something that is not an array, invalid metadata; HDF5 sources when
/// the binary was built without the `hdf5` feature.
pub fn open(s: &str) -> Result<Array> {
    match parse(s) {
        Source::Zarr(p) => {
            #[cfg(feature = "hdf5")]
            if p.is_file() && chunkwise::io::hdf5::is_hdf5(p) {
                return Err(Error::InvalidArgument(format!(
                    "{}: is an HDF5/NetCDF-4 file: name the dataset as {}:/path/to/dataset",
                    p.display(),
                    p.display()
                )));
            }
            Array::from_zarr(p)
        }
        Source::Hdf5(file, dataset) => open_hdf5(file, dataset),
    }
}

#[cfg(feature = "hdf5")]
fn open_hdf5(file: &Path, dataset: &str) -> Result<Array> {
    Array::from_hdf5(file, dataset)
}

#[cfg(not(feature = "hdf5"))]
fn open_hdf5(file: &Path, dataset: &str) -> Result<Array> {
    if !file.exists() {
        return Err(Error::Io {
            path: file.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    Err(Error::Unsupported(format!(
        "{}:{dataset}: this chunkwise was built without HDF5 support (rebuild with --features hdf5)",
        file.display()
    )))
}

/// The CF decoding xarray's `open_dataset` would apply to SOURCE's stored values of
/// dtype `stored` (`_FillValue`/`missing_value` → NaN, `scale_factor`, `add_offset`;
/// see `chunkwise::io::cf`); `None` when there is nothing to decode.
///
/// # Errors
/// Unreadable or unusable CF attributes, named with the source.
pub fn cf_decoding(s: &str, stored: chunkwise::DType) -> Result<Option<chunkwise::io::cf::CfDecoding>> {
    let attrs = match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::cf_attrs(p, stored)?,
        Source::Hdf5(file, dataset) => hdf5_cf_attrs(file, dataset)?,
    };
    chunkwise::io::cf::CfDecoding::new(stored, &attrs).map_err(|e| match e {
        Error::Unsupported(m) => Error::Unsupported(format!("{s}: {m}")),
        Error::Format(m) => Error::Format(format!("{s}: {m}")),
        e => e,
    })
}

/// Opens a SOURCE and, unless `raw`, decodes it by its CF attributes ([`cf_decoding`]).
///
/// # Errors
/// As [`open`] and [`cf_decoding`].
pub fn open_decoded(s: &str, raw: bool) -> Result<Array> {
    let x = open(s)?;
    if raw {
        return Ok(x);
    }
    match cf_decoding(s, x.dtype())? {
        Some(cf) => x.decode_cf(&cf),
        None => Ok(x),
    }
}

#[cfg(feature = "hdf5")]
fn hdf5_cf_attrs(file: &Path, dataset: &str) -> Result<chunkwise::io::cf::CfAttrs> {
    chunkwise::io::hdf5::cf_attrs(file, dataset)
}

#[cfg(not(feature = "hdf5"))]
fn hdf5_cf_attrs(_file: &Path, _dataset: &str) -> Result<chunkwise::io::cf::CfAttrs> {
    Ok(chunkwise::io::cf::CfAttrs::default())
}

/// The dimension names of SOURCE's axes, where the store records them: Zarr v3
/// `dimension_names` or xarray's v2 `_ARRAY_DIMENSIONS`, HDF5/NetCDF-4 dimension scales.
pub fn dimension_names(s: &str) -> Option<Vec<String>> {
    match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::dimension_names(p),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => chunkwise::io::hdf5::dimension_names(file, dataset),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => None,
    }
}

/// Shape, stored data type and chunk shape of SOURCE from its metadata alone, for
/// listing an array chunkwise cannot open (text); `None` when unreadable.
pub fn stored_layout(s: &str) -> Option<(Vec<u64>, String, Vec<u64>)> {
    match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::stored_layout(p),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => chunkwise::io::hdf5::stored_layout(file, dataset),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => None,
    }
}

/// SOURCE's `units` attribute, when it has one that is a string.
pub fn units(s: &str) -> Option<String> {
    string_attr(s, "units")
}

/// SOURCE's string attribute `key`, when it has one.
pub fn string_attr(s: &str, key: &str) -> Option<String> {
    match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::attributes(p)
            .ok()?
            .get(key)?
            .as_str()
            .map(ToString::to_string),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => chunkwise::io::hdf5::string_attr(file, dataset, key).ok()?,
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => None,
    }
}

/// The array named `name` beside SOURCE `s`, as a SOURCE, when it exists and holds
/// values: where a dimension's coordinate is. In a Zarr store, the same group (as
/// xarray looks); in a NetCDF-4 file, the same group or the nearest group above it
/// that has one, netCDF's scoping of dimensions (`/surface/t2m` over dimension `lat`
/// defined at the root has its coordinate in `/lat`).
pub fn sibling(s: &str, name: &str) -> Option<String> {
    match parse(s) {
        Source::Zarr(p) => {
            let c = p.parent().unwrap_or(Path::new(".")).join(name);
            chunkwise::io::zarr::is_zarr(&c).then(|| c.display().to_string())
        }
        Source::Hdf5(file, ds) => {
            let mut group = ds.rsplit_once('/').map_or("", |(g, _)| g);
            loop {
                let object = format!("{group}/{name}");
                if hdf5_has_values(file, &object) {
                    return Some(format!("{}:{object}", file.display()));
                }
                group = group.rsplit_once('/')?.0;
            }
        }
    }
}

/// Whether the HDF5 dataset holds values (a netCDF dimension without a coordinate
/// variable does not).
#[cfg(feature = "hdf5")]
fn hdf5_has_values(file: &Path, object: &str) -> bool {
    chunkwise::io::hdf5::has_values(file, object)
}

#[cfg(not(feature = "hdf5"))]
fn hdf5_has_values(_file: &Path, _object: &str) -> bool {
    false
}

/// Opens a SOURCE as the storage reader itself (for benchmarks that bypass the graph).
///
/// # Errors
/// As [`open`].
pub fn open_reader(s: &str) -> Result<std::sync::Arc<dyn chunkwise::io::ChunkSource>> {
    match parse(s) {
        Source::Zarr(p) => Ok(std::sync::Arc::new(chunkwise::io::zarr::ZarrSource::open(p)?)),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => Ok(std::sync::Arc::new(chunkwise::io::hdf5::Hdf5Source::open(
            file, dataset,
        )?)),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(file, dataset) => open_hdf5(file, dataset).map(|_| unreachable!("needs the hdf5 feature")),
    }
}
