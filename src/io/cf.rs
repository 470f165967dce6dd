//! CF decoding of stored values — "mask and scale" — as xarray applies it by default.
//!
//! Climate data is often stored *encoded*: ERA5 in NetCDF as `int16` with
//! `scale_factor`/`add_offset`, CMIP ocean fields as `float32` with `_FillValue = 1e20`
//! over land, xarray-written Zarr with an integer `_FillValue`. A reduction of the
//! stored values is then a wrong number (a mean of packed integers, or one that counts
//! 1e20 as sea-surface temperature). xarray's `open_dataset` decodes first, and so does
//! the `chunkwise` command line, by xarray's rules (`xarray.coding.variables`, 2026.9):
//!
//! * **Mask**: every value of `_FillValue` and `missing_value` (scalars or lists; NaN
//!   entries ignored) becomes NaN. Integers are first converted to a float type that
//!   holds them: float32 up to 16 bits, float64 above (or the packed type below).
//! * **Scale**: `x · scale_factor + add_offset`, in the float type xarray picks:
//!   the attributes' own type when both are float32 or both float64 (float64 for a
//!   32-bit integer, which float32 would round), float64 when only `add_offset` is
//!   given or the two disagree, the type of `scale_factor` when it is alone.
//! * **Where the attributes come from**: HDF5/NetCDF-4 attributes keep their stored
//!   type. Zarr attributes are JSON, and a JSON number is a Python `float` (float64) or
//!   `int` to xarray. For Zarr v2 arrays xarray opens (those with `_ARRAY_DIMENSIONS`),
//!   the array's `fill_value` is the `_FillValue`, as xarray reads v2 by default; v3
//!   keeps its `_FillValue` in the attributes (floats as base64 of a little-endian
//!   float64, xarray's encoding). A plain zarr-python array without CF attributes is
//!   read as stored.
//!
//! A fill value is compared with the data in the type NumPy would compare them in:
//! the decoded float type for a weakly typed (JSON) value, float64 for a typed float64
//! attribute against float32 data.
//! * **`_Unsigned`** (how netCDF-3, which has no unsigned types, stores unsigned
//!   integers, and what netCDF-Java and the satellite archives keep writing):
//!   `"true"` on signed integers reads them as the unsigned type of the same width
//!   (two's complement: int8 −1 is uint8 255), the `_FillValue` reinterpreted the same
//!   way (`missing_value` is not, as in xarray); `"false"` on unsigned integers reads
//!   them as signed. Without a fill value or scale the result keeps that integer type.
//!   On other types, or with another value, the attribute is ignored, as xarray
//!   ignores it (with a warning).
//!
//! `valid_min`, `valid_max` and `valid_range` are not applied, as xarray does not
//! apply them (netCDF4-python does).

use crate::dtype::{DType, Kind};
use crate::error::{Error, Result};

/// The stored type of an attribute, which decides xarray's float type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A float32 attribute (HDF5/NetCDF-4).
    F32,
    /// A float64 attribute, or a JSON number with a fraction or exponent.
    F64,
    /// An integer attribute (typed, or a JSON integer).
    Int,
}

/// One numeric attribute: its values (a scalar is one) and stored type. `weak` for a
/// JSON value, which NumPy converts to the data's type before comparing.
#[derive(Debug, Clone, PartialEq)]
pub struct CfAttr {
    /// The values, as f64 (exact for every float32 and for integers up to 2^53).
    pub values: Vec<f64>,
    /// The stored type.
    pub ty: AttrType,
    /// Whether the type is only JSON's (Python's weak scalars).
    pub weak: bool,
}

impl CfAttr {
    /// A typed attribute.
    #[must_use]
    pub fn typed(values: Vec<f64>, ty: AttrType) -> CfAttr {
        CfAttr {
            values,
            ty,
            weak: false,
        }
    }
}

/// The CF attributes of a variable that decoding reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CfAttrs {
    /// `_FillValue`.
    pub fill_value: Option<CfAttr>,
    /// `missing_value`.
    pub missing_value: Option<CfAttr>,
    /// `scale_factor`.
    pub scale_factor: Option<CfAttr>,
    /// `add_offset`.
    pub add_offset: Option<CfAttr>,
    /// `_Unsigned`'s value (`"true"` or `"false"`), when present.
    pub unsigned: Option<String>,
}

