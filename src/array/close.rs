//! Comparing and cleaning float data: `isclose`, `allclose`, `nan_to_num`, `fillna`.
//!
//! Checking a result against a reference run, or a model against observations, is
//! `np.allclose`; filling gaps before a computation that cannot skip them is xarray's
//! `fillna` or NumPy's `nan_to_num`. All are lazy elementwise compositions (fused into
//! one pass per block), with NumPy's rules: the comparison runs in the inputs' common
//! float type (integers as float64), infinities are close only to themselves, NaN only
//! to NaN and only with `equal_nan`.

use super::Array;
use super::elementwise::where_;
use crate::dtype::{DType, Kind};
use crate::error::Result;

impl Array {
    /// `np.isclose(self, other, rtol, atol, equal_nan)`: `|a - b| <= atol + rtol·|b|`
    /// where both are finite, `a == b` elsewhere, and NaN against NaN true with
    /// `equal_nan`. NumPy's defaults are `rtol = 1e-5`, `atol = 1e-8`. Shapes broadcast.
    ///
    /// ```
    /// # use chunkwise::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[1.0, f64::INFINITY, f64::NAN]).into_dyn(), [2])?;
    /// let b = Array::from_ndarray(ndarray::arr1(&[1.0 + 1e-9, f64::INFINITY, f64::NAN]).into_dyn(), [3])?;
    /// let c = a.isclose(&b, 1e-5, 1e-8, false)?.compute::<bool>()?;
    /// assert_eq!(c.as_slice().unwrap(), &[true, true, false]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn isclose(&self, other: &Array, rtol: f64, atol: f64, equal_nan: bool) -> Result<Array> {
        let common = DType::promote(self.dtype(), other.dtype());
        let float = if common.kind() == Kind::Float {
            common
        } else {
            DType::F64
        };
        let (a, b) = (self.astype(float), other.astype(float));
        let finite = a.isfinite().logical_and(&b.isfinite())?;
        let within = (&a - &b).abs().less_equal(&(b.abs() * rtol + atol))?;
        let close = where_(&finite, &within, &a.equal(&b)?)?;
        if !equal_nan {
            return Ok(close);
        }
        close.logical_or(&a.isnan().logical_and(&b.isnan())?)
    }

    /// `np.allclose`: whether every element [`Array::isclose`] (a lazy 0-d bool).
    ///
    /// # Errors
    /// As [`Array::isclose`].
    pub fn allclose(&self, other: &Array, rtol: f64, atol: f64, equal_nan: bool) -> Result<Array> {
        self.isclose(other, rtol, atol, equal_nan)?.all(None)
    }

    /// `np.nan_to_num`: NaN becomes `nan`, +inf `posinf` (default: the dtype's largest
    /// finite value), -inf `neginf` (default: its lowest). Integer and bool arrays are
    /// returned as they are.
    pub fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Result<Array> {
        let big = match self.dtype() {
            DType::F32 => f64::from(f32::MAX),
            DType::F64 => f64::MAX,
            _ => return Ok(self.clone()),
        };
        let pos = self.equal(f64::INFINITY)?;
        let neg = self.equal(f64::NEG_INFINITY)?;
        let x = where_(&self.isnan(), nan, self)?;
        let x = where_(&pos, posinf.unwrap_or(big), &x)?;
        where_(&neg, neginf.unwrap_or(-big), &x)
    }

    /// xarray's `fillna(value)`: missing values (NaN) replaced by `value`, the dtype kept
    /// for float data (a weak scalar, as NumPy 2); integer and bool arrays have none.
    pub fn fillna(&self, value: f64) -> Result<Array> {
        if self.dtype().kind() != Kind::Float {
            return Ok(self.clone());
        }
        where_(&self.isnan(), value, self)
    }
}
