//! Cumulative sums and products along an axis (`cumsum`, `cumprod`, their nan-variants)
//! and `diff`.
//!
//! The plan is dask's, with the carry computed once instead of as a chain: every block
//! is scanned on its own; the last row of each scanned block (its total) is gathered,
//! the totals are put in one block along the axis and scanned exclusively — giving
//! each block the combination of all blocks before it — and each block adds (or
//! multiplies by) its carry. Three passes over tiny data and one over the blocks; every
//! block's scan runs in parallel.
//!
//! Scans accumulate in f64 for floats (NumPy accumulates float32 in float32; this is
//! at least as accurate) and in wrapping int64/uint64 for integers and bools, and
//! return NumPy's types: floats keep theirs, bool and signed ints give int64,
//! unsigned ints uint64.

use super::Array;
use crate::chunk::{Chunk, Value};
use crate::device::cpu::scan::{ScanAcc, apply_carry, exclusive_in_place, scan_in_place};
use crate::dtype::{Buffer, DType, Element, Kind};
use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::{ChunkGrid, normalize_axis};
use crate::ops::BinaryOp;

/// Which running combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    /// Running sum.
    Sum,
    /// Running product.
    Prod,
    /// Running sum, NaN as 0.
    NanSum,
    /// Running product, NaN as 1.
    NanProd,
}

impl ScanKind {
    fn prod(self) -> bool {
        matches!(self, ScanKind::Prod | ScanKind::NanProd)
    }
    fn skip_nan(self) -> bool {
        matches!(self, ScanKind::NanSum | ScanKind::NanProd)
    }
    fn name(self) -> &'static str {
        match self {
            ScanKind::Sum => "cumsum",
            ScanKind::Prod => "cumprod",
            ScanKind::NanSum => "nancumsum",
            ScanKind::NanProd => "nancumprod",
        }
    }
}

fn acc_dtype(d: DType) -> DType {
    match d.kind() {
        Kind::Float => DType::F64,
        Kind::Unsigned => DType::U64,
        _ => DType::I64,
    }
}

/// `(outer, n, inner)` of a shape around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

fn with_acc<R>(b: &mut Buffer, f: impl FnOnce(&mut dyn AccSlice) -> R) -> Result<R> {
    match b {
        Buffer::F64(v) => Ok(f(v)),
        Buffer::I64(v) => Ok(f(v)),
        Buffer::U64(v) => Ok(f(v)),
        other => Err(Error::Unsupported(format!("scan accumulator of {}", other.dtype()))),
    }
}

/// Object-safe access to an accumulator slice of any [`ScanAcc`] type.
trait AccSlice {
    fn scan(&mut self, o: usize, n: usize, i: usize, prod: bool, skip_nan: bool);
    fn exclusive(&mut self, o: usize, n: usize, i: usize, prod: bool);
    fn carry(&mut self, carry: &Buffer, o: usize, n: usize, i: usize, prod: bool) -> Result<()>;
}

impl<A: ScanAcc + Element> AccSlice for Vec<A> {
    fn scan(&mut self, o: usize, n: usize, i: usize, prod: bool, skip_nan: bool) {
        scan_in_place(self, o, n, i, prod, skip_nan);
    }
    fn exclusive(&mut self, o: usize, n: usize, i: usize, prod: bool) {
        exclusive_in_place(self, o, n, i, prod);
    }
    fn carry(&mut self, carry: &Buffer, o: usize, n: usize, i: usize, prod: bool) -> Result<()> {
        let c = A::slice_of(carry).ok_or_else(|| Error::Unsupported("scan carry of another dtype".into()))?;
        apply_carry(self, c, o, n, i, prod);
        Ok(())
    }
}

/// Step 1: each block scanned on its own, in the accumulator dtype.
#[derive(Debug)]
struct ScanBlockOp {
    axis: usize,
    kind: ScanKind,
    acc: DType,
    /// Cast to this at the end (when there is a single block along the axis).
    out: Option<DType>,
}

impl BlockOp for ScanBlockOp {
    fn name(&self) -> String {
        format!("{}-block", self.kind.name())
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = inputs
            .first()
            .ok_or_else(|| Error::Unsupported("scan input missing".into()))?
            .as_chunk()?;
        let (o, n, i) = split(c.shape(), self.axis);
        let mut data = c.data().cast(self.acc);
        with_acc(&mut data, |d| d.scan(o, n, i, self.kind.prod(), self.kind.skip_nan()))?;
        if let Some(out) = self.out {
            data = data.cast(out);
        }
        Ok(Value::Chunk(Chunk::new(c.shape().to_vec(), data)?))
    }
}

/// Step 3: the exclusive scan of the block totals (one block along the axis).
#[derive(Debug)]
struct CarryOp {
    axis: usize,
    prod: bool,
}

