//! `chunkwise reduce`: reductions of a stored array, printed or saved (`.npy`, or a
//! Zarr group xarray opens). Several ops given together are built as separate lazy
//! results over the same selected input and computed in one run (`compute_many`), so
//! the store is read once for all of them.
//!
//! Result dtypes follow NumPy, except that mean/std/var (and nan-variants) are reported
//! as float64 (`ReduceOptions::dtype`, NumPy's `dtype=np.float64`: accumulated in f64
//! either way, so no float32 rounding of the result happens first).

use crate::run_opts::RunArgs;
use crate::source;
use chunkwise::io::npy::write_npy;
use chunkwise::{Chunk, DType, ReduceOp, ReduceOptions};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `chunkwise reduce`.
#[derive(clap::Args, Debug)]
pub struct ReduceArgs {
    /// The array: `store.zarr`, `store.zarr/group/array` (Zarr v2/v3), `file.h5:/dataset`
    /// or `file.nc:var`; a pattern (`'era5_*.nc:t2m'`) joins its files along the first axis.
    source: String,
    /// The reduction: sum, mean, min, max, prod, std, var, nansum, nanmean, nanmin, nanmax,
    /// nanstd, nanvar, argmin, argmax, count, any, all; or the order statistics median,
    /// nanmedian, quantile, nanquantile, percentile and nanpercentile (with --q; NumPy's
    /// dtypes: float32 stays float32, integers give float64). Several, comma-separated
    /// (`nanmean,nanstd,nanmax`), are computed in one pass over the data: one result
    /// each (a JSON line each with --format json; variables of one --out .zarr).
    #[arg(long)]
    op: String,
    /// The quantile (0–1) of --op quantile/nanquantile, or the percentile (0–100) of
    /// --op percentile/nanpercentile.
    #[arg(long)]
    q: Option<f64>,
    /// How a quantile between two values is chosen, NumPy's `method=`: linear (default),
    /// lower, higher, nearest, midpoint, inverted_cdf, averaged_inverted_cdf,
    /// closest_observation, interpolated_inverted_cdf, hazen, weibull, median_unbiased,
    /// normal_unbiased. The discrete ones (lower, higher, nearest, inverted_cdf,
    /// closest_observation) keep the data's dtype.
    #[arg(long)]
    method: Option<String>,
    /// Axes to reduce, comma-separated: numbers (negative counts from the end) or the
    /// store's dimension names (`--axis time`, `--axis lat,lon`); all when omitted.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    axis: Option<Vec<String>>,
    /// Write the full result to this `.npy` file, or to a `.zarr` store: a Zarr v3
    /// group that `xr.open_zarr` opens, with the result as a variable named after the
    /// source's (kept dimension names, `units`, CF `cell_methods`) and the kept
    /// dimensions' coordinates; atomically, replacing an earlier result.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Reduce per group of the time axis instead of over it: month, dayofyear, season
    /// (DJF, JJA, MAM, SON, as xarray) or year. The axis is `--axis` (one; default 0).
    /// Times come from the store's CF `time` coordinate, or from --time-origin/--time-step.
    /// Only the groups with at least one step are in the result, as with xarray.
    #[arg(long)]
    groupby: Option<String>,
    /// The date of the first step along the grouped axis (`2001-01-01`, `1979-01-01T06:00`).
    #[arg(long)]
    time_origin: Option<String>,
    /// The time between steps with --time-origin (`1d`, `6h`, `30min`; default 1d).
    #[arg(long)]
    time_step: Option<String>,
    /// Calendar of --time-origin, or overriding the coordinate's: standard, noleap, all_leap, 360_day.
    #[arg(long)]
    calendar: Option<String>,
    /// The time coordinate as a SOURCE (default: the sibling array named after the axis, or `time`).
    #[arg(long)]
    time_coord: Option<String>,
    /// Reduce the stored values as they are. By default they are decoded as xarray's
    /// `open_dataset` decodes them: values equal to the `_FillValue` or `missing_value`
    /// attribute become NaN, and `scale_factor`/`add_offset` unpack packed integers
    /// (`chunkwise info` shows what applies).
    #[arg(long)]
    raw: bool,
    /// Delta degrees of freedom of std, var, nanstd and nanvar: the divisor is N - ddof
    /// (NumPy's and xarray's default 0; 1 for the sample estimate, as pandas).
    #[arg(long)]
    ddof: Option<f64>,
    /// Keep the reduced axes with length 1 (NumPy's `keepdims=True`), so that the
    /// result broadcasts against the input.
    #[arg(long)]
    keepdims: bool,
    /// Partial results merged per combine task of the reduction tree (dask's
    /// `split_every`; default 4, at least 2). The result for a given value is the same
    /// on every run and thread count; another value may round differently.
    #[arg(long)]
    split_every: Option<usize>,
    /// Weight the elements (xarray's `weighted(w)`): `coslat` for the area weights of a
    /// latitude–longitude grid, cos(latitude) from the store's latitude coordinate, or
    /// a SOURCE of weights that broadcast against the data. Goes with sum, mean, var and
    /// std (missing values always skipped, their weights dropped from the denominator,
    /// as xarray does; nan-names the same).
    #[arg(long)]
    weights: Option<String>,
    /// Reduce only these positions of a dimension (xarray's `isel`):
    /// `DIM=START:STOP[:STEP]` (Python's slice rules) or `DIM=K`; DIM a dimension name
    /// or axis number. Repeat for several dimensions. The axis keeps its place.
    #[arg(long, allow_hyphen_values = true)]
    isel: Vec<String>,
    /// Reduce only where a dimension's coordinate lies in [LO, HI] (xarray's `sel` with
    /// a slice, both ends included, in either order): `lat=30:60`,
    /// `time=2001-06-01:2001-08-31` (dates where the coordinate has CF time units);
    /// either bound may be empty; `DIM=V` the one position whose coordinate equals V.
    /// Repeat for several dimensions.
    #[arg(long, allow_hyphen_values = true)]
    sel: Vec<String>,
    /// The latitude coordinate of `--weights coslat` as a SOURCE (default: the sibling
    /// array of the data's `latitude`/`lat` dimension).
    #[arg(long)]
    lat_coord: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
}