/// How stored values are decoded: built by [`CfDecoding::new`] from a variable's
/// attributes, applied by [`crate::Array::decode_cf`].
#[derive(Debug, Clone, PartialEq)]
pub struct CfDecoding {
    /// Encoded fill values (no NaN), each with whether it is compared in float64.
    pub fills: Vec<(f64, bool)>,
    /// `scale_factor`.
    pub scale: Option<f64>,
    /// `add_offset`.
    pub offset: Option<f64>,
    /// The integer type the stored values are first read as (`_Unsigned`), when it
    /// is not their own.
    pub view: Option<DType>,
    /// The decoded dtype.
    pub dtype: DType,
}

impl CfDecoding {
    /// The decoding of data stored as `stored` with `attrs`; `None` when there is
    /// nothing to decode (no scale or offset, no fill value but NaN, and no
    /// `_Unsigned` that changes the integer type).
    ///
    /// # Errors
    /// A scale or offset that is not one number; CF attributes on bool data.
    pub fn new(stored: DType, attrs: &CfAttrs) -> Result<Option<CfDecoding>> {
        let one = |a: &Option<CfAttr>, name: &str| -> Result<Option<(f64, AttrType)>> {
            match a {
                None => Ok(None),
                Some(a) if a.values.len() == 1 => Ok(Some((a.values[0], a.ty))),
                Some(a) => Err(Error::Format(format!(
                    "CF attribute {name} holds {} values, expected one",
                    a.values.len()
                ))),
            }
        };
        let scale = one(&attrs.scale_factor, "scale_factor")?;
        let offset = one(&attrs.add_offset, "add_offset")?;
        let view = unsigned_view(stored, attrs.unsigned.as_deref());
        let data = view.unwrap_or(stored);
        // xarray reinterprets `_FillValue` with the data, and leaves `missing_value`.
        let fill_attr = attrs.fill_value.as_ref().map(|a| match view {
            Some(v) => CfAttr {
                values: a.values.iter().map(|&x| reinterpret(x, v)).collect(),
                ..a.clone()
            },
            None => a.clone(),
        });
        let fill_attrs: Vec<&CfAttr> = [attrs.missing_value.as_ref(), fill_attr.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        let any_fill = fill_attrs.iter().any(|a| a.values.iter().any(|v| !v.is_nan()));
        if scale.is_none() && offset.is_none() && !any_fill {
            return Ok(view.map(|v| CfDecoding {
                fills: Vec::new(),
                scale: None,
                offset: None,
                view: Some(v),
                dtype: v,
            }));
        }
        if stored == DType::Bool {
            return Err(Error::Unsupported(
                "CF decoding of bool data (a fill value or scale on booleans): read the stored values with --raw"
                    .into(),
            ));
        }
        let dtype = if scale.is_some() || offset.is_some() {
            choose_float_dtype(data, scale.map(|s| s.1), offset.map(|o| o.1))
        } else {
            promote(data)
        };
        let mut fills: Vec<(f64, bool)> = Vec::new();
        for a in fill_attrs {
            // NumPy compares a typed float64 scalar with float32 data in float64, and
            // converts a weak (JSON) one to the data's type.
            let wide = !a.weak && dtype == DType::F32 && a.ty != AttrType::F32;
            for &v in a.values.iter().filter(|v| !v.is_nan()) {
                if !fills.contains(&(v, wide)) {
                    fills.push((v, wide));
                }
            }
        }
        Ok(Some(CfDecoding {
            fills,
            scale: scale.map(|s| s.0),
            offset: offset.map(|o| o.0),
            view,
            dtype,
        }))
    }

    /// One line for `chunkwise info`: `-32767 → NaN, × 0.01, + 280 → float64`, with
    /// `as uint8` first when `_Unsigned` changes the integer type.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.view {
            parts.push(format!("as {}", v.name()));
        }
        if !self.fills.is_empty() {
            let f: Vec<String> = self.fills.iter().map(|&(v, _)| Self::number(v)).collect();
            parts.push(format!("{} → NaN", f.join(", ")));
        }
        if let Some(s) = self.scale {
            parts.push(format!("× {}", Self::number(s)));
        }
        if let Some(o) = self.offset {
            let sign = if o < 0.0 { '-' } else { '+' };
            parts.push(format!("{sign} {}", Self::number(o.abs())));
        }
        format!("{} → {}", parts.join(", "), self.dtype.name())
    }

    /// A number as short as it is exact: an integer as one, a value that is a float32
    /// as float32 prints it (`0.01`, not `0.009999999776482582`), exponents for the
    /// very large and very small (`1e20`).
    fn number(v: f64) -> String {
        if v.fract() == 0.0 && v.abs() < 1e16 {
            return format!("{}", v as i64);
        }
        let single = f64::from(v as f32) == v;
        let exp = v.abs() >= 1e7 || (v != 0.0 && v.abs() < 1e-3);
        match (single, exp) {
            (true, true) => format!("{:e}", v as f32),
            (true, false) => format!("{}", v as f32),
            (false, true) => format!("{v:e}"),
            (false, false) => format!("{v}"),
        }
    }
}

