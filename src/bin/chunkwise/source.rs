//! Parsing a SOURCE argument into a lazy array.
//!
//! `path/store.zarr` or `path/store.zarr/group/array` (Zarr v2 or v3, recognised by its
//! metadata files), or `file.h5:/group/dataset` / `file.nc:/group/var` (HDF5, NetCDF-4;
//! `file.nc:var` too), or `file.nc:var` of a netCDF-3 file (classic, 64-bit offset or
//! CDF-5, recognised by its first bytes and read by `chunkwise::io::netcdf3` in every
//! feature set).
//!
//! **Several files as one** (xarray's `open_mfdataset`): a pattern in the file part —
//! `era5_*.nc:t2m`, `runs/19??.zarr/t2m` — names every matching file, in sorted order,
//! concatenated along the first axis (the record dimension, time in ERA5 and CMIP
//! files). Each file is CF-decoded by its own attributes (ERA5 packs every file with its
//! own `scale_factor`); the files must agree on shape off that axis, on `units` and
//! `calendar`, and on the coordinates of the other dimensions, and must differ in the
//! first axis's coordinate (the same `lat` in every file is not a split dataset), or the
//! source is refused by name. The first axis's coordinate (`time`) is the files' coordinates joined the
//! same way; every other coordinate is the first file's.

use chunkwise::{Array, Error, Result};
use std::path::Path;

/// A parsed SOURCE.
pub enum Source<'a> {
    /// A Zarr array directory.
    Zarr(&'a Path),
    /// An HDF5 file and a dataset path inside it.
    Hdf5(&'a Path, &'a str),
    /// A netCDF-3 file and a variable (empty when the file was named alone).
    Nc3(&'a Path, &'a str),
}

/// Splits `file.h5:/dataset` forms from plain paths. The `/` after the colon may be
/// left out (`file.nc:t2m`, as netCDF tools and xarray users name variables); the part
/// before the colon must then end as an HDF5/netCDF file does or be a file, so a Zarr
/// directory with a colon in its name (`run:2020.zarr`) stays a Zarr path.
pub fn parse<'a>(s: &'a str) -> Source<'a> {
    let hdf5_file = |file: &str| {
        let lower = file.to_ascii_lowercase();
        [".h5", ".hdf5", ".hdf", ".nc", ".nc4", ".he5"]
            .iter()
            .any(|e| lower.ends_with(e))
            || Path::new(file).is_file()
            || is_pattern(file)
    };
    let in_file = |file: &'a str, object: &'a str| {
        let path = Path::new(file);
        if chunkwise::io::netcdf3::is_netcdf3(path) {
            Source::Nc3(path, object)
        } else {
            Source::Hdf5(path, object)
        }
    };
    if let Some(i) = s.rfind(":/") {
        let file = &s[..i];
        if hdf5_file(file) {
            return in_file(file, &s[i + 1..]);
        }
    }
    if let Some((file, dataset)) = s.rsplit_once(':')
        && !dataset.is_empty()
        && !dataset.starts_with('/')
        && hdf5_file(file)
    {
        return in_file(file, dataset);
    }
    if chunkwise::io::netcdf3::is_netcdf3(Path::new(s)) {
        return Source::Nc3(Path::new(s), "");
    }
    // `file.nc:` with the variable left out: the file, which then says what it holds.
    if let Some(file) = s.strip_suffix(':')
        && Path::new(file).is_file()
    {
        return in_file(file, "");
    }
    Source::Zarr(Path::new(s))
}

/// Opens a SOURCE.
///
/// # Errors
/// A missing path, something that is not an array, invalid metadata; HDF5 sources when
/// the binary was built without the `hdf5` feature.
pub fn open(s: &str) -> Result<Array> {
    if let Some(parts) = expand(s)? {
        return open_many(s, &parts, true);
    }
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
        Source::Nc3(file, var) => Array::from_netcdf3(file, nc3_var(file, var)?),
    }
}

/// The variable of a netCDF-3 SOURCE: refused when the file was named alone.
fn nc3_var<'a>(file: &Path, var: &'a str) -> Result<&'a str> {
    if var.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: is a netCDF-3 file: name the variable as {}:VAR (`chunkwise info {}` lists them)",
            file.display(),
            file.display(),
            file.display()
        )));
    }
    Ok(var)
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
    if let Some(parts) = expand(s)? {
        return cf_decoding(&parts[0], stored);
    }
    let attrs = match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::cf_attrs(p, stored)?,
        Source::Hdf5(file, dataset) => hdf5_cf_attrs(file, dataset)?,
        Source::Nc3(file, var) => chunkwise::io::netcdf3::cf_attrs(file, var)?,
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
    if let Some(parts) = expand(s)? {
        return open_many(s, &parts, raw);
    }
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
    if let Some(parts) = expand(s).ok()? {
        return dimension_names(&parts[0]);
    }
    match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::dimension_names(p),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => chunkwise::io::hdf5::dimension_names(file, dataset),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => None,
        Source::Nc3(file, var) => chunkwise::io::netcdf3::dimension_names(file, var),
    }
}

