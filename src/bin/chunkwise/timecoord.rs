//! `--groupby`: group labels for a time axis, from the store's CF time coordinate or
//! from `--time-origin` / `--time-step`.
//!
//! The coordinate is found the way xarray finds it: the name of the grouped dimension
//! (Zarr v3 `dimension_names`, the `_ARRAY_DIMENSIONS` attribute xarray writes in v2,
//! or the HDF5/NetCDF-4 dimension scale; `time` when the store names none) is a sibling array of the data array — in
//! the same Zarr group, or the same HDF5/NetCDF-4 group — whose `units` attribute is
//! CF's `"<unit> since <date>"` and whose optional `calendar` attribute picks the
//! calendar.

use crate::source;
use chunkwise::time::{Calendar, CfTime, GroupBy, GroupValue};
use chunkwise::{Array, DType, Error, Result};

/// Where the time axis comes from.
pub struct TimeArgs<'a> {
    /// `--time-origin`.
    pub origin: Option<&'a str>,
    /// `--time-step`.
    pub step: Option<&'a str>,
    /// `--calendar`.
    pub calendar: Option<&'a str>,
    /// `--time-coord`.
    pub coord: Option<&'a str>,
}

/// The groups of a `--groupby`: only those with at least one time step, as xarray's
/// `groupby` gives them (a June–August selection by month has three groups; two
/// non-leap years by day of the year, 365).
pub struct Groups {
    /// One label per (selected) step, `0..names.len()`; negative: a step with no time.
    pub labels: Vec<i64>,
    /// The groups' names (`Jun`, `JJA`, `2001`, `365`), for `--format json`.
    pub names: Vec<String>,
    /// The groups' values as xarray's coordinate holds them (`6`, `"JJA"`), for `--out
    /// .zarr`.
    pub values: Vec<serde_json::Value>,
}

/// The groups of the grouped axis (of `len` steps, of which only the positions `keep`
/// are grouped when given: a `--sel`/`--isel` selection).
///
/// # Errors
/// No way to know the times, a coordinate of the wrong length, bad units or calendar.
pub fn labels(
    by: GroupBy,
    t: &TimeArgs<'_>,
    src: &str,
    axis: usize,
    len: usize,
    keep: Option<&[usize]>,
) -> Result<Groups> {
    let (time, offsets) = if let Some(origin) = t.origin {
        let step = chunkwise::time::parse_step(t.step.unwrap_or("1d"))?;
        let (origin, origin_seconds) = chunkwise::time::parse_datetime(origin)?;
        let calendar = Calendar::parse(t.calendar.unwrap_or("standard"))?;
        let time = CfTime {
            unit_seconds: step,
            origin,
            origin_seconds,
            calendar,
        };
        (time, (0..len).map(|i| i as f64).collect::<Vec<f64>>())
    } else {
        if t.step.is_some() {
            return Err(Error::InvalidArgument("--time-step needs --time-origin".into()));
        }
        coordinate(t, src, axis, len)?
    };
    if offsets.len() != len {
        return Err(Error::InvalidArgument(format!(
            "the time coordinate has {} values for an axis of length {len}",
            offsets.len()
        )));
    }
    let offsets: Vec<f64> = match keep {
        Some(k) => k.iter().map(|&i| offsets[i]).collect(),
        None => offsets,
    };
    let (labels, n) = by.labels(&time, &offsets)?;
    let first_year = offsets
        .iter()
        .filter_map(|&o| time.date(o))
        .map(|d| d.year)
        .min()
        .unwrap_or(0);
    let (labels, kept) = chunkwise::time::present_groups(&labels, n);
    let all = by.group_names(n, first_year);
    let names = kept.iter().map(|&g| all[g].clone()).collect();
    let values = kept
        .iter()
        .map(|&g| match by.group_value(g, first_year) {
            GroupValue::Int(v) => serde_json::json!(v),
            GroupValue::Name(s) => serde_json::json!(s),
        })
        .collect();
    Ok(Groups { labels, names, values })
}

fn values(a: &Array) -> Result<Vec<f64>> {
    if a.ndim() != 1 {
        return Err(Error::InvalidArgument(format!(
            "the time coordinate has shape {:?}; it must be 1-D",
            a.shape()
        )));
    }
    Ok(a.astype(DType::F64).compute::<f64>()?.iter().copied().collect())
}

fn no_coord(what: &str) -> Error {
    Error::InvalidArgument(format!(
        "--groupby: no time coordinate ({what}); give --time-origin DATE and --time-step STEP, or --time-coord SOURCE"
    ))
}

fn coordinate(t: &TimeArgs<'_>, src: &str, axis: usize, _len: usize) -> Result<(CfTime, Vec<f64>)> {
    let target = match t.coord {
        Some(c) => c.to_string(),
        None => {
            let dims = source::dimension_names(src);
            let name = dims.and_then(|d| d.get(axis).cloned()).unwrap_or_else(|| "time".into());
            // The same group, or (NetCDF-4) a group above it; for a pattern of files,
            // every file's times joined (see `source`).
            source::sibling(src, &name).ok_or_else(|| no_coord(&format!("no array '{name}' beside {src}")))?
        }
    };
    let a = source::open(&target).map_err(|e| no_coord(&e.to_string()))?;
    let units =
        source::string_attr(&target, "units").ok_or_else(|| no_coord(&format!("{target} has no 'units' attribute")))?;
    let calendar = source::string_attr(&target, "calendar");
    let cal = Calendar::parse(t.calendar.or(calendar.as_deref()).unwrap_or("standard"))?;
    Ok((CfTime::parse_units(&units, cal)?, values(&a)?))
}

/// The CF time axis of coordinate SOURCE `c` when its `units` are `"<unit> since
/// <date>"` (its `calendar`, or standard); `None` for any other coordinate.
///
/// # Errors
/// A calendar chunkwise does not know.
pub fn cf_time(c: &str) -> Result<Option<CfTime>> {
    let Some(units) = source::string_attr(c, "units").filter(|u| u.contains(" since ")) else {
        return Ok(None);
    };
    let calendar = source::string_attr(c, "calendar");
    let cal = Calendar::parse(calendar.as_deref().unwrap_or("standard"))?;
    Ok(CfTime::parse_units(&units, cal).ok())
}
