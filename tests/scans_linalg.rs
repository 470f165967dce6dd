//! Scans (cumsum/cumprod and nan-variants, diff) and blocked matrix products against
//! unchunked references with f64 accumulation, over several chunkings.

mod common;

use chunkwise::{Array, DType};
use common::*;
use ndarray::{Array2, ArrayD, Axis, Ix2, IxDyn};

fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, rtol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= rtol * w.abs().max(1.0);
        assert!(ok, "{what}: element {i}: {g} vs {w}");
    }
}

fn computed(a: &Array) -> ArrayD<f64> {
    a.astype(DType::F64).compute::<f64>().unwrap()
}

/// Reference running combination along `axis` in f64.
fn scan_ref(r: &ArrayD<f64>, axis: usize, prod: bool, skip_nan: bool) -> ArrayD<f64> {
    let mut out = r.clone();
    for mut lane in out.lanes_mut(Axis(axis)) {
        let mut acc = if prod { 1.0 } else { 0.0 };
        for v in lane.iter_mut() {
            let x = if skip_nan && v.is_nan() {
                if prod { 1.0 } else { 0.0 }
            } else {
                *v
            };
            acc = if prod { acc * x } else { acc + x };
            *v = acc;
        }
    }
    out
}

#[test]
fn cumulative_sums_and_products_on_every_chunking() {
    let shape = [5, 9, 4];
    for dtype in [DType::F64, DType::F32, DType::I16, DType::U8, DType::Bool] {
        let nan = if dtype.is_float() { 0.15 } else { 0.0 };
        let r = data(&shape, dtype, 11, nan);
        let rd = as_dtype(&r, dtype);
        for chunks in chunkings(&shape) {
            let x = array(&r, dtype, &chunks);
            for axis in 0..3 {
                let what = format!("{dtype} axis {axis} chunks {chunks:?}");
                let s = x.cumsum(Some(axis as isize)).unwrap();
                assert_eq!(s.dtype(), dtype.sum_result(), "{what}");
                let rtol = if dtype == DType::F32 { 1e-6 } else { 1e-12 };
                close(
                    &computed(&s),
                    &scan_ref(&rd, axis, false, false),
                    rtol,
                    &format!("cumsum {what}"),
                );
                close(
                    &computed(&x.nancumsum(Some(axis as isize)).unwrap()),
                    &scan_ref(&rd, axis, false, true),
                    rtol,
                    &format!("nancumsum {what}"),
                );
                if dtype.is_float() {
                    // Products of values up to ±14 overflow f64 quickly; scale them.
                    let small = &x * 0.1;
                    let rs = rd.mapv(|v| v * 0.1);
                    close(
                        &computed(&small.cumprod(Some(axis as isize)).unwrap()),
                        &scan_ref(&rs, axis, true, false),
                        1e-5,
                        &format!("cumprod {what}"),
                    );
                    close(
                        &computed(&small.nancumprod(Some(axis as isize)).unwrap()),
                        &scan_ref(&rs, axis, true, true),
                        1e-5,
                        &format!("nancumprod {what}"),
                    );
                }
            }
        }
    }
}

#[test]
fn flattened_scan_and_diff() {
    let shape = [4, 7];
    let r = data(&shape, DType::I32, 12, 0.0);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::I32, &chunks);
        let flat = ArrayD::from_shape_vec(IxDyn(&[28]), r.iter().copied().collect()).unwrap();
        close(
            &computed(&x.cumsum(None).unwrap()),
            &scan_ref(&flat, 0, false, false),
            0.0,
            "cumsum(None)",
        );
        for n in 0..3 {
            let mut want = r.clone();
            for _ in 0..n {
                let a = want.slice_axis(Axis(1), ndarray::Slice::from(1..)).to_owned();
                let b = want.slice_axis(Axis(1), ndarray::Slice::from(..-1)).to_owned();
                want = a - b;
            }
            close(
                &computed(&x.diff(n, -1).unwrap()),
                &want,
                0.0,
                &format!("diff n={n} chunks {chunks:?}"),
            );
        }
    }
}

fn matmul_ref(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let a2 = a.view().into_dimensionality::<Ix2>().unwrap();
    let b2 = b.view().into_dimensionality::<Ix2>().unwrap();
    let mut c = Array2::<f64>::zeros((a2.nrows(), b2.ncols()));
    for i in 0..a2.nrows() {
        for j in 0..b2.ncols() {
            c[[i, j]] = (0..a2.ncols()).map(|k| a2[[i, k]] * b2[[k, j]]).sum();
        }
    }
    c.into_dyn()
}

