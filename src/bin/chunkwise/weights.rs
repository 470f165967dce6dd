//! `--weights`: weighted reductions on the command line (xarray's `weighted`).
//!
//! The global or regional mean of a latitude–longitude field must weight each row by
//! its area, `cos(latitude)` on a regular grid; an unweighted mean over-counts the
//! poles. `--weights coslat` takes the latitudes from the store's own coordinate, found
//! as xarray users name it:
//!
//! * the data's dimension called `latitude` or `lat` (Zarr v3 `dimension_names`, the
//!   `_ARRAY_DIMENSIONS` attribute xarray writes in v2, or the HDF5/NetCDF-4 dimension
//!   scale), and the sibling array of that name in the same group;
//! * where the store names no dimensions (plain HDF5, a zarr-python array), a sibling
//!   `latitude` or `lat` whose length matches exactly one axis of the data;
//! * or the array `--lat-coord SOURCE` names outright.
//!
//! The coordinate must be 1-D, in degrees (every value within ±90), and as long as its
//! axis. Any other `--weights` value is a SOURCE of weights that broadcast against the
//! data by NumPy's rules (a `(lat, lon)` cell-area array for `(time, lat, lon)` data).
//! The reduction itself is `chunkwise::Weighted`: missing values drop their weight
//! from the denominator, as in xarray.

use crate::source;
use chunkwise::{Array, DType, Error, Result};

/// Names a latitude dimension or coordinate goes by.
const LAT_NAMES: [&str; 2] = ["latitude", "lat"];

/// The weights `spec` (`coslat` or a SOURCE) for data `src` of `shape`, shaped to
/// broadcast against it.
///
/// # Errors
/// No latitude coordinate (or more than one axis it could belong to), one that is not
/// 1-D degrees of the axis's length, a weights SOURCE that cannot be opened or does not
/// broadcast.
pub fn weights(spec: &str, lat_coord: Option<&str>, src: &str, shape: &[usize]) -> Result<Array> {
    if spec != "coslat" {
        if lat_coord.is_some() {
            return Err(Error::InvalidArgument("--lat-coord goes with --weights coslat".into()));
        }
        return source::open_decoded(spec, false).map_err(|e| Error::InvalidArgument(format!("--weights {spec}: {e}")));
    }
    let (coord, axis) = latitude(lat_coord, src, shape)?;
    let lat = source::open_decoded(&coord, false)?;
    if lat.ndim() != 1 || lat.shape()[0] != shape[axis] {
        return Err(Error::InvalidArgument(format!(
            "--weights coslat: the latitude coordinate {coord} has shape {:?}, expected [{}] (axis {axis} of the data)",
            lat.shape(),
            shape[axis]
        )));
    }
    let lat = lat.astype(DType::F64);
    let bad = lat.abs().greater(90.0)?.logical_or(&lat.isnan())?.any(None)?;
    if bad.compute_scalar::<bool>()? {
        return Err(Error::InvalidArgument(format!(
            "--weights coslat: the latitude coordinate {coord} holds values that are not degrees within ±90 (or NaN)"
        )));
    }
    let mut to = vec![1isize; shape.len() - axis];
    to[0] = shape[axis] as isize;
    lat.deg2rad().cos().reshape(&to)
}

/// The latitude coordinate as a SOURCE and the data axis it belongs to.
fn latitude(lat_coord: Option<&str>, src: &str, shape: &[usize]) -> Result<(String, usize)> {
    let none = |why: &str| {
        Error::InvalidArgument(format!(
            "--weights coslat: no latitude coordinate ({why}); name it with --lat-coord SOURCE"
        ))
    };
    let by_length = |n: usize, coord: &str| -> Result<usize> {
        let axes: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] == n).collect();
        match axes.as_slice() {
            [a] => Ok(*a),
            [] => Err(none(&format!(
                "{coord} has {n} values, the length of no axis of the data"
            ))),
            _ => Err(none(&format!(
                "{coord} has {n} values, the length of axes {axes:?}: the store names no dimensions to tell which"
            ))),
        }
    };
    if let Some(c) = lat_coord {
        let n = source::open(c)?.shape();
        let [n] = n.as_slice() else {
            return Err(Error::InvalidArgument(format!(
                "--lat-coord {c}: shape {n:?}, expected a 1-D coordinate"
            )));
        };
        return Ok((c.to_string(), by_length(*n, c)?));
    }
    if let Some(dims) = source::dimension_names(src) {
        let found = dims
            .iter()
            .enumerate()
            .find(|(_, d)| LAT_NAMES.contains(&d.to_ascii_lowercase().as_str()));
        let Some((axis, name)) = found else {
            return Err(none(&format!("the data's dimensions are ({})", dims.join(", "))));
        };
        let c = source::sibling(src, name).ok_or_else(|| none(&format!("no array '{name}' beside {src}")))?;
        return Ok((c, axis));
    }
    for name in LAT_NAMES {
        if let Some(c) = source::sibling(src, name) {
            let n = source::open(&c)?.shape();
            return Ok((c.clone(), by_length(n.first().copied().unwrap_or(0), &c)?));
        }
    }
    Err(none(&format!(
        "no dimension names, and no array 'latitude' or 'lat' beside {src}"
    )))
}
