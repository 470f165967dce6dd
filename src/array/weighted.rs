//! Weighted reductions: xarray's `DataArray.weighted(w)` and NumPy's `np.average`.
//!
//! The area-weighted mean of a latitude–longitude field (weights `cos(lat)`) is the
//! most common reduction in climate work, and it is easy to get subtly wrong by hand:
//! a missing value must drop its weight from the denominator too, or the mean is
//! biased toward zero. So the rules are xarray's, and written once:
//!
//! * the weighted sum is `Σ w·x` with missing `x` counted as 0;
//! * the sum of weights is `Σ w` over the elements where `x` is not missing;
//! * the weighted mean is their ratio, NaN where the sum of weights is 0 (all data
//!   missing, or weights summing to 0);
//! * the weighted variance is the weighted mean of the squared departures from the
//!   weighted mean (no degrees-of-freedom correction), the std its square root.
//!
//! `average` is NumPy's instead: NaN propagates, and `weights` may be 1-D along the one
//! reduced axis.
//!
//! Everything is built from lazy reductions and elementwise ops. Along the reduced
//! axes where the weights are constant (longitude, for `cos(lat)`) the data are first
//! reduced plainly — a count and an f64 mean, one pass at decode speed with no
//! weight-sized temporaries — and the weights applied to those partial results; where
//! the weights vary, the masked products are fused into the reading pass. Sums
//! accumulate in f64 and the result is rounded once to NumPy's dtype. A NaN weight makes
//! NaN every result it enters; xarray refuses such weights eagerly, which a lazy engine
//! cannot do without reading them first.

use super::Array;
use super::elementwise::where_;
use super::reduce::{Axes, ReduceOptions};
use crate::dtype::{DType, Kind};
use crate::error::{Error, Result};
use crate::grid::normalize_axes;
use crate::ops::ReduceOp;

/// An array and the weights of its elements (from [`Array::weighted`]).
#[derive(Clone, Debug)]
pub struct Weighted {
    data: Array,
    weights: Array,
}

impl Array {
    /// Weighted reductions of this array (xarray's `da.weighted(weights)`), with
    /// `weights` broadcast to this array's shape by NumPy's rules (a latitude weight
    /// for a `(time, lat, lon)` field has shape `(lat, 1)`).
    ///
    /// ```
    /// use chunkwise::Array;
    /// let x = Array::from_ndarray(ndarray::arr2(&[[1.0, f64::NAN], [3.0, 5.0]]), [1, 2]).unwrap();
    /// let w = Array::from_ndarray(ndarray::arr2(&[[1.0], [3.0]]), [1, 1]).unwrap();
    /// let m = x.weighted(&w).unwrap().mean(None).unwrap();
    /// // (1·1 + 3·3 + 3·5) / (1 + 3 + 3): the missing value's weight is not counted.
    /// assert_eq!(m.compute_scalar::<f64>().unwrap(), 25.0 / 7.0);
    /// ```
    ///
    /// # Errors
    /// Weights that do not broadcast to this array's shape, or bool weights.
    pub fn weighted(&self, weights: &Array) -> Result<Weighted> {
        self.check_weights(weights)?;
        if weights.dtype() == DType::Bool {
            return Err(Error::InvalidArgument(
                "bool weights (cast them to a number first: astype)".into(),
            ));
        }
        Ok(Weighted {
            data: self.clone(),
            weights: weights.clone(),
        })
    }

