//! Elementwise operations: NumPy ufuncs, operators, `where`, `astype`, `clip`.
//!
//! Each call builds one `Map` node whose program reads the (broadcast, chunk-aligned)
//! inputs, inserts the casts NumPy's type promotion implies, and applies the op. Chains
//! of such nodes become one fused per-block pass in the optimizer.
//!
//! Operators (`+ - * / % -x`) follow ndarray's convention and panic when shapes cannot
//! be broadcast; the named methods ([`Array::binary`], [`Array::minimum`], …) return
//! that case as an error.
//!
//! ```
//! use chunkwise::Array;
//! let x = Array::arange(0, 6, 1, [4]).unwrap();          // int64
//! let y = (&x / 2).floor();                             // true division → float64
//! assert_eq!(y.dtype(), chunkwise::DType::F64);
//! let m = x.greater(2).unwrap();                        // bool
//! let z = chunkwise::where_(&m, &x, 0).unwrap();
//! assert_eq!(z.compute::<i64>().unwrap().as_slice().unwrap(), &[0, 0, 0, 3, 4, 5]);
//! ```

use super::Array;
use super::broadcast::align;
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::expr::ExprKind;
use crate::ops::{BinaryOp, InstOp, Program, Reg, UnaryOp};
use std::sync::Arc;

/// An operand of an elementwise op: an array or a (weakly typed) scalar.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    /// An array.
    Array(&'a Array),
    /// A scalar.
    Scalar(Scalar),
}

impl<'a> From<&'a Array> for Operand<'a> {
    fn from(a: &'a Array) -> Self {
        Operand::Array(a)
    }
}
macro_rules! operand_from {
    ($($t:ty),*) => {$(impl From<$t> for Operand<'_> { fn from(x: $t) -> Self { Operand::Scalar(Scalar::from(x)) } })*};
}
// Only one integer and one float type, so literals (`2`, `0.5`) infer without annotations;
// other types go through `Scalar::from`.
operand_from!(bool, i64, f64);
impl From<Scalar> for Operand<'_> {
    fn from(s: Scalar) -> Self {
        Operand::Scalar(s)
    }
}

fn dt(p: &Program, r: Reg) -> DType {
    p.insts[r as usize].dtype
}

fn cast(p: &mut Program, r: Reg, to: DType) -> Reg {
    if dt(p, r) == to { r } else { p.push(InstOp::Cast(r), to) }
}

/// Builds a Map node over operands; `f` gets the program and one register per operand.
fn map_operands(ops: &[Operand<'_>], f: impl FnOnce(&mut Program, &[Reg]) -> Result<Reg>) -> Result<Array> {
    let arrays: Vec<&Array> = ops
        .iter()
        .filter_map(|o| if let Operand::Array(a) = o { Some(*a) } else { None })
        .collect();
    let (inputs, grid) = align(&arrays)?;
    let mut p = Program::new(inputs.len() as u32);
    let mut regs = Vec::with_capacity(ops.len());
    let mut k = 0u32;
    // Scalars adopt the dtype NumPy's weak promotion gives them against the arrays.
    let arr_dt = arrays.iter().map(|a| a.dtype()).reduce(DType::promote);
    for o in ops {
        match o {
            Operand::Array(a) => {
                regs.push(p.push(InstOp::Input(k), a.dtype()));
                k += 1;
            }
            Operand::Scalar(s) => {
                let d = match arr_dt {
                    Some(d) => s.promote_with(d),
                    None => match s {
                        Scalar::Bool(_) => DType::Bool,
                        Scalar::Int(_) => DType::I64,
                        Scalar::UInt(_) => DType::U64,
                        Scalar::Float(_) => DType::F64,
                    },
                };
                regs.push(p.push(InstOp::Const(*s), d));
            }
        }
    }
    let out = f(&mut p, &regs)?;
    if out as usize != p.insts.len() - 1 {
        let d = dt(&p, out);
        p.push(InstOp::Cast(out), d);
    }
    let dtype = p.out_dtype();
    Ok(Array::from_expr(
        ExprKind::Map {
            program: Arc::new(p),
            inputs,
        },
        grid,
        dtype,
    ))
}

fn binary_regs(p: &mut Program, op: BinaryOp, a: Reg, b: Reg) -> Result<Reg> {
    let common = DType::promote(dt(p, a), dt(p, b));
    let (kop, kdt, odt) = op.signature(common)?;
    let a = cast(p, a, kdt);
    let b = cast(p, b, kdt);
    Ok(p.push(InstOp::Binary(kop, a, b), odt))
}

fn unary_reg(p: &mut Program, op: UnaryOp, a: Reg) -> Result<Reg> {
    let (kdt, odt) = op.signature(dt(p, a))?;
    let a = cast(p, a, kdt);
    Ok(p.push(InstOp::Unary(op, a), odt))
}

impl Array {
    /// Applies a unary op.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) for `neg` and `sign` of bool.
    pub fn unary(&self, op: UnaryOp) -> Result<Array> {
        map_operands(&[Operand::Array(self)], |p, r| unary_reg(p, op, r[0]))
    }

    fn unary_ok(&self, op: UnaryOp) -> Array {
        self.unary(op).expect("op defined for every dtype")
    }

    /// Applies a binary op with NumPy broadcasting and type promotion.
    ///
    /// # Errors
    /// [`Error::Broadcast`](crate::Error::Broadcast) for incompatible shapes; [`Error::Unsupported`](crate::Error::Unsupported) for bool
    /// subtraction.
    pub fn binary<'a>(&self, op: BinaryOp, other: impl Into<Operand<'a>>) -> Result<Array> {
        let other = other.into();
        if op == BinaryOp::Pow
            && let Operand::Scalar(s) = other
            && s.as_f64() == 2.0
        {
            return Ok(self.square());
        }
        map_operands(&[Operand::Array(self), other], |p, r| binary_regs(p, op, r[0], r[1]))
    }

    /// `scalar ⊕ self` (a scalar on the left).
    ///
    /// # Errors
    /// As [`Array::binary`].
    pub fn rbinary(&self, op: BinaryOp, scalar: impl Into<Scalar>) -> Result<Array> {
        map_operands(&[Operand::Scalar(scalar.into()), Operand::Array(self)], |p, r| {
            binary_regs(p, op, r[0], r[1])
        })
    }

    /// Numeric negative.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) for bool (as NumPy).
    pub fn negative(&self) -> Result<Array> {
        self.unary(UnaryOp::Neg)
    }

    /// `np.sign`: -1, 0 or 1 in the input's dtype (NaN stays NaN, both zeros give 0).
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) for bool (as NumPy).
    pub fn sign(&self) -> Result<Array> {
        self.unary(UnaryOp::Sign)
    }

    /// Converts to another dtype (NumPy `astype`, unsafe casting).
    pub fn astype(&self, dtype: DType) -> Array {
        if dtype == self.dtype() {
            return self.clone();
        }
        map_operands(&[Operand::Array(self)], |p, r| Ok(p.push(InstOp::Cast(r[0]), dtype))).expect("cast never fails")
    }

    /// `np.clip(self, lo, hi)` = `minimum(maximum(self, lo), hi)`.
    ///
    /// # Errors
    /// As [`Array::binary`].
    pub fn clip<'a, 'b>(&self, lo: impl Into<Operand<'a>>, hi: impl Into<Operand<'b>>) -> Result<Array> {
        map_operands(&[Operand::Array(self), lo.into(), hi.into()], |p, r| {
            let m = binary_regs(p, BinaryOp::Maximum, r[0], r[1])?;
            binary_regs(p, BinaryOp::Minimum, m, r[2])
        })
    }
}

