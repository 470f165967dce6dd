//! `decode_cf`: stored values decoded by a variable's CF attributes ([`crate::io::cf`]).
//!
//! A lazy elementwise composition — convert, mask, scale, offset — fused into the
//! block's load like any other elementwise program, so decoding costs no pass of its
//! own. The arithmetic is xarray's: each step in the decoded float type (NumPy's weak
//! scalars), the fill values compared after the conversion.

use super::Array;
use super::elementwise::where_;
use crate::dtype::DType;
use crate::error::Result;
use crate::io::cf::CfDecoding;

impl Array {
    /// The array decoded by `cf`: read as `cf.view` (`_Unsigned`), then
    /// `_FillValue`/`missing_value` → NaN, then
    /// `· scale_factor + add_offset`, in `cf.dtype` (see [`crate::io::cf`]).
    ///
    /// ```
    /// # use chunkwise::{Array, io::cf::{AttrType, CfAttr, CfAttrs, CfDecoding}};
    /// let packed = Array::from_ndarray(ndarray::arr1(&[-32767i16, 0, 100]).into_dyn(), [2])?;
    /// let attrs = CfAttrs {
    ///     fill_value: Some(CfAttr::typed(vec![-32767.0], AttrType::Int)),
    ///     scale_factor: Some(CfAttr::typed(vec![0.01], AttrType::F64)),
    ///     add_offset: Some(CfAttr::typed(vec![280.0], AttrType::F64)),
    ///     ..CfAttrs::default()
    /// };
    /// let cf = CfDecoding::new(packed.dtype(), &attrs)?.unwrap();
    /// let t = packed.decode_cf(&cf)?.compute::<f64>()?;
    /// assert!(t[0].is_nan());
    /// assert_eq!((t[1], t[2]), (280.0, 281.0));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// None in practice (the compositions of elementwise ops on one array).
    pub fn decode_cf(&self, cf: &CfDecoding) -> Result<Array> {
        let viewed = match cf.view {
            Some(v) => self.astype(v),
            None => self.clone(),
        };
        let mut x = viewed.astype(cf.dtype);
        if !cf.fills.is_empty() {
            let mut hit: Option<Array> = None;
            for &(fv, wide) in &cf.fills {
                let eq = if wide {
                    x.astype(DType::F64).equal(fv)?
                } else {
                    x.equal(fv)?
                };
                hit = Some(match hit {
                    Some(h) => h.logical_or(&eq)?,
                    None => eq,
                });
            }
            if let Some(h) = hit {
                x = where_(&h, f64::NAN, &x)?;
            }
        }
        if let Some(s) = cf.scale {
            x = &x * s;
        }
        if let Some(o) = cf.offset {
            x = &x + o;
        }
        Ok(x)
    }
}