fn json_value(c: &Chunk) -> String {
    let d = c.data();
    match d {
        chunkwise::Buffer::Bool(v) => v[0].to_string(),
        chunkwise::Buffer::I64(v) => v[0].to_string(),
        chunkwise::Buffer::U64(v) => v[0].to_string(),
        chunkwise::Buffer::I32(v) => v[0].to_string(),
        chunkwise::Buffer::I16(v) => v[0].to_string(),
        chunkwise::Buffer::I8(v) => v[0].to_string(),
        chunkwise::Buffer::U32(v) => v[0].to_string(),
        chunkwise::Buffer::U16(v) => v[0].to_string(),
        chunkwise::Buffer::U8(v) => v[0].to_string(),
        chunkwise::Buffer::F32(v) => float(f64::from(v[0])),
        chunkwise::Buffer::F64(v) => float(v[0]),
    }
}

fn float(x: f64) -> String {
    if x.is_finite() { format!("{x:?}") } else { "null".into() }
}

/// A 0-d result as text, as NumPy prints it: a float32 in its shortest form
/// (`22.906734`, not the f64 digits of the same value), `nan`, `inf`, `-inf`.
fn text_value(c: &Chunk) -> String {
    fn text<T: std::fmt::Debug + Into<f64> + Copy>(x: T) -> String {
        let f: f64 = x.into();
        if f.is_nan() {
            "nan".into()
        } else if f.is_infinite() {
            if f > 0.0 { "inf" } else { "-inf" }.into()
        } else {
            format!("{x:?}")
        }
    }
    match c.data() {
        chunkwise::Buffer::F32(v) => text(v[0]),
        chunkwise::Buffer::F64(v) => text(v[0]),
        _ => json_value(c),
    }
}

/// What `--op` names: a tree reduction, or an order statistic (computed over the axes
/// rechunked whole, `Array::median`, `Array::quantile_with`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Tree(ReduceOp),
    Median {
        skip_nan: bool,
    },
    /// `percent`: --q is a percentile (0–100).
    Quantile {
        skip_nan: bool,
        percent: bool,
    },
}

/// The order statistics `--op` takes besides the tree reductions.
const ORDER_OPS: [&str; 6] = [
    "median",
    "nanmedian",
    "quantile",
    "nanquantile",
    "percentile",
    "nanpercentile",
];

