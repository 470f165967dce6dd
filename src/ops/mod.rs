//! The closed set of operations the engine knows, and their NumPy typing rules.
//!
//! Elementwise operations are [`UnaryOp`] and [`BinaryOp`]; they are combined into a
//! [`Program`] (a small SSA list of instructions over a block's inputs), which is the
//! unit the optimizer fuses and the devices execute. Reductions are [`ReduceOp`] with
//! a [`ReduceSpec`]; their intermediates are [`Partial`]s. Adding an op means adding it
//! here, to the CPU backend (`device/cpu`) and to a `.cu` file — nothing else.

mod program;
mod reduce;

pub use program::{Generator, Inst, InstOp, Program, Reg};
pub use reduce::{DEFAULT_SPLIT_EVERY, GroupedPartial, Partial, PartialKind, ReduceOp, ReduceSpec};

use crate::dtype::{DType, Kind};
use crate::error::{Error, Result};

/// One-input elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum UnaryOp {
    Neg,
    Abs,
    Square,
    Sqrt,
    Exp,
    Log,
    Log1p,
    Expm1,
    Sin,
    Cos,
    Tan,
    Arctan,
    Arcsin,
    Arccos,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    /// Base-2 logarithm.
    Log2,
    /// Base-10 logarithm.
    Log10,
    /// `2**x`.
    Exp2,
    /// Cube root.
    Cbrt,
    /// Degrees to radians.
    Deg2rad,
    /// Radians to degrees.
    Rad2deg,
    Floor,
    Ceil,
    /// Round half to even (`np.round`).
    Round,
    /// Toward zero (integers unchanged, as NumPy 2).
    Trunc,
    /// -1, 0 or 1 (NaN for NaN; refused for bool, as NumPy).
    Sign,
    /// Logical not (truthiness, NaN is true) → bool.
    Not,
    /// → bool.
    IsNan,
    /// → bool.
    IsFinite,
}

impl UnaryOp {
    /// Every op.
    pub const ALL: [UnaryOp; 34] = {
        use UnaryOp::*;
        [
            Neg, Abs, Square, Sqrt, Exp, Log, Log1p, Expm1, Sin, Cos, Tan, Arctan, Arcsin, Arccos, Sinh, Cosh, Tanh,
            Arcsinh, Arccosh, Arctanh, Log2, Log10, Exp2, Cbrt, Deg2rad, Rad2deg, Floor, Ceil, Round, Trunc, Sign, Not,
            IsNan, IsFinite,
        ]
    };

    /// The name used in graphs and kernels.
    #[must_use]
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Square => "square",
            Sqrt => "sqrt",
            Exp => "exp",
            Log => "log",
            Log1p => "log1p",
            Expm1 => "expm1",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Arctan => "arctan",
            Arcsin => "arcsin",
            Arccos => "arccos",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Arcsinh => "arcsinh",
            Arccosh => "arccosh",
            Arctanh => "arctanh",
            Log2 => "log2",
            Log10 => "log10",
            Exp2 => "exp2",
            Cbrt => "cbrt",
            Deg2rad => "deg2rad",
            Rad2deg => "rad2deg",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Trunc => "trunc",
            Sign => "sign",
            Not => "logical_not",
            IsNan => "isnan",
            IsFinite => "isfinite",
        }
    }

    /// Transcendental ops compute in floating point: integer inputs are cast first.
    #[must_use]
    pub fn needs_float(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            Sqrt | Exp
                | Log
                | Log1p
                | Expm1
                | Sin
                | Cos
                | Tan
                | Arctan
                | Arcsin
                | Arccos
                | Sinh
                | Cosh
                | Tanh
                | Arcsinh
                | Arccosh
                | Arctanh
                | Log2
                | Log10
                | Exp2
                | Cbrt
                | Deg2rad
                | Rad2deg
        )
    }

    /// `(dtype the kernel sees, dtype it returns)` for an input dtype.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for `neg` and `sign` of bool (NumPy refuses them too).
    pub fn signature(self, input: DType) -> Result<(DType, DType)> {
        use UnaryOp::*;
        Ok(match self {
            Not | IsNan | IsFinite => (input, DType::Bool),
            _ if self.needs_float() => {
                let f = input.float_result();
                (f, f)
            }
            Neg if input == DType::Bool => {
                return Err(Error::Unsupported("negative of a bool array (use logical_not)".into()));
            }
            Sign if input == DType::Bool => {
                return Err(Error::Unsupported("sign of a bool array".into()));
            }
            Abs | Floor | Ceil | Round | Trunc if input == DType::Bool => (DType::Bool, DType::Bool),
            Square if input == DType::Bool => (DType::I8, DType::I8),
            _ => (input, input),
        })
    }
}