macro_rules! unary_methods {
    ($($name:ident => $op:ident, $doc:literal);* $(;)?) => {
        impl Array {$(
            #[doc = $doc]
            pub fn $name(&self) -> Array { self.unary_ok(UnaryOp::$op) }
        )*}
    };
}
unary_methods! {
    abs => Abs, "Absolute value.";
    square => Square, "`x * x`.";
    sqrt => Sqrt, "Square root (float result).";
    exp => Exp, "e^x.";
    log => Log, "Natural logarithm.";
    log1p => Log1p, "ln(1 + x).";
    expm1 => Expm1, "e^x - 1.";
    sin => Sin, "Sine.";
    cos => Cos, "Cosine.";
    tan => Tan, "Tangent.";
    arctan => Arctan, "Arc tangent.";
    arcsin => Arcsin, "Arc sine (NaN outside [-1, 1]).";
    arccos => Arccos, "Arc cosine (NaN outside [-1, 1]).";
    sinh => Sinh, "Hyperbolic sine.";
    cosh => Cosh, "Hyperbolic cosine.";
    tanh => Tanh, "Hyperbolic tangent.";
    arcsinh => Arcsinh, "Inverse hyperbolic sine.";
    arccosh => Arccosh, "Inverse hyperbolic cosine (NaN below 1).";
    arctanh => Arctanh, "Inverse hyperbolic tangent (±inf at ±1).";
    log2 => Log2, "Base-2 logarithm.";
    log10 => Log10, "Base-10 logarithm.";
    exp2 => Exp2, "2^x.";
    cbrt => Cbrt, "Cube root (negative for negative x).";
    deg2rad => Deg2rad, "Degrees to radians (`x · π/180`, `np.deg2rad`; `np.radians`).";
    rad2deg => Rad2deg, "Radians to degrees (`x · 180/π`, `np.rad2deg`; `np.degrees`).";
    floor => Floor, "Floor.";
    ceil => Ceil, "Ceiling.";
    round => Round, "Round half to even (`np.round`).";
    trunc => Trunc, "Toward zero (`np.trunc`; integers and bool unchanged, as NumPy 2).";
    logical_not => Not, "Logical not (NaN is true) → bool.";
    isnan => IsNan, "NaN test → bool.";
    isfinite => IsFinite, "Finite test → bool.";
}