/// The integer type `_Unsigned = value` makes xarray read `stored` as: unsigned of the
/// same width for `"true"` on signed integers, signed for `"false"` on unsigned ones.
fn unsigned_view(stored: DType, value: Option<&str>) -> Option<DType> {
    let (signed, unsigned) = match stored {
        DType::I8 | DType::U8 => (DType::I8, DType::U8),
        DType::I16 | DType::U16 => (DType::I16, DType::U16),
        DType::I32 | DType::U32 => (DType::I32, DType::U32),
        DType::I64 | DType::U64 => (DType::I64, DType::U64),
        _ => return None,
    };
    match (stored.kind(), value?) {
        (Kind::Signed, "true") => Some(unsigned),
        (Kind::Unsigned, "false") => Some(signed),
        _ => None,
    }
}

/// Integer `x` of the other signedness wrapped into `to` (two's complement, NumPy's
/// `view`): −1 → 255 for uint8, 255 → −1 for int8. Non-integers stay as they are.
fn reinterpret(x: f64, to: DType) -> f64 {
    if x.fract() != 0.0 || !x.is_finite() {
        return x;
    }
    let bits = 8 * to.size() as u32;
    let i = x as i128;
    let m = i.rem_euclid(1i128 << bits);
    let v = if to.kind() == Kind::Signed && m >= 1i128 << (bits - 1) {
        m - (1i128 << bits)
    } else {
        m
    };
    v as f64
}

/// `xarray.core.dtypes.maybe_promote`: a float type that holds `stored` and NaN.
fn promote(stored: DType) -> DType {
    match stored.kind() {
        Kind::Float => stored,
        _ if stored.size() <= 2 => DType::F32,
        _ => DType::F64,
    }
}

/// `xarray.coding.variables._choose_float_dtype` with a scale and/or offset.
fn choose_float_dtype(stored: DType, scale: Option<AttrType>, offset: Option<AttrType>) -> DType {
    let float = |t: AttrType| match t {
        AttrType::F32 => Some(DType::F32),
        AttrType::F64 => Some(DType::F64),
        AttrType::Int => None,
    };
    match (scale, offset) {
        (Some(s), Some(o)) if s == o && float(s).is_some() => {
            if stored.size() == 4 && stored.kind() != Kind::Float {
                DType::F64
            } else {
                float(s).unwrap_or(DType::F64)
            }
        }
        (_, Some(_)) => DType::F64,
        // xarray returns an integer scale's own type (an int64 product); float64 holds
        // the same values.
        (Some(s), None) => float(s).unwrap_or(DType::F64),
        (None, None) => promote(stored),
    }
}

/// A JSON attribute value: a number or a list of numbers (`"NaN"`, `"Infinity"` and
/// `"-Infinity"` as zarr writes them); `None` for anything else (a string attribute).
#[must_use]
pub fn json_attr(v: &serde_json::Value) -> Option<CfAttr> {
    let num = |v: &serde_json::Value| -> Option<(f64, bool)> {
        match v {
            serde_json::Value::Number(n) => Some((n.as_f64()?, n.is_i64() || n.is_u64())),
            serde_json::Value::String(s) => match s.as_str() {
                "NaN" => Some((f64::NAN, false)),
                "Infinity" => Some((f64::INFINITY, false)),
                "-Infinity" => Some((f64::NEG_INFINITY, false)),
                _ => None,
            },
            _ => None,
        }
    };
    let vals: Vec<(f64, bool)> = match v {
        serde_json::Value::Array(a) => a.iter().map(num).collect::<Option<_>>()?,
        v => vec![num(v)?],
    };
    let int = !vals.is_empty() && vals.iter().all(|v| v.1);
    Some(CfAttr {
        values: vals.iter().map(|v| v.0).collect(),
        ty: if int { AttrType::Int } else { AttrType::F64 },
        weak: true,
    })
}