impl Op {
    fn parse(s: &str) -> chunkwise::Result<Op> {
        match s {
            "median" => Ok(Op::Median { skip_nan: false }),
            "nanmedian" => Ok(Op::Median { skip_nan: true }),
            "quantile" | "nanquantile" | "percentile" | "nanpercentile" => Ok(Op::Quantile {
                skip_nan: s.starts_with("nan"),
                percent: s.ends_with("percentile"),
            }),
            _ => ReduceOp::parse(s).map(Op::Tree).map_err(|_| {
                let names: Vec<&str> = ReduceOp::ALL.iter().map(|o| o.name()).collect();
                chunkwise::Error::InvalidArgument(format!(
                    "unknown op '{s}' (expected one of: {}, {})",
                    names.join(", "),
                    ORDER_OPS.join(", ")
                ))
            }),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Tree(op) => op.name(),
            Op::Median { skip_nan: false } => "median",
            Op::Median { skip_nan: true } => "nanmedian",
            Op::Quantile { skip_nan, percent } => match (skip_nan, percent) {
                (false, false) => "quantile",
                (true, false) => "nanquantile",
                (false, true) => "percentile",
                (true, true) => "nanpercentile",
            },
        }
    }
}

/// The quantile options of `--op quantile` and its kin: `(q in [0, 1], options)`;
/// `None` for other ops (`check_options` refuses `--q`/`--method` without one).
fn quantile_args(op: Op, args: &ReduceArgs) -> chunkwise::Result<Option<(f64, chunkwise::QuantileOptions)>> {
    let Op::Quantile { skip_nan, percent } = op else {
        return Ok(None);
    };
    let (range, what) = if percent {
        (100.0, "percentile")
    } else {
        (1.0, "quantile")
    };
    let q = args.q.ok_or_else(|| {
        chunkwise::Error::InvalidArgument(format!("--op {} needs --q (a {what} in [0, {range}])", op.name()))
    })?;
    if !(0.0..=range).contains(&q) {
        return Err(chunkwise::Error::InvalidArgument(format!(
            "--q {q}: a {what} must be in [0, {range}]"
        )));
    }
    let method = match &args.method {
        Some(m) => chunkwise::QuantileMethod::parse(m)?,
        None => chunkwise::QuantileMethod::default(),
    };
    let opts = chunkwise::QuantileOptions {
        skip_nan,
        method,
        ..chunkwise::QuantileOptions::default()
    };
    Ok(Some((if percent { q / 100.0 } else { q }, opts)))
}

/// `--axis` as numbers: each word an integer, or one of the store's dimension names.
fn resolve_axes(words: Option<&[String]>, src: &str) -> chunkwise::Result<Option<Vec<isize>>> {
    let Some(words) = words else { return Ok(None) };
    let mut dims: Option<Option<Vec<String>>> = None;
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        if let Ok(a) = w.trim().parse::<isize>() {
            out.push(a);
            continue;
        }
        let names = dims.get_or_insert_with(|| source::dimension_names(src));
        let a = crate::select::dim_position(w.trim(), names.as_deref())
            .map_err(|e| chunkwise::Error::InvalidArgument(format!("--axis {w}: {e}")))?;
        out.push(a as isize);
    }
    Ok(Some(out))
}

/// The weighted reduction `--op` stands for with `--weights` (sum, mean, var, std;
/// their nan-names the same, as xarray's weighted reductions skip missing values).
fn weighted_kind(op: Op) -> Option<ReduceOp> {
    match op {
        Op::Tree(ReduceOp::Sum | ReduceOp::NanSum) => Some(ReduceOp::Sum),
        Op::Tree(ReduceOp::Mean | ReduceOp::NanMean) => Some(ReduceOp::Mean),
        Op::Tree(ReduceOp::Var | ReduceOp::NanVar) => Some(ReduceOp::Var),
        Op::Tree(ReduceOp::Std | ReduceOp::NanStd) => Some(ReduceOp::Std),
        _ => None,
    }
}

/// The input's shape with the reduced `axes` kept as length 1 (`--keepdims`).
fn kept_shape(shape: &[usize], axes: &chunkwise::Axes) -> chunkwise::Result<Vec<usize>> {
    let reduced = match axes {
        chunkwise::Axes::All => (0..shape.len()).collect(),
        chunkwise::Axes::List(a) => chunkwise::grid::normalize_axes(a, shape.len())?,
    };
    Ok(shape
        .iter()
        .enumerate()
        .map(|(i, &n)| if reduced.contains(&i) { 1 } else { n })
        .collect())
}

