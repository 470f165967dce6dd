//! `coarsen` (block downsampling), `rolling` (moving windows) and weighted reductions
//! (`weighted`, `average`) against unchunked references and values xarray printed,
//! over several chunkings, dtypes and NaN placements.

mod common;

use chunkwise::{Array, Axes, CoarsenBoundary, DType, Error, ReduceOp, RollingOptions};
use common::*;
use ndarray::{ArrayD, IxDyn, Slice};

/// `x` with each listed axis cut to a multiple of its factor, split into
/// `(n / f, f)` (C order), and the window axes reduced by the reference.
fn coarsen_reference(x: &ArrayD<f64>, op: ReduceOp, factors: &[(usize, usize)], dtype: DType) -> ArrayD<f64> {
    let mut t = x.clone();
    let mut f = vec![1; x.ndim()];
    for &(a, k) in factors {
        f[a] = k;
        let n = t.shape()[a] / k * k;
        t.slice_axis_inplace(ndarray::Axis(a), Slice::from(0..n));
    }
    let mut split = Vec::new();
    let mut windows = Vec::new();
    for (a, &n) in t.shape().iter().enumerate() {
        split.push(n / f[a]);
        windows.push(split.len());
        split.push(f[a]);
    }
    let t = t
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&split))
        .unwrap();
    reference_reduce(&t, op, &windows, 0.0, dtype).unwrap()
}

#[test]
fn coarsen_matches_the_windowed_reference() {
    let ops = [
        ReduceOp::Mean,
        ReduceOp::NanMean,
        ReduceOp::Sum,
        ReduceOp::NanSum,
        ReduceOp::Max,
        ReduceOp::NanMin,
        ReduceOp::Std,
        ReduceOp::NanVar,
        ReduceOp::Count,
        ReduceOp::Prod,
    ];
    type Case = (&'static [usize], &'static [(usize, usize)], DType);
    let cases: &[Case] = &[
        (&[12, 10], &[(0, 3), (1, 2)], DType::F64),
        (&[12, 10], &[(1, 5)], DType::F32),
        (&[6, 8, 9], &[(1, 4), (2, 3)], DType::F32),
        (&[6, 8, 9], &[(0, 6), (2, 9)], DType::F64),
        (&[10], &[(0, 5)], DType::I16),
        (&[4, 6], &[(0, 2), (1, 3)], DType::U8),
        (&[4, 6], &[(0, 1)], DType::F64),
    ];
    for &(shape, factors, dtype) in cases {
        let x = data(shape, dtype, 21, 0.15);
        let listed: Vec<(isize, usize)> = factors.iter().map(|&(a, f)| (a as isize, f)).collect();
        let mut chunkings = chunkings(shape);
        chunkings.push(shape.iter().map(|&n| (n / 3).max(1) * 2 - 1).collect());
        for chunks in &chunkings {
            let a = array(&x, dtype, chunks);
            for op in ops {
                let got = a.coarsen(op, &listed, false).unwrap();
                assert_eq!(got.dtype(), op.result_dtype(dtype), "{op:?} of {dtype}");
                let want = coarsen_reference(&as_dtype(&x, dtype), op, factors, dtype);
                let what = format!("{op:?} {shape:?} {factors:?} {dtype} chunks {chunks:?}");
                // float32 results are rounded once from the f64 accumulation.
                let rtol = if got.dtype() == DType::F32 { 2e-7 } else { 1e-12 };
                assert_close(&got.compute_chunk().unwrap(), &want, rtol, &what);
            }
        }
    }
}