#[test]
fn matmul_over_chunkings_and_dtypes() {
    let (m, k, n) = (9, 23, 6);
    for dtype in [DType::F64, DType::F32, DType::I32, DType::U16] {
        let ra = data(&[m, k], dtype, 1, 0.0);
        let rb = data(&[k, n], dtype, 2, 0.0);
        let want = matmul_ref(&as_dtype(&ra, dtype), &as_dtype(&rb, dtype));
        // k split into 1, 3, 12 and 23 blocks: one group, several groups (tree sum).
        for (ca, cb) in [([9, 23], [23, 6]), ([4, 8], [5, 4]), ([2, 2], [3, 1]), ([9, 1], [1, 6])] {
            let a = array(&ra, dtype, &ca);
            let b = array(&rb, dtype, &cb);
            let c = a.matmul(&b).unwrap();
            assert_eq!(c.dtype(), dtype);
            let rtol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
            close(&computed(&c), &want, rtol, &format!("{dtype} {ca:?}×{cb:?}"));
        }
    }
}

#[test]
fn vectors_dot_and_tensordot() {
    let ra = data(&[7, 5], DType::F64, 3, 0.0);
    let rv = data(&[5], DType::F64, 4, 0.0);
    let a = array(&ra, DType::F64, &[3, 2]);
    let v = array(&rv, DType::F64, &[2]);
    let want: Vec<f64> = (0..7).map(|i| (0..5).map(|k| ra[[i, k]] * rv[[k]]).sum()).collect();
    close(
        &computed(&a.matmul(&v).unwrap()),
        &ArrayD::from_shape_vec(IxDyn(&[7]), want).unwrap(),
        1e-12,
        "matrix·vector",
    );
    let vv = v.dot(&v).unwrap();
    assert_eq!(vv.shape(), Vec::<usize>::new());
    let want: f64 = rv.iter().map(|x| x * x).sum();
    assert!((vv.compute_scalar::<f64>().unwrap() - want).abs() < 1e-12 * want.abs().max(1.0));
    assert!(a.matmul(&a).unwrap_err().to_string().contains("do not align"));
    // tensordot over two axes of 3-D operands.
    let rx = data(&[3, 4, 5], DType::F64, 5, 0.0);
    let ry = data(&[5, 4, 2], DType::F64, 6, 0.0);
    let x = array(&rx, DType::F64, &[2, 3, 2]);
    let y = array(&ry, DType::F64, &[3, 2, 1]);
    let t = x.tensordot(&y, &[1, 2], &[1, 0]).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 2]), |ix| {
        let mut s = 0.0;
        for j in 0..4 {
            for k in 0..5 {
                s += rx[[ix[0], j, k]] * ry[[k, j, ix[1]]];
            }
        }
        s
    });
    close(&computed(&t), &want, 1e-12, "tensordot");
}

#[test]
fn tall_skinny_qr_reconstructs_with_orthonormal_q() {
    let (m, n) = (50, 4);
    let r = data(&[m, n], DType::F64, 9, 0.0);
    for chunks in [[50, 4], [10, 2], [7, 4], [3, 4], [1, 1]] {
        let x = array(&r, DType::F64, &chunks);
        let (q, rr) = x.tsqr().unwrap();
        assert_eq!(q.shape(), vec![m, n]);
        assert_eq!(rr.shape(), vec![n, n]);
        let qv = q.compute::<f64>().unwrap();
        let rv = rr.compute::<f64>().unwrap();
        for i in 0..n {
            for j in 0..i {
                assert_eq!(rv[[i, j]], 0.0, "R is upper triangular");
            }
        }
        // Q R = A, through the engine's own matmul and by hand.
        let qr = computed(&q.matmul(&rr).unwrap());
        close(&qr, &r, 1e-10, &format!("QR = A, chunks {chunks:?}"));
        for a in 0..n {
            for b in 0..n {
                let d: f64 = (0..m).map(|i| qv[[i, a]] * qv[[i, b]]).sum();
                assert!(
                    (d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-10,
                    "QᵀQ = I at {a},{b}: {d}"
                );
            }
        }
    }
    let wide = array(&data(&[3, 5], DType::F64, 1, 0.0), DType::F64, &[3, 5]);
    assert!(wide.tsqr().unwrap_err().to_string().contains("tall-skinny"));
}

/// NumPy's stacked matmul: batch axes broadcast, then a product per matrix, in f64.
fn stacked_ref(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let (an, bn) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[an - 2], a.shape()[an - 1], b.shape()[bn - 1]);
    let nb = (an - 2).max(bn - 2);
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; nb + 2 - s.len()];
        v.extend(s);
        v
    };
    let (ash, bsh) = (pad(a.shape()), pad(b.shape()));
    let a = a.view().into_shape_with_order(IxDyn(&ash)).unwrap();
    let b = b.view().into_shape_with_order(IxDyn(&bsh)).unwrap();
    let batch: Vec<usize> = (0..nb).map(|d| ash[d].max(bsh[d])).collect();
    let mut shape = batch.clone();
    shape.extend([m, n]);
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let ix: Vec<usize> = (0..nb + 2).map(|d| ix[d]).collect();
        let pick = |sh: &[usize], d: usize| if sh[d] == 1 { 0 } else { ix[d] };
        let mut s = 0.0;
        for p in 0..k {
            let mut ia: Vec<usize> = (0..nb).map(|d| pick(&ash, d)).collect();
            ia.extend([ix[nb], p]);
            let mut ib: Vec<usize> = (0..nb).map(|d| pick(&bsh, d)).collect();
            ib.extend([p, ix[nb + 1]]);
            s += a[IxDyn(&ia)] * b[IxDyn(&ib)];
        }
        s
    })
}