/// The ops of `--op`: one, or several separated by commas (`nanmean,nanstd,nanmax`),
/// each once.
fn parse_ops(s: &str) -> chunkwise::Result<Vec<Op>> {
    let mut ops: Vec<Op> = Vec::new();
    for w in s.split(',') {
        if w.trim().is_empty() && s.contains(',') {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--op {s}: an empty name between commas"
            )));
        }
        let op = Op::parse(w.trim())?;
        if ops.contains(&op) {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--op {s}: {} twice",
                op.name()
            )));
        }
        ops.push(op);
    }
    Ok(ops)
}

/// The ops' names, as the errors list them (`mean` or `mean, max`).
fn names(ops: &[Op]) -> String {
    ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
}

/// Options that go with some ops only: refused when no op in the list takes them (with
/// several ops, each option applies to the ops that take it).
fn check_options(ops: &[Op], args: &ReduceArgs) -> chunkwise::Result<()> {
    let spread = |op: &Op| {
        matches!(
            op,
            Op::Tree(ReduceOp::Std | ReduceOp::Var | ReduceOp::NanStd | ReduceOp::NanVar)
        )
    };
    if let Some(d) = args.ddof {
        if !ops.iter().any(spread) {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--ddof goes with std, var, nanstd and nanvar, not {}",
                names(ops)
            )));
        }
        if !d.is_finite() || d < 0.0 {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--ddof {d}: must be a number ≥ 0"
            )));
        }
    }
    if (args.q.is_some() || args.method.is_some()) && !ops.iter().any(|o| matches!(o, Op::Quantile { .. })) {
        return Err(chunkwise::Error::InvalidArgument(format!(
            "--q and --method go with --op quantile, nanquantile, percentile or nanpercentile, not {}",
            names(ops)
        )));
    }
    if args.split_every.is_some() && !ops.iter().any(|o| matches!(o, Op::Tree(_))) {
        return Err(chunkwise::Error::InvalidArgument(format!(
            "--split-every goes with the tree reductions, not {} (an order statistic has no combine tree)",
            names(ops)
        )));
    }
    if args.weights.is_some() {
        if args.groupby.is_some() || args.ddof.is_some() || args.split_every.is_some() {
            return Err(chunkwise::Error::InvalidArgument(
                "--weights does not go with --groupby, --ddof or --split-every".into(),
            ));
        }
        if let Some(op) = ops.iter().find(|o| weighted_kind(**o).is_none()) {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--weights goes with sum, mean, var and std (or their nan-names), not {}",
                op.name()
            )));
        }
    } else if args.lat_coord.is_some() {
        return Err(chunkwise::Error::InvalidArgument(
            "--lat-coord goes with --weights coslat".into(),
        ));
    }
    if args.keepdims && args.groupby.is_some() {
        return Err(chunkwise::Error::InvalidArgument(
            "--keepdims does not go with --groupby (the grouped axis becomes the groups)".into(),
        ));
    }
    if args.groupby.is_none() && (args.time_origin.is_some() || args.time_step.is_some() || args.time_coord.is_some()) {
        return Err(chunkwise::Error::InvalidArgument(
            "--time-origin, --time-step and --time-coord go with --groupby".into(),
        ));
    }
    Ok(())
}

/// What one op of the command needs besides the op: the selected data and the axes,
/// and what the ops share (weights, groups).
struct Input<'a> {
    x: &'a chunkwise::Array,
    axis: Option<&'a [isize]>,
    /// `--weights`, cut as the data: built once, shared by the ops.
    weights: Option<&'a chunkwise::Array>,
    /// `--groupby`: the grouped axis and its groups, found once for all ops.
    grouped: Option<(usize, &'a crate::timecoord::Groups)>,
}