#[test]
fn coarsen_trims_keeps_aligned_chunks_and_refuses_bad_input() {
    let x = data(&[11, 7], DType::F64, 5, 0.0);
    let a = array(&x, DType::F64, &[4, 7]);
    // 11 % 4 and 7 % 2 are left over: an error, or trimmed.
    let err = a.coarsen(ReduceOp::Mean, &[(0, 4), (1, 2)], false).unwrap_err();
    assert!(err.to_string().contains("not a multiple"), "{err}");
    let t = a.coarsen(ReduceOp::Mean, &[(0, 4), (-1, 2)], true).unwrap();
    assert_eq!(t.shape(), vec![2, 3]);
    let want = coarsen_reference(&x, ReduceOp::Mean, &[(0, 4), (1, 2)], DType::F64);
    assert_close(&t.compute_chunk().unwrap(), &want, 1e-14, "trimmed");
    // Chunks that are whole windows stay as they are (4 rows → 1 output row per block).
    assert_eq!(t.chunks()[0], vec![1, 1]);
    assert!(matches!(
        a.coarsen(ReduceOp::Sum, &[(2, 2)], false),
        Err(Error::AxisOutOfRange { .. })
    ));
    assert!(matches!(
        a.coarsen(ReduceOp::Sum, &[(0, 2), (-2, 2)], true),
        Err(Error::DuplicateAxis(0))
    ));
    assert!(a.coarsen(ReduceOp::Sum, &[(0, 0)], true).is_err());
    assert!(a.coarsen(ReduceOp::ArgMax, &[(0, 2)], true).is_err());
    // Empty arrays give empty results of the op's dtype.
    let e = Array::zeros(&[0, 6], DType::I32, [1, 3]).unwrap();
    let r = e.coarsen(ReduceOp::Mean, &[(1, 3)], false).unwrap();
    assert_eq!((r.shape(), r.dtype()), (vec![0, 2], DType::F64));
    assert_eq!(r.compute::<f64>().unwrap().len(), 0);
}

/// xarray 2026.9.0: `DataArray(np.arange(10).astype(dt), dims="x").coarsen(x=3,
/// boundary="pad").<op>()`, whose reductions skip NaN: `(op, result)`, the same for
/// float64, float32, int16 and int32 (the dtypes differ).
#[rustfmt::skip]
const XARRAY_COARSEN_PAD: [(ReduceOp, [f64; 4]); 5] = [
    (ReduceOp::NanMean, [1.0, 4.0, 7.0, 9.0]),
    (ReduceOp::NanSum, [3.0, 12.0, 21.0, 9.0]),
    (ReduceOp::NanMax, [2.0, 5.0, 8.0, 9.0]),
    (ReduceOp::Count, [3.0, 3.0, 3.0, 1.0]),
    (ReduceOp::NanStd, [0.816496580927726, 0.816496580927726, 0.816496580927726, 0.0]),
];

