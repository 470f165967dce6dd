//! `--out result.zarr`: a reduction's result as a Zarr v3 array that xarray opens with
//! its dimensions and metadata, not a bare `.npy`.
//!
//! The result keeps the names of the dimensions it kept (the source's, without the
//! reduced ones; with `--keepdims` all of them; with `--groupby` the grouped dimension
//! renamed after the grouping, `month`, and the groups present listed in the attribute
//! `chunkwise_groups` as xarray's coordinate holds them: `[6, 7, 8]`), the source's
//! `units` where the op keeps them (mean, min, max, median, quantiles, std, sum), CF's
//! `cell_methods` (`"time: mean"`, `"lat: lon: mean (weighted: coslat)"`), and where
//! it came from. It is written as one zstd-compressed chunk, staged and renamed into
//! place, replacing an earlier result as `--out x.npy` does.

use crate::source;
use chunkwise::io::zarr_write::ZarrWriteOptions;
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
}

/// Writes `c` to the Zarr store `path` with the metadata of `what`.
///
/// # Errors
/// The store cannot be written (a missing directory, a file in the way).
pub fn write_zarr(path: &Path, c: &Chunk, what: &Reduction<'_>) -> Result<()> {
    let dims = source::dimension_names(what.source);
    let ndim = dims.as_ref().map_or(0, Vec::len);
    let reduced: Vec<usize> = match (what.groupby, what.axes) {
        (Some(_), _) => Vec::new(),
        (None, None) => (0..ndim).collect(),
        (None, Some(a)) => chunkwise::grid::normalize_axes(a, ndim).unwrap_or_default(),
    };
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
    let opts = ZarrWriteOptions {
        chunks: Some(c.shape().iter().map(|&n| n.max(1)).collect()),
        overwrite: true,
        dimension_names: names.filter(|n| n.len() == c.shape().len()),
        attributes: attrs,
        ..ZarrWriteOptions::default()
    };
    let whole: Vec<usize> = c.shape().iter().map(|&n| n.max(1)).collect();
    let copy = Chunk::new(c.shape().to_vec(), c.data().cast(c.dtype()))?;
    Array::from_chunk(copy, whole)?.to_zarr(path, &opts)
}
