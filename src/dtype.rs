//! Element types: the run-time [`DType`], the compile-time [`Element`] trait, typed host
//! storage ([`Buffer`]), NumPy casting and type promotion.
//!
//! The engine is dtype-dynamic (a file's dtype is known only when it is opened), so a
//! chunk's data is a [`Buffer`] — one `Vec<T>` per supported type — and kernels are
//! written once as generic functions and instantiated through the dispatch macros
//! ([`dispatch_buffer!`](crate::dispatch_buffer)). Typed access happens at the edges
//! (`Array::compute::<f32>()`).
//!
//! Promotion follows NumPy 2 (`np.result_type`, NEP 50): `int8 + uint8 -> int16`,
//! `int64 + uint64 -> float64`, `int16 + float32 -> float32`, `int32 + float32 -> float64`;
//! a Rust scalar is "weak": `f32_array + 2.0` stays `float32`, `i8_array + 3` stays `int8`.
//!
//! ```
//! use chunkwise::DType;
//! assert_eq!(DType::promote(DType::I8, DType::U8), DType::I16);
//! assert_eq!(DType::promote(DType::I32, DType::F32), DType::F64);
//! assert_eq!("float32".parse::<DType>().unwrap(), DType::F32);
//! ```

use crate::error::{Error, Result};
use std::fmt;

/// The element type of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// `bool` (one byte, 0 or 1).
    Bool,
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint8`.
    U8,
    /// `uint16`.
    U16,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

/// The broad kind of a dtype, as NumPy's `dtype.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `b`
    Bool,
    /// `i`
    Signed,
    /// `u`
    Unsigned,
    /// `f`
    Float,
}

impl DType {
    /// Every dtype, in a fixed order.
    pub const ALL: [DType; 11] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    #[must_use]
    pub const fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// NumPy's name (`"float32"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The kernel-name suffix (`"f32"`).
    #[must_use]
    pub const fn suffix(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// The dtype's kind.
    #[must_use]
    pub const fn kind(self) -> Kind {
        match self {
            DType::Bool => Kind::Bool,
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => Kind::Signed,
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => Kind::Unsigned,
            DType::F32 | DType::F64 => Kind::Float,
        }
    }

    /// `float32` or `float64`.
    #[must_use]
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Any signed or unsigned integer (not bool).
    #[must_use]
    pub const fn is_integer(self) -> bool {
        matches!(self.kind(), Kind::Signed | Kind::Unsigned)
    }

    fn signed_of_size(size: usize) -> DType {
        match size {
            1 => DType::I8,
            2 => DType::I16,
            4 => DType::I32,
            _ => DType::I64,
        }
    }

    /// NumPy's `result_type(a, b)` for two arrays.
    #[must_use]
    pub fn promote(a: DType, b: DType) -> DType {
        use Kind::*;
        if a == b {
            return a;
        }
        match (a.kind(), b.kind()) {
            (Bool, _) => b,
            (_, Bool) => a,
            (Float, Float) => {
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            }
            (Float, _) => float_with_int(a, b),
            (_, Float) => float_with_int(b, a),
            (Signed, Signed) | (Unsigned, Unsigned) => {
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            }
            (Signed, Unsigned) => signed_with_unsigned(a, b),
            (Unsigned, Signed) => signed_with_unsigned(b, a),
        }
    }

    /// The float type NumPy's ufuncs like `sqrt`/`sin` return for this input (no float16
    /// here: types NumPy would map to float16 map to float32).
    #[must_use]
    pub fn float_result(self) -> DType {
        match self {
            DType::F64 | DType::I32 | DType::I64 | DType::U32 | DType::U64 => DType::F64,
            _ => DType::F32,
        }
    }

    /// The dtype NumPy's `sum`/`prod` return: bool and signed ints widen to int64,
    /// unsigned ints to uint64, floats keep their type.
    #[must_use]
    pub fn sum_result(self) -> DType {
        match self.kind() {
            Kind::Bool | Kind::Signed => DType::I64,
            Kind::Unsigned => DType::U64,
            Kind::Float => self,
        }
    }
}

fn float_with_int(f: DType, i: DType) -> DType {
    if f == DType::F64 || i.size() > 2 {
        DType::F64
    } else {
        DType::F32
    }
}

fn signed_with_unsigned(s: DType, u: DType) -> DType {
    if u.size() < s.size() {
        s
    } else if u == DType::U64 {
        DType::F64
    } else {
        DType::signed_of_size(u.size() * 2)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s || d.suffix() == s)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown dtype '{s}'")))
    }
}

/// A Rust scalar used with an array (`a + 2.0`). Weakly typed, as Python scalars in NumPy 2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    UInt(u64),
    /// A float.
    Float(f64),
}