/// The grouped axis and the groups of `--groupby BY` (one axis, the time coordinate
/// read once for all ops).
fn groups_of(
    by: &str,
    args: &ReduceArgs,
    x: &chunkwise::Array,
    full: &[usize],
    sels: &[crate::select::Selection],
    axis: Option<&[isize]>,
) -> chunkwise::Result<(usize, crate::timecoord::Groups)> {
    let by_key = chunkwise::time::GroupBy::parse(by)?;
    let axis = match axis {
        None => 0,
        Some([a]) => *a,
        Some(_) => {
            return Err(chunkwise::Error::InvalidArgument(
                "--groupby groups one axis: give a single --axis".into(),
            ));
        }
    };
    let ax = chunkwise::grid::normalize_axis(axis, x.ndim())?;
    let t = crate::timecoord::TimeArgs {
        origin: args.time_origin.as_deref(),
        step: args.time_step.as_deref(),
        calendar: args.calendar.as_deref(),
        coord: args.time_coord.as_deref(),
    };
    let keep: Option<Vec<usize>> = sels.iter().find(|s| s.axis == ax).map(|s| s.positions().collect());
    let g = crate::timecoord::labels(by_key, &t, &args.source, ax, full[ax], keep.as_deref())?;
    Ok((ax, g))
}

/// An order statistic per group (xarray's `groupby("time.month").median()`): each
/// group's steps gathered (`take`), reduced whole along the axis, and the groups
/// stacked in their order. Unlike the tree reductions, which read the data once for all
/// groups, each group reads the stored chunks holding its own steps.
fn grouped_order_statistic(
    x: &chunkwise::Array,
    ax: usize,
    g: &crate::timecoord::Groups,
    op: Op,
    quantile: Option<(f64, chunkwise::QuantileOptions)>,
) -> chunkwise::Result<chunkwise::Array> {
    let mut parts = Vec::with_capacity(g.names.len());
    for k in 0..g.names.len() {
        let steps: Vec<isize> = (0..g.labels.len())
            .filter(|&i| g.labels[i] == k as i64)
            .map(|i| i as isize)
            .collect();
        let part = x.take(&steps, ax as isize)?;
        let r = match (op, &quantile) {
            (Op::Median { skip_nan: false }, _) => part.median(ax as isize)?,
            (Op::Median { skip_nan: true }, _) => part.nanmedian(ax as isize)?,
            (_, Some((q, qopts))) => part.quantile_with(*q, ax as isize, qopts)?,
            _ => {
                return Err(chunkwise::Error::InvalidArgument(format!(
                    "--op {} needs --q",
                    op.name()
                )));
            }
        };
        parts.push(r);
    }
    let refs: Vec<&chunkwise::Array> = parts.iter().collect();
    chunkwise::Array::stack(&refs, ax as isize)
}

/// The lazy result of `op` over the input.
fn build(op: Op, args: &ReduceArgs, input: &Input<'_>) -> chunkwise::Result<chunkwise::Array> {
    let Input {
        x,
        axis,
        weights,
        grouped,
    } = *input;
    let quantile = quantile_args(op, args)?;
    let moment = matches!(
        op,
        Op::Tree(
            ReduceOp::Mean | ReduceOp::Std | ReduceOp::Var | ReduceOp::NanMean | ReduceOp::NanStd | ReduceOp::NanVar
        )
    );
    // Moments are reported as float64 (NumPy's dtype=np.float64): accumulated in f64
    // and never rounded to float32 first.
    let opts = ReduceOptions {
        dtype: moment.then_some(DType::F64),
        ddof: args.ddof.unwrap_or(0.0),
        keepdims: args.keepdims,
        split_every: args.split_every.unwrap_or(chunkwise::ops::DEFAULT_SPLIT_EVERY),
    };
    let r = if let Some((ax, g)) = grouped {
        let Op::Tree(op) = op else {
            return grouped_order_statistic(x, ax, g, op, quantile);
        };
        let gopts = chunkwise::GroupByOptions {
            ngroups: Some(g.names.len()),
            dtype: opts.dtype,
            ddof: opts.ddof,
            split_every: opts.split_every,
        };
        x.groupby_reduce(&g.labels, ax as isize, op, &gopts)?
    } else {
        let axes: chunkwise::Axes = match axis {
            None => chunkwise::Axes::All,
            Some(a) => {
                if x.ndim() == 0 {
                    return Err(chunkwise::Error::AxisOutOfRange { axis: a[0], ndim: 0 });
                }
                chunkwise::Axes::List(a.to_vec())
            }
        };
        let kept = args.keepdims.then(|| kept_shape(&x.shape(), &axes)).transpose()?;
        let r = if let (Some(spec), Some(w)) = (&args.weights, weights) {
            let wx = x
                .weighted(w)
                .map_err(|e| chunkwise::Error::InvalidArgument(format!("--weights {spec}: {e}")))?;
            match weighted_kind(op) {
                Some(ReduceOp::Sum) => wx.sum(axes)?,
                Some(ReduceOp::Var) => wx.var(axes)?,
                Some(ReduceOp::Std) => wx.std(axes)?,
                _ => wx.mean(axes)?,
            }
        } else {
            match op {
                Op::Tree(op) => x.reduce(op, axes, &opts)?,
                Op::Median { skip_nan: false } => x.median(axes)?,
                Op::Median { skip_nan: true } => x.nanmedian(axes)?,
                Op::Quantile { .. } => {
                    let Some((q, qopts)) = quantile else {
                        return Err(chunkwise::Error::InvalidArgument(format!(
                            "--op {} needs --q",
                            op.name()
                        )));
                    };
                    x.quantile_with(q, axes, &qopts)?
                }
            }
        };
        match kept {
            Some(shape) if r.shape() != shape => r.reshape(&shape.iter().map(|&n| n as isize).collect::<Vec<_>>())?,
            _ => r,
        }
    };
    Ok(r)
}