#[test]
fn coarsen_pads_with_nan_as_xarray() {
    // xarray's dtypes: integers promoted (int16 → float32, int32 → float64) to hold NaN.
    for (dtype, padded) in [
        (DType::F64, DType::F64),
        (DType::F32, DType::F32),
        (DType::I16, DType::F32),
        (DType::I32, DType::F64),
    ] {
        let x = Array::arange(0.0, 10.0, 1.0, [4]).unwrap().astype(dtype);
        for (op, want) in XARRAY_COARSEN_PAD {
            let got = x.coarsen(op, &[(0, 3)], CoarsenBoundary::Pad).unwrap();
            assert_eq!(got.dtype(), op.result_dtype(padded), "{op:?} of {dtype}");
            let rtol = if got.dtype() == DType::F32 { 1e-7 } else { 1e-15 };
            let what = format!("pad {op:?} {dtype}");
            assert_close(
                &got.compute_chunk().unwrap(),
                &ndarray::arr1(&want).into_dyn(),
                rtol,
                &what,
            );
        }
    }
    // Against the reference on the NaN-padded array, over chunkings; a reduction that
    // does not skip NaN gives NaN in the padded windows, as NumPy's would.
    let shape = [11usize, 7];
    let factors = [(0usize, 4usize), (1, 3)];
    let listed: Vec<(isize, usize)> = factors.iter().map(|&(a, f)| (a as isize, f)).collect();
    for dtype in [DType::F64, DType::F32, DType::I16] {
        let x = as_dtype(&data(&shape, dtype, 9, 0.2), dtype);
        let padded_dtype = if dtype == DType::I16 { DType::F32 } else { dtype };
        let mut padded = ArrayD::from_elem(IxDyn(&[12, 9]), f64::NAN);
        padded.slice_mut(ndarray::s![..11, ..7]).assign(&x);
        let mut chunkings = chunkings(&shape);
        chunkings.push(vec![5, 2]);
        for chunks in &chunkings {
            let a = array(&x, dtype, chunks);
            for op in [
                ReduceOp::NanMean,
                ReduceOp::NanSum,
                ReduceOp::NanMin,
                ReduceOp::Count,
                ReduceOp::Mean,
            ] {
                let got = a.coarsen(op, &listed, CoarsenBoundary::Pad).unwrap();
                assert_eq!(got.shape(), vec![3, 3]);
                let want = coarsen_reference(&padded, op, &factors, padded_dtype);
                let rtol = if got.dtype() == DType::F32 { 2e-7 } else { 1e-12 };
                let what = format!("pad {op:?} {dtype} chunks {chunks:?}");
                assert_close(&got.compute_chunk().unwrap(), &want, rtol, &what);
            }
        }
    }
    // An axis that divides evenly is not padded, and keeps its dtype.
    let x = Array::arange(0.0, 12.0, 1.0, [5]).unwrap().astype(DType::I32);
    let even = x.coarsen(ReduceOp::Sum, &[(0, 4)], CoarsenBoundary::Pad).unwrap();
    assert_eq!(even.dtype(), DType::I64);
    assert_eq!(even.compute::<i64>().unwrap().as_slice().unwrap(), &[6, 22, 38]);
}

/// Weighted reductions by xarray's rules, looped element by element in f64: returns
/// `(Σw·x, Σw, mean, var)` per output element, NaN data dropped from all of them.
fn weighted_reference(x: &ArrayD<f64>, w: &ArrayD<f64>, axes: &[usize]) -> [ArrayD<f64>; 4] {
    let w = w.broadcast(x.raw_dim()).unwrap();
    let out_shape: Vec<usize> = (0..x.ndim())
        .filter(|a| !axes.contains(a))
        .map(|a| x.shape()[a])
        .collect();
    let out_of = |i: &IxDyn| -> IxDyn {
        IxDyn(
            &(0..x.ndim())
                .filter(|a| !axes.contains(a))
                .map(|a| i[a])
                .collect::<Vec<_>>(),
        )
    };
    let mut ws = ArrayD::<f64>::zeros(IxDyn(&out_shape));
    let mut sow = ws.clone();
    for (i, &v) in x.indexed_iter() {
        if !v.is_nan() {
            let o = out_of(&i);
            ws[&o] += w[&i] * v;
            sow[&o] += w[&i];
        }
    }
    let mean = ndarray::Zip::from(&ws)
        .and(&sow)
        .map_collect(|&s, &d| if d == 0.0 { f64::NAN } else { s / d });
    let mut ss = ArrayD::<f64>::zeros(IxDyn(&out_shape));
    for (i, &v) in x.indexed_iter() {
        if !v.is_nan() {
            let o = out_of(&i);
            ss[&o] += w[&i] * (v - mean[&o]).powi(2);
        }
    }
    let var = ndarray::Zip::from(&ss)
        .and(&sow)
        .map_collect(|&s, &d| if d == 0.0 { f64::NAN } else { s / d });
    [ws, sow, mean, var]
}

