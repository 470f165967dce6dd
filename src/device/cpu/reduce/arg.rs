//! argmin/argmax: the chunk step that records where the extreme is, not only its value.
//!
//! A partial holds the best value and its index along the reduced axis (or the flat
//! index over the whole array); ties go to the first occurrence, NaN wins argmin and
//! argmax as in NumPy and loses in the nan-variants.

use super::{ArgInfo, Plan, Rows, visit};
use crate::device::cpu::eval::BlockCtx;
use crate::device::cpu::num::Num;
use crate::dtype::Element;
use crate::error::Result;
use crate::grid::c_strides;
use crate::ops::{Partial, ReduceOp};

/// Does candidate (a, ia) beat incumbent (b, ib)? First occurrence wins ties; argmin and
/// argmax return the first NaN, the nan-variants never pick NaN unless all are.
#[inline]
pub(super) fn wins<T: Element>(op: ReduceOp, a: T, ia: i64, b: T, ib: i64) -> bool {
    if ib < 0 {
        return true;
    }
    let (an, bn) = (a.is_nan(), b.is_nan());
    let skip = op.skips_nan();
    if an || bn {
        if an && bn {
            return ia < ib;
        }
        return if skip { bn } else { an };
    }
    let max = matches!(op, ReduceOp::ArgMax | ReduceOp::NanArgMax);
    let better = if max { a > b } else { a < b };
    better || (a == b && ia < ib)
}

pub(super) fn arg_partial<T: Num>(
    op: ReduceOp,
    p: &Plan,
    rows: &mut Rows<'_, '_>,
    ctx: &BlockCtx<'_>,
    info: ArgInfo<'_>,
    mut val: Vec<T>,
    mut idx: Vec<i64>,
) -> Result<Partial> {
    let lstr = c_strides(ctx.shape);
    let gstr = c_strides(info.global_shape);
    let shape = ctx.shape;
    let index_of = |flat: usize| -> i64 {
        match info.axis {
            Some(ax) => (info.offset[ax] + (flat / lstr[ax]) % shape[ax].max(1)) as i64,
            None => {
                let mut g = 0usize;
                let mut rem = flat;
                for a in 0..shape.len() {
                    let i = rem / lstr[a];
                    rem %= lstr[a];
                    g += (info.offset[a] + i) * gstr[a];
                }
                g as i64
            }
        }
    };
    let max = matches!(op, ReduceOp::ArgMax | ReduceOp::NanArgMax);
    let skip = op.skips_nan();
    visit(p, |io, len, oo, red| {
        let xs = rows.get::<T>(io, len)?;
        if red {
            // The whole row folds into one output: find the row's first best with plain
            // comparisons, then compute one index and compare once with the incumbent.
            let mut best: Option<usize> = None;
            for (j, &x) in xs.iter().enumerate() {
                let take = match best {
                    None => true,
                    Some(b) => {
                        let y = xs[b];
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => false,
                            (true, false) => !skip,
                            (false, true) => skip,
                            (false, false) => {
                                if max {
                                    x > y
                                } else {
                                    x < y
                                }
                            }
                        }
                    }
                };
                if take {
                    best = Some(j);
                    if !skip && x.is_nan() {
                        break; // the first NaN wins argmin/argmax
                    }
                }
            }
            if let Some(j) = best {
                let i = index_of(io + j);
                if wins(op, xs[j], i, val[oo], idx[oo]) {
                    val[oo] = xs[j];
                    idx[oo] = i;
                }
            }
            return Ok(());
        }
        // A row of kept elements: argmin/argmax over one axis, which is reduced, so its
        // coordinate (the index we record) is the same for the whole row.
        // `wins` written without branches (non-short-circuit `&`/`|` and selects), so the
        // loop vectorises (criterion `reduce/argmax_*_axis0`: 0.29–0.62 → 2.7–3.1 GiB/s).
        let i = index_of(io);
        let n = xs.len();
        let (vals, idxs) = (&mut val[oo..oo + n], &mut idx[oo..oo + n]);
        for ((v, ix), &x) in vals.iter_mut().zip(idxs.iter_mut()).zip(xs) {
            let (cur, ci) = (*v, *ix);
            let (an, bn) = (x.is_nan(), cur.is_nan());
            let lt = i < ci;
            let better = if max { x > cur } else { x < cur };
            let nan_pick = if skip { bn } else { an };
            let take = (ci < 0) | (an & bn & lt) | ((an ^ bn) & nan_pick) | (!(an | bn) & (better | ((x == cur) & lt)));
            *v = if take { x } else { cur };
            *ix = if take { i } else { ci };
        }
        Ok(())
    })?;
    Ok(Partial::Arg {
        val: T::into_buffer(val),
        idx,
    })
}
