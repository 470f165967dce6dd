//! The combine and aggregate steps: partial ⊕ partial, and partial → result.
//!
//! Merges go left to right in the order the tree hands them over, so a result is the
//! same bits whatever the thread count; moments merge by Chan's formula.

use super::arg::wins;
use super::bank::mm;
use crate::device::cpu::eval::{cast_buffer, num_dispatch};
use crate::device::cpu::num::Num;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use crate::ops::{Partial, ReduceOp};

/// Combine step: merges `b` into `a` (same shape), in that order.
///
/// # Errors
/// When the partials are of different kinds (a lowering bug).
pub fn merge(op: ReduceOp, a: &mut Partial, b: &Partial) -> Result<()> {
    match (a, b) {
        (Partial::Acc(x), Partial::Acc(y)) => merge_acc(op, x, y),
        (Partial::Mean { sum, n }, Partial::Mean { sum: s2, n: n2 }) => {
            for i in 0..sum.len() {
                sum[i] += s2[i];
                n[i] += n2[i];
            }
            Ok(())
        }
        (
            Partial::Moments { n, mean, m2 },
            Partial::Moments {
                n: nb,
                mean: mb,
                m2: m2b,
            },
        ) => {
            for i in 0..n.len() {
                let (na, nbi) = (n[i], nb[i]);
                let nt = na + nbi;
                if nbi == 0.0 {
                    continue;
                }
                if na == 0.0 {
                    n[i] = nbi;
                    mean[i] = mb[i];
                    m2[i] = m2b[i];
                    continue;
                }
                let d = mb[i] - mean[i];
                mean[i] += d * nbi / nt;
                m2[i] += m2b[i] + d * d * na * nbi / nt;
                n[i] = nt;
            }
            Ok(())
        }
        (Partial::Arg { val, idx }, Partial::Arg { val: vb, idx: ib }) => {
            crate::dispatch_buffer!(val, va, T => {
                let vb = T::slice_of(vb).ok_or_else(|| Error::Unsupported("argmin partials differ in dtype".into()))?;
                for i in 0..idx.len() {
                    if ib[i] >= 0 && wins(op, vb[i], ib[i], va[i], idx[i]) {
                        va[i] = vb[i];
                        idx[i] = ib[i];
                    }
                }
                Ok(())
            })
        }
        _ => Err(Error::Unsupported(format!("mismatched partials for {}", op.name()))),
    }
}

fn merge_acc(op: ReduceOp, a: &mut Buffer, b: &Buffer) -> Result<()> {
    use ReduceOp::*;
    if a.dtype() != b.dtype() {
        return Err(Error::Unsupported("partials differ in dtype".into()));
    }
    if let (Buffer::Bool(x), Buffer::Bool(y)) = (&mut *a, b) {
        let all = op == All;
        for (x, &y) in x.iter_mut().zip(y) {
            *x = if all { *x && y } else { *x || y };
        }
        return Ok(());
    }
    num_dispatch!(a, x, T => {
        let y = T::slice_of(b).expect("dtype checked");
        let f: fn(T, T) -> T = match op {
            Sum | NanSum | Count => <T as Num>::add,
            Prod | NanProd => <T as Num>::mul,
            Min => mm::<T, false, false>,
            Max => mm::<T, true, false>,
            NanMin => mm::<T, false, true>,
            NanMax => mm::<T, true, true>,
            _ => return Err(Error::Unsupported(format!("{} has no elementwise combine", op.name()))),
        };
        for (x, &y) in x.iter_mut().zip(y) { *x = f(*x, y); }
        Ok(())
    }, bool => unreachable!("handled above"))
}

/// Aggregate step: the final partial as the result dtype.
///
/// # Errors
/// [`Error::Value`] for `nanargmin`/`nanargmax` over an all-NaN slice (as NumPy).
pub fn finalize(op: ReduceOp, part: Partial, ddof: f64, out: DType) -> Result<Buffer> {
    use ReduceOp::*;
    Ok(match part {
        Partial::Acc(b) => cast_buffer(&b, out),
        Partial::Mean { mut sum, n } => {
            // In place: the mean is the sum's allocation, the count goes back to the pool.
            for (s, &c) in sum.iter_mut().zip(&n) {
                *s /= c;
            }
            super::pool::give(n);
            if out == DType::F64 {
                Buffer::F64(sum)
            } else {
                let means = Buffer::F64(sum);
                let b = cast_buffer(&means, out);
                if let Buffer::F64(v) = means {
                    super::pool::give(v);
                }
                b
            }
        }
        Partial::Moments { n, m2, .. } => {
            // NumPy: `var` divides by max(N - ddof, 0) (inf, or NaN for 0 / 0, once ddof
            // reaches N); `nanvar` gives NaN there (integer data takes `var`, see
            // `ReduceOp::for_input`).
            let nan_op = matches!(op, NanVar | NanStd);
            let v: Vec<f64> = n
                .iter()
                .zip(&m2)
                .map(|(&c, &m)| {
                    let var = if c == 0.0 || (nan_op && c - ddof <= 0.0) {
                        f64::NAN
                    } else {
                        m / (c - ddof).max(0.0)
                    };
                    if matches!(op, Std | NanStd) { var.sqrt() } else { var }
                })
                .collect();
            cast_buffer(&Buffer::F64(v), out)
        }
        Partial::Arg { val, idx } => {
            if op.skips_nan() {
                let all_nan = crate::dispatch_buffer!(&val, v, _T => v.iter().any(|x| x.is_nan()));
                if all_nan {
                    return Err(Error::Value(format!("{}: All-NaN slice encountered", op.name())));
                }
            }
            Buffer::I64(idx)
        }
    })
}