/// Shape, stored data type and chunk shape of SOURCE from its metadata alone, for
/// listing an array chunkwise cannot open (text); `None` when unreadable.
pub fn stored_layout(s: &str) -> Option<(Vec<u64>, String, Vec<u64>)> {
    if is_pattern(s) {
        return None;
    }
    match parse(s) {
        Source::Zarr(p) => chunkwise::io::zarr::stored_layout(p),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => chunkwise::io::hdf5::stored_layout(file, dataset),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => None,
        Source::Nc3(file, var) => chunkwise::io::netcdf3::stored_layout(file, var),
    }
}

/// SOURCE's `units` attribute, when it has one that is a string.
pub fn units(s: &str) -> Option<String> {
    string_attr(s, "units")
}

/// SOURCE's string attribute `key`, when it has one.
pub fn string_attr(s: &str, key: &str) -> Option<String> {
    if let Some(parts) = expand(s).ok()? {
        return string_attr(&parts[0], key);
    }
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
        Source::Nc3(file, var) => chunkwise::io::netcdf3::string_attr(file, var, key).ok()?,
    }
}

/// The array named `name` beside SOURCE `s`, as a SOURCE, when it exists and holds
/// values: where a dimension's coordinate is. In a Zarr store, the same group (as
/// xarray looks); in a NetCDF-4 file, the same group or the nearest group above it
/// that has one, netCDF's scoping of dimensions (`/surface/t2m` over dimension `lat`
/// defined at the root has its coordinate in `/lat`).
pub fn sibling(s: &str, name: &str) -> Option<String> {
    if let Some(parts) = expand(s).ok()? {
        // The first file's coordinate; along the concatenated axis, every file's.
        let c = sibling(&parts[0], name)?;
        let concat_dim = dimension_names(&parts[0]).and_then(|d| d.first().cloned());
        if concat_dim.as_deref() != Some(name) {
            return Some(c);
        }
        return match (parse(s), parse(&c)) {
            (Source::Hdf5(pattern, _), Source::Hdf5(_, object) | Source::Nc3(_, object)) => {
                Some(format!("{}:{object}", pattern.display()))
            }
            (Source::Zarr(pattern), Source::Zarr(_)) => Some(
                pattern
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(name)
                    .display()
                    .to_string(),
            ),
            _ => None,
        };
    }
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
        Source::Nc3(file, _) => {
            chunkwise::io::netcdf3::has_values(file, name).then(|| format!("{}:{name}", file.display()))
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
    if let Some(parts) = expand(s)? {
        let readers = parts.iter().map(|p| open_reader(p)).collect::<Result<Vec<_>>>()?;
        return Ok(std::sync::Arc::new(chunkwise::io::concat::ConcatSource::new(readers)?));
    }
    match parse(s) {
        Source::Zarr(p) => Ok(std::sync::Arc::new(chunkwise::io::zarr::ZarrSource::open(p)?)),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => Ok(std::sync::Arc::new(chunkwise::io::hdf5::Hdf5Source::open(
            file, dataset,
        )?)),
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(file, dataset) => open_hdf5(file, dataset).map(|_| unreachable!("needs the hdf5 feature")),
        Source::Nc3(file, var) => Ok(std::sync::Arc::new(chunkwise::io::netcdf3::Netcdf3Source::open(
            file,
            nc3_var(file, var)?,
        )?)),
    }
}

/// Whether `s` holds a file-name pattern (`*`, `?`, `[`) and no file of that literal
/// name exists.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '[']) && !Path::new(s).exists()
}