#[test]
fn weighted_reductions_drop_missing_data_from_the_weights() {
    let shape = [8, 6, 5];
    let mut x = data(&shape, DType::F64, 3, 0.2);
    // One lane along axis 0 all missing: its sum of weights is 0, its mean NaN.
    for t in 0..8 {
        x[[t, 2, 3]] = f64::NAN;
    }
    let lat = ndarray::Array1::from_shape_fn(6, |i| (i as f64 * 0.3).cos()).into_dyn();
    let lat = lat.into_shape_with_order(IxDyn(&[6, 1])).unwrap();
    let full = data(&shape, DType::F64, 4, 0.0).mapv(f64::abs);
    let lon = data(&[5], DType::F64, 9, 0.0).mapv(|v| v.abs() + 0.5);
    let axes_sets: [&[usize]; 4] = [&[0, 1, 2], &[1, 2], &[0], &[2]];
    for (wname, w) in [("lat", &lat), ("full", &full), ("lon", &lon)] {
        for chunks in [vec![8, 6, 5], vec![3, 4, 2], vec![1, 6, 5]] {
            let xa = array(&x, DType::F64, &chunks);
            let wa = Array::from_ndarray(w.clone(), w.shape().iter().map(|&n| n.min(4)).collect::<Vec<_>>()).unwrap();
            let wd = xa.weighted(&wa).unwrap();
            for axes in axes_sets {
                let list = Axes::List(axes.iter().map(|&a| a as isize).collect());
                let [ws, sow, mean, var] = weighted_reference(&x, w, axes);
                let what = format!("weights {wname}, axes {axes:?}, chunks {chunks:?}");
                assert_close(
                    &wd.sum(list.clone()).unwrap().compute_chunk().unwrap(),
                    &ws,
                    1e-12,
                    &what,
                );
                let sow = sow.mapv(|v| if v == 0.0 { f64::NAN } else { v });
                let got_sow = wd.sum_of_weights(list.clone()).unwrap();
                assert_close(&got_sow.compute_chunk().unwrap(), &sow, 1e-12, &what);
                assert_close(
                    &wd.mean(list.clone()).unwrap().compute_chunk().unwrap(),
                    &mean,
                    1e-12,
                    &what,
                );
                assert_close(
                    &wd.var(list.clone()).unwrap().compute_chunk().unwrap(),
                    &var,
                    1e-10,
                    &what,
                );
                let std = var.mapv(f64::sqrt);
                assert_close(&wd.std(list).unwrap().compute_chunk().unwrap(), &std, 1e-10, &what);
            }
        }
    }
    // Hand-checked: (1·1 + 3·3 + 3·5) / 7, the NaN's weight left out.
    let m = Array::from_ndarray(ndarray::arr2(&[[1.0, f64::NAN], [3.0, 5.0]]), [1, 1])
        .unwrap()
        .weighted(&Array::from_ndarray(ndarray::arr2(&[[1.0], [3.0]]), [1, 1]).unwrap())
        .unwrap()
        .mean(None)
        .unwrap();
    assert_eq!(m.compute_scalar::<f64>().unwrap(), 25.0 / 7.0);
}

#[test]
fn weighted_dtypes_and_bad_weights() {
    let x = data(&[4, 3], DType::F32, 1, 0.0);
    let f32x = array(&x, DType::F32, &[2, 2]);
    let w32 = array(&x.mapv(f64::abs), DType::F32, &[4, 3]);
    let w64 = array(&x.mapv(f64::abs), DType::F64, &[4, 3]);
    let iw = array(&data(&[4, 3], DType::I32, 2, 0.0), DType::I32, &[3, 3]);
    let ix = array(&data(&[4, 3], DType::I16, 3, 0.0), DType::I16, &[2, 3]);
    assert_eq!(f32x.weighted(&w32).unwrap().mean(0).unwrap().dtype(), DType::F32);
    assert_eq!(f32x.weighted(&w64).unwrap().mean(0).unwrap().dtype(), DType::F64);
    assert_eq!(f32x.weighted(&w32).unwrap().sum(0).unwrap().dtype(), DType::F32);
    assert_eq!(ix.weighted(&iw).unwrap().mean(0).unwrap().dtype(), DType::F64);
    assert_eq!(
        f32x.weighted(&iw).unwrap().sum_of_weights(0).unwrap().dtype(),
        DType::F64
    );
    // Integer data and weights: an exact int64 sum.
    let s = ix.weighted(&iw).unwrap().sum(None).unwrap();
    assert_eq!(s.dtype(), DType::I64);
    let xi = data(&[4, 3], DType::I16, 3, 0.0);
    let wi = data(&[4, 3], DType::I32, 2, 0.0);
    let want: f64 = xi.iter().zip(&wi).map(|(a, b)| a * b).sum();
    assert_eq!(s.compute_scalar::<i64>().unwrap() as f64, want);
    // Weights that do not broadcast to the data, and bool weights, are refused.
    let bad = Array::ones(&[3, 4], DType::F64, [3, 4]).unwrap();
    assert!(f32x.weighted(&bad).is_err());
    let wide = Array::ones(&[2, 4, 3], DType::F64, [2, 4, 3]).unwrap();
    assert!(f32x.weighted(&wide).is_err(), "weights may not add axes");
    assert!(f32x.weighted(&Array::ones(&[3], DType::Bool, [3]).unwrap()).is_err());
}