    /// NumPy's `np.average(x, axis, weights)`: `Σ w·x / Σ w` over `axes` (NaN
    /// propagates), or the plain mean without weights. `weights` has this array's shape,
    /// any shape that broadcasts to it, or — with exactly one axis — is 1-D with that
    /// axis's length. Result dtype as NumPy: float64 for integer data, else the
    /// promoted float type of data and weights.
    ///
    /// Where the weights along a lane sum to 0 the result is NaN or ±inf; NumPy raises
    /// `ZeroDivisionError` before computing anything, which a lazy engine cannot.
    ///
    /// # Errors
    /// Bad axes; weights of a shape that neither broadcasts nor matches the one axis.
    pub fn average(&self, axes: impl Into<Axes>, weights: Option<&Array>) -> Result<Array> {
        let axes = axes.into();
        let Some(w) = weights else {
            let m = self.mean(axes)?;
            return Ok(if self.dtype().kind() == Kind::Float {
                m
            } else {
                m.astype(DType::F64)
            });
        };
        let nd = self.ndim();
        let w = match &axes {
            Axes::List(l) if l.len() == 1 && w.ndim() == 1 && nd > 1 => {
                let a = normalize_axes(l, nd)?[0];
                if w.shape()[0] != self.shape()[a] {
                    return Err(Error::InvalidArgument(format!(
                        "1-D weights of length {} along axis {a} of length {}",
                        w.shape()[0],
                        self.shape()[a]
                    )));
                }
                let mut s = vec![1isize; nd];
                s[a] = w.shape()[0] as isize;
                w.reshape(&s)?
            }
            _ => w.clone(),
        };
        self.check_weights(&w)?;
        let out = result_float(self.dtype(), w.dtype());
        let wf = w.astype(DType::F64);
        let reduced = match &axes {
            Axes::All => (0..nd).collect(),
            Axes::List(l) => normalize_axes(l, nd)?,
        };
        let plain = plain_axes(&reduced, nd, &wf);
        // Along `plain` the weight is constant: Σ w·x = Σ_rest w · (n_plain · mean_plain x).
        let (x, n_plain) = if plain.is_empty() {
            (self.astype(DType::F64), 1.0)
        } else {
            let wide = ReduceOptions {
                keepdims: true,
                dtype: Some(DType::F64),
                ..ReduceOptions::default()
            };
            let n: usize = plain.iter().map(|&a| self.shape()[a as usize]).product();
            (self.reduce(ReduceOp::Mean, plain, &wide)?, n as f64)
        };
        let num = (&(&x * &wf) * n_plain).sum(axes.clone())?;
        let den = (&wf.broadcast_to(&x.shape())?.sum(axes)? * n_plain).astype(DType::F64);
        Ok((&num / &den).astype(out))
    }
}

impl Array {
    /// Weights must broadcast to this array's shape without adding or stretching it.
    fn check_weights(&self, w: &Array) -> Result<()> {
        let target = super::broadcast_shapes(&[&self.shape(), &w.shape()]).ok();
        if target.is_none_or(|t| t != self.shape()) {
            return Err(Error::InvalidArgument(format!(
                "weights of shape {:?} do not broadcast to the data's shape {:?}",
                w.shape(),
                self.shape()
            )));
        }
        Ok(())
    }
}

/// The reduced axes along which `weights` (broadcast to `nd` axes) is constant:
/// absent or of length 1.
fn plain_axes(reduced: &[usize], nd: usize, weights: &Array) -> Vec<isize> {
    let lead = nd - weights.ndim();
    reduced
        .iter()
        .filter(|&&a| a < lead || weights.shape()[a - lead] == 1)
        .map(|&a| a as isize)
        .collect()
}

/// The float type of a weighted mean: float64 for integer or bool data (NumPy's
/// `result_type(a, w, 'f8')`), else the promotion of the two.
fn result_float(data: DType, weights: DType) -> DType {
    if data.kind() == Kind::Float {
        match DType::promote(data, weights) {
            d if d.kind() == Kind::Float => d,
            _ => DType::F64,
        }
    } else {
        DType::F64
    }
}

impl Weighted {
    /// `Σ w` over `axes`, counting only elements whose data is not missing; NaN where
    /// that is 0 (xarray's `weighted(w).sum_of_weights()`). The weights' float type
    /// (float64 for integer weights).
    ///
    /// # Errors
    /// Bad axes.
    pub fn sum_of_weights(&self, axes: impl Into<Axes>) -> Result<Array> {
        let (sow, _) = self.sums(axes.into(), false, false)?;
        let out = if self.weights.dtype().kind() == Kind::Float {
            self.weights.dtype()
        } else {
            DType::F64
        };
        Ok(where_(&sow.equal(0.0)?, f64::NAN, &sow)?.astype(out))
    }

    /// `Σ w·x` over `axes`, missing data counted as 0 (xarray's `weighted(w).sum()`).
    /// Float data or weights: the promoted float type; integers: NumPy's sum dtype.
    ///
    /// # Errors
    /// Bad axes.
    pub fn sum(&self, axes: impl Into<Axes>) -> Result<Array> {
        let common = DType::promote(self.data.dtype(), self.weights.dtype());
        if common.kind() != Kind::Float {
            // Exact integer arithmetic in NumPy's sum dtype, no mask needed.
            let wide = common.sum_result();
            return (&self.data.astype(wide) * &self.weights.astype(wide)).sum(axes);
        }
        let (_, wsum) = self.sums(axes.into(), true, false)?;
        Ok(wsum.astype(common))
    }

