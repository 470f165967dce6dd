//! Quantiles and medians: values NumPy 2.4 printed for small arrays (pasted below, bit
//! for bit), and every shape / axis set / chunking / dtype against an unchunked
//! reference that sorts each slice (the engine selects), plus NumPy's dtypes, NaN and
//! empty semantics, errors, and the block size the rechunk keeps.

mod common;

use chunkwise::{Array, Axes, DType, QuantileOptions};
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
                keepdims: false,
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
                                    keepdims: false,
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