#[test]
fn average_follows_numpy() {
    // np.average([[1, 2], [3, 4]], axis=1, weights=[3, 1]) = [1.25, 3.25] (float64).
    let x = Array::from_ndarray(ndarray::arr2(&[[1i32, 2], [3, 4]]), [1, 2]).unwrap();
    let w = Array::from_ndarray(ndarray::arr1(&[3i32, 1]), [1]).unwrap();
    let a = x.average(1, Some(&w)).unwrap();
    assert_eq!(a.dtype(), DType::F64);
    assert_eq!(a.compute::<f64>().unwrap().as_slice().unwrap(), &[1.25, 3.25]);
    // Without weights: the mean, float64 for integers.
    let m = x.average(None, None).unwrap();
    assert_eq!((m.dtype(), m.compute_scalar::<f64>().unwrap()), (DType::F64, 2.5));
    // NaN propagates (unlike `weighted`), over every chunking and weight shape.
    let xs = data(&[6, 5], DType::F64, 8, 0.1);
    let ws = data(&[6, 5], DType::F64, 9, 0.0).mapv(|v| v.abs() + 0.1);
    let w1 = data(&[5], DType::F64, 10, 0.0).mapv(|v| v.abs() + 0.1);
    for chunks in chunkings(&[6, 5]) {
        let xa = array(&xs, DType::F64, &chunks);
        let full = xa.average(0, Some(&array(&ws, DType::F64, &[4, 2]))).unwrap();
        let want = ndarray::Zip::from(xs.columns())
            .and(ws.columns())
            .map_collect(|c, w| c.iter().zip(w.iter()).map(|(a, b)| a * b).sum::<f64>() / w.sum())
            .into_dyn();
        assert_close(&full.compute_chunk().unwrap(), &want, 1e-13, "average axis 0");
        let along = xa.average(-1, Some(&array(&w1, DType::F64, &[2]))).unwrap();
        let want = ndarray::Zip::from(xs.rows())
            .map_collect(|r| r.iter().zip(&w1).map(|(a, b)| a * b).sum::<f64>() / w1.sum())
            .into_dyn();
        assert_close(&along.compute_chunk().unwrap(), &want, 1e-13, "average, 1-D weights");
        // Weights broadcast along a reduced axis (constant down axis 0), on data
        // without NaN (which would make both sides NaN).
        let full = xs.mapv(|v| if v.is_nan() { 1.5 } else { v });
        let all = array(&full, DType::F64, &chunks)
            .average(None, Some(&array(&w1, DType::F64, &[3])))
            .unwrap();
        let wb = w1.broadcast(xs.raw_dim()).unwrap();
        let want = full.iter().zip(wb.iter()).map(|(a, b)| a * b).sum::<f64>() / wb.sum();
        assert_close(
            &all.compute_chunk().unwrap(),
            &ndarray::arr0(want).into_dyn(),
            1e-13,
            "average, broadcast weights",
        );
    }
    let f32a = array(&xs, DType::F32, &[3, 5]);
    assert_eq!(
        f32a.average(0, Some(&array(&ws, DType::F32, &[6, 5]))).unwrap().dtype(),
        DType::F32
    );
    assert_eq!(f32a.average(None, None).unwrap().dtype(), DType::F32);
    // A 1-D weight of the wrong length, or weights that do not broadcast, are refused.
    let xa = array(&xs, DType::F64, &[3, 5]);
    assert!(
        xa.average(
            1,
            Some(&array(&ws.index_axis(ndarray::Axis(1), 0).to_owned(), DType::F64, &[6]))
        )
        .is_err()
    );
    assert!(
        xa.average(None, Some(&Array::ones(&[5, 6], DType::F64, [5, 6]).unwrap()))
            .is_err()
    );
}