impl Scalar {
    /// The dtype an array of `arr` combined with this scalar has (NEP 50 weak scalars).
    #[must_use]
    pub fn promote_with(self, arr: DType) -> DType {
        match (self, arr.kind()) {
            (Scalar::Bool(_), _) => arr,
            (Scalar::Int(_) | Scalar::UInt(_), Kind::Bool) => DType::I64,
            (Scalar::Int(_) | Scalar::UInt(_), _) => arr,
            (Scalar::Float(_), Kind::Float) => arr,
            (Scalar::Float(_), _) => DType::F64,
        }
    }

    /// The value as f64.
    #[must_use]
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => f64::from(u8::from(b)),
            Scalar::Int(i) => i as f64,
            Scalar::UInt(u) => u as f64,
            Scalar::Float(f) => f,
        }
    }

    /// The value converted to `T` with NumPy's casting.
    #[must_use]
    pub fn to<T: Element>(self) -> T {
        match self {
            Scalar::Bool(b) => T::from_bool(b),
            Scalar::Int(i) => T::from_i64(i),
            Scalar::UInt(u) => T::from_u64(u),
            Scalar::Float(f) => T::from_f64(f),
        }
    }
}

impl fmt::Display for Scalar {
    /// As NumPy prints it: `true`, `-3`, `0.5`, `nan`, `inf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::UInt(u) => write!(f, "{u}"),
            Scalar::Float(x) if x.is_nan() => f.write_str("nan"),
            Scalar::Float(x) if x.is_infinite() => f.write_str(if x > 0.0 { "inf" } else { "-inf" }),
            Scalar::Float(x) => write!(f, "{x:?}"),
        }
    }
}

macro_rules! scalar_from {
    ($($t:ty => $v:ident as $c:ty),*) => {$(
        impl From<$t> for Scalar { fn from(x: $t) -> Self { Scalar::$v(x as $c) } }
    )*};
}
scalar_from!(i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => Int as i64, u16 => Int as i64, u32 => Int as i64, u64 => UInt as u64,
    f32 => Float as f64, f64 => Float as f64);
impl From<bool> for Scalar {
    fn from(b: bool) -> Self {
        Scalar::Bool(b)
    }
}

/// Typed host storage for one chunk: a `Vec<T>` for each dtype, C order.
#[derive(Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Buffer {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`Buffer`] (by value, `&` or
/// `&mut`, as the matched expression is); `$T` names the element type.
#[macro_export]
macro_rules! dispatch_buffer {
    ($buf:expr, $v:ident, $T:ident => $body:expr) => {{
        use $crate::dtype::Buffer as __B;
        match $buf {
            __B::Bool($v) => {
                #[allow(dead_code)]
                type $T = bool;
                $body
            }
            __B::I8($v) => {
                #[allow(dead_code)]
                type $T = i8;
                $body
            }
            __B::I16($v) => {
                #[allow(dead_code)]
                type $T = i16;
                $body
            }
            __B::I32($v) => {
                #[allow(dead_code)]
                type $T = i32;
                $body
            }
            __B::I64($v) => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            __B::U8($v) => {
                #[allow(dead_code)]
                type $T = u8;
                $body
            }
            __B::U16($v) => {
                #[allow(dead_code)]
                type $T = u16;
                $body
            }
            __B::U32($v) => {
                #[allow(dead_code)]
                type $T = u32;
                $body
            }
            __B::U64($v) => {
                #[allow(dead_code)]
                type $T = u64;
                $body
            }
            __B::F32($v) => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            __B::F64($v) => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
        }
    }};
}

/// Runs `$body` with the type alias `$T` set to the element type of a [`DType`].
#[macro_export]
macro_rules! dispatch_dtype {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::dtype::DType as __D;
        match $dt {
            __D::Bool => {
                #[allow(dead_code)]
                type $T = bool;
                $body
            }
            __D::I8 => {
                #[allow(dead_code)]
                type $T = i8;
                $body
            }
            __D::I16 => {
                #[allow(dead_code)]
                type $T = i16;
                $body
            }
            __D::I32 => {
                #[allow(dead_code)]
                type $T = i32;
                $body
            }
            __D::I64 => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            __D::U8 => {
                #[allow(dead_code)]
                type $T = u8;
                $body
            }
            __D::U16 => {
                #[allow(dead_code)]
                type $T = u16;
                $body
            }
            __D::U32 => {
                #[allow(dead_code)]
                type $T = u32;
                $body
            }
            __D::U64 => {
                #[allow(dead_code)]
                type $T = u64;
                $body
            }
            __D::F32 => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            __D::F64 => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
        }
    }};
}

