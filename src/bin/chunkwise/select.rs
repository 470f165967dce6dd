//! `--isel` / `--sel`: reduce part of an array — a season, a region — as xarray's
//! `isel` and `sel` select it before a reduction.
//!
//! `--isel DIM=START:STOP[:STEP]` takes positions (Python's slice rules: negative counts
//! from the end, an omitted bound is the end, the stop excluded); `--isel DIM=K` one
//! position. `--sel DIM=LO:HI` takes the positions whose coordinate value lies in
//! `[LO, HI]`, both ends included as in xarray's label slices, in either order (so a
//! latitude running from 90 to −90 needs no reversed bounds); an omitted bound is open.
//! `--sel DIM=V` takes the position whose coordinate equals V exactly (xarray's
//! default `sel`; an error names the nearest value otherwise).
//! The coordinate is the sibling array named after the dimension, as for `--groupby`;
//! where its `units` are CF time (`days since …`), the bounds may be dates
//! (`--sel time=2001-06-01:2001-08-31`). DIM is a dimension name or an axis number.
//!
//! A selected axis keeps its place (a single position leaves length 1), so `--axis`
//! numbers mean the same with and without a selection. The selection is a slice of the
//! lazy array: only the stored chunks it touches are read.

use crate::source;
use chunkwise::{Array, DType, Error, Result};

/// A resolved selection along one axis: positions `start, start + step, … < stop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The axis.
    pub axis: usize,
    /// First position.
    pub start: usize,
    /// One past the last position taken.
    pub stop: usize,
    /// Stride (≥ 1).
    pub step: usize,
}

impl Selection {
    /// The positions taken.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        (self.start..self.stop).step_by(self.step)
    }
}

/// The selections `--isel` and `--sel` ask of SOURCE `src` of `shape`.
///
/// # Errors
/// A malformed argument, an unknown dimension, an axis selected twice, bounds out of
/// range, a selection of nothing, a missing or non-monotonic coordinate.
pub fn resolve(isel: &[String], sel: &[String], src: &str, shape: &[usize]) -> Result<Vec<Selection>> {
    let mut out: Vec<Selection> = Vec::new();
    if isel.is_empty() && sel.is_empty() {
        return Ok(out);
    }
    let dims = source::dimension_names(src);
    let split = |flag: &str, arg: &str| -> Result<(usize, String)> {
        let (d, spec) = arg.split_once('=').ok_or_else(|| {
            Error::InvalidArgument(format!("--{flag} {arg}: expected DIM=SPEC (e.g. time=0:31, lat=30:60)"))
        })?;
        let axis = axis_of(d.trim(), dims.as_deref(), shape.len())
            .map_err(|e| Error::InvalidArgument(format!("--{flag} {arg}: {e}")))?;
        Ok((axis, spec.trim().to_string()))
    };
    for arg in isel {
        let (axis, spec) = split("isel", arg)?;
        let s =
            positional(&spec, axis, shape[axis]).map_err(|e| Error::InvalidArgument(format!("--isel {arg}: {e}")))?;
        out.push(s);
    }
    for arg in sel {
        let (axis, spec) = split("sel", arg)?;
        let s = by_value(&spec, axis, shape[axis], src, dims.as_deref())
            .map_err(|e| Error::InvalidArgument(format!("--sel {arg}: {e}")))?;
        out.push(s);
    }
    for (i, s) in out.iter().enumerate() {
        if out[..i].iter().any(|t| t.axis == s.axis) {
            return Err(Error::InvalidArgument(format!(
                "axis {} is selected twice (--isel/--sel)",
                s.axis
            )));
        }
    }
    Ok(out)
}

/// `x` with the selections applied.
///
/// # Errors
/// None in practice (the selections were resolved against `x`'s shape).
pub fn apply(x: &Array, sels: &[Selection]) -> Result<Array> {
    sels.iter().try_fold(x.clone(), |x, s| {
        x.slice_axis(
            s.axis as isize,
            Some(s.start as isize),
            Some(s.stop as isize),
            s.step as isize,
        )
    })
}

/// `w`, which broadcasts against data of `ndim` axes (trailing-aligned), with the
/// selections applied along the axes where it is not of length 1.
///
/// # Errors
/// As [`apply`].
pub fn apply_broadcast(w: &Array, sels: &[Selection], ndim: usize) -> Result<Array> {
    let lead = ndim.saturating_sub(w.ndim());
    let mine: Vec<Selection> = sels
        .iter()
        .filter(|s| s.axis >= lead && w.shape()[s.axis - lead] > 1)
        .map(|s| Selection {
            axis: s.axis - lead,
            ..s.clone()
        })
        .collect();
    apply(w, &mine)
}

/// A dimension name or an axis number (negative from the end).
fn axis_of(d: &str, dims: Option<&[String]>, ndim: usize) -> std::result::Result<usize, String> {
    if let Ok(a) = d.parse::<isize>() {
        return chunkwise::grid::normalize_axis(a, ndim).map_err(|e| e.to_string());
    }
    dim_position(d, dims)
}

/// The axis of dimension `name` among the store's dimension names `dims`.
///
/// # Errors
/// The store names no dimensions, or none of that name (the message lists them).
pub fn dim_position(name: &str, dims: Option<&[String]>) -> std::result::Result<usize, String> {
    let dims = dims.ok_or("the store names no dimensions; give the axis as a number")?;
    dims.iter()
        .position(|n| n == name)
        .ok_or_else(|| format!("no dimension of that name (the dimensions are {})", dims.join(", ")))
}