/// xarray 2026.9.0: `DataArray(X, dims="t").rolling(t=w, center=c, min_periods=m).<op>()`.
const X: [f64; 10] = [1.0, 2.0, f64::NAN, 4.0, 5.0, 7.0, f64::NAN, f64::NAN, 3.0, 1.5];
/// `(window, center, min_periods, op, xarray's result)`.
type RollingCase = (usize, bool, Option<usize>, ReduceOp, [f64; 10]);
#[rustfmt::skip]
const XARRAY_ROLLING: [RollingCase; 13] = [
    (3, false, None, ReduceOp::Count, [f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN, 3.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN]),
    (3, false, Some(1), ReduceOp::Count, [1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 2.0, 1.0, 1.0, 2.0]),
    (4, true, Some(2), ReduceOp::Count, [2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0]),
    (3, false, Some(1), ReduceOp::Prod, [1.0, 2.0, 2.0, 8.0, 20.0, 140.0, 35.0, 7.0, 3.0, 4.5]),
    (3, false, None, ReduceOp::Mean, [f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN, 5.333333333333333, f64::NAN, f64::NAN, f64::NAN, f64::NAN]),
    (3, false, Some(1), ReduceOp::Mean, [1.0, 1.5, 1.5, 3.0, 4.5, 5.333333333333333, 6.0, 7.0, 3.0, 2.25]),
    (3, true, Some(1), ReduceOp::Mean, [1.5, 1.5, 3.0, 4.5, 5.333333333333333, 6.0, 7.0, 3.0, 2.25, 2.25]),
    (4, true, Some(1), ReduceOp::Mean, [1.5, 1.5, 2.3333333333333335, 3.6666666666666665, 5.333333333333333, 5.333333333333333, 6.0, 5.0, 2.25, 2.25]),
    (4, false, Some(1), ReduceOp::Sum, [1.0, 3.0, 3.0, 7.0, 11.0, 16.0, 16.0, 12.0, 10.0, 4.5]),
    (4, true, Some(2), ReduceOp::Std, [0.5, 0.5, 1.247219128924647, 1.247219128924647, 1.247219128924647, 1.247219128924647, 1.0, 2.0, 0.75, 0.75]),
    (3, false, Some(2), ReduceOp::Var, [f64::NAN, 0.25, 0.25, 1.0, 0.25, 1.5555555555555554, 1.0, f64::NAN, f64::NAN, 0.5625]),
    (5, true, Some(1), ReduceOp::Max, [2.0, 4.0, 5.0, 7.0, 7.0, 7.0, 7.0, 7.0, 3.0, 3.0]),
    (2, false, Some(1), ReduceOp::Min, [1.0, 1.0, 2.0, 4.0, 4.0, 5.0, 7.0, f64::NAN, 3.0, 1.5]),
];