impl Buffer {
    /// The element type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        dispatch_buffer!(self, _v, T => T::DTYPE)
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        dispatch_buffer!(self, v, _T => v.len())
    }

    /// True when the buffer holds no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype().size()
    }

    /// The raw bytes of a numeric buffer (`None` for bool, whose bytes are not free to
    /// write), for decoders that fill it.
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            Buffer::Bool(_) => None,
            Buffer::I8(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::I16(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::I32(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::I64(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::U8(v) => Some(v),
            Buffer::U16(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::U32(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::U64(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::F32(v) => Some(bytemuck::cast_slice_mut(v)),
            Buffer::F64(v) => Some(bytemuck::cast_slice_mut(v)),
        }
    }

    /// `n` copies of the default value (0, false) of `dtype`.
    #[must_use]
    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        dispatch_dtype!(dtype, T => T::into_buffer(vec![T::default(); n]))
    }

    /// `n` copies of a scalar cast to `dtype`.
    #[must_use]
    pub fn filled(dtype: DType, n: usize, value: Scalar) -> Buffer {
        dispatch_dtype!(dtype, T => T::into_buffer(vec![value.to::<T>(); n]))
    }

    /// A typed view, when `T` is the buffer's type.
    #[must_use]
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        T::slice_of(self)
    }

    /// An explicit copy (a chunk copy can be large; there is no `Clone`).
    ///
    /// # Errors
    /// None today; the signature leaves room for allocation failure reporting.
    pub fn try_clone(&self) -> Result<Buffer> {
        Ok(dispatch_buffer!(self, v, T => T::into_buffer(v.clone())))
    }

    /// The element at `i` as f64 (for tests and display).
    #[must_use]
    pub fn get_f64(&self, i: usize) -> f64 {
        dispatch_buffer!(self, v, _T => v[i].to_f64())
    }

    /// Converts to another dtype with NumPy's `astype` semantics (floats to ints truncate
    /// toward zero and saturate; NaN becomes 0 — NumPy leaves that case undefined).
    #[must_use]
    pub fn cast(&self, to: DType) -> Buffer {
        if self.dtype() == to {
            return dispatch_buffer!(self, v, T => T::into_buffer(v.clone()));
        }
        dispatch_buffer!(self, v, S => {
            dispatch_dtype!(to, D => D::into_buffer(cast_slice::<S, D>(v)))
        })
    }
}

/// Casts a slice element by element with NumPy semantics.
#[must_use]
pub fn cast_slice<S: Element, D: Element>(v: &[S]) -> Vec<D> {
    v.iter().map(|&x| D::cast_from(x)).collect()
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can be an array element. Implemented for `bool`, `i8`…`i64`,
/// `u8`…`u64`, `f32` and `f64`; sealed.
pub trait Element:
    Copy + Send + Sync + PartialEq + PartialOrd + Default + fmt::Debug + 'static + sealed::Sealed
{
    /// The run-time dtype.
    const DTYPE: DType;
    /// The kernel-name suffix (`"f32"`).
    const SUFFIX: &'static str;
    /// Lossy conversion to f64.
    fn to_f64(self) -> f64;
    /// NumPy cast from f64 (truncating, saturating; NaN → 0 for integers).
    fn from_f64(v: f64) -> Self;
    /// NumPy cast from i64 (wrapping for narrower ints).
    fn from_i64(v: i64) -> Self;
    /// NumPy cast from u64 (wrapping for narrower ints).
    fn from_u64(v: u64) -> Self;
    /// `false` → 0, `true` → 1.
    fn from_bool(b: bool) -> Self;
    /// Truthiness: nonzero (NaN is truthy).
    fn truthy(self) -> bool;
    /// Whether the value is NaN (never for integers).
    fn is_nan(self) -> bool;
    /// The value as i64 when integral (wrapping), else truncated.
    fn to_i64(self) -> i64;
    /// The value as u64 when integral (wrapping), else truncated.
    fn to_u64(self) -> u64;
    /// Cast from any element type with NumPy semantics.
    fn cast_from<S: Element>(s: S) -> Self {
        match S::DTYPE.kind() {
            Kind::Float => Self::from_f64(s.to_f64()),
            Kind::Signed => Self::from_i64(s.to_i64()),
            Kind::Unsigned => Self::from_u64(s.to_u64()),
            Kind::Bool => Self::from_bool(s.truthy()),
        }
    }
    /// Wraps a vector as a [`Buffer`].
    fn into_buffer(v: Vec<Self>) -> Buffer;
    /// The typed slice inside a buffer of this type.
    fn slice_of(b: &Buffer) -> Option<&[Self]>;
    /// The typed vector inside a buffer of this type.
    fn vec_of(b: Buffer) -> std::result::Result<Vec<Self>, Buffer>;
}

macro_rules! element_int {
    ($($t:ty => $v:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$v;
            const SUFFIX: &'static str = DType::$v.suffix();
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)] fn from_i64(v: i64) -> Self { v as $t }
            #[inline(always)] fn from_u64(v: u64) -> Self { v as $t }
            #[inline(always)] fn from_bool(b: bool) -> Self { b as $t }
            #[inline(always)] fn truthy(self) -> bool { self != 0 }
            #[inline(always)] fn is_nan(self) -> bool { false }
            #[inline(always)] fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)] fn to_u64(self) -> u64 { self as u64 }
            fn into_buffer(v: Vec<Self>) -> Buffer { Buffer::$v(v) }
            fn slice_of(b: &Buffer) -> Option<&[Self]> { if let Buffer::$v(v) = b { Some(v) } else { None } }
            fn vec_of(b: Buffer) -> std::result::Result<Vec<Self>, Buffer> { if let Buffer::$v(v) = b { Ok(v) } else { Err(b) } }
        }
    )*};
}
element_int!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32, u64 => U64);