macro_rules! binary_methods {
    ($($name:ident => $op:ident, $doc:literal);* $(;)?) => {
        impl Array {$(
            #[doc = $doc]
            ///
            /// # Errors
            /// [`Error::Broadcast`](crate::Error::Broadcast) for incompatible shapes.
            pub fn $name<'a>(&self, other: impl Into<Operand<'a>>) -> Result<Array> { self.binary(BinaryOp::$op, other) }
        )*}
    };
}
binary_methods! {
    minimum => Minimum, "`np.minimum` (NaN propagates).";
    maximum => Maximum, "`np.maximum` (NaN propagates).";
    power => Pow, "`self ** other`.";
    remainder => Rem, "`np.remainder` (sign of the divisor).";
    floor_divide => FloorDiv, "`self // other`.";
    arctan2 => Arctan2, "`np.arctan2(self, other)`.";
    hypot => Hypot, "`np.hypot`: `sqrt(self² + other²)` without undue overflow (integers → float64).";
    fmod => Fmod, "`np.fmod`: C's remainder, the sign of the dividend (integer `fmod(x, 0)` is 0).";
    equal => Eq, "`==` → bool.";
    not_equal => Ne, "`!=` → bool.";
    less => Lt, "`<` → bool.";
    less_equal => Le, "`<=` → bool.";
    greater => Gt, "`>` → bool.";
    greater_equal => Ge, "`>=` → bool.";
    logical_and => And, "Logical and → bool.";
    logical_or => Or, "Logical or → bool.";
    logical_xor => Xor, "Logical xor → bool.";
}

/// `np.where(cond, a, b)`: elements of `a` where `cond` is true, else of `b`.
///
/// # Errors
/// [`Error::Broadcast`](crate::Error::Broadcast) for incompatible shapes.
pub fn where_<'a, 'b>(cond: &Array, a: impl Into<Operand<'a>>, b: impl Into<Operand<'b>>) -> Result<Array> {
    map_operands(&[Operand::Array(cond), a.into(), b.into()], |p, r| {
        let c = cast(p, r[0], DType::Bool);
        let d = DType::promote(dt(p, r[1]), dt(p, r[2]));
        let x = cast(p, r[1], d);
        let y = cast(p, r[2], d);
        Ok(p.push(InstOp::Where(c, x, y), d))
    })
}

fn expect_ok(r: Result<Array>, op: &str) -> Array {
    match r {
        Ok(a) => a,
        Err(e) => panic!("{op}: {e}"),
    }
}

macro_rules! operator_impls {
    ($($tr:ident :: $m:ident => $op:ident),*) => {$(
        impl std::ops::$tr<&Array> for &Array { type Output = Array; fn $m(self, rhs: &Array) -> Array { expect_ok(self.binary(BinaryOp::$op, rhs), stringify!($m)) } }
        impl std::ops::$tr<Array> for Array { type Output = Array; fn $m(self, rhs: Array) -> Array { expect_ok(self.binary(BinaryOp::$op, &rhs), stringify!($m)) } }
        impl std::ops::$tr<&Array> for Array { type Output = Array; fn $m(self, rhs: &Array) -> Array { expect_ok(self.binary(BinaryOp::$op, rhs), stringify!($m)) } }
        impl std::ops::$tr<Array> for &Array { type Output = Array; fn $m(self, rhs: Array) -> Array { expect_ok(self.binary(BinaryOp::$op, &rhs), stringify!($m)) } }
        operator_impls!(@scalars $tr $m $op; f64 i64);
    )*};
    (@scalars $tr:ident $m:ident $op:ident; $($t:ty)*) => {$(
        impl std::ops::$tr<$t> for &Array { type Output = Array; fn $m(self, rhs: $t) -> Array { expect_ok(self.binary(BinaryOp::$op, rhs), stringify!($m)) } }
        impl std::ops::$tr<$t> for Array { type Output = Array; fn $m(self, rhs: $t) -> Array { expect_ok(self.binary(BinaryOp::$op, rhs), stringify!($m)) } }
        impl std::ops::$tr<&Array> for $t { type Output = Array; fn $m(self, rhs: &Array) -> Array { expect_ok(rhs.rbinary(BinaryOp::$op, self), stringify!($m)) } }
        impl std::ops::$tr<Array> for $t { type Output = Array; fn $m(self, rhs: Array) -> Array { expect_ok(rhs.rbinary(BinaryOp::$op, self), stringify!($m)) } }
    )*};
}
operator_impls!(Add::add => Add, Sub::sub => Sub, Mul::mul => Mul, Div::div => Div, Rem::rem => Rem);

impl std::ops::Neg for &Array {
    type Output = Array;
    fn neg(self) -> Array {
        expect_ok(self.negative(), "neg")
    }
}
impl std::ops::Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        expect_ok(self.negative(), "neg")
    }
}