/// `rolling(...).median()` in xarray 2026.9.0, as `(window, center, min_periods, result)`.
#[rustfmt::skip]
const XARRAY_ROLLING_MEDIAN: [(usize, bool, Option<usize>, [f64; 10]); 3] = [
    (3, true, Some(1), [1.5, 1.5, 3.0, 4.5, 5.0, 6.0, 7.0, 3.0, 2.25, 2.25]),
    (4, false, Some(1), [1.0, 1.5, 1.5, 2.0, 4.0, 5.0, 5.0, 6.0, 5.0, 2.25]),
    (4, true, Some(2), [1.5, 1.5, 2.0, 4.0, 5.0, 5.0, 6.0, 5.0, 2.25, 2.25]),
];

#[test]
fn rolling_median_matches_xarray() {
    let x = ndarray::arr1(&X).into_dyn();
    for (w, center, min_periods, want) in XARRAY_ROLLING_MEDIAN {
        let opts = RollingOptions { center, min_periods };
        for chunks in [[10], [1], [3], [4]] {
            let a = array(&x, DType::F64, &chunks);
            let what = format!("median window {w} center {center} min_periods {min_periods:?} chunks {chunks:?}");
            let want = ndarray::arr1(&want).into_dyn();
            let median = a.rolling_median(0, w, &opts).unwrap();
            assert_close(&median.compute_chunk().unwrap(), &want, 0.0, &what);
            let q = a.rolling_quantile(0, w, 0.5, &opts).unwrap();
            assert_close(&q.compute_chunk().unwrap(), &want, 1e-15, &format!("{what} as q 0.5"));
        }
    }
}

#[test]
fn rolling_matches_xarray() {
    let x = ndarray::arr1(&X).into_dyn();
    for (w, center, min_periods, op, want) in XARRAY_ROLLING {
        let opts = RollingOptions { center, min_periods };
        for chunks in [[10], [1], [3], [4]] {
            let got = array(&x, DType::F64, &chunks).rolling(0, w, op, &opts).unwrap();
            let what = format!("{op:?} window {w} center {center} min_periods {min_periods:?} chunks {chunks:?}");
            assert_close(
                &got.compute_chunk().unwrap(),
                &ndarray::arr1(&want).into_dyn(),
                1e-14,
                &what,
            );
        }
    }
}