macro_rules! element_float {
    ($($t:ty => $v:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$v;
            const SUFFIX: &'static str = DType::$v.suffix();
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)] fn from_i64(v: i64) -> Self { v as $t }
            #[inline(always)] fn from_u64(v: u64) -> Self { v as $t }
            #[inline(always)] fn from_bool(b: bool) -> Self { if b { 1.0 } else { 0.0 } }
            #[inline(always)] fn truthy(self) -> bool { self != 0.0 }
            #[inline(always)] fn is_nan(self) -> bool { <$t>::is_nan(self) }
            #[inline(always)] fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)] fn to_u64(self) -> u64 { if self < 0.0 { (self as i64) as u64 } else { self as u64 } }
            fn into_buffer(v: Vec<Self>) -> Buffer { Buffer::$v(v) }
            fn slice_of(b: &Buffer) -> Option<&[Self]> { if let Buffer::$v(v) = b { Some(v) } else { None } }
            fn vec_of(b: Buffer) -> std::result::Result<Vec<Self>, Buffer> { if let Buffer::$v(v) = b { Ok(v) } else { Err(b) } }
        }
    )*};
}
element_float!(f32 => F32, f64 => F64);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    const SUFFIX: &'static str = "bool";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn from_bool(b: bool) -> Self {
        b
    }
    #[inline(always)]
    fn truthy(self) -> bool {
        self
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
    fn into_buffer(v: Vec<Self>) -> Buffer {
        Buffer::Bool(v)
    }
    fn slice_of(b: &Buffer) -> Option<&[Self]> {
        if let Buffer::Bool(v) = b { Some(v) } else { None }
    }
    fn vec_of(b: Buffer) -> std::result::Result<Vec<Self>, Buffer> {
        if let Buffer::Bool(v) = b { Ok(v) } else { Err(b) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_matches_numpy_table() {
        use DType::*;
        let cases = [
            (Bool, I8, I8),
            (I8, U8, I16),
            (I16, U16, I32),
            (I32, U32, I64),
            (I64, U64, F64),
            (U8, I64, I64),
            (U32, I16, I64),
            (I8, F32, F32),
            (U16, F32, F32),
            (I32, F32, F64),
            (F32, F64, F64),
            (Bool, F32, F32),
        ];
        for (a, b, r) in cases {
            assert_eq!(DType::promote(a, b), r, "{a} + {b}");
            assert_eq!(DType::promote(b, a), r, "{b} + {a}");
        }
    }

    #[test]
    fn weak_scalars() {
        assert_eq!(Scalar::Float(2.0).promote_with(DType::F32), DType::F32);
        assert_eq!(Scalar::Float(2.0).promote_with(DType::I8), DType::F64);
        assert_eq!(Scalar::Int(3).promote_with(DType::U8), DType::U8);
        assert_eq!(Scalar::Int(3).promote_with(DType::Bool), DType::I64);
    }

    #[test]
    fn casts_follow_numpy() {
        let b = Buffer::F64(vec![1.9, -1.9, f64::NAN, 0.0, 300.0]);
        assert_eq!(b.cast(DType::I32), Buffer::I32(vec![1, -1, 0, 0, 300]));
        assert_eq!(b.cast(DType::Bool), Buffer::Bool(vec![true, true, true, false, true]));
        assert_eq!(Buffer::I16(vec![300, -1]).cast(DType::U8), Buffer::U8(vec![44, 255]));
    }
}