    /// `Σ w·x / Σ w` over `axes`, missing data dropped from both; NaN where the
    /// weights of the non-missing data sum to 0 (xarray's `weighted(w).mean()`).
    ///
    /// # Errors
    /// Bad axes.
    pub fn mean(&self, axes: impl Into<Axes>) -> Result<Array> {
        Ok(self.mean_f64(axes.into(), false)?.astype(self.out_float()))
    }

    /// The weighted mean of the squared departures from the weighted mean (xarray's
    /// `weighted(w).var()`, no ddof); two passes over the data.
    ///
    /// # Errors
    /// Bad axes.
    pub fn var(&self, axes: impl Into<Axes>) -> Result<Array> {
        Ok(self.var_f64(axes.into())?.astype(self.out_float()))
    }

    /// The square root of [`Weighted::var`].
    ///
    /// # Errors
    /// Bad axes.
    pub fn std(&self, axes: impl Into<Axes>) -> Result<Array> {
        Ok(self.var_f64(axes.into())?.sqrt().astype(self.out_float()))
    }

    fn out_float(&self) -> DType {
        result_float(self.data.dtype(), self.weights.dtype())
    }

    /// `(Σ w, Σ w·x)` over `axes` in float64, missing data dropped from both; the
    /// weighted sum only when `with_sum`.
    ///
    /// Weights are usually constant along most reduced axes (`cos(lat)` along
    /// longitude). Along those axes (`plain`) `w` factors out of the sums, so they are
    /// taken first by plain reductions of the data, which read it at decode speed with
    /// no weight-sized temporaries: `Σ w·x = Σ_rest w · (mean_plain(x) · count_plain(x))`
    /// and `Σ w = Σ_rest w · count_plain(x)`, the mean in f64 (exact to rounding) and
    /// both from one pass over the data.
    fn sums(&self, axes: Axes, with_sum: bool, keepdims: bool) -> Result<(Array, Array)> {
        let opts = ReduceOptions {
            keepdims,
            ..ReduceOptions::default()
        };
        let nd = self.data.ndim();
        let reduced = match &axes {
            Axes::All => (0..nd).collect(),
            Axes::List(l) => normalize_axes(l, nd)?,
        };
        let plain = plain_axes(&reduced, nd, &self.weights);
        let w = self.weights.astype(DType::F64);
        if plain.is_empty() {
            let missing = self.data.isnan();
            let sow = where_(&missing, 0.0, &w)?.reduce(ReduceOp::Sum, axes.clone(), &opts)?;
            let wsum = if with_sum {
                let x = where_(&missing, 0.0, &self.data.astype(DType::F64))?;
                (&x * &w).reduce(ReduceOp::Sum, axes, &opts)?
            } else {
                sow.clone()
            };
            return Ok((sow, wsum));
        }
        let keep = ReduceOptions {
            keepdims: true,
            ..ReduceOptions::default()
        };
        let count = self
            .data
            .reduce(ReduceOp::Count, plain.clone(), &keep)?
            .astype(DType::F64);
        let sow = (&count * &w).reduce(ReduceOp::Sum, axes.clone(), &opts)?;
        if !with_sum {
            return Ok((sow.clone(), sow));
        }
        let wide = ReduceOptions {
            dtype: Some(DType::F64),
            ..keep
        };
        let mean = self.data.reduce(ReduceOp::NanMean, plain, &wide)?;
        // An all-missing lane: mean NaN, count 0, sum 0.
        let sum = where_(&count.equal(0.0)?, 0.0, &(&mean * &count))?;
        let wsum = (&sum * &w).reduce(ReduceOp::Sum, axes, &opts)?;
        Ok((sow, wsum))
    }

    fn mean_f64(&self, axes: Axes, keepdims: bool) -> Result<Array> {
        let (sow, wsum) = self.sums(axes, true, keepdims)?;
        let den = where_(&sow.equal(0.0)?, f64::NAN, &sow)?;
        Ok(&wsum / &den)
    }

    fn var_f64(&self, axes: Axes) -> Result<Array> {
        let mean = self.mean_f64(axes.clone(), true)?;
        let dev = (&self.data.astype(DType::F64) - &mean).square();
        let (sow, ss) = Weighted {
            data: dev,
            weights: self.weights.clone(),
        }
        .sums(axes, true, false)?;
        let den = where_(&sow.equal(0.0)?, f64::NAN, &sow)?;
        Ok(&ss / &den)
    }
}
