//! Group-by reductions against a per-group reference (rows selected, then reduced in
//! f64), over several chunkings, label patterns and ops; memory stays sparse in groups.

mod common;

use chunkwise::{Array, DType, GroupByOptions, ReduceOp};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn};

fn reference(r: &ArrayD<f64>, labels: &[i64], axis: usize, ngroups: usize, op: ReduceOp, dtype: DType) -> ArrayD<f64> {
    let mut parts = Vec::new();
    for g in 0..ngroups as i64 {
        let rows: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == g)
            .map(|(i, _)| i)
            .collect();
        let sel = r.select(Axis(axis), &rows);
        let red = if rows.is_empty() {
            let mut sh = r.shape().to_vec();
            sh.remove(axis);
            let fill = match op {
                ReduceOp::Sum | ReduceOp::NanSum | ReduceOp::Count => 0.0,
                _ => f64::NAN,
            };
            ArrayD::from_elem(IxDyn(&sh), fill)
        } else {
            reference_reduce(&sel, op, &[axis], 0.0, dtype).unwrap()
        };
        parts.push(red.insert_axis(Axis(axis)));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(axis), &views).unwrap()
}

fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, rtol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= rtol * w.abs().max(1.0);
        assert!(ok, "{what}: element {i}: {g} vs {w}");
    }
}

#[test]
fn groupby_matches_reference_over_chunkings_and_labels() {
    let shape = [23, 4, 3];
    let r = data(&shape, DType::F64, 21, 0.1);
    let contiguous: Vec<i64> = (0..23).map(|i| i / 5).collect(); // runs, like months
    let cyclic: Vec<i64> = (0..23).map(|i| i % 4).collect(); // scattered, like day-of-week
    let with_gaps: Vec<i64> = (0..23)
        .map(|i| if i % 7 == 3 { -1 } else { (i * 3 % 5) as i64 })
        .collect();
    let ops = [
        ReduceOp::NanMean,
        ReduceOp::Sum,
        ReduceOp::NanSum,
        ReduceOp::Mean,
        ReduceOp::NanMax,
        ReduceOp::Min,
        ReduceOp::Count,
        ReduceOp::NanStd,
        ReduceOp::Var,
    ];
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        for (labels, name) in [(&contiguous, "runs"), (&cyclic, "cyclic"), (&with_gaps, "gaps")] {
            for op in ops {
                let ng = 6; // one more group than any label uses: an empty group
                let opts = GroupByOptions {
                    ngroups: Some(ng),
                    split_every: 3,
                    ..GroupByOptions::default()
                };
                let y = x.groupby_reduce(labels, 0, op, &opts).unwrap();
                assert_eq!(y.shape(), vec![ng, 4, 3]);
                let got = y.astype(DType::F64).compute::<f64>().unwrap();
                close(
                    &got,
                    &reference(&r, labels, 0, ng, op, DType::F64),
                    1e-12,
                    &format!("{op:?} {name} chunks {chunks:?}"),
                );
            }
        }
    }
}

#[test]
fn groupby_along_a_middle_axis_and_f32_and_ints() {
    let shape = [3, 10, 4];
    let labels: Vec<i64> = vec![2, 0, 0, 1, 2, 2, 0, 1, 1, 2];
    for dtype in [DType::F32, DType::I16] {
        let r = data(&shape, dtype, 5, 0.0);
        let rd = as_dtype(&r, dtype);
        for chunks in [[3, 10, 4], [2, 3, 3], [1, 4, 1]] {
            let x = array(&r, dtype, &chunks);
            for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
                let y = x.groupby_reduce(&labels, -2, op, &GroupByOptions::default()).unwrap();
                assert_eq!(y.dtype(), op.result_dtype(dtype));
                let rtol = if dtype == DType::F32 { 1e-6 } else { 1e-12 };
                close(
                    &y.astype(DType::F64).compute::<f64>().unwrap(),
                    &reference(&rd, &labels, 1, 3, op, dtype),
                    rtol,
                    &format!("{dtype} {op:?} {chunks:?}"),
                );
            }
        }
    }
}

#[test]
fn groupby_errors_name_the_problem() {
    let x = Array::zeros(&[6, 2], DType::I32, [2, 2]).unwrap();
    let e = x
        .groupby_reduce(&[0, 1, 2], 0, ReduceOp::Sum, &GroupByOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 labels") && e.contains("length 6"), "{e}");
    let e = x
        .groupby_reduce(&[0; 6], 0, ReduceOp::ArgMax, &GroupByOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("argmax"), "{e}");
    let opts = GroupByOptions {
        ngroups: Some(2),
        ..GroupByOptions::default()
    };
    let e = x
        .groupby_reduce(&[0, 0, 1, 1, 5, 5], 0, ReduceOp::Sum, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("label 5"), "{e}");
    // Integer max of an empty group has no value.
    let opts = GroupByOptions {
        ngroups: Some(3),
        ..GroupByOptions::default()
    };
    let y = x.groupby_reduce(&[0, 0, 1, 1, 0, 1], 0, ReduceOp::Max, &opts).unwrap();
    let e = y.compute::<i32>().unwrap_err().to_string();
    assert!(e.contains("group 2 has no elements"), "{e}");
}

#[test]
fn monthly_partials_stay_sparse() {
    // A daily year in 10-day blocks: each chunk-step partial holds 1–2 months, so the
    // graph's estimate of its output is at most 2 months of partials, never 12.
    let x = Array::ones(&[365, 8, 8], DType::F32, [10, 8, 8]).unwrap();
    let labels: Vec<i64> = (0..365).map(|d| month_of_day(d) as i64).collect();
    let y = x
        .groupby_reduce(&labels, 0, ReduceOp::Mean, &GroupByOptions::default())
        .unwrap();
    let g = chunkwise::graph::lower::lower(&[chunkwise::graph::lower::Target::Array(&y)]);
    let chunk_steps: Vec<u64> = g
        .tasks()
        .iter()
        .filter(|t| matches!(&t.kind, chunkwise::graph::TaskKind::Block { op, .. } if op.name().ends_with("-chunk")))
        .map(|t| t.nbytes)
        .collect();
    assert_eq!(chunk_steps.len(), 37);
    assert!(chunk_steps.iter().all(|&b| b <= 2 * 64 * 16), "{chunk_steps:?}");
    let got = y.compute::<f32>().unwrap();
    assert!(got.iter().all(|&v| v == 1.0));
}

fn month_of_day(d: usize) -> usize {
    let lens = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut d = d;
    for (m, &l) in lens.iter().enumerate() {
        if d < l {
            return m;
        }
        d -= l;
    }
    11
}
