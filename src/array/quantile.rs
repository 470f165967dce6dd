//! Quantiles and medians over axes: `quantile`, `nanquantile`, `quantile_with` (any of
//! NumPy's 13 methods), `quantiles`, `percentile`, `nanpercentile`, `median`,
//! `nanmedian` (NumPy's functions of those names).
//!
//! An order statistic has no small mergeable partial, so unlike the tree reductions
//! these need every value of an output position in one block: the reduced axes are
//! rechunked whole (as dask's `median` does), and so that such a block stays near the
//! usual chunk size the other axes are rechunked smaller when it would not (dask's
//! `"auto"` on them). Each block then goes through the lane kernel
//! ([`crate::device::cpu::quantile`]) as one task. A median over time of a
//! `(time, lat, lon)` field stored in time slabs is therefore a rechunk to columns
//! first — the transpose dask and xarray do for the same call.
//!
//! Result dtypes are NumPy's: one quantile (or a median) of float32 is float32, of
//! float64 float64, of integers and bool float64; several quantiles (`quantiles`, an
//! array `q` in NumPy) are float64 and lead the result's axes. The discrete methods
//! (`lower`, `higher`, `nearest`, `inverted_cdf`, `closest_observation`) return
//! elements of the input, in its dtype, bool included.

use super::Array;
use super::reduce::Axes;
use crate::device::cpu::quantile::{QuantileMethod, Ranked, Statistic, lane, lane_picks, lanes};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::{AxisChunks, ChunkSpec, DEFAULT_CHUNK_BYTES, normalize_axes};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// Options of [`Array::quantiles`] and [`Array::quantile_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuantileOptions {
    /// Drop NaN before ranking (`nanquantile`); otherwise a NaN gives NaN.
    pub skip_nan: bool,
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
    /// How a quantile between two order statistics is chosen (NumPy's `method=`;
    /// default `linear`).
    pub method: QuantileMethod,
}

impl Array {
    /// The `q`-th quantile (`0 ≤ q ≤ 1`) over `axes`, NumPy's `np.quantile(x, q, axis)`
    /// with the default linear method. A NaN in a slice gives NaN.
    ///
    /// ```
    /// # use chunkwise::Array;
    /// let x = Array::from_ndarray(ndarray::array![[1.0f32, 5.0], [2.0, 6.0], [4.0, 7.0]].into_dyn(), [1, 2])?;
    /// assert_eq!(x.quantile(0.5, 0)?.compute::<f32>()?.into_raw_vec_and_offset().0, vec![2.0, 6.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// `q` outside [0, 1], an axis out of range, bool data (NumPy refuses it too), or
    /// an empty slice (NumPy raises `IndexError`).
    pub fn quantile(&self, q: f64, axes: impl Into<Axes>) -> Result<Array> {
        self.quantile_with(q, axes, &QuantileOptions::default())
    }

    /// One quantile with options: NumPy's `np.quantile(x, q, axis, method=…, keepdims=…)`,
    /// or `np.nanquantile` with `skip_nan`. A float32 input stays float32 (NumPy's weak
    /// `q`), a discrete method keeps the input's dtype.
    ///
    /// ```
    /// # use chunkwise::{Array, QuantileMethod, QuantileOptions};
    /// let x = Array::from_ndarray(ndarray::array![5i16, 1, 9, 3, 7, 2].into_dyn(), [4])?;
    /// let opts = |method| QuantileOptions { method, ..QuantileOptions::default() };
    /// // np.quantile(x, 0.3, method="lower") == 2 (int16); "hazen" == 2.3
    /// assert_eq!(x.quantile_with(0.3, None, &opts(QuantileMethod::Lower))?.compute_scalar::<i16>()?, 2);
    /// assert_eq!(x.quantile_with(0.3, None, &opts(QuantileMethod::Hazen))?.compute_scalar::<f64>()?, 2.3);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Array::quantile`] (bool data is accepted by the discrete methods).
    pub fn quantile_with(&self, q: f64, axes: impl Into<Axes>, opts: &QuantileOptions) -> Result<Array> {
        let name = if opts.skip_nan { "nanquantile" } else { "quantile" };
        self.order_statistic(
            name,
            Statistic::Quantiles(vec![q], opts.method),
            axes.into(),
            *opts,
            true,
        )
    }

    /// The `p`-th percentile (`0 ≤ p ≤ 100`): `np.percentile(x, p, axis)`, the quantile
    /// at `p / 100` with the linear method.
    ///
    /// # Errors
    /// As [`Array::quantile`], for `p` outside [0, 100].
    pub fn percentile(&self, p: f64, axes: impl Into<Axes>) -> Result<Array> {
        self.quantile_with(percent(p)?, axes, &QuantileOptions::default())
    }