/// The sources a pattern names, sorted (`None` for a plain SOURCE): for HDF5 the files
/// matching the part before the colon, each with the dataset; for Zarr the directories
/// matching the path.
///
/// # Errors
/// An invalid pattern, or one that matches nothing.
pub fn expand(s: &str) -> Result<Option<Vec<String>>> {
    let (pattern, dataset) = match parse(s) {
        Source::Hdf5(file, dataset) => (file.display().to_string(), Some(dataset)),
        Source::Nc3(file, var) => (file.display().to_string(), Some(var)),
        Source::Zarr(p) => (p.display().to_string(), None),
    };
    if !is_pattern(&pattern) {
        return Ok(None);
    }
    let paths = glob::glob(&pattern).map_err(|e| Error::InvalidArgument(format!("{s}: not a valid pattern: {e}")))?;
    let mut found: Vec<String> = paths
        .flatten()
        .filter(|p| if dataset.is_some() { p.is_file() } else { p.is_dir() })
        .map(|p| match dataset {
            Some(d) => format!("{}:{d}", p.display()),
            None => p.display().to_string(),
        })
        .collect();
    found.sort();
    if found.is_empty() && dataset.is_none() {
        // Files, not Zarr directories: HDF5/netCDF files named without their variable.
        let files: Vec<_> = glob::glob(&pattern)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|p| p.is_file())
            .collect();
        if let Some(f) = files.first() {
            return Err(Error::InvalidArgument(format!(
                "{s}: matches {} file(s); name the variable as {s}:VAR (`chunkwise info {}` lists them)",
                files.len(),
                f.display()
            )));
        }
    }
    if found.is_empty() {
        return Err(Error::InvalidArgument(format!("{s}: no file matches the pattern")));
    }
    Ok(Some(found))
}

