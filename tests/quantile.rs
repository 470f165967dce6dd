//! Quantiles and medians: values NumPy 2.4 printed for small arrays (pasted below, bit
//! for bit), and every shape / axis set / chunking / dtype against an unchunked
//! reference that sorts each slice (the engine selects), plus NumPy's dtypes, NaN and
//! empty semantics, errors, and the block size the rechunk keeps.

mod common;

use chunkwise::{Array, Axes, DType, QuantileMethod, QuantileOptions};
use common::*;
use ndarray::{ArrayD, IxDyn};

/// The float32 array the NumPy values below were computed from.
fn numpy_f32() -> Array {
    let n = f32::NAN;
    let v = vec![
        3.5f32, -1.0, 7.25, n, 2.0, //
        0.5, 4.0, -2.5, 9.0, 2.0, //
        6.0, n, 1.0, 1.5, -3.0, //
        2.25, 8.0, 5.5, n, 0.0,
    ];
    Array::from_ndarray(ArrayD::from_shape_vec(IxDyn(&[4, 5]), v).unwrap(), [3, 2]).unwrap()
}

fn numpy_i16() -> Array {
    let v = vec![3i16, -7, 12, 100, 4, -50, 9, 9, 1, -2, 60, 33];
    Array::from_ndarray(ArrayD::from_shape_vec(IxDyn(&[4, 3]), v).unwrap(), [2, 2]).unwrap()
}

fn f32s(a: &Array) -> Vec<f32> {
    assert_eq!(a.dtype(), DType::F32);
    a.compute::<f32>().unwrap().iter().copied().collect()
}

fn f64s(a: &Array) -> Vec<f64> {
    assert_eq!(a.dtype(), DType::F64);
    a.compute::<f64>().unwrap().iter().copied().collect()
}

/// Equal bit for bit, NaN equal to NaN.
fn same<T: Into<f64> + Copy>(got: &[T], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(&g, &w)| g.into().to_bits() == w.to_bits() || (g.into().is_nan() && w.is_nan()))
}

#[test]
fn float32_values_are_numpys() {
    let x = numpy_f32();
    let n = f64::NAN;
    let cases: Vec<(Array, Vec<f64>)> = vec![
        // np.quantile(x, 0.3, axis=0)
        (
            x.quantile(0.3, 0).unwrap(),
            vec![2.075000047683716, n, 0.6499999761581421, n, -0.30000001192092896],
        ),
        // np.nanquantile(x, 0.3, axis=0)
        (
            x.nanquantile(0.3, 0).unwrap(),
            vec![2.075000047683716, 2.0, 0.6499999761581421, 3.75, -0.30000001192092896],
        ),
        // np.nanquantile(x, 0.85, axis=1)
        (
            x.nanquantile(0.85, 1).unwrap(),
            vec![5.5625, 6.0, 3.9750001430511475, 6.875],
        ),
        // np.nanmedian(x, axis=1), np.median(x, axis=1), np.nanmedian(x)
        (x.nanmedian(1).unwrap(), vec![2.75, 2.0, 1.25, 3.875]),
        (x.median(1).unwrap(), vec![n, 2.0, n, n]),
        (x.nanmedian(None).unwrap(), vec![2.0]),
    ];
    for (i, (got, want)) in cases.iter().enumerate() {
        let got = f32s(got);
        assert!(same(&got, want), "case {i}: {got:?} != {want:?}");
    }
    // np.nanquantile(x, [0.1, 0.5, 0.9], axis=0): float64, the quantile axis first
    let qs = x
        .quantiles(
            &[0.1, 0.5, 0.9],
            0,
            &QuantileOptions {
                skip_nan: true,
                ..QuantileOptions::default()
            },
        )
        .unwrap();
    assert_eq!(qs.shape(), vec![3, 5]);
    let want = [
        1.0250000000000001,
        0.0,
        -1.4499999999999997,
        2.25,
        -2.0999999999999996,
        2.875,
        4.0,
        3.25,
        5.25,
        1.0,
        5.25,
        7.2,
        6.7250000000000005,
        8.25,
        2.0,
    ];
    assert!(same(&f64s(&qs), &want), "{:?}", f64s(&qs));
}