    /// The `p`-th percentile skipping NaN (`np.nanpercentile`).
    ///
    /// # Errors
    /// As [`Array::nanquantile`], for `p` outside [0, 100].
    pub fn nanpercentile(&self, p: f64, axes: impl Into<Axes>) -> Result<Array> {
        let opts = QuantileOptions {
            skip_nan: true,
            ..QuantileOptions::default()
        };
        self.quantile_with(percent(p)?, axes, &opts)
    }

    /// The `q`-th quantile skipping NaN (`np.nanquantile`); a slice with no number gives
    /// NaN.
    ///
    /// # Errors
    /// As [`Array::quantile`], except that empty slices give NaN.
    pub fn nanquantile(&self, q: f64, axes: impl Into<Axes>) -> Result<Array> {
        let opts = QuantileOptions {
            skip_nan: true,
            ..QuantileOptions::default()
        };
        self.quantile_with(q, axes, &opts)
    }

    /// Several quantiles at once (`np.quantile(x, [q0, q1, …], axis)`): a leading axis of
    /// `qs.len()`, float64 whatever the input's float type (NumPy's promotion with an
    /// array `q`), one pass over each slice.
    ///
    /// # Errors
    /// As [`Array::quantile`] (or [`Array::nanquantile`] with `skip_nan`); no quantiles.
    pub fn quantiles(&self, qs: &[f64], axes: impl Into<Axes>, opts: &QuantileOptions) -> Result<Array> {
        if qs.is_empty() {
            return Err(Error::InvalidArgument("quantiles: no quantiles given".into()));
        }
        let name = if opts.skip_nan { "nanquantile" } else { "quantile" };
        self.order_statistic(
            name,
            Statistic::Quantiles(qs.to_vec(), opts.method),
            axes.into(),
            *opts,
            false,
        )
    }

    /// The median over `axes` (`np.median`): the middle value, or the mean of the two
    /// middle values. A NaN in a slice gives NaN; an empty slice gives NaN.
    ///
    /// # Errors
    /// An axis out of range.
    pub fn median(&self, axes: impl Into<Axes>) -> Result<Array> {
        self.order_statistic(
            "median",
            Statistic::Median,
            axes.into(),
            QuantileOptions::default(),
            true,
        )
    }

    /// The median skipping NaN (`np.nanmedian`); a slice with no number gives NaN.
    ///
    /// # Errors
    /// An axis out of range.
    pub fn nanmedian(&self, axes: impl Into<Axes>) -> Result<Array> {
        let opts = QuantileOptions {
            skip_nan: true,
            ..QuantileOptions::default()
        };
        self.order_statistic("nanmedian", Statistic::Median, axes.into(), opts, true)
    }

