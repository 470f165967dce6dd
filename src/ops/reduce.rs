//! Reductions: the operations, their NumPy result types, and the partial results a
//! tree reduction carries between levels.
//!
//! Every reduction is a (chunk, combine, aggregate) triple as in dask's `reduction`:
//! *chunk* turns a block into a [`Partial`] whose reduced axes have length 1, *combine*
//! merges partials elementwise (in a fixed order, so results are bit-identical across
//! runs and thread counts), *aggregate* turns the last partial into the result dtype.
//!
//! Partials accumulate floats in f64 (also for f32 data), integers in i64/u64 with
//! NumPy's wrap-around; mean carries (sum, count); var/std carry mergeable moments
//! (count, mean, M2) combined with Chan's formula; argmin/argmax carry (value, index).

use crate::dtype::{Buffer, DType, Kind};
use crate::error::{Error, Result};

/// A reduction operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ReduceOp {
    Sum,
    Prod,
    Mean,
    Min,
    Max,
    Var,
    Std,
    ArgMin,
    ArgMax,
    Any,
    All,
    /// Number of non-NaN elements.
    Count,
    NanSum,
    NanProd,
    NanMean,
    NanMin,
    NanMax,
    NanVar,
    NanStd,
    NanArgMin,
    NanArgMax,
}

/// What a partial of this op holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartialKind {
    /// One accumulator per element ([`Partial::Acc`]).
    Acc,
    /// Sum and count ([`Partial::Mean`]).
    Mean,
    /// Count, mean, M2 ([`Partial::Moments`]).
    Moments,
    /// Best value and its index ([`Partial::Arg`]).
    Arg,
}

impl PartialKind {
    /// Upper bound of a partial's bytes per kept element (an accumulator is at most
    /// 8 bytes; a mean keeps sum and count; moments count, mean and M2; arg value and index).
    #[must_use]
    pub fn bytes_per_element(self) -> usize {
        match self {
            PartialKind::Acc => 8,
            PartialKind::Mean | PartialKind::Arg => 16,
            PartialKind::Moments => 24,
        }
    }
}

impl ReduceOp {
    /// Every op.
    pub const ALL: [ReduceOp; 21] = [
        ReduceOp::Sum,
        ReduceOp::Prod,
        ReduceOp::Mean,
        ReduceOp::Min,
        ReduceOp::Max,
        ReduceOp::Var,
        ReduceOp::Std,
        ReduceOp::ArgMin,
        ReduceOp::ArgMax,
        ReduceOp::Any,
        ReduceOp::All,
        ReduceOp::Count,
        ReduceOp::NanSum,
        ReduceOp::NanProd,
        ReduceOp::NanMean,
        ReduceOp::NanMin,
        ReduceOp::NanMax,
        ReduceOp::NanVar,
        ReduceOp::NanStd,
        ReduceOp::NanArgMin,
        ReduceOp::NanArgMax,
    ];

    /// NumPy's name (`"nanmean"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        use ReduceOp::*;
        match self {
            Sum => "sum",
            Prod => "prod",
            Mean => "mean",
            Min => "min",
            Max => "max",
            Var => "var",
            Std => "std",
            ArgMin => "argmin",
            ArgMax => "argmax",
            Any => "any",
            All => "all",
            Count => "count",
            NanSum => "nansum",
            NanProd => "nanprod",
            NanMean => "nanmean",
            NanMin => "nanmin",
            NanMax => "nanmax",
            NanVar => "nanvar",
            NanStd => "nanstd",
            NanArgMin => "nanargmin",
            NanArgMax => "nanargmax",
        }
    }

    /// Parses a name.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the valid ops.
    pub fn parse(s: &str) -> Result<Self> {
        ReduceOp::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ReduceOp::ALL.iter().map(|o| o.name()).collect();
            Error::InvalidArgument(format!("unknown op '{s}' (expected one of: {})", names.join(", ")))
        })
    }

    /// Whether NaN inputs are skipped.
    #[must_use]
    pub fn skips_nan(self) -> bool {
        use ReduceOp::*;
        matches!(
            self,
            NanSum | NanProd | NanMean | NanMin | NanMax | NanVar | NanStd | NanArgMin | NanArgMax | Count
        )
    }

    /// The op NumPy applies to data of `dtype`: `nanvar`/`nanstd` of data that cannot
    /// hold NaN (integers, bool) are `var`/`std` — NumPy's `nanvar` calls `var` for them —
    /// which differ from the nan-variants only when `ddof` ≥ the count (`var` divides by
    /// zero, giving inf; the float `nanvar` gives NaN).
    #[must_use]
    pub fn for_input(self, dtype: DType) -> ReduceOp {
        match self {
            ReduceOp::NanVar if !dtype.is_float() => ReduceOp::Var,
            ReduceOp::NanStd if !dtype.is_float() => ReduceOp::Std,
            op => op,
        }
    }

    /// The kind of partial.
    #[must_use]
    pub fn partial_kind(self) -> PartialKind {
        use ReduceOp::*;
        match self {
            Mean | NanMean => PartialKind::Mean,
            Var | Std | NanVar | NanStd => PartialKind::Moments,
            ArgMin | ArgMax | NanArgMin | NanArgMax => PartialKind::Arg,
            _ => PartialKind::Acc,
        }
    }

    /// mean, var, std or their nan-variants (float results, f64 accumulation).
    #[must_use]
    pub fn is_moment(self) -> bool {
        use ReduceOp::*;
        matches!(self, Mean | NanMean | Var | NanVar | Std | NanStd)
    }

    /// argmin/argmax and their nan-variants (one axis or all, as NumPy).
    #[must_use]
    pub fn is_arg(self) -> bool {
        self.partial_kind() == PartialKind::Arg
    }

    /// Ops with no identity: an empty selection is an error.
    #[must_use]
    pub fn needs_nonempty(self) -> bool {
        use ReduceOp::*;
        matches!(
            self,
            Min | Max | NanMin | NanMax | ArgMin | ArgMax | NanArgMin | NanArgMax
        )
    }

    /// The dtype of the accumulator of an [`Partial::Acc`] for this input.
    #[must_use]
    pub fn acc_dtype(self, input: DType) -> DType {
        use ReduceOp::*;
        match self {
            Sum | NanSum | Prod | NanProd => match input.kind() {
                Kind::Float => DType::F64,
                Kind::Unsigned => DType::U64,
                _ => DType::I64,
            },
            Min | Max | NanMin | NanMax => input,
            Any | All => DType::Bool,
            Count => DType::I64,
            _ => DType::F64,
        }
    }

    /// NumPy's result dtype for this input (the library follows NumPy: f32 mean of
    /// f32 data; the CLI reports mean/var/std as float64).
    #[must_use]
    pub fn result_dtype(self, input: DType) -> DType {
        use ReduceOp::*;
        match self {
            Sum | NanSum | Prod | NanProd => input.sum_result(),
            Min | Max | NanMin | NanMax => input,
            Any | All => DType::Bool,
            Count | ArgMin | ArgMax | NanArgMin | NanArgMax => DType::I64,
            Mean | NanMean | Var | Std | NanVar | NanStd => {
                if input == DType::F32 {
                    DType::F32
                } else {
                    DType::F64
                }
            }
        }
    }
}