#[test]
#[allow(clippy::approx_constant)] // 6.28 is NumPy's value, not 2π
fn integer_values_are_numpys() {
    let x = numpy_i16();
    // np.quantile(x, 0.4, axis=0), np.median(x, axis=0), np.quantile(x, 0.75)
    assert!(same(
        &f64s(&x.quantile(0.4, 0).unwrap()),
        &[4.200000000000001, 5.000000000000001, 3.200000000000002]
    ));
    assert!(same(&f64s(&x.median(0).unwrap()), &[6.0, 6.5, 6.5]));
    assert!(same(&f64s(&x.quantile(0.75, None).unwrap()), &[17.25]));
    // np.quantile(x, [0.0, 0.33, 1.0], axis=1)
    let q = x.quantiles(&[0.0, 0.33, 1.0], 1, &QuantileOptions::default()).unwrap();
    let want = [
        -7.0,
        -50.0,
        1.0,
        -2.0,
        -0.39999999999999947,
        -14.36,
        6.28,
        21.1,
        12.0,
        100.0,
        9.0,
        60.0,
    ];
    assert!(same(&f64s(&q), &want), "{:?}", f64s(&q));
}

/// NumPy's linear quantile of one slice, by a full sort (the engine selects).
/// `f32_math`: float32 data and one quantile (all in float32); `f32_diff`: float32 data
/// and several quantiles (`b - a` in float32, the rest in float64).
fn ref_quantile(v: Vec<f64>, q: f64, skip: bool, f32_math: bool) -> f64 {
    ref_quantile_diff(v, q, skip, f32_math, f32_math)
}

/// The slice sorted, without its NaN when `skip`; `None` when the answer is NaN (a NaN
/// kept, or nothing left).
fn sorted(mut v: Vec<f64>, skip: bool) -> Option<Vec<f64>> {
    if skip {
        v.retain(|x| !x.is_nan());
    }
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(v)
}

fn ref_quantile_diff(v: Vec<f64>, q: f64, skip: bool, f32_math: bool, f32_diff: bool) -> f64 {
    let Some(v) = sorted(v, skip) else { return f64::NAN };
    let n = v.len();
    let idx = (n - 1) as f64 * q;
    let (a, b, t) = if idx >= (n - 1) as f64 {
        (v[n - 1], v[n - 1], idx + 1.0)
    } else {
        let lo = idx.floor() as usize;
        (v[lo], v[lo + 1], idx - idx.floor())
    };
    if f32_math {
        let (a, b) = (a as f32, b as f32);
        let d = b - a;
        f64::from(if t >= 0.5 {
            b - d * (1.0 - t) as f32
        } else {
            a + d * t as f32
        })
    } else {
        let d = if f32_diff {
            f64::from(b as f32 - a as f32)
        } else {
            b - a
        };
        if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
    }
}