    /// The common path. `one`: a single statistic, whose float32 input keeps float32.
    fn order_statistic(
        &self,
        name: &str,
        stat: Statistic,
        axes: Axes,
        opts: QuantileOptions,
        one: bool,
    ) -> Result<Array> {
        let nd = self.ndim();
        let shape = self.shape();
        let mut drop = match axes {
            Axes::All => (0..nd).collect(),
            Axes::List(l) => normalize_axes(&l, nd)?,
        };
        drop.sort_unstable();
        let discrete = matches!(&stat, Statistic::Quantiles(_, m) if m.is_discrete());
        if let Statistic::Quantiles(qs, method) = &stat {
            if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return Err(Error::InvalidArgument(format!("{name}: quantile {q} is not in [0, 1]")));
            }
            if self.dtype() == DType::Bool && !discrete {
                return Err(Error::InvalidArgument(format!(
                    "{name}: bool data has no {} quantiles (NumPy refuses them too); use astype or a discrete method",
                    method.name()
                )));
            }
        }
        let lane_len: usize = drop.iter().map(|&a| shape[a]).product();
        let kept_len: usize = (0..nd).filter(|a| !drop.contains(a)).map(|a| shape[a]).product();
        // An empty slice: NumPy's quantile raises; so does nanquantile where the
        // answer's dtype cannot hold NaN (a discrete method on integers).
        let no_nan = discrete && self.dtype().kind() != crate::dtype::Kind::Float;
        if lane_len == 0 && kept_len > 0 && no_nan && opts.skip_nan && one {
            // NumPy's nan-variants answer an empty array with its nanmean: float64 NaN.
            let mean = super::reduce::ReduceOptions {
                keepdims: opts.keepdims,
                ..Default::default()
            };
            return self.reduce(
                crate::ops::ReduceOp::NanMean,
                Axes::List(drop.iter().map(|&a| a as isize).collect()),
                &mean,
            );
        }
        if lane_len == 0 && kept_len > 0 && (name == "quantile" || no_nan) {
            return Err(Error::InvalidArgument(format!(
                "{name}: the reduced axes {drop:?} of shape {shape:?} are empty"
            )));
        }
        let x = self.whole_along(&drop)?;
        let nstat = stat.count();
        let new_axis: Vec<(isize, usize)> = if one { Vec::new() } else { vec![(0, nstat)] };
        let drop_axis: Vec<isize> = drop.iter().map(|&a| a as isize).collect();
        let skip = opts.skip_nan;
        let reduced = drop.clone();
        let out = if let Statistic::Quantiles(qs, method) = stat.clone()
            && discrete
        {
            crate::dispatch_dtype!(self.dtype(), T => x.map_blocks_axes_named(name, &drop_axis, &new_axis, move |b: ArrayViewD<'_, T>, _| {
                block::<T, T>(&b, &reduced, qs.len(), one, T::from_f64(f64::NAN), |l, o| lane_picks(l, &qs, method, skip, o))
            })?)
        } else if one && self.dtype() == DType::F32 {
            x.map_blocks_axes_named(name, &drop_axis, &new_axis, move |b: ArrayViewD<'_, f32>, _| {
                block::<f32, f32>(&b, &reduced, stat.count(), one, f32::NAN, |l, o| {
                    lane(l, &stat, skip, o)
                })
            })?
        } else {
            crate::dispatch_dtype!(self.dtype(), T => x.map_blocks_axes_named(name, &drop_axis, &new_axis, move |b: ArrayViewD<'_, T>, _| {
                block::<T, f64>(&b, &reduced, stat.count(), one, f64::NAN, |l, o| lane::<T, f64>(l, &stat, skip, o))
            })?)
        };
        if !opts.keepdims {
            return Ok(out);
        }
        let lead = usize::from(!one);
        drop.iter().try_fold(out, |a, &ax| a.expand_dims((ax + lead) as isize))
    }

    /// This array with `axes` in one block each, the other axes split further when a
    /// block would otherwise outgrow both the default chunk size and the largest block
    /// it has now.
    fn whole_along(&self, axes: &[usize]) -> Result<Array> {
        let shape = self.shape();
        let item = self.dtype().size();
        let whole: usize = axes.iter().map(|&a| shape[a].max(1)).product();
        let kept: usize = (0..shape.len())
            .filter(|a| !axes.contains(a))
            .map(|a| self.chunks()[a].iter().copied().max().unwrap_or(1).max(1))
            .product();
        let now: usize = self
            .chunks()
            .iter()
            .map(|c| c.iter().copied().max().unwrap_or(1).max(1))
            .product();
        let target = DEFAULT_CHUNK_BYTES.max(now * item);
        let fits = whole * kept * item <= target;
        let rule = (0..shape.len())
            .map(|a| {
                if axes.contains(&a) {
                    AxisChunks::Full
                } else if fits {
                    AxisChunks::Sizes(self.chunks()[a].clone())
                } else {
                    AxisChunks::Auto
                }
            })
            .collect();
        let spec = ChunkSpec {
            axes: rule,
            target_bytes: target,
        };
        if fits && axes.iter().all(|&a| self.chunks()[a].len() <= 1) {
            return Ok(self.clone());
        }
        self.rechunk(spec)
    }
}

/// One block: each kept position's lane is gathered in place through the block's
/// strides (the kept axes' positions in C order, the reduced axes' elements in C order).
/// The result has the kept axes in order, led by the statistic axis unless `one`.
fn block<T: Ranked, O: Copy>(
    b: &ArrayViewD<'_, T>,
    drop: &[usize],
    nstat: usize,
    one: bool,
    fill: O,
    reduce: impl FnMut(&mut Vec<T>, &mut [O]),
) -> ArrayD<O> {
    let standard = b.as_standard_layout();
    let data = standard.as_slice().unwrap_or(&[]);
    let shape = b.shape();
    let nd = shape.len();
    let mut strides = vec![1usize; nd];
    for a in (0..nd.saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    let kept: Vec<usize> = (0..nd).filter(|a| !drop.contains(a)).collect();
    let offsets_of = |axes: &[usize]| -> Vec<usize> {
        axes.iter().fold(vec![0usize], |acc, &a| {
            let step = strides[a];
            acc.iter()
                .flat_map(|&o| (0..shape[a]).map(move |i| o + i * step))
                .collect()
        })
    };
    let bases = offsets_of(&kept);
    let offsets = offsets_of(drop);
    let mut out_shape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
    if !one {
        out_shape.insert(0, nstat);
    }
    let mut out = vec![fill; out_shape.iter().product()];
    lanes(data, &bases, &offsets, nstat, fill, reduce, &mut out);
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("the output holds its shape's product of values")
}

/// A percentile as a quantile (NumPy: `q = p / 100`).
fn percent(p: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&p) {
        return Err(Error::InvalidArgument(format!("percentile {p} is not in [0, 100]")));
    }
    Ok(p / 100.0)
}
