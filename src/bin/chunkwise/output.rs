//! `--out result.zarr`: a reduction's result as a Zarr v3 group that xarray's
//! `open_zarr` opens as a dataset, not a bare `.npy`.
//!
//! The group holds the result as a variable named after the source's (`t2m`) and, for
//! each dimension it kept, that dimension's coordinate: the source's sibling array of
//! the same name (`lat`, `lon`, `time`), cut by `--sel`/`--isel` as the data was, with
//! its `units`, `calendar`, `standard_name`, `long_name` and `axis`; for a
//! `--groupby`, the groups present (`month = [6, 7, 8]`, as xarray's coordinate holds
//! them; seasons are names, listed in the variable's `chunkwise_groups` attribute
//! only). The variable carries the names of the dimensions it kept (the source's,
//! without the reduced ones; with `--keepdims` all of them; with `--groupby` the
//! grouped dimension renamed after the grouping), the source's `units` where the op
//! keeps them (mean, min, max, median, quantiles, std, sum), CF's `cell_methods`
//! (`"time: mean"`, `"lat: lon: mean (weighted: coslat)"`), and where it came from.
//! With several ops (`--op nanmean,nanstd`) each is a variable of its own,
//! `t2m_nanmean` and `t2m_nanstd`, beside the same coordinates. Every array is one
//! zstd-compressed chunk; the group is staged and renamed into place, replacing an
//! earlier result as `--out x.npy` does.

use crate::source;
use chunkwise::io::zarr_write::{ZarrVersion, ZarrWriteOptions};
use chunkwise::{Array, Chunk, Result};
use std::path::Path;

/// What was reduced, for the output's metadata.
pub struct Reduction<'a> {
    /// The SOURCE.
    pub source: &'a str,
    /// The op's name (`nanmean`).
    pub op: &'a str,
    /// `--axis`, resolved to numbers (`None`: all axes).
    pub axes: Option<&'a [isize]>,
    /// `--groupby` (`month`) and the groups' values (`[6, 7, 8]`), when grouped.
    pub groupby: Option<(&'a str, &'a [serde_json::Value])>,
    /// `--keepdims`.
    pub keepdims: bool,
    /// `--weights`.
    pub weights: Option<&'a str>,
    /// `--isel`/`--sel`, to cut the coordinates as the data was cut.
    pub selections: &'a [crate::select::Selection],
}

/// The name of the result variable: the source array's own (`t2m` of
/// `era5.zarr/t2m` or `file.nc:/surface/t2m`; `x` of a store `x.zarr` that is one array;
/// `t2m` of stores `t2m_*.zarr`).
fn variable_name(src: &str) -> String {
    let name = match source::parse(src) {
        source::Source::Zarr(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".zarr").to_string())
            .unwrap_or_default(),
        source::Source::Hdf5(_, ds) | source::Source::Nc3(_, ds) => {
            ds.rsplit('/').next().unwrap_or_default().to_string()
        }
    };
    // Stores that are arrays, named by a pattern (`t2m_*.zarr`): what comes before it.
    let name = match name.find(['*', '?', '[']) {
        Some(i) => name[..i].trim_end_matches(['_', '-', '.', ' ']).to_string(),
        None => name,
    };
    if name.is_empty() || name.starts_with('.') {
        "result".into()
    } else {
        name
    }
}

/// The coordinate of dimension `dim` (axis `axis` of the source) beside `src`, cut by
/// the selections, when there is one of length `len`: its values and attributes.
fn coordinate(
    src: &str,
    dim: &str,
    axis: usize,
    len: usize,
    sels: &[crate::select::Selection],
) -> Option<(Array, serde_json::Map<String, serde_json::Value>)> {
    let c = source::sibling(src, dim)?;
    if c == src {
        return None;
    }
    // The stored values, as xarray would read them before decoding times, unless the
    // coordinate is packed (then its scale and offset are applied, and not copied).
    let raw = source::open(&c).ok()?;
    let packed = source::cf_decoding(&c, raw.dtype())
        .ok()
        .flatten()
        .is_some_and(|cf| cf.scale.is_some() || cf.offset.is_some() || cf.view.is_some());
    let mut a = if packed {
        source::open_decoded(&c, false).ok()?
    } else {
        raw
    };
    if a.ndim() != 1 {
        return None;
    }
    if let Some(s) = sels.iter().find(|s| s.axis == axis) {
        let one = crate::select::Selection { axis: 0, ..s.clone() };
        a = crate::select::apply(&a, &[one]).ok()?;
    }
    if a.shape() != [len] {
        return None;
    }
    let mut attrs = serde_json::Map::new();
    for key in ["units", "calendar", "standard_name", "long_name", "axis"] {
        if let Some(v) = source::string_attr(&c, key) {
            attrs.insert(key.into(), serde_json::json!(v));
        }
    }
    Some((a, attrs))
}