#[test]
fn stacked_matmul_broadcasts_batch_axes_like_numpy() {
    // (a shape, a chunks, b shape, b chunks): equal batches, a broadcast batch axis on
    // either side, a 2-D operand against a stack, a 1-D operand, several k groups.
    type Case = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);
    let cases: Vec<Case> = vec![
        (vec![4, 5, 7], vec![2, 3, 4], vec![4, 7, 3], vec![3, 2, 2]),
        (vec![4, 5, 7], vec![4, 5, 7], vec![4, 7, 3], vec![1, 1, 1]),
        (vec![1, 5, 7], vec![1, 2, 3], vec![3, 7, 4], vec![2, 7, 3]),
        (vec![2, 3, 5, 6], vec![1, 2, 3, 2], vec![3, 6, 2], vec![2, 4, 1]),
        (vec![5, 6], vec![2, 4], vec![3, 6, 2], vec![2, 3, 2]),
        (vec![3, 5, 19], vec![2, 2, 1], vec![19, 4], vec![2, 3]),
        (vec![6], vec![4], vec![2, 6, 3], vec![1, 2, 2]),
        (vec![2, 4, 6], vec![1, 3, 5], vec![6], vec![4]),
    ];
    for dtype in [DType::F64, DType::F32, DType::I32] {
        for (i, (sa, ca, sb, cb)) in cases.iter().enumerate() {
            let ra = data(sa, dtype, 20 + i as u64, 0.0);
            let rb = data(sb, dtype, 40 + i as u64, 0.0);
            let sa2 = if sa.len() == 1 { vec![1, sa[0]] } else { sa.clone() };
            let sb2 = if sb.len() == 1 { vec![sb[0], 1] } else { sb.clone() };
            let want = stacked_ref(
                &as_dtype(&ra, dtype).into_shape_with_order(IxDyn(&sa2)).unwrap(),
                &as_dtype(&rb, dtype).into_shape_with_order(IxDyn(&sb2)).unwrap(),
            );
            // Drop the axes a 1-D operand gained, as NumPy does.
            let mut want_shape = want.shape().to_vec();
            if sb.len() == 1 {
                want_shape.pop();
            }
            if sa.len() == 1 {
                want_shape.remove(want_shape.len() - if sb.len() == 1 { 1 } else { 2 });
            }
            let want = want.into_shape_with_order(IxDyn(&want_shape)).unwrap();
            let c = array(&ra, dtype, ca).matmul(&array(&rb, dtype, cb)).unwrap();
            assert_eq!(c.shape(), want_shape, "case {i}");
            assert_eq!(c.dtype(), dtype, "case {i}");
            let rtol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
            close(&computed(&c), &want, rtol, &format!("{dtype} case {i}: {sa:?}@{sb:?}"));
        }
    }
    let x = array(&data(&[3, 4, 5], DType::F64, 1, 0.0), DType::F64, &[1, 2, 5]);
    let y = array(&data(&[2, 5, 4], DType::F64, 2, 0.0), DType::F64, &[1, 5, 4]);
    let err = x.matmul(&y).unwrap_err().to_string();
    assert!(err.contains("do not broadcast"), "{err}");
}