/// Runs the command.
///
/// # Errors
/// Bad input (source, op, axis, empty selection) or a failing read.
pub fn run(args: &ReduceArgs) -> chunkwise::Result<()> {
    let ops = parse_ops(&args.op)?;
    check_options(&ops, args)?;
    // A bad or unavailable --device is reported before any data is touched.
    chunkwise::device::DeviceKind::parse(&args.run.device)
        .and_then(chunkwise::device::DeviceKind::resolve)
        .map_err(|e| crate::run_opts::device_error(&args.run.device, e))?;
    if let Some(out) = &args.out {
        if out.extension().is_none_or(|e| e != "npy" && e != "zarr") {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--out {}: the output must be a .npy file or a .zarr store",
                out.display()
            )));
        }
        // Checked now, not after a long run: the directory must exist, and a .npy
        // cannot replace a directory.
        chunkwise::io::staging::check_target(out, true)?;
        if out.extension().is_some_and(|e| e == "npy") && out.is_dir() {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--out {}: is a directory, not a .npy file",
                out.display()
            )));
        }
        if ops.len() > 1 && out.extension().is_some_and(|e| e == "npy") {
            return Err(chunkwise::Error::InvalidArgument(format!(
                "--out {}: a .npy file holds one result; write several ops to a .zarr store",
                out.display()
            )));
        }
    }
    let x = source::open_decoded(&args.source, args.raw)?;
    let full = x.shape();
    let sels = crate::select::resolve(&args.isel, &args.sel, &args.source, &full)?;
    let x = crate::select::apply(&x, &sels)?;
    let axis = resolve_axes(args.axis.as_deref(), &args.source)?;
    let weights = match &args.weights {
        Some(spec) => {
            let w = crate::weights::weights(spec, args.lat_coord.as_deref(), &args.source, &full)?;
            Some(crate::select::apply_broadcast(&w, &sels, full.len())?)
        }
        None => None,
    };
    let grouped = match &args.groupby {
        Some(by) => Some(groups_of(by, args, &x, &full, &sels, axis.as_deref())?),
        None => None,
    };
    let input = Input {
        x: &x,
        axis: axis.as_deref(),
        weights: weights.as_ref(),
        grouped: grouped.as_ref().map(|(ax, g)| (*ax, g)),
    };
    let results = ops
        .iter()
        .map(|&op| build(op, args, &input))
        .collect::<chunkwise::Result<Vec<_>>>()?;
    let groups: Option<(String, crate::timecoord::Groups)> = args.groupby.clone().zip(grouped.map(|(_, g)| g));
    let (rt, bar) = args.run.runtime(args.format == Format::Json)?;
    let refs: Vec<&chunkwise::Array> = results.iter().collect();
    if args.run.explain(&rt, &refs)? {
        return Ok(());
    }
    // Several ops are computed together: one read of the data, their common tasks
    // (the loads, the selection) shared.
    let t0 = Instant::now();
    let result = rt.compute_with_stats(&refs);
    let elapsed = t0.elapsed().as_secs_f64();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (out, stats) = result?;
    args.run.finish(bar, &stats)?;
    if out.len() != ops.len() {
        return Err(chunkwise::Error::Unsupported("no result".into()));
    }
    if let Some(path) = &args.out {
        if path.extension().is_some_and(|e| e == "zarr") {
            let grouped = groups.as_ref().map(|(by, g)| (by.as_str(), g.values.as_slice()));
            let whats: Vec<crate::output::Reduction<'_>> = ops
                .iter()
                .map(|op| crate::output::Reduction {
                    source: &args.source,
                    op: op.name(),
                    axes: axis.as_deref(),
                    groupby: grouped,
                    keepdims: args.keepdims,
                    weights: args.weights.as_deref(),
                    selections: &sels,
                })
                .collect();
            let pairs: Vec<(&Chunk, &crate::output::Reduction<'_>)> = out.iter().zip(&whats).collect();
            crate::output::write_zarr(path, &pairs)?;
        } else {
            write_npy(path, &out[0])?;
        }
    }
    // Where each result went, for scripts: the file, and in a Zarr store its variable.
    let names: Vec<&str> = ops.iter().map(|op| op.name()).collect();
    let outs: Vec<Option<String>> = match &args.out {
        Some(p) if p.extension().is_some_and(|e| e == "zarr") => crate::output::result_names(&args.source, &names)
            .into_iter()
            .map(|v| Some(p.join(v).display().to_string()))
            .collect(),
        Some(p) => vec![Some(p.display().to_string())],
        None => vec![None; ops.len()],
    };
    for ((op, c), written) in ops.iter().zip(&out).zip(&outs) {
        let run = RunFacts {
            elapsed,
            stats: &stats,
            rt: &rt,
        };
        print_result(*op, c, args, groups.as_ref(), written.as_deref(), &run);
    }
    if let (Some(p), Format::Text) = (&args.out, args.format) {
        println!("written to {}", p.display());
    }
    Ok(())
}