fn ref_median(v: Vec<f64>, skip: bool, f32_math: bool) -> f64 {
    let Some(v) = sorted(v, skip) else { return f64::NAN };
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else if f32_math {
        f64::from((v[n / 2 - 1] as f32 + v[n / 2] as f32) / 2.0)
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The slices of `r` over `axes` (kept positions in C order), each in C order.
fn slices(r: &ArrayD<f64>, axes: &[usize]) -> (Vec<usize>, Vec<Vec<f64>>) {
    let shape = r.shape().to_vec();
    let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
    let kshape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
    let nk: usize = kshape.iter().product();
    let mut out = vec![Vec::new(); nk];
    for (idx, &v) in r.indexed_iter() {
        let mut k = 0;
        for &a in &kept {
            k = k * shape[a] + idx[a];
        }
        out[k].push(v);
    }
    (kshape, out)
}

fn axes_sets(nd: usize) -> Vec<Vec<usize>> {
    let mut v = vec![(0..nd).collect::<Vec<_>>()];
    for a in 0..nd {
        v.push(vec![a]);
    }
    if nd >= 3 {
        v.push(vec![0, nd - 1]);
        v.push(vec![1, 2]);
    }
    v
}

#[test]
fn every_shape_axis_chunking_and_dtype_matches_the_reference() {
    let shapes: &[&[usize]] = &[&[], &[9], &[6, 7], &[4, 0], &[3, 4, 5], &[2, 3, 2, 4]];
    for &shape in shapes {
        for dtype in [DType::F32, DType::F64, DType::I16, DType::U8] {
            let nan = if dtype.is_float() { 0.15 } else { 0.0 };
            let r = as_dtype(&data(shape, dtype, shape.len() as u64 + 3, nan), dtype);
            for chunks in chunkings(shape) {
                let x = array(&r, dtype, &chunks);
                for axes in axes_sets(shape.len()) {
                    let (kshape, lanes) = slices(&r, &axes);
                    let ax = Axes::List(axes.iter().map(|&a| a as isize).collect());
                    let f32_math = dtype == DType::F32;
                    let empty = lanes.iter().any(Vec::is_empty);
                    for q in [0.0, 0.25, 0.5, 0.9, 1.0] {
                        for skip in [false, true] {
                            let what = format!("{dtype} {shape:?} chunks {chunks:?} axes {axes:?} q {q} skip {skip}");
                            let y = if skip {
                                x.nanquantile(q, ax.clone())
                            } else {
                                x.quantile(q, ax.clone())
                            };
                            if empty && !skip {
                                assert!(y.is_err(), "{what}: an empty slice must be refused");
                                continue;
                            }
                            let y = y.unwrap();
                            assert_eq!(y.shape(), kshape, "{what}");
                            let got: Vec<f64> = if f32_math {
                                f32s(&y).into_iter().map(f64::from).collect()
                            } else {
                                f64s(&y)
                            };
                            let want: Vec<f64> = lanes
                                .iter()
                                .map(|l| ref_quantile(l.clone(), q, skip, f32_math))
                                .collect();
                            assert!(same(&got, &want), "{what}: {got:?} != {want:?}");
                        }
                    }
                    for skip in [false, true] {
                        let what = format!("{dtype} {shape:?} chunks {chunks:?} axes {axes:?} median skip {skip}");
                        let y = if skip {
                            x.nanmedian(ax.clone())
                        } else {
                            x.median(ax.clone())
                        }
                        .unwrap();
                        let got: Vec<f64> = if f32_math {
                            f32s(&y).into_iter().map(f64::from).collect()
                        } else {
                            f64s(&y)
                        };
                        let want: Vec<f64> = lanes.iter().map(|l| ref_median(l.clone(), skip, f32_math)).collect();
                        assert!(same(&got, &want), "{what}: {got:?} != {want:?}");
                    }
                    // several quantiles: float64, leading axis (float32 data: `b - a`
                    // still in float32, as NumPy's subtract of two float32 values)
                    if !empty {
                        let qs = [0.1, 0.5, 0.75];
                        let y = x
                            .quantiles(
                                &qs,
                                ax.clone(),
                                &QuantileOptions {
                                    skip_nan: true,
                                    ..QuantileOptions::default()
                                },
                            )
                            .unwrap();
                        let mut want_shape = vec![qs.len()];
                        want_shape.extend(&kshape);
                        assert_eq!(y.shape(), want_shape);
                        let want: Vec<f64> = qs
                            .iter()
                            .flat_map(|&q| {
                                lanes
                                    .iter()
                                    .map(move |l| ref_quantile_diff(l.clone(), q, true, false, f32_math))
                            })
                            .collect();
                        assert!(
                            same(&f64s(&y), &want),
                            "{dtype} {shape:?} {chunks:?} {axes:?} quantiles"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn bool_medians_are_float64_and_bool_quantiles_are_refused() {
    let r = ArrayD::from_shape_vec(IxDyn(&[4, 2]), vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]).unwrap();
    let x = array(&r, DType::Bool, &[3, 1]);
    // np.median([[1,0],[1,0],[0,0],[1,1]] as bool, axis=0) == [1.0, 0.0]
    assert_eq!(f64s(&x.median(0).unwrap()), vec![1.0, 0.0]);
    // np.median(x) == 0.5
    assert_eq!(f64s(&x.median(None).unwrap()), vec![0.5]);
    let e = x.quantile(0.5, 0).unwrap_err().to_string();
    assert!(e.contains("bool"), "{e}");
}

#[test]
fn bad_arguments_name_the_problem() {
    let x = numpy_f32();
    for q in [-0.1, 1.5, f64::NAN] {
        let e = x.quantile(q, 0).unwrap_err().to_string();
        assert!(e.contains("not in [0, 1]"), "{e}");
    }
    assert!(x.median(2).unwrap_err().to_string().contains("axis"));
    assert!(x.quantiles(&[], 0, &QuantileOptions::default()).is_err());
    // np.quantile of an empty slice raises; the nan-variant and the median give NaN
    let e = Array::zeros(&[0, 3], DType::F64, [1, 3]).unwrap();
    assert!(e.quantile(0.5, 0).is_err());
    assert!(f64s(&e.nanquantile(0.5, 0).unwrap()).iter().all(|v| v.is_nan()));
    assert!(f64s(&e.median(0).unwrap()).iter().all(|v| v.is_nan()));
}

#[test]
fn keepdims_keeps_the_reduced_axes_as_ones() {
    let x = numpy_f32();
    let opts = QuantileOptions {
        skip_nan: true,
        keepdims: true,
        ..QuantileOptions::default()
    };
    let y = x.quantiles(&[0.5], 1, &opts).unwrap();
    assert_eq!(y.shape(), vec![1, 4, 1]);
    // the same numbers as nanmedian(axis=1), in float64
    let m: Vec<f64> = f32s(&x.nanmedian(1).unwrap()).into_iter().map(f64::from).collect();
    assert!(same(&f64s(&y), &m));
}

#[test]
fn the_rechunk_keeps_blocks_near_the_chunk_size() {
    // (400, 300, 300) f64 in time slabs: 288 MB, so the time axis whole in one block
    // would be the whole array; the other axes are split instead (dask's "auto").
    let x = Array::zeros(&[400, 300, 300], DType::F64, [10, 300, 300]).unwrap();
    let m = x.median(0).unwrap();
    assert_eq!(m.shape(), vec![300, 300]);
    let blocks: usize = m.chunks().iter().map(Vec::len).product();
    assert!(blocks > 1, "{:?}", m.chunks());
    let biggest: usize = m
        .chunks()
        .iter()
        .map(|c| c.iter().max().copied().unwrap_or(0))
        .product();
    assert!(
        400 * biggest * 8 <= 128 << 20,
        "a block of {biggest} columns × 400 steps outgrows 128 MiB"
    );
    // a small array keeps its chunks along the kept axes
    let y = Array::zeros(&[40, 30], DType::F32, [10, 7]).unwrap();
    assert_eq!(y.median(0).unwrap().chunks()[0], vec![7, 7, 7, 7, 2]);
}

// ---- every NumPy method (`method=`): values NumPy 2.4.6 printed for the arrays and
// calls named in each table's comment, compared bit for bit.
// np.quantile / np.nanquantile(A, QS, axis=0, method=m), shape (6, 3), row-major
#[rustfmt::skip]
const QS: [f64; 6] = [0.0, 0.05, 0.3, 0.5, 0.77, 1.0];
#[rustfmt::skip]
const METHOD_TABLE: [(&str, [f64; 18], [f64; 18]); 13] = [
    ("inverted_cdf", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 1.5, 0.0, f64::NAN, 2.0, 2.5, f64::NAN, 5.0, 4.0, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 1.5, 0.0, 0.5, 2.0, 2.5, 1.0, 5.0, 4.0, 6.0, 7.0, 9.0, 8.0]),
    ("averaged_inverted_cdf", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 1.5, 0.0, f64::NAN, 2.0, 2.5, f64::NAN, 5.0, 4.0, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 1.5, 0.0, 0.5, 2.0, 2.5, 1.5, 5.0, 4.0, 6.0, 7.0, 9.0, 8.0]),
    ("closest_observation", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.25, -1.0, f64::NAN, 2.0, 2.5, f64::NAN, 3.5, 2.5, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.25, -1.0, 0.5, 2.0, 2.5, 1.0, 3.5, 2.5, 6.0, 7.0, 9.0, 8.0]),
    ("interpolated_inverted_cdf", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.3750000000000001, -0.8999999999999999, f64::NAN, 1.75, 1.25, f64::NAN, 4.085000000000001, 3.085000000000001, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.3750000000000001, -0.8999999999999999, -0.20000000000000062, 1.75, 1.25, 1.0, 4.085000000000001, 3.085000000000001, 4.48, 7.0, 9.0, 8.0]),
    ("hazen", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 1.0, -0.3999999999999999, f64::NAN, 2.0, 2.5, f64::NAN, 4.835000000000001, 3.835000000000001, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 1.0, -0.3999999999999999, 0.6499999999999999, 2.0, 2.5, 1.5, 4.835000000000001, 3.835000000000001, 6.24, 7.0, 9.0, 8.0]),
    ("weibull", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.7499999999999999, -0.6000000000000001, f64::NAN, 2.0, 2.5, f64::NAN, 5.32, 4.800000000000001, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.7499999999999999, -0.6000000000000001, 0.5499999999999998, 2.0, 2.5, 1.5, 5.32, 4.800000000000001, 6.780000000000001, 7.0, 9.0, 8.0]),
    ("linear", [-2.0, -4.5, f64::NAN, -1.325, -3.4499999999999997, f64::NAN, 1.2499999999999998, -0.20000000000000018, f64::NAN, 2.0, 2.5, f64::NAN, 4.43, 3.43, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -1.325, -3.4499999999999997, -2.125, 1.2499999999999998, -0.20000000000000018, 0.75, 2.0, 2.5, 1.5, 4.43, 3.43, 5.4, 7.0, 9.0, 8.0]),
    ("median_unbiased", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.9166666666666665, -0.4666666666666668, f64::NAN, 2.0, 2.5, f64::NAN, 4.970000000000001, 3.9700000000000006, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.9166666666666665, -0.4666666666666668, 0.6166666666666667, 2.0, 2.5, 1.5, 4.970000000000001, 3.9700000000000006, 6.42, 7.0, 9.0, 8.0]),
    ("normal_unbiased", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.9375000000000003, -0.44999999999999973, f64::NAN, 2.0, 2.5, f64::NAN, 4.936250000000001, 3.9362500000000007, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.9375000000000003, -0.44999999999999973, 0.625, 2.0, 2.5, 1.5, 4.936250000000001, 3.9362500000000007, 6.375, 7.0, 9.0, 8.0]),
    ("lower", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 0.25, -1.0, f64::NAN, 2.0, 2.5, f64::NAN, 3.5, 2.5, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 0.25, -1.0, 0.5, 2.0, 2.5, 1.0, 3.5, 2.5, 2.0, 7.0, 9.0, 8.0]),
    ("higher", [-2.0, -4.5, f64::NAN, 0.25, -1.0, f64::NAN, 1.5, 0.0, f64::NAN, 2.0, 2.5, f64::NAN, 5.0, 4.0, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, 0.25, -1.0, 0.5, 1.5, 0.0, 1.0, 2.0, 2.5, 2.0, 5.0, 4.0, 6.0, 7.0, 9.0, 8.0]),
    ("midpoint", [-2.0, -4.5, f64::NAN, -0.875, -2.75, f64::NAN, 0.875, -0.5, f64::NAN, 2.0, 2.5, f64::NAN, 4.25, 3.25, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -0.875, -2.75, -1.25, 0.875, -0.5, 0.75, 2.0, 2.5, 1.5, 4.25, 3.25, 4.0, 7.0, 9.0, 8.0]),
    ("nearest", [-2.0, -4.5, f64::NAN, -2.0, -4.5, f64::NAN, 1.5, 0.0, f64::NAN, 2.0, 2.5, f64::NAN, 5.0, 4.0, f64::NAN, 7.0, 9.0, f64::NAN], [-2.0, -4.5, -3.0, -2.0, -4.5, -3.0, 1.5, 0.0, 1.0, 2.0, 2.5, 1.0, 5.0, 4.0, 6.0, 7.0, 9.0, 8.0]),
];
// np.quantile(B int16, 0.3, method=m): (dtype, value)
#[rustfmt::skip]
const INT_TABLE: [(&str, &str, f64); 13] = [
    ("inverted_cdf", "int16", 2.0),
    ("averaged_inverted_cdf", "float64", 2.0),
    ("closest_observation", "int16", 1.0),
    ("interpolated_inverted_cdf", "float64", 1.1),
    ("hazen", "float64", 1.6),
    ("weibull", "float64", 1.4),
    ("linear", "float64", 1.7999999999999998),
    ("median_unbiased", "float64", 1.5333333333333332),
    ("normal_unbiased", "float64", 1.5500000000000003),
    ("lower", "int16", 1.0),
    ("higher", "int16", 2.0),
    ("midpoint", "float64", 1.5),
    ("nearest", "int16", 2.0),
];
// np.quantile(C float32, 0.42, method=m): float32 bits
#[rustfmt::skip]
const F32_TABLE: [(&str, u32); 13] = [
    ("inverted_cdf", 0x3ecccccd),
    ("averaged_inverted_cdf", 0x3ecccccd),
    ("closest_observation", 0x3e4ccccd),
    ("interpolated_inverted_cdf", 0x3e6147ae),
    ("hazen", 0x3ea3d70a),
    ("weibull", 0x3e9ba5e4),
    ("linear", 0x3eac0831),
    ("median_unbiased", 0x3ea11bfd),
    ("normal_unbiased", 0x3ea1cac1),
    ("lower", 0x3e4ccccd),
    ("higher", 0x3ecccccd),
    ("midpoint", 0x3e99999a),
    ("nearest", 0x3ecccccd),
];