/// `K` or `START:STOP[:STEP]` over an axis of `len` positions.
fn positional(spec: &str, axis: usize, len: usize) -> std::result::Result<Selection, String> {
    let num = |t: &str| -> std::result::Result<Option<isize>, String> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<isize>()
            .map(Some)
            .map_err(|_| format!("'{t}' is not an integer"))
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let n = len as isize;
    let clamp = |i: isize| (if i < 0 { i + n } else { i }).clamp(0, n) as usize;
    let sel = match parts.as_slice() {
        [k] => {
            let k = num(k)?.ok_or("an empty position")?;
            let i = if k < 0 { k + n } else { k };
            if !(0..n).contains(&i) {
                return Err(format!("position {k} is out of range for an axis of length {len}"));
            }
            Selection {
                axis,
                start: i as usize,
                stop: i as usize + 1,
                step: 1,
            }
        }
        [a, b] | [a, b, _] => {
            let step = match parts.get(2) {
                Some(s) => num(s)?.unwrap_or(1),
                None => 1,
            };
            if step <= 0 {
                return Err(format!(
                    "step {step}: must be positive (a reversed order changes no reduction)"
                ));
            }
            Selection {
                axis,
                start: num(a)?.map_or(0, clamp),
                stop: num(b)?.map_or(len, clamp),
                step: step as usize,
            }
        }
        _ => return Err("expected K or START:STOP[:STEP]".into()),
    };
    if sel.start >= sel.stop {
        return Err(format!("selects nothing of an axis of length {len}"));
    }
    Ok(sel)
}

/// `LO:HI` split at the colon that leaves two bounds (each empty, a number or a date,
/// and a date only with a date or an empty bound), so that the colons of a time of
/// day stay in their date: `2001-06-01T06:00:2001-08-31` is two dates,
/// `2001-06-15T12:00` one. `None`: a single value.
fn split_range(spec: &str) -> Option<(&str, &str)> {
    let date = |t: &str| chunkwise::time::parse_datetime(t).is_ok() && t.trim().len() >= 10;
    let number = |t: &str| t.trim().parse::<f64>().is_ok();
    spec.match_indices(':')
        .map(|(i, _)| (&spec[..i], &spec[i + 1..]))
        .find(|(a, b)| {
            let (a, b) = (a.trim(), b.trim());
            let fits = |t: &str| t.is_empty() || number(t) || date(t);
            fits(a) && fits(b) && !(date(a) && number(b)) && !(number(a) && date(b))
        })
}

/// `LO:HI` over the coordinate of `axis`: the positions whose values lie in [LO, HI].
fn by_value(
    spec: &str,
    axis: usize,
    len: usize,
    src: &str,
    dims: Option<&[String]>,
) -> std::result::Result<Selection, String> {
    let name = dims
        .and_then(|d| d.get(axis))
        .ok_or("the store names no dimensions, so there is no coordinate to select by; use --isel")?;
    let coord = source::sibling(src, name).ok_or_else(|| format!("no coordinate array '{name}' beside {src}"))?;
    let (lo, hi, exact) = match split_range(spec) {
        Some((lo, hi)) => (lo, hi, false),
        None => (spec, spec, true),
    };
    let time = crate::timecoord::cf_time(&coord).map_err(|e| e.to_string())?;
    let bound = |t: &str| -> std::result::Result<Option<f64>, String> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if let Ok(v) = t.parse::<f64>() {
            return Ok(Some(v));
        }
        match (&time, chunkwise::time::parse_datetime(t)) {
            (Some(cf), Ok((date, secs))) => Ok(Some(cf.offset(date, secs))),
            (None, Ok(_)) => Err(format!("'{t}' is a date, but {coord} has no CF time units")),
            (_, Err(_)) => Err(format!("'{t}' is not a number (or a date)")),
        }
    };
    let (mut lo, mut hi) = (
        bound(lo)?.unwrap_or(f64::NEG_INFINITY),
        bound(hi)?.unwrap_or(f64::INFINITY),
    );
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let c = source::open_decoded(&coord, false).map_err(|e| e.to_string())?;
    if c.shape() != [len] {
        return Err(format!(
            "the coordinate {coord} has shape {:?}, expected [{len}]",
            c.shape()
        ));
    }
    let values = c.astype(DType::F64).compute::<f64>().map_err(|e| e.to_string())?;
    if exact && lo.is_finite() && !values.iter().any(|&v| v == lo) {
        let nearest = values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .min_by(|a, b| (a - lo).abs().total_cmp(&(b - lo).abs()));
        return Err(match nearest {
            Some(n) => format!("no value of {coord} equals {lo}; the nearest is {n} (LO:HI selects a range)"),
            None => format!("{coord} holds no values"),
        });
    }
    let inside: Vec<usize> = (0..len).filter(|&i| (lo..=hi).contains(&values[i])).collect();
    let (Some(&first), Some(&last)) = (inside.first(), inside.last()) else {
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        return Err(format!("selects nothing: {coord} runs from {min} to {max}"));
    };
    if last + 1 - first != inside.len() {
        return Err(format!(
            "{coord} is not monotonic, so [{lo}, {hi}] is not one run of positions; use --isel"
        ));
    }
    Ok(Selection {
        axis,
        start: first,
        stop: last + 1,
        step: 1,
    })
}