/// Each element's window along `axis` reduced by the definition, on the whole array.
/// `q` of NumPy's linear method over the non-NaN `vals` (sorted here).
fn linear_quantile(vals: &mut [f64], q: f64) -> f64 {
    vals.sort_by(f64::total_cmp);
    let pos = q * (vals.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    vals[lo] + (vals[hi] - vals[lo]) * (pos - lo as f64)
}

/// The windows of `rolling_reference`: each element's non-NaN window values, or
/// `None` below `min` of them.
fn rolling_windows(
    x: &ArrayD<f64>,
    axis: usize,
    w: usize,
    center: bool,
    min: usize,
) -> ndarray::ArrayD<Option<Vec<f64>>> {
    let before = if center { w / 2 } else { w - 1 };
    let n = x.shape()[axis] as isize;
    ArrayD::from_shape_fn(x.raw_dim(), |i| {
        let mut vals = Vec::new();
        for k in 0..w as isize {
            let t = i[axis] as isize - before as isize + k;
            if (0..n).contains(&t) {
                let mut j = i.clone();
                j[axis] = t as usize;
                if !x[&j].is_nan() {
                    vals.push(x[&j]);
                }
            }
        }
        (vals.len() >= min).then_some(vals)
    })
}

fn rolling_reference(x: &ArrayD<f64>, axis: usize, w: usize, center: bool, min: usize, op: ReduceOp) -> ArrayD<f64> {
    rolling_windows(x, axis, w, center, min).map(|vals| {
        let Some(vals) = vals else { return f64::NAN };
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64;
        match op {
            ReduceOp::Sum => vals.iter().sum(),
            ReduceOp::Mean | ReduceOp::NanMean => m,
            ReduceOp::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
            ReduceOp::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ReduceOp::Var => var,
            ReduceOp::Prod | ReduceOp::NanProd => vals.iter().product(),
            ReduceOp::Count => vals.len() as f64,
            _ => var.sqrt(),
        }
    })
}

#[test]
fn rolling_matches_the_reference_over_chunkings_axes_and_dtypes() {
    let shape = [9, 4, 7];
    let ops = [
        ReduceOp::Sum,
        ReduceOp::NanMean,
        ReduceOp::Min,
        ReduceOp::Max,
        ReduceOp::Var,
        ReduceOp::Std,
        ReduceOp::NanProd,
        ReduceOp::Count,
    ];
    for dtype in [DType::F64, DType::F32, DType::I16] {
        let x = as_dtype(&data(&shape, dtype, 17, 0.2), dtype);
        let mut chunkings = chunkings(&shape);
        chunkings.push(vec![2, 4, 3]);
        for chunks in &chunkings {
            let a = array(&x, dtype, chunks);
            for axis in [0usize, 2] {
                for (w, center, min) in [
                    (3, false, None),
                    (4, true, Some(2)),
                    (1, false, None),
                    (12, true, Some(1)),
                ] {
                    let opts = RollingOptions {
                        center,
                        min_periods: min,
                    };
                    let lists = rolling_windows(&x, axis, w, center, min.unwrap_or(w));
                    let out = if dtype == DType::F32 { DType::F32 } else { DType::F64 };
                    for q in [0.5, 0.0, 0.9, 1.0] {
                        let got = if q == 0.5 {
                            a.rolling_median(axis as isize, w, &opts).unwrap()
                        } else {
                            a.rolling_quantile(axis as isize, w, q, &opts).unwrap()
                        };
                        assert_eq!(got.dtype(), out);
                        let want = lists.map(|v| v.clone().map_or(f64::NAN, |mut v| linear_quantile(&mut v, q)));
                        let what =
                            format!("quantile {q} {dtype} axis {axis} window {w} center {center} chunks {chunks:?}");
                        let rtol = if out == DType::F32 { 1e-6 } else { 1e-14 };
                        assert_close(&got.compute_chunk().unwrap(), &want, rtol, &what);
                    }
                    for op in ops {
                        let got = a.rolling(axis as isize, w, op, &opts).unwrap();
                        let out = if op == ReduceOp::Count { DType::F64 } else { out };
                        assert_eq!(got.dtype(), out);
                        let want = rolling_reference(&x, axis, w, center, min.unwrap_or(w), op);
                        let rtol = if out == DType::F32 { 2e-6 } else { 1e-12 };
                        let what = format!("{op:?} {dtype} axis {axis} window {w} center {center} chunks {chunks:?}");
                        assert_close(&got.compute_chunk().unwrap(), &want, rtol, &what);
                    }
                }
            }
        }
    }
    let a = array(&data(&[5], DType::F64, 1, 0.0), DType::F64, &[2]);
    let opts = RollingOptions::default();
    assert!(matches!(
        a.rolling(1, 2, ReduceOp::Mean, &opts),
        Err(Error::AxisOutOfRange { .. })
    ));
    assert!(a.rolling(0, 0, ReduceOp::Mean, &opts).is_err());
    assert!(a.rolling(0, 2, ReduceOp::ArgMax, &opts).is_err());
    assert!(a.rolling_quantile(0, 2, 1.5, &opts).is_err());
    assert!(a.rolling_median(0, 0, &opts).is_err());
    let e = Array::zeros(&[0, 3], DType::I32, [1, 3])
        .unwrap()
        .rolling(0, 2, ReduceOp::Sum, &opts)
        .unwrap();
    assert_eq!((e.shape(), e.dtype()), (vec![0, 3], DType::F64));
    assert_eq!(e.compute::<f64>().unwrap().len(), 0);
    let bad = RollingOptions {
        min_periods: Some(3),
        ..opts
    };
    assert!(a.rolling(0, 2, ReduceOp::Mean, &bad).is_err());
}