fn method_opts(method: QuantileMethod, skip_nan: bool) -> QuantileOptions {
    QuantileOptions {
        skip_nan,
        method,
        ..QuantileOptions::default()
    }
}

/// The (7, 3) float64 array of METHOD_TABLE, a NaN in its last column.
fn table_a() -> ndarray::ArrayD<f64> {
    ndarray::arr2(&[
        [3.5, -1.0, 2.0],
        [0.25, 4.0, f64::NAN],
        [7.0, 2.5, -3.0],
        [-2.0, 2.5, 1.0],
        [1.5, 9.0, 6.0],
        [5.0, -4.5, 0.5],
        [2.0, 0.0, 8.0],
    ])
    .into_dyn()
}

#[test]
fn every_method_matches_numpy() {
    let a = table_a();
    for (name, want, want_nan) in METHOD_TABLE {
        let method = QuantileMethod::parse(name).unwrap();
        assert_eq!(method.name(), name);
        for chunks in [[7, 3], [2, 1], [3, 2]] {
            let x = Array::from_ndarray(a.clone(), chunks).unwrap();
            for (skip, want) in [(false, want), (true, want_nan)] {
                let got = x.quantiles(&QS, 0, &method_opts(method, skip)).unwrap();
                assert_eq!(
                    got.dtype(),
                    DType::F64,
                    "{name}: an array q gives float64 (as the input)"
                );
                let got = got.compute::<f64>().unwrap();
                for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{name} skip_nan={skip} [{i}]: {g} vs NumPy {w}"
                    );
                }
            }
        }
    }
    assert!(QuantileMethod::parse("linear_interp").is_err());
}