/// The files of pattern `s` (sources `parts`) read as one array along the first axis,
/// each decoded by its own CF attributes unless `raw`.
fn open_many(s: &str, parts: &[String], raw: bool) -> Result<Array> {
    let readers = parts.iter().map(|p| open_reader(p)).collect::<Result<Vec<_>>>()?;
    let decodings = parts
        .iter()
        .zip(&readers)
        .map(|(p, r)| if raw { Ok(None) } else { cf_decoding(p, r.dtype()) })
        .collect::<Result<Vec<_>>>()?;
    let rebase = check_agree(s, parts)?;
    let same_type = readers.iter().all(|r| r.dtype() == readers[0].dtype());
    if same_type && rebase.iter().all(Option::is_none) && decodings.iter().all(|d| d == &decodings[0]) {
        // One source over every file: blocks are the files' own chunks, and the
        // reduction reads it as it reads one file.
        let src = chunkwise::io::concat::ConcatSource::new(readers)?;
        let chunks = chunkwise::ChunkSpec::explicit(src.chunks());
        let x = Array::from_source(std::sync::Arc::new(src), chunks)?;
        return match &decodings[0] {
            Some(cf) => x.decode_cf(cf),
            None => Ok(x),
        };
    }
    // Files packed differently, stored in different types, or times counted from
    // different dates: each decoded alone, then joined.
    let arrays = parts
        .iter()
        .zip(readers)
        .zip(decodings.into_iter().zip(rebase))
        .map(|((p, r), (cf, rebase))| {
            let chunks = r
                .natural_chunks()
                .map_or_else(chunkwise::ChunkSpec::auto, chunkwise::ChunkSpec::from);
            let x = Array::from_source(r, chunks)?;
            let x = match cf {
                Some(cf) => x.decode_cf(&cf),
                None => Ok(x),
            }
            .map_err(|e| Error::InvalidArgument(format!("{p}: {e}")))?;
            Ok(match rebase {
                // Whole days counted in days or hours stay integers, as stored.
                Some((scale, shift))
                    if x.dtype().is_integer() && scale.fract() == 0.0 && shift.fract() == 0.0 && shift.abs() < 9e15 =>
                {
                    &(&x.astype(chunkwise::DType::I64) * scale as i64) + shift as i64
                }
                Some((scale, shift)) => &(&x.astype(chunkwise::DType::F64) * scale) + shift,
                None => x,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Array> = arrays.iter().collect();
    Array::concatenate(&refs, 0)
}

/// The files of a pattern must describe one dataset split along its first axis: the
/// same `units` and `calendar`, and the same coordinate values on every other
/// dimension (a file on another grid would be averaged in cell by cell). Times counted
/// from different dates (`days since 2001-01-01` in one file, `days since 2002-01-01`
/// in the next, as xarray writes yearly files) are the one difference allowed: each
/// file gets the `(scale, shift)` that counts its times in the first file's units (even
/// when `raw`: it is what makes the files' times one axis, not a decoding).
fn check_agree(s: &str, parts: &[String]) -> Result<Vec<Option<(f64, f64)>>> {
    let first = &parts[0];
    let shown = |v: &Option<String>| v.as_deref().map_or("none".into(), |v| format!("'{v}'"));
    let disagree = |key: &str, a: &Option<String>, p: &str, b: &Option<String>| {
        Error::InvalidArgument(format!(
            "{s}: the files disagree on '{key}' ({} in {first}, {} in {p})",
            shown(a),
            shown(b)
        ))
    };
    // One variable in every file: `store.zarr/*` would join lat, lon and t2m.
    let group_of = |p: &str| match parse(p) {
        Source::Zarr(a) => a
            .parent()
            .filter(|g| chunkwise::io::zarr::is_zarr(g))
            .map(Path::to_path_buf),
        Source::Hdf5(..) | Source::Nc3(..) => None,
    };
    if let Some(g) = group_of(first)
        && let Some(p) = parts[1..].iter().find(|p| group_of(p).as_ref() == Some(&g))
    {
        return Err(Error::InvalidArgument(format!(
            "{s}: {first} and {p} are two variables of one store, not one variable split over files"
        )));
    }
    let dims = dimension_names(first);
    if let Some(p) = parts[1..].iter().find(|p| dimension_names(p) != dims) {
        return Err(Error::InvalidArgument(format!(
            "{s}: the files disagree on dimensions ({} in {first}, {} in {p})",
            dims.map_or("none".into(), |d| format!("({})", d.join(", "))),
            dimension_names(p).map_or("none".into(), |d| format!("({})", d.join(", "))),
        )));
    }
    let calendar = string_attr(first, "calendar");
    let units = string_attr(first, "units");
    let mut rebase = vec![None];
    for p in &parts[1..] {
        let c = string_attr(p, "calendar");
        if c != calendar {
            return Err(disagree("calendar", &calendar, p, &c));
        }
        let u = string_attr(p, "units");
        if u == units {
            rebase.push(None);
            continue;
        }
        match time_rebase(units.as_deref(), u.as_deref(), calendar.as_deref()) {
            Some(r) => rebase.push(Some(r)),
            None => return Err(disagree("units", &units, p, &u)),
        }
    }
    let values = |c: &str| -> Result<Vec<f64>> {
        let a = open_decoded(c, false)?;
        Ok(a.astype(chunkwise::DType::F64)
            .compute::<f64>()?
            .iter()
            .copied()
            .collect())
    };
    let equal =
        |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
    let dims = dims.unwrap_or_default();
    for dim in dims.iter().skip(1) {
        let Some(c0) = sibling(first, dim) else { continue };
        let want = values(&c0)?;
        for p in &parts[1..] {
            let same = match sibling(p, dim) {
                Some(c) => equal(&values(&c)?, &want),
                None => false,
            };
            if !same {
                return Err(Error::InvalidArgument(format!(
                    "{s}: the files disagree on coordinate '{dim}' ({first} and {p}); they must share every axis but the first"
                )));
            }
        }
    }
    // The joined axis must be the one the files split: a variable without it (`lat`,
    // a land-sea mask over (lat, lon)) or files with the same times (ensemble members)
    // would be repeated, and a sum over it multiplied.
    if let Some(dim) = dims.first()
        && parts.len() > 1
        && let Some(c0) = sibling(first, dim)
    {
        let want = values(&c0)?;
        let (units0, cal0) = (string_attr(&c0, "units"), string_attr(&c0, "calendar"));
        let mut all_same = true;
        for p in &parts[1..] {
            let Some(c) = sibling(p, dim) else {
                all_same = false;
                break;
            };
            let got = values(&c)?;
            // Times compared as moments: each file may count from its own date.
            let u = string_attr(&c, "units");
            let shift = if u == units0 {
                None
            } else {
                time_rebase(units0.as_deref(), u.as_deref(), cal0.as_deref())
            };
            let got: Vec<f64> = match shift {
                Some((scale, shift)) => got.iter().map(|v| v * scale + shift).collect(),
                None => got,
            };
            if !equal(&got, &want) {
                all_same = false;
                break;
            }
        }
        if all_same {
            return Err(Error::InvalidArgument(format!(
                "{s}: every file has the same '{dim}' values, so they are not one dataset split along '{dim}' \
                 (a variable without the files' record dimension, or ensemble members?); read it from one file"
            )));
        }
    }
    Ok(rebase)
}

/// `(scale, shift)` taking times in CF units `u` ("hours since 2002-01-01") to CF units
/// `u0` of the same calendar; `None` unless both are CF time units.
fn time_rebase(u0: Option<&str>, u: Option<&str>, calendar: Option<&str>) -> Option<(f64, f64)> {
    use chunkwise::time::{Calendar, CfTime};
    let cal = Calendar::parse(calendar.unwrap_or("standard")).ok()?;
    let t0 = CfTime::parse_units(u0?, cal).ok()?;
    let t = CfTime::parse_units(u?, cal).ok()?;
    Some((t.unit_seconds / t0.unit_seconds, t0.offset(t.origin, t.origin_seconds)))
}
