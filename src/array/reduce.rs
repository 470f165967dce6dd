//! Reductions over any set of axes, as a `split_every` tree (dask's `_tree_reduce`).
//!
//! ```
//! use chunkwise::Array;
//! let x = Array::from_ndarray(ndarray::arr2(&[[1.0, f64::NAN], [3.0, 4.0]]), [1, 1]).unwrap();
//! let m = x.nanmean(0).unwrap().compute::<f64>().unwrap();
//! assert_eq!(m.as_slice().unwrap(), &[2.0, 4.0]);
//! assert!(x.mean(None).unwrap().compute_scalar::<f64>().unwrap().is_nan());
//! ```

use super::Array;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, normalize_axes};
use crate::ops::{DEFAULT_SPLIT_EVERY, ReduceOp, ReduceSpec};

/// Which axes to reduce: all of them, or a list (negative counts from the end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// Every axis (NumPy's `axis=None`).
    All,
    /// These axes (`axis=(0, 2)`; an empty list reduces nothing).
    List(Vec<isize>),
}

impl From<Option<isize>> for Axes {
    fn from(a: Option<isize>) -> Self {
        a.map_or(Axes::All, |a| Axes::List(vec![a]))
    }
}
impl From<isize> for Axes {
    fn from(a: isize) -> Self {
        Axes::List(vec![a])
    }
}
impl From<i32> for Axes {
    fn from(a: i32) -> Self {
        Axes::List(vec![a as isize])
    }
}
impl From<usize> for Axes {
    fn from(a: usize) -> Self {
        Axes::List(vec![a as isize])
    }
}
impl From<&[isize]> for Axes {
    fn from(a: &[isize]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl From<Vec<isize>> for Axes {
    fn from(a: Vec<isize>) -> Self {
        Axes::List(a)
    }
}
impl<const N: usize> From<[isize; N]> for Axes {
    fn from(a: [isize; N]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl<const N: usize> From<[i32; N]> for Axes {
    fn from(a: [i32; N]) -> Self {
        Axes::List(a.iter().map(|&x| x as isize).collect())
    }
}

/// Options of a reduction.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceOptions {
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
    /// Delta degrees of freedom (var/std).
    pub ddof: f64,
    /// Fan-in of the combine tree (≥ 2).
    pub split_every: usize,
    /// The result dtype of mean/var/std and their nan-variants (NumPy's `dtype=`):
    /// `Some(DType::F64)` reports a float32 input's mean as float64. Accumulation is in
    /// f64 either way, so this only skips the final rounding to float32 (and is far
    /// cheaper than widening the input with `astype`). Other ops reject it.
    pub dtype: Option<DType>,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        ReduceOptions {
            keepdims: false,
            ddof: 0.0,
            split_every: DEFAULT_SPLIT_EVERY,
            dtype: None,
        }
    }
}

impl Array {
    /// Reduces `axes` with `op`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] / [`Error::DuplicateAxis`] for bad axes; an argmin/argmax
    /// over more than one (but not all) axes; [`Error::EmptyReduction`] for an op with no
    /// identity over an empty selection.
    pub fn reduce(&self, op: ReduceOp, axes: impl Into<Axes>, opts: &ReduceOptions) -> Result<Array> {
        let op = op.for_input(self.dtype());
        let nd = self.ndim();
        let (axes, all) = match axes.into() {
            Axes::All => ((0..nd).collect::<Vec<_>>(), true),
            Axes::List(l) => {
                let v = normalize_axes(&l, nd)?;
                let all = v.len() == nd;
                (v, all)
            }
        };
        if op.is_arg() && !(all || axes.len() == 1) {
            return Err(Error::InvalidArgument(format!(
                "{} takes one axis or none, not {axes:?}",
                op.name()
            )));
        }
        if opts.split_every < 2 {
            return Err(Error::InvalidArgument(format!(
                "split_every must be at least 2, not {}",
                opts.split_every
            )));
        }
        let out_dtype = match opts.dtype {
            None => op.result_dtype(self.dtype()),
            Some(d @ (DType::F32 | DType::F64)) if op.is_moment() => d,
            Some(d) => {
                return Err(Error::InvalidArgument(format!(
                    "dtype={d} is supported for mean, var and std (and their nan-variants) as float32/float64, not for {}",
                    op.name()
                )));
            }
        };
        let shape = self.shape();
        let reduced: usize = axes.iter().map(|&a| shape[a]).product();
        let kept: usize = (0..nd).filter(|a| !axes.contains(a)).map(|a| shape[a]).product();
        if op.needs_nonempty() && reduced == 0 && kept > 0 {
            return Err(Error::EmptyReduction { op: op.name() });
        }
        let g = self.grid();
        let mut out_shape = Vec::new();
        let mut out_chunks = Vec::new();
        for (a, &n) in shape.iter().enumerate() {
            if axes.contains(&a) {
                if opts.keepdims {
                    out_shape.push(1);
                    out_chunks.push(vec![1]);
                }
            } else {
                out_shape.push(n);
                out_chunks.push(g.chunks(a).to_vec());
            }
        }
        let grid = ChunkGrid::from_chunks(&out_shape, out_chunks)?;
        let spec = ReduceSpec {
            op,
            axes,
            keepdims: opts.keepdims,
            ddof: opts.ddof,
            split_every: opts.split_every,
        };
        Ok(Array::from_expr(
            ExprKind::Reduce {
                input: self.clone(),
                spec,
            },
            grid,
            out_dtype,
        ))
    }

    /// Variance with `ddof` (NaN propagates).
    ///
    /// # Errors
    /// As [`Array::reduce`].
    pub fn var(&self, axes: impl Into<Axes>, ddof: f64) -> Result<Array> {
        self.reduce(
            ReduceOp::Var,
            axes,
            &ReduceOptions {
                ddof,
                ..Default::default()
            },
        )
    }

    /// Standard deviation with `ddof` (NaN propagates).
    ///
    /// # Errors
    /// As [`Array::reduce`].
    pub fn std(&self, axes: impl Into<Axes>, ddof: f64) -> Result<Array> {
        self.reduce(
            ReduceOp::Std,
            axes,
            &ReduceOptions {
                ddof,
                ..Default::default()
            },
        )
    }

    /// Variance skipping NaN.
    ///
    /// # Errors
    /// As [`Array::reduce`].
    pub fn nanvar(&self, axes: impl Into<Axes>, ddof: f64) -> Result<Array> {
        self.reduce(
            ReduceOp::NanVar,
            axes,
            &ReduceOptions {
                ddof,
                ..Default::default()
            },
        )
    }

    /// Standard deviation skipping NaN.
    ///
    /// # Errors
    /// As [`Array::reduce`].
    pub fn nanstd(&self, axes: impl Into<Axes>, ddof: f64) -> Result<Array> {
        self.reduce(
            ReduceOp::NanStd,
            axes,
            &ReduceOptions {
                ddof,
                ..Default::default()
            },
        )
    }
}

macro_rules! reduce_methods {
    ($($name:ident => $op:ident, $doc:literal);* $(;)?) => {
        impl Array {$(
            #[doc = $doc]
            ///
            /// # Errors
            /// As [`Array::reduce`].
            pub fn $name(&self, axes: impl Into<Axes>) -> Result<Array> {
                self.reduce(ReduceOp::$op, axes, &ReduceOptions::default())
            }
        )*}
    };
}
reduce_methods! {
    sum => Sum, "Sum (ints widen to int64/uint64, floats keep their type, accumulated in f64).";
    prod => Prod, "Product.";
    mean => Mean, "Mean (f32 stays f32, ints give f64; accumulated in f64).";
    min => Min, "Minimum (NaN propagates).";
    max => Max, "Maximum (NaN propagates).";
    argmin => ArgMin, "Index of the first minimum along one axis, or the flat index over all.";
    argmax => ArgMax, "Index of the first maximum along one axis, or the flat index over all.";
    any => Any, "Any element true (NaN is true).";
    all => All, "All elements true.";
    count => Count, "Number of non-NaN elements (int64).";
    nansum => NanSum, "Sum skipping NaN.";
    nanprod => NanProd, "Product skipping NaN.";
    nanmean => NanMean, "Mean skipping NaN (all-NaN → NaN).";
    nanmin => NanMin, "Minimum skipping NaN (all-NaN → NaN).";
    nanmax => NanMax, "Maximum skipping NaN (all-NaN → NaN).";
    nanargmin => NanArgMin, "argmin skipping NaN (all-NaN slice is an error when computed).";
    nanargmax => NanArgMax, "argmax skipping NaN (all-NaN slice is an error when computed).";
}