impl BlockOp for CarryOp {
    fn name(&self) -> String {
        "scan-carry".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = inputs
            .first()
            .ok_or_else(|| Error::Unsupported("carry input missing".into()))?
            .as_chunk()?;
        let (o, n, i) = split(c.shape(), self.axis);
        let mut data = c.data().try_clone()?;
        with_acc(&mut data, |d| d.exclusive(o, n, i, self.prod))?;
        Ok(Value::Chunk(Chunk::new(c.shape().to_vec(), data)?))
    }
}

/// Step 4: each scanned block combined with its carry, cast to the result dtype.
#[derive(Debug)]
struct ApplyCarryOp {
    axis: usize,
    prod: bool,
    grid: ChunkGrid,
    carry_grid: ChunkGrid,
    out: DType,
}

impl BlockOp for ApplyCarryOp {
    fn name(&self) -> String {
        "scan-apply-carry".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let mut idx = self.grid.unlinear(b);
        idx[self.axis] = 0;
        vec![(0, b), (1, self.carry_grid.linear(&idx))]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let [v, cv] = inputs else {
            return Err(Error::Unsupported("scan: two inputs expected".into()));
        };
        let (c, carry) = (v.as_chunk()?, cv.as_chunk()?);
        let k = self.grid.unlinear(b)[self.axis];
        let mut rows: Vec<std::ops::Range<usize>> = carry.shape().iter().map(|&n| 0..n).collect();
        rows[self.axis] = k..k + 1;
        let carry = carry.slice(&rows);
        let (o, n, i) = split(c.shape(), self.axis);
        let mut data = c.data().try_clone()?;
        with_acc(&mut data, |d| d.carry(carry.data(), o, n, i, self.prod))??;
        Ok(Value::Chunk(Chunk::new(c.shape().to_vec(), data.cast(self.out))?))
    }
}

impl Array {
    /// A running combination along `axis` (`None`: over the flattened array, C order).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn scan(&self, kind: ScanKind, axis: Option<isize>) -> Result<Array> {
        let Some(axis) = axis else {
            return self.reshape(&[-1])?.scan(kind, Some(0));
        };
        let ax = normalize_axis(axis, self.ndim())?;
        let out = self.dtype().sum_result();
        let acc = acc_dtype(self.dtype());
        let grid = self.grid().clone();
        let single = grid.nblocks()[ax] == 1;
        let scanned = Array::from_block_op(
            ScanBlockOp {
                axis: ax,
                kind,
                acc,
                out: single.then_some(out),
            },
            vec![self.clone()],
            grid.clone(),
            if single { out } else { acc },
        );
        if single || self.size() == 0 {
            return Ok(scanned.astype(out));
        }
        // Last row of every block along the axis, then all of them in one block.
        let ends: Vec<isize> = (0..grid.nblocks()[ax])
            .map(|k| grid.range(ax, k).end as isize - 1)
            .collect();
        let totals = scanned.take(&ends, ax as isize)?;
        let mut chunks = totals.chunks().to_vec();
        chunks[ax] = vec![ends.len()];
        let totals = totals.rechunk_to(ChunkGrid::from_chunks(&totals.shape(), chunks)?);
        let carry = Array::from_block_op(
            CarryOp {
                axis: ax,
                prod: kind.prod(),
            },
            vec![totals.clone()],
            totals.grid().clone(),
            acc,
        );
        let carry_grid = carry.grid().clone();
        Ok(Array::from_block_op(
            ApplyCarryOp {
                axis: ax,
                prod: kind.prod(),
                grid: grid.clone(),
                carry_grid,
                out,
            },
            vec![scanned, carry],
            grid,
            out,
        ))
    }

    /// Cumulative sum along `axis` (`np.cumsum`; `None` flattens).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn cumsum(&self, axis: Option<isize>) -> Result<Array> {
        self.scan(ScanKind::Sum, axis)
    }

    /// Cumulative product along `axis` (`np.cumprod`; `None` flattens).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn cumprod(&self, axis: Option<isize>) -> Result<Array> {
        self.scan(ScanKind::Prod, axis)
    }

    /// Cumulative sum treating NaN as 0 (`np.nancumsum`).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn nancumsum(&self, axis: Option<isize>) -> Result<Array> {
        self.scan(ScanKind::NanSum, axis)
    }

    /// Cumulative product treating NaN as 1 (`np.nancumprod`).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn nancumprod(&self, axis: Option<isize>) -> Result<Array> {
        self.scan(ScanKind::NanProd, axis)
    }

    /// The `n`-th discrete difference along `axis` (`np.diff`): `x[1:] - x[:-1]`,
    /// repeated `n` times (for bool, `!=` as NumPy does).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn diff(&self, n: usize, axis: isize) -> Result<Array> {
        let ax = normalize_axis(axis, self.ndim())?;
        let mut x = self.clone();
        for _ in 0..n {
            let hi = x.slice_axis(ax as isize, Some(1), None, 1)?;
            let lo = x.slice_axis(ax as isize, None, Some(-1), 1)?;
            let op = if x.dtype() == DType::Bool {
                BinaryOp::Ne
            } else {
                BinaryOp::Sub
            };
            x = hi.binary(op, &lo)?;
        }
        Ok(x)
    }
}