/// What the run that computed the results reports with each.
struct RunFacts<'a> {
    elapsed: f64,
    stats: &'a chunkwise::RunStats,
    rt: &'a chunkwise::Runtime,
}

/// Prints one op's result: a JSON object (one line per op), or text.
fn print_result(
    op: Op,
    c: &Chunk,
    args: &ReduceArgs,
    groups: Option<&(String, crate::timecoord::Groups)>,
    written: Option<&str>,
    run: &RunFacts<'_>,
) {
    let RunFacts { elapsed, stats, rt } = *run;
    match args.format {
        Format::Json => {
            let shape = c.shape().iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let mut value = if c.shape().is_empty() {
                format!(",\"value\":{}", json_value(c))
            } else {
                String::new()
            };
            if let Some((by, g)) = groups {
                value.push_str(&format!(
                    ",\"groupby\":{},\"groups\":{}",
                    serde_json::to_string(by).unwrap_or_default(),
                    serde_json::to_string(&g.names).unwrap_or_default()
                ));
            }
            if let Some(w) = written {
                value.push_str(&format!(",\"out\":{}", serde_json::to_string(w).unwrap_or_default()));
            }
            println!(
                "{{\"op\":\"{}\",\"source\":{},\"shape\":[{shape}],\"dtype\":\"{}\"{value},\"elapsed_s\":{elapsed:.6},\"tasks\":{},\"threads\":{},\"peak_accounted_bytes\":{},\"over_budget\":{},\"bytes_read\":{},\"memory_limit\":{}}}",
                op.name(),
                serde_json::to_string(&args.source).unwrap_or_default(),
                c.dtype(),
                stats.tasks,
                rt.threads(),
                stats.peak_bytes,
                stats.over_budget,
                stats.bytes_read,
                rt.config()
                    .memory_limit
                    .map_or_else(|| "null".into(), |m| m.to_string())
            );
        }
        Format::Text => {
            if c.shape().is_empty() {
                println!("{} = {}", op.name(), text_value(c));
            } else {
                println!("{}: result of shape {:?}, dtype {}", op.name(), c.shape(), c.dtype());
                if let Some((by, g)) = groups {
                    println!("groups ({by}): {}", g.names.join(", "));
                }
            }
        }
    }
}