/// A reduction as requested: which op, over which axes, and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceSpec {
    /// The operation.
    pub op: ReduceOp,
    /// Reduced axes, sorted, normalised.
    pub axes: Vec<usize>,
    /// Keep reduced axes as length 1.
    pub keepdims: bool,
    /// Delta degrees of freedom for var/std.
    pub ddof: f64,
    /// Fan-in of the combine tree (total over the reduced axes, as dask's `split_every`).
    pub split_every: usize,
}

/// Default `split_every` (dask's).
pub const DEFAULT_SPLIT_EVERY: usize = 4;

/// The intermediate result of reducing a block (reduced axes of length 1, C order).
#[derive(Debug)]
pub enum Partial {
    /// One accumulator per element (sum, prod, min, max, any, all, count).
    Acc(Buffer),
    /// Running sum and count (mean).
    Mean {
        /// Sum of the (non-NaN) elements.
        sum: Vec<f64>,
        /// Their number.
        n: Vec<f64>,
    },
    /// Mergeable moments (var, std).
    Moments {
        /// Count.
        n: Vec<f64>,
        /// Mean.
        mean: Vec<f64>,
        /// Sum of squared deviations from the mean.
        m2: Vec<f64>,
    },
    /// Best value so far and its index (argmin, argmax).
    Arg {
        /// The value, in the input dtype.
        val: Buffer,
        /// Its index (along the axis, or flat C order over the whole array).
        idx: Vec<i64>,
    },
}

impl Partial {
    /// Number of output elements it covers.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Partial::Acc(b) => b.len(),
            Partial::Mean { n, .. } | Partial::Moments { n, .. } => n.len(),
            Partial::Arg { idx, .. } => idx.len(),
        }
    }

    /// True when it covers no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        match self {
            Partial::Acc(b) => b.nbytes(),
            Partial::Mean { n, .. } => n.len() * 16,
            Partial::Moments { n, .. } => n.len() * 24,
            Partial::Arg { val, idx } => val.nbytes() + idx.len() * 8,
        }
    }
}

impl Partial {
    /// An explicit copy (partials can be as large as a block with kept axes).
    #[must_use]
    pub fn copy(&self) -> Partial {
        match self {
            Partial::Acc(b) => Partial::Acc(b.try_clone().expect("infallible copy")),
            Partial::Mean { sum, n } => Partial::Mean {
                sum: sum.clone(),
                n: n.clone(),
            },
            Partial::Moments { n, mean, m2 } => Partial::Moments {
                n: n.clone(),
                mean: mean.clone(),
                m2: m2.clone(),
            },
            Partial::Arg { val, idx } => Partial::Arg {
                val: val.try_clone().expect("infallible copy"),
                idx: idx.clone(),
            },
        }
    }
}

/// Partials of a group-by reduction for the groups present in some blocks: sorted
/// group numbers, one partial each, all of one (keepdims) shape.
#[derive(Debug)]
pub struct GroupedPartial {
    /// Group numbers, ascending.
    pub groups: Vec<u32>,
    /// The partial of each group.
    pub parts: Vec<Partial>,
    /// Shape each partial covers (the block's, with the grouped axis of length 1).
    pub shape: Vec<usize>,
}

impl GroupedPartial {
    /// Bytes held.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.parts.iter().map(Partial::nbytes).sum::<usize>() + self.groups.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_dtypes_follow_numpy() {
        assert_eq!(ReduceOp::Sum.result_dtype(DType::Bool), DType::I64);
        assert_eq!(ReduceOp::Sum.result_dtype(DType::U8), DType::U64);
        assert_eq!(ReduceOp::Sum.result_dtype(DType::F32), DType::F32);
        assert_eq!(ReduceOp::Mean.result_dtype(DType::I16), DType::F64);
        assert_eq!(ReduceOp::Mean.result_dtype(DType::F32), DType::F32);
        assert_eq!(ReduceOp::ArgMax.result_dtype(DType::F32), DType::I64);
        assert_eq!(ReduceOp::Max.result_dtype(DType::U16), DType::U16);
        assert!(
            ReduceOp::parse("nanmedian")
                .unwrap_err()
                .to_string()
                .contains("nanmean")
        );
    }
}