/// The variable each op's result gets in a Zarr `--out`: the source's variable name
/// (`t2m`), or with several ops `t2m_nanmean`, `t2m_nanstd`, ….
pub fn result_names(source: &str, ops: &[&str]) -> Vec<String> {
    let var = variable_name(source);
    if ops.len() > 1 {
        ops.iter().map(|op| format!("{var}_{op}")).collect()
    } else {
        vec![var; ops.len()]
    }
}

/// Writes the results as a Zarr group at `path`: each a variable with the metadata of
/// its reduction (named after the source's variable, `t2m`; with several ops
/// `t2m_nanmean`, `t2m_nanstd`, …), and the coordinates of their dimensions.
///
/// # Errors
/// The store cannot be written (a missing directory, a file in the way).
pub fn write_zarr(path: &Path, results: &[(&Chunk, &Reduction<'_>)]) -> Result<()> {
    let Some(&(first, what)) = results.first() else {
        return Ok(());
    };
    let ops: Vec<&str> = results.iter().map(|(_, w)| w.op).collect();
    let mut vars: Vec<(String, Array, ZarrWriteOptions)> = Vec::new();
    for (&(c, what), name) in results.iter().zip(result_names(what.source, &ops)) {
        let (a, opts) = variable(c, what)?;
        vars.push((name, a, opts));
    }
    let coords = coordinates(first, what, &vars.iter().map(|v| v.0.as_str()).collect::<Vec<_>>())?;
    let mut members: Vec<(&str, &Array, ZarrWriteOptions)> = Vec::new();
    for (name, a, opts) in &vars {
        members.push((name.as_str(), a, opts.clone()));
    }
    for (name, a, attrs) in &coords {
        members.push((
            name.as_str(),
            a,
            ZarrWriteOptions {
                dimension_names: Some(vec![name.clone()]),
                attributes: attrs.clone(),
                ..one_chunk(a)
            },
        ));
    }
    let group = serde_json::Map::from_iter([("source".to_string(), serde_json::json!(what.source))]);
    Array::to_zarr_group(path, &members, &group, ZarrVersion::V3, true)
}

/// Options writing `a` as one chunk.
fn one_chunk(a: &Array) -> ZarrWriteOptions {
    ZarrWriteOptions {
        chunks: Some(a.shape().iter().map(|&n| n.max(1)).collect()),
        ..ZarrWriteOptions::default()
    }
}

/// The source's dimension names and which of them the reduction reduced.
fn reduced_dims(what: &Reduction<'_>) -> (Option<Vec<String>>, Vec<usize>) {
    let dims = source::dimension_names(what.source);
    let ndim = dims.as_ref().map_or(0, Vec::len);
    let reduced: Vec<usize> = match (what.groupby, what.axes) {
        (Some(_), _) => Vec::new(),
        (None, None) => (0..ndim).collect(),
        (None, Some(a)) => chunkwise::grid::normalize_axes(a, ndim).unwrap_or_default(),
    };
    (dims, reduced)
}

/// The result `c` as an array, with its dimension names and attributes.
fn variable(c: &Chunk, what: &Reduction<'_>) -> Result<(Array, ZarrWriteOptions)> {
    let (dims, reduced) = reduced_dims(what);
    let ndim = dims.as_ref().map_or(0, Vec::len);
    let names = dims.as_ref().map(|d| {
        let mut names: Vec<String> = Vec::new();
        for (i, n) in d.iter().enumerate() {
            if let Some((by, _)) = what.groupby {
                let g = what.axes.and_then(|a| a.first()).copied().unwrap_or(0);
                let g = chunkwise::grid::normalize_axis(g, ndim).unwrap_or(0);
                names.push(if i == g { by.to_string() } else { n.clone() });
            } else if what.keepdims || !reduced.contains(&i) {
                names.push(n.clone());
            }
        }
        names
    });
    let mut attrs = serde_json::Map::new();
    attrs.insert("source".into(), serde_json::json!(what.source));
    attrs.insert("chunkwise_op".into(), serde_json::json!(what.op));
    if let Some((by, values)) = what.groupby {
        attrs.insert("chunkwise_groupby".into(), serde_json::json!(by));
        attrs.insert("chunkwise_groups".into(), serde_json::json!(values));
    }
    let keeps_units = matches!(
        what.op,
        "mean"
            | "nanmean"
            | "min"
            | "nanmin"
            | "max"
            | "nanmax"
            | "median"
            | "nanmedian"
            | "std"
            | "nanstd"
            | "sum"
            | "nansum"
            | "quantile"
            | "nanquantile"
            | "percentile"
            | "nanpercentile"
    );
    if keeps_units && let Some(u) = source::units(what.source) {
        attrs.insert("units".into(), serde_json::json!(u));
    }
    let method = match what.op {
        "mean" | "nanmean" => Some("mean"),
        "sum" | "nansum" => Some("sum"),
        "min" | "nanmin" => Some("minimum"),
        "max" | "nanmax" => Some("maximum"),
        "median" | "nanmedian" => Some("median"),
        "std" | "nanstd" => Some("standard_deviation"),
        "var" | "nanvar" => Some("variance"),
        _ => None,
    };
    if let (Some(m), Some(d), None) = (method, &dims, what.groupby)
        && !reduced.is_empty()
    {
        let over: Vec<String> = reduced
            .iter()
            .filter_map(|&i| d.get(i))
            .map(|n| format!("{n}:"))
            .collect();
        let weighted = what.weights.map(|w| format!(" (weighted: {w})")).unwrap_or_default();
        attrs.insert(
            "cell_methods".into(),
            serde_json::json!(format!("{} {m}{weighted}", over.join(" "))),
        );
    }
    let names = names.filter(|n| n.len() == c.shape().len());
    let whole: Vec<usize> = c.shape().iter().map(|&n| n.max(1)).collect();
    let copy = Chunk::new(c.shape().to_vec(), c.data().cast(c.dtype()))?;
    let result = Array::from_chunk(copy, whole)?;
    let opts = ZarrWriteOptions {
        dimension_names: names,
        attributes: attrs,
        ..one_chunk(&result)
    };
    Ok((result, opts))
}

/// A coordinate array: its name, values and attributes.
type Coordinate = (String, Array, serde_json::Map<String, serde_json::Value>);

/// The coordinates of the dimensions result `c` kept, by name, skipping `taken`
/// names (the variables).
fn coordinates(c: &Chunk, what: &Reduction<'_>, taken: &[&str]) -> Result<Vec<Coordinate>> {
    let (dims, reduced) = reduced_dims(what);
    let mut coords: Vec<Coordinate> = Vec::new();
    let Some(d) = dims else { return Ok(coords) };
    let kept: Vec<usize> = (0..d.len())
        .filter(|i| what.groupby.is_some() || what.keepdims || !reduced.contains(i))
        .collect();
    if kept.len() != c.shape().len() {
        return Ok(coords);
    }
    for (pos, &axis) in kept.iter().enumerate() {
        let len = c.shape()[pos];
        let g = what.axes.and_then(|a| a.first()).copied().unwrap_or(0);
        let grouped_axis = what
            .groupby
            .filter(|_| chunkwise::grid::normalize_axis(g, d.len()).ok() == Some(axis));
        let name = grouped_axis.map_or_else(|| d[axis].clone(), |(by, _)| by.to_string());
        if taken.contains(&name.as_str()) || coords.iter().any(|(n, _, _)| n == &name) {
            continue;
        }
        match grouped_axis {
            // The grouped axis: the groups present, where they are numbers.
            Some((_, values)) => {
                let ints: Option<Vec<i64>> = values.iter().map(serde_json::Value::as_i64).collect();
                if let Some(v) = ints.filter(|v| v.len() == len) {
                    let v = ndarray::ArrayD::from_shape_vec(vec![len], v)
                        .map_err(|e| chunkwise::Error::InvalidArgument(format!("{name} coordinate: {e}")))?;
                    coords.push((name, Array::from_ndarray(v, vec![len.max(1)])?, serde_json::Map::new()));
                }
            }
            // A reduced axis kept as length 1 has no coordinate (xarray drops it).
            None if reduced.contains(&axis) => {}
            None => {
                if let Some((a, attrs)) = coordinate(what.source, &name, axis, len, what.selections) {
                    coords.push((name, a, attrs));
                }
            }
        }
    }
    Ok(coords)
}

#[cfg(test)]
mod tests {
    use super::variable_name;

    #[test]
    fn result_variables_are_named_after_the_source() {
        for (src, want) in [
            ("data/era5.zarr/t2m", "t2m"),
            ("x.zarr", "x"),
            ("file.nc:/surface/t2m", "t2m"),
            ("era5_*.nc:t2m", "t2m"),
            ("runs/t2m_*.zarr", "t2m"),
            ("runs/19??.zarr/sst", "sst"),
            ("*.zarr", "result"),
        ] {
            assert_eq!(variable_name(src), want, "{src}");
        }
    }
}