/// Two-input elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// True division (`/`): integers are divided as float64.
    Div,
    /// Floor division (`//`).
    FloorDiv,
    /// Remainder with the sign of the divisor (`np.remainder`, Python's `%`).
    Rem,
    Pow,
    /// `np.minimum` (propagates NaN).
    Minimum,
    /// `np.maximum` (propagates NaN).
    Maximum,
    Arctan2,
    /// `sqrt(a² + b²)` without undue overflow (`np.hypot`).
    Hypot,
    /// C's remainder: the sign of the dividend (`np.fmod`); integer `fmod(x, 0)` is 0.
    Fmod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

impl BinaryOp {
    /// Every op.
    pub const ALL: [BinaryOp; 21] = {
        use BinaryOp::*;
        [
            Add, Sub, Mul, Div, FloorDiv, Rem, Pow, Minimum, Maximum, Arctan2, Hypot, Fmod, Eq, Ne, Lt, Le, Gt, Ge,
            And, Or, Xor,
        ]
    };

    /// The name used in graphs and kernels.
    #[must_use]
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "subtract",
            Mul => "multiply",
            Div => "divide",
            FloorDiv => "floor_divide",
            Rem => "remainder",
            Pow => "power",
            Minimum => "minimum",
            Maximum => "maximum",
            Arctan2 => "arctan2",
            Hypot => "hypot",
            Fmod => "fmod",
            Eq => "equal",
            Ne => "not_equal",
            Lt => "less",
            Le => "less_equal",
            Gt => "greater",
            Ge => "greater_equal",
            And => "logical_and",
            Or => "logical_or",
            Xor => "logical_xor",
        }
    }

    /// Comparisons return bool.
    #[must_use]
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }

    /// Logical ops see both inputs as truth values.
    #[must_use]
    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)
    }

    /// Given the promoted input dtype, `(op the kernel runs, dtype the kernel sees,
    /// dtype it returns)`. Bool arithmetic follows NumPy: `+` is or, `*` is and,
    /// `-` is an error, `/` is float64 division.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for bool subtraction.
    pub fn signature(self, common: DType) -> Result<(BinaryOp, DType, DType)> {
        use BinaryOp::*;
        if self.is_logical() {
            return Ok((self, DType::Bool, DType::Bool));
        }
        if self.is_comparison() {
            return Ok((self, common, DType::Bool));
        }
        if common == DType::Bool {
            return Ok(match self {
                Add | Maximum => (Or, DType::Bool, DType::Bool),
                Mul | Minimum => (And, DType::Bool, DType::Bool),
                Sub => {
                    return Err(Error::Unsupported(
                        "subtract of two bool arrays (use logical_xor)".into(),
                    ));
                }
                Div | Arctan2 | Hypot => (self, DType::F64, DType::F64),
                _ => (self, DType::I8, DType::I8),
            });
        }
        Ok(match self {
            Div | Arctan2 | Hypot if common.kind() != Kind::Float => (self, DType::F64, DType::F64),
            _ => (self, common, common),
        })
    }
}