#[test]
fn methods_keep_numpy_dtypes_for_one_q() {
    let b = Array::from_ndarray(ndarray::arr1(&[5i16, 1, 9, 3, 7, 2, -4]).into_dyn(), [3]).unwrap();
    for (name, dtype, want) in INT_TABLE {
        let method = QuantileMethod::parse(name).unwrap();
        let got = b.quantile_with(0.3, None, &method_opts(method, false)).unwrap();
        let (want_dt, got_v) = match dtype {
            "int16" => (DType::I16, f64::from(got.compute_scalar::<i16>().unwrap())),
            _ => (DType::F64, got.compute_scalar::<f64>().unwrap()),
        };
        assert_eq!((got.dtype(), got_v), (want_dt, want), "{name}");
    }
    let c = Array::from_ndarray(ndarray::arr1(&[0.1f32, 0.7, 0.2, 0.9, 0.4]).into_dyn(), [2]).unwrap();
    for (name, bits) in F32_TABLE {
        let got = c
            .quantile_with(0.42, 0, &method_opts(QuantileMethod::parse(name).unwrap(), false))
            .unwrap();
        assert_eq!(got.dtype(), DType::F32, "{name}");
        assert_eq!(got.compute_scalar::<f32>().unwrap().to_bits(), bits, "{name}");
    }
    // np.percentile(C, 42.0) == float32(0.336), the linear quantile at 0.42;
    // np.nanpercentile(A, 77.0, axis=0) == [4.43, 3.43, 5.4].
    assert_eq!(
        c.percentile(42.0, None)
            .unwrap()
            .compute_scalar::<f32>()
            .unwrap()
            .to_bits(),
        F32_TABLE[6].1
    );
    let a = Array::from_ndarray(table_a(), [3, 3]).unwrap();
    let p = a.nanpercentile(77.0, 0).unwrap().compute::<f64>().unwrap();
    assert_eq!(p.as_slice().unwrap(), &[4.43, 3.43, 5.4]);
    assert!(a.percentile(100.5, 0).is_err());
    // Discrete methods on bool data (np.quantile(D, [0.1, 0.5, 0.9], method=m)).
    let d = Array::from_ndarray(ndarray::arr1(&[true, false, true, true, false]).into_dyn(), [2]).unwrap();
    for (name, want) in [
        ("inverted_cdf", [false, true, true]),
        ("closest_observation", [false, false, true]),
        ("lower", [false, true, true]),
        ("higher", [false, true, true]),
        ("nearest", [false, true, true]),
    ] {
        let got = d
            .quantiles(
                &[0.1, 0.5, 0.9],
                0,
                &method_opts(QuantileMethod::parse(name).unwrap(), false),
            )
            .unwrap();
        assert_eq!(got.dtype(), DType::Bool);
        assert_eq!(got.compute::<bool>().unwrap().as_slice().unwrap(), &want, "{name}");
    }
    assert!(
        d.quantile_with(0.5, 0, &method_opts(QuantileMethod::Hazen, false))
            .is_err()
    );
    // An empty array: a discrete method on integers has no NaN of its own to give;
    // np.nanquantile answers with np.nanmean (float64 NaN), np.quantile raises.
    let e = Array::zeros(&[0, 3], DType::I16, [1, 3]).unwrap();
    let n = e
        .quantile_with(0.5, 0, &method_opts(QuantileMethod::Lower, true))
        .unwrap();
    assert_eq!(n.dtype(), DType::F64);
    assert!(n.compute::<f64>().unwrap().iter().all(|v| v.is_nan()));
    assert!(
        e.quantile_with(0.5, 0, &method_opts(QuantileMethod::Lower, false))
            .is_err()
    );
    let ef = Array::zeros(&[0, 3], DType::F32, [1, 3]).unwrap();
    let n = ef
        .quantile_with(0.5, 0, &method_opts(QuantileMethod::Lower, true))
        .unwrap()
        .compute::<f32>()
        .unwrap();
    assert!(n.iter().all(|v| v.is_nan()));
}