/// xarray's Zarr v3 `_FillValue` for a float array: base64 of the little-endian
/// float64 (`FillValueCoder`), or a plain number.
#[must_use]
pub fn json_fill_v3(v: &serde_json::Value, stored: DType) -> Option<CfAttr> {
    if stored.kind() == Kind::Float
        && let Some(s) = v.as_str()
        && let Some(b) = base64_8(s)
    {
        return Some(CfAttr {
            values: vec![f64::from_le_bytes(b)],
            ty: AttrType::F64,
            weak: true,
        });
    }
    json_attr(v)
}

/// Eight bytes from standard base64 (`"AAAAAAAA+H8="`), or `None`.
fn base64_8(s: &str) -> Option<[u8; 8]> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.as_bytes();
    if s.len() != 12 || s[11] != b'=' {
        return None;
    }
    let mut out = Vec::with_capacity(9);
    for q in s.chunks(4) {
        let mut w = 0u32;
        for &c in q {
            w = (w << 6) | if c == b'=' { 0 } else { val(c)? };
        }
        out.extend_from_slice(&w.to_be_bytes()[1..]);
    }
    out.truncate(8);
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(v: f64, ty: AttrType) -> Option<CfAttr> {
        Some(CfAttr::typed(vec![v], ty))
    }

    #[test]
    fn float_dtype_follows_xarray() {
        use AttrType::{F32, F64, Int};
        let scaled = |stored, s: Option<AttrType>, o: Option<AttrType>| {
            let attrs = CfAttrs {
                scale_factor: s.and_then(|t| typed(0.5, t)),
                add_offset: o.and_then(|t| typed(1.0, t)),
                ..CfAttrs::default()
            };
            CfDecoding::new(stored, &attrs).unwrap().unwrap().dtype
        };
        // Both given, same float type: that type (float64 for a 32-bit integer).
        assert_eq!(scaled(DType::I16, Some(F32), Some(F32)), DType::F32);
        assert_eq!(scaled(DType::I16, Some(F64), Some(F64)), DType::F64);
        assert_eq!(scaled(DType::I32, Some(F32), Some(F32)), DType::F64);
        assert_eq!(scaled(DType::U8, Some(F32), Some(F32)), DType::F32);
        assert_eq!(scaled(DType::F32, Some(F32), Some(F32)), DType::F32);
        // An offset of another type, or alone: float64.
        assert_eq!(scaled(DType::I16, Some(F32), Some(F64)), DType::F64);
        assert_eq!(scaled(DType::I16, None, Some(F32)), DType::F64);
        assert_eq!(scaled(DType::I16, Some(Int), Some(Int)), DType::F64);
        // A scale alone: its type.
        assert_eq!(scaled(DType::I16, Some(F32), None), DType::F32);
        assert_eq!(scaled(DType::I8, Some(F64), None), DType::F64);
    }

    #[test]
    fn masks_promote_integers_and_drop_nan_fills() {
        let fill = |stored, v: f64| {
            let attrs = CfAttrs {
                fill_value: typed(v, AttrType::Int),
                ..CfAttrs::default()
            };
            CfDecoding::new(stored, &attrs).unwrap()
        };
        assert_eq!(fill(DType::I16, -1.0).unwrap().dtype, DType::F32);
        assert_eq!(fill(DType::U16, 9.0).unwrap().dtype, DType::F32);
        assert_eq!(fill(DType::I32, -1.0).unwrap().dtype, DType::F64);
        assert_eq!(fill(DType::F32, 1e20).unwrap().dtype, DType::F32);
        assert_eq!(fill(DType::F32, f64::NAN), None, "a NaN fill decodes nothing");
        assert_eq!(CfDecoding::new(DType::F64, &CfAttrs::default()).unwrap(), None);
        // Both attributes, each value once; a float64 fill on float32 data compares wide.
        let attrs = CfAttrs {
            fill_value: typed(1e20, AttrType::F64),
            missing_value: Some(CfAttr::typed(vec![1e20, -999.0, f64::NAN], AttrType::F64)),
            ..CfAttrs::default()
        };
        let d = CfDecoding::new(DType::F32, &attrs).unwrap().unwrap();
        assert_eq!(d.fills, vec![(1e20, true), (-999.0, true)]);
        let weak = CfAttrs {
            fill_value: json_attr(&serde_json::json!(1e20)),
            ..CfAttrs::default()
        };
        assert_eq!(
            CfDecoding::new(DType::F32, &weak).unwrap().unwrap().fills,
            vec![(1e20, false)]
        );
    }

    #[test]
    fn refusals_name_the_attribute() {
        let attrs = CfAttrs {
            scale_factor: Some(CfAttr::typed(vec![1.0, 2.0], AttrType::F64)),
            ..CfAttrs::default()
        };
        let e = CfDecoding::new(DType::I16, &attrs).unwrap_err().to_string();
        assert!(e.contains("scale_factor"), "{e}");
    }

    #[test]
    fn unsigned_reinterprets_the_data_and_its_fill_value() {
        let with = |stored, value: &str, fill: Option<f64>, missing: Option<f64>| {
            let attrs = CfAttrs {
                fill_value: fill.and_then(|v| typed(v, AttrType::Int)),
                missing_value: missing.and_then(|v| typed(v, AttrType::Int)),
                unsigned: Some(value.into()),
                ..CfAttrs::default()
            };
            CfDecoding::new(stored, &attrs).unwrap()
        };
        // Nothing else to decode: the unsigned integers themselves.
        let d = with(DType::I8, "true", None, None).unwrap();
        assert_eq!((d.view, d.dtype, d.fills.len()), (Some(DType::U8), DType::U8, 0));
        assert_eq!(d.describe(), "as uint8 → uint8");
        // The fill value wrapped as the data is; missing_value left as written.
        let d = with(DType::I8, "true", Some(-1.0), Some(-2.0)).unwrap();
        assert_eq!((d.view, d.dtype), (Some(DType::U8), DType::F32));
        assert_eq!(d.fills, vec![(-2.0, true), (255.0, true)]);
        let d = with(DType::U16, "false", Some(65535.0), None).unwrap();
        assert_eq!((d.view, d.fills.clone()), (Some(DType::I16), vec![(-1.0, true)]));
        let d = with(DType::I32, "true", Some(-2_147_483_648.0), None).unwrap();
        assert_eq!((d.dtype, d.fills.clone()), (DType::F64, vec![(2_147_483_648.0, false)]));
        // Ignored on floats, on integers already of that kind, and for other values.
        assert_eq!(with(DType::F32, "true", None, None), None);
        assert_eq!(with(DType::U8, "true", None, None), None);
        assert_eq!(with(DType::I8, "false", None, None), None);
        assert_eq!(
            with(DType::I8, "yes", Some(-1.0), None).unwrap().fills,
            vec![(-1.0, true)]
        );
    }

    #[test]
    fn json_values_and_v3_base64_fills() {
        let a = json_attr(&serde_json::json!(0.01)).unwrap();
        assert_eq!((a.values.clone(), a.ty, a.weak), (vec![0.01], AttrType::F64, true));
        assert_eq!(json_attr(&serde_json::json!(280)).unwrap().ty, AttrType::Int);
        assert_eq!(json_attr(&serde_json::json!([1, 2.5])).unwrap().values, vec![1.0, 2.5]);
        assert!(json_attr(&serde_json::json!("kelvin")).is_none());
        assert!(json_attr(&serde_json::json!("NaN")).unwrap().values[0].is_nan());
        // What xarray writes for NaN and for 1e20 (base64.standard_b64encode(struct.pack("<d", v))).
        let nan = json_fill_v3(&serde_json::json!("AAAAAAAA+H8="), DType::F32).unwrap();
        assert!(nan.values[0].is_nan());
        let big = json_fill_v3(&serde_json::json!("QIy1eB2vFUQ="), DType::F64).unwrap();
        assert_eq!(big.values, vec![1e20]);
        assert_eq!(
            json_fill_v3(&serde_json::json!(-32767), DType::I16).unwrap().values,
            vec![-32767.0]
        );
    }

    #[test]
    fn describe_says_what_happens() {
        let d = CfDecoding {
            fills: vec![(-32767.0, false)],
            scale: Some(0.01),
            offset: Some(280.0),
            view: None,
            dtype: DType::F64,
        };
        assert_eq!(d.describe(), "-32767 → NaN, × 0.01, + 280 → float64");
        let f32_attrs = CfDecoding {
            fills: vec![(f64::from(1e20f32), false), (-999.0, false)],
            scale: Some(f64::from(0.01f32)),
            offset: Some(f64::from(-2.5f32)),
            view: None,
            dtype: DType::F32,
        };
        assert_eq!(f32_attrs.describe(), "1e20, -999 → NaN, × 0.01, - 2.5 → float32");
        let tiny = CfDecoding {
            fills: vec![],
            scale: Some(1e-6),
            offset: None,
            view: None,
            dtype: DType::F64,
        };
        assert_eq!(tiny.describe(), "× 1e-6 → float64");
    }
}
