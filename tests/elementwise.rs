//! Elementwise ops against ndarray references: every unary and binary op, NumPy type
//! promotion, weak scalars, broadcasting across different chunk grids, where/clip/astype,
//! and fusion (results identical with the optimizer on and off).

mod common;

use chunkwise::{Array, BinaryOp, Config, DType, Error, Runtime, UnaryOp, where_};
use common::*;
use ndarray::{ArrayD, IxDyn};

fn f64s(a: &Array) -> ArrayD<f64> {
    let c = a.compute_chunk().unwrap();
    ArrayD::from_shape_vec(
        IxDyn(c.shape()),
        (0..c.data().len()).map(|i| c.data().get_f64(i)).collect(),
    )
    .unwrap()
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, rtol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    for (i, (&x, &y)) in a.iter().zip(b.iter()).enumerate() {
        if x.is_nan() || y.is_nan() {
            assert!(x.is_nan() && y.is_nan(), "{what}[{i}]: {x} vs {y}");
        } else {
            assert!(
                (x - y).abs() <= rtol * y.abs().max(1.0) || x == y,
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }
}

#[test]
fn unary_ops_match_std() {
    let x = data(&[13, 7], DType::F64, 3, 0.1);
    let pos = x.mapv(|v| v.abs() + 0.5);
    type Case<'a> = (UnaryOp, &'a ArrayD<f64>, fn(f64) -> f64);
    let cases: Vec<Case> = vec![
        (UnaryOp::Neg, &x, |v| -v),
        (UnaryOp::Abs, &x, f64::abs),
        (UnaryOp::Square, &x, |v| v * v),
        (UnaryOp::Sqrt, &pos, f64::sqrt),
        (UnaryOp::Exp, &x, f64::exp),
        (UnaryOp::Log, &pos, f64::ln),
        (UnaryOp::Log1p, &pos, f64::ln_1p),
        (UnaryOp::Expm1, &x, f64::exp_m1),
        (UnaryOp::Sin, &x, f64::sin),
        (UnaryOp::Cos, &x, f64::cos),
        (UnaryOp::Tan, &x, f64::tan),
        (UnaryOp::Arctan, &x, f64::atan),
        (UnaryOp::Floor, &x, f64::floor),
        (UnaryOp::Ceil, &x, f64::ceil),
        (UnaryOp::Round, &x, f64::round_ties_even),
    ];
    for (op, input, f) in cases {
        for chunks in chunkings(&[13, 7]) {
            let a = array(input, DType::F64, &chunks);
            let got = f64s(&a.unary(op).unwrap());
            close(&got, &input.mapv(f), 4e-16, op.name());
            // f32 computes in f32 (sin/cos through f64) and stays f32
            let a32 = array(input, DType::F32, &chunks).unary(op).unwrap();
            assert_eq!(a32.dtype(), DType::F32);
            close(&f64s(&a32), &as_dtype(input, DType::F32).mapv(f), 2e-6, op.name());
        }
    }
    let b = array(&x, DType::F64, &[4, 4]);
    let isn = f64s(&b.isnan());
    close(&isn, &x.mapv(|v| f64::from(u8::from(v.is_nan()))), 0.0, "isnan");
    assert_eq!(b.isfinite().dtype(), DType::Bool);
    close(
        &f64s(&b.logical_not()),
        &x.mapv(|v| f64::from(u8::from(v == 0.0))),
        0.0,
        "not",
    );
}

#[test]
fn more_float_unary_ops_match_std() {
    let x = data(&[11, 6], DType::F64, 13, 0.1);
    // Some of each set fall outside the domain (NaN on both sides).
    let unit = x.mapv(|v| v / 10.0);
    let pos = x.mapv(|v| v.abs() + 0.25);
    let above1 = x.mapv(|v| v.abs() / 2.0 + 0.9);
    type Case<'a> = (UnaryOp, &'a ArrayD<f64>, fn(f64) -> f64);
    let cases: Vec<Case> = vec![
        (UnaryOp::Arcsin, &unit, f64::asin),
        (UnaryOp::Arccos, &unit, f64::acos),
        (UnaryOp::Arctanh, &unit, f64::atanh),
        (UnaryOp::Sinh, &x, f64::sinh),
        (UnaryOp::Cosh, &x, f64::cosh),
        (UnaryOp::Tanh, &x, f64::tanh),
        (UnaryOp::Arcsinh, &x, f64::asinh),
        (UnaryOp::Arccosh, &above1, f64::acosh),
        (UnaryOp::Log2, &pos, f64::log2),
        (UnaryOp::Log10, &pos, f64::log10),
        (UnaryOp::Exp2, &x, f64::exp2),
        (UnaryOp::Cbrt, &x, f64::cbrt),
        (UnaryOp::Deg2rad, &x, |v| v * (std::f64::consts::PI / 180.0)),
        (UnaryOp::Rad2deg, &x, |v| v * (180.0 / std::f64::consts::PI)),
        (UnaryOp::Trunc, &x, f64::trunc),
        (UnaryOp::Sign, &x, |v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v * 0.0
            }
        }),
    ];
    for (op, input, f) in cases {
        for chunks in chunkings(&[11, 6]) {
            let a = array(input, DType::F64, &chunks).unary(op).unwrap();
            assert_eq!(a.dtype(), DType::F64, "{}", op.name());
            close(&f64s(&a), &input.mapv(f), 4e-16, op.name());
            let a32 = array(input, DType::F32, &chunks).unary(op).unwrap();
            assert_eq!(a32.dtype(), DType::F32, "{}", op.name());
            close(&f64s(&a32), &as_dtype(input, DType::F32).mapv(f), 2e-6, op.name());
        }
        // NumPy's dtypes for integer input: float64 from int32, float32 (NumPy:
        // float16) from int8; sign and trunc keep the integer dtype.
        let ints = data(&[11, 6], DType::I32, 14, 0.0);
        let want = match op {
            UnaryOp::Sign | UnaryOp::Trunc => (DType::I32, DType::I8),
            _ => (DType::F64, DType::F32),
        };
        assert_eq!(
            array(&ints, DType::I32, &[4, 4]).unary(op).unwrap().dtype(),
            want.0,
            "{}",
            op.name()
        );
        assert_eq!(
            array(&ints, DType::I8, &[4, 4]).unary(op).unwrap().dtype(),
            want.1,
            "{}",
            op.name()
        );
    }
}

#[test]
fn sign_trunc_fmod_hypot_match_numpy() {
    // Values NumPy 2.4.6 printed: np.fmod(int8 a, int8 b), np.sign, np.trunc, np.hypot.
    let a = ndarray::arr1(&[-7.0, 7.0, 5.0, -128.0, 0.0, 3.0]).into_dyn();
    let b = ndarray::arr1(&[2.0, -2.0, 0.0, -1.0, 5.0, 3.0]).into_dyn();
    for chunks in [[1], [4], [6]] {
        let f = array(&a, DType::I8, &chunks).fmod(&array(&b, DType::I8, &[2])).unwrap();
        assert_eq!(f.dtype(), DType::I8);
        assert_eq!(f.compute::<i8>().unwrap().as_slice().unwrap(), &[-1, 1, 0, 0, 0, 0]);
    }
    let x = ndarray::arr1(&[-7.5, 7.5, -0.0, f64::INFINITY, 2.0, 5.0]).into_dyn();
    let y = ndarray::arr1(&[2.0, -2.0, 2.0, 2.0, f64::INFINITY, 0.0]).into_dyn();
    let got = f64s(&array(&x, DType::F64, &[4]).fmod(&array(&y, DType::F64, &[3])).unwrap());
    close(
        &got,
        &ndarray::arr1(&[-1.5, 1.5, -0.0, f64::NAN, 2.0, f64::NAN]).into_dyn(),
        0.0,
        "fmod",
    );
    assert!(got[[2]].is_sign_negative(), "fmod(-0.0, 2.0) is -0.0");
    let ints = ndarray::arr1(&[-3.0, 0.0, 4.0]).into_dyn();
    assert_eq!(
        array(&ints, DType::I16, &[2])
            .sign()
            .unwrap()
            .compute::<i16>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[-1, 0, 1]
    );
    let fl = ndarray::arr1(&[-2.5, -0.0, 0.0, f64::NAN, f64::INFINITY]).into_dyn();
    let s = array(&fl, DType::F32, &[2]).sign().unwrap().compute::<f32>().unwrap();
    assert_eq!(s[[0]], -1.0);
    assert!(s[[1]] == 0.0 && s[[1]].is_sign_positive(), "np.sign(-0.0) is +0.0");
    assert!(s[[3]].is_nan() && s[[4]] == 1.0);
    assert!(matches!(
        Array::ones(&[3], DType::Bool, [2]).unwrap().sign(),
        Err(Error::Unsupported(_))
    ));
    let t = ndarray::arr1(&[-2.7, 2.7, -0.2, f64::NAN]).into_dyn();
    let tr = array(&t, DType::F32, &[3]).trunc().compute::<f32>().unwrap();
    assert_eq!(&tr.as_slice().unwrap()[..2], &[-2.0, 2.0]);
    assert!(tr[[2]] == 0.0 && tr[[2]].is_sign_negative() && tr[[3]].is_nan());
    assert_eq!(
        Array::ones(&[3], DType::Bool, [2]).unwrap().trunc().dtype(),
        DType::Bool
    );
    let h = array(&ndarray::arr1(&[3.0, 5.0, -8.0]).into_dyn(), DType::I32, &[2])
        .hypot(&array(&ndarray::arr1(&[4.0, 12.0, 15.0]).into_dyn(), DType::I32, &[1]))
        .unwrap();
    assert_eq!(h.dtype(), DType::F64);
    assert_eq!(h.compute::<f64>().unwrap().as_slice().unwrap(), &[5.0, 13.0, 17.0]);
    // No overflow where x² would: np.hypot(float32(1e30), float32(1e30)) = 1.4142135e+30.
    let big = array(&ndarray::arr1(&[1e30]).into_dyn(), DType::F32, &[1]);
    assert_eq!(big.hypot(&big).unwrap().compute::<f32>().unwrap()[[0]], 1.414_213_5e30);
    // The constants NumPy multiplies by: np.deg2rad(float32(180)) = 3.1415927,
    // np.rad2deg(1.0) = 57.29577951308232.
    let d = array(&ndarray::arr0(180.0).into_dyn(), DType::F32, &[]).deg2rad();
    assert_eq!(d.compute_scalar::<f32>().unwrap(), std::f32::consts::PI);
    let r = array(&ndarray::arr0(1.0).into_dyn(), DType::F64, &[]).rad2deg();
    assert_eq!(r.compute_scalar::<f64>().unwrap(), 57.295_779_513_082_32);
}

#[test]
fn binary_ops_match_python_semantics() {
    let a = data(&[9, 8], DType::I32, 5, 0.0);
    let b = data(&[9, 8], DType::I32, 6, 0.0).mapv(|v| if v == 0.0 { 3.0 } else { v });
    let fa = data(&[9, 8], DType::F64, 7, 0.0);
    let fb = data(&[9, 8], DType::F64, 8, 0.0);
    type F = fn(f64, f64) -> f64;
    let pyfloordiv: F = |x, y| (x / y).floor();
    let pymod: F = |x, y| x - y * (x / y).floor();
    let int_cases: Vec<(BinaryOp, F)> = vec![
        (BinaryOp::Add, |x, y| x + y),
        (BinaryOp::Sub, |x, y| x - y),
        (BinaryOp::Mul, |x, y| x * y),
        (BinaryOp::Div, |x, y| x / y),
        (BinaryOp::FloorDiv, pyfloordiv),
        (BinaryOp::Rem, pymod),
        (BinaryOp::Fmod, |x, y| x % y),
        (BinaryOp::Hypot, f64::hypot),
        (BinaryOp::Minimum, f64::min),
        (BinaryOp::Maximum, f64::max),
        (BinaryOp::Eq, |x, y| f64::from(u8::from(x == y))),
        (BinaryOp::Lt, |x, y| f64::from(u8::from(x < y))),
        (BinaryOp::Ge, |x, y| f64::from(u8::from(x >= y))),
        (BinaryOp::And, |x, y| f64::from(u8::from(x != 0.0 && y != 0.0))),
        (BinaryOp::Xor, |x, y| f64::from(u8::from((x != 0.0) != (y != 0.0)))),
    ];
    for (op, f) in &int_cases {
        let want = ndarray::Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y));
        let got = f64s(
            &array(&a, DType::I32, &[4, 3])
                .binary(*op, &array(&b, DType::I32, &[2, 8]))
                .unwrap(),
        );
        close(&got, &want, 1e-15, op.name());
    }
    let float_cases: Vec<(BinaryOp, F)> = vec![
        (BinaryOp::Pow, |x: f64, y: f64| x.abs().powf(y / 4.0)),
        (BinaryOp::Arctan2, f64::atan2),
        (BinaryOp::Hypot, f64::hypot),
        (BinaryOp::Fmod, |x, y| x % y),
        (BinaryOp::Rem, pymod),
        (BinaryOp::FloorDiv, pyfloordiv),
    ];
    for (op, f) in &float_cases {
        let (l, r) = if *op == BinaryOp::Pow {
            (fa.mapv(f64::abs), fb.mapv(|v| v / 4.0))
        } else {
            (fa.clone(), fb.clone())
        };
        let want = ndarray::Zip::from(&fa).and(&fb).map_collect(|&x, &y| f(x, y));
        let got = f64s(
            &array(&l, DType::F64, &[5, 5])
                .binary(*op, &array(&r, DType::F64, &[9, 1]))
                .unwrap(),
        );
        close(&got, &want, 1e-14, op.name());
    }
}

#[test]
fn promotion_and_weak_scalars_follow_numpy() {
    let i8a = Array::ones(&[4], DType::I8, [2]).unwrap();
    let u8a = Array::ones(&[4], DType::U8, [3]).unwrap();
    let f32a = Array::ones(&[4], DType::F32, [4]).unwrap();
    assert_eq!((&i8a + &u8a).dtype(), DType::I16);
    assert_eq!((&i8a + &f32a).dtype(), DType::F32);
    assert_eq!((&f32a * 2.0).dtype(), DType::F32);
    assert_eq!((&i8a * 2).dtype(), DType::I8);
    assert_eq!((&i8a * 2.5).dtype(), DType::F64);
    assert_eq!((&i8a / &i8a).dtype(), DType::F64);
    assert_eq!(i8a.sqrt().dtype(), DType::F32);
    assert_eq!(Array::ones(&[2], DType::I32, [1]).unwrap().sin().dtype(), DType::F64);
    // int8 wraps like NumPy
    let big = Array::full(&[3], 100, DType::I8, [2]).unwrap();
    assert_eq!(
        (&big + &big).compute::<i8>().unwrap().as_slice().unwrap(),
        &[-56, -56, -56]
    );
    // scalar on the left
    assert_eq!((10.0 - &f32a).compute::<f32>().unwrap().as_slice().unwrap(), &[9.0; 4]);
    // bool arithmetic
    let t = Array::ones(&[2], DType::Bool, [1]).unwrap();
    assert_eq!((&t + &t).dtype(), DType::Bool);
    assert!(matches!(t.binary(BinaryOp::Sub, &t), Err(Error::Unsupported(_))));
    assert!(matches!(t.negative(), Err(Error::Unsupported(_))));
}

#[test]
fn broadcasting_across_different_chunk_grids() {
    let x = data(&[6, 5, 4], DType::F64, 11, 0.0);
    let row = data(&[5, 1], DType::F64, 12, 0.0);
    let vec = data(&[4], DType::F64, 13, 0.0);
    let want = ndarray::Zip::from(&x)
        .and_broadcast(&row.broadcast(IxDyn(&[6, 5, 4])).unwrap())
        .and_broadcast(&vec.broadcast(IxDyn(&[6, 5, 4])).unwrap())
        .map_collect(|&a, &b, &c| a * b - c);
    for (cx, cr, cv) in [
        ([2, 2, 2], [5, 1], [4]),
        ([6, 3, 1], [2, 1], [3]),
        ([1, 5, 4], [1, 1], [1]),
    ] {
        let ax = array(&x, DType::F64, &cx);
        let ar = array(&row, DType::F64, &cr);
        let av = array(&vec, DType::F64, &cv);
        let r = &(&ax * &ar) - &av;
        assert_eq!(r.shape(), vec![6, 5, 4]);
        close(&f64s(&r), &want, 1e-15, "broadcast");
    }
    let bad = Array::ones(&[3], DType::F64, [1]).unwrap();
    assert!(matches!(
        array(&x, DType::F64, &[2, 2, 2]).binary(BinaryOp::Add, &bad),
        Err(Error::Broadcast { .. })
    ));
}

#[test]
fn where_clip_astype() {
    let x = data(&[7, 3], DType::F64, 21, 0.2);
    let a = array(&x, DType::F64, &[3, 2]);
    let w = where_(&a.greater(0.0).unwrap(), &a, -1.0).unwrap();
    close(&f64s(&w), &x.mapv(|v| if v > 0.0 { v } else { -1.0 }), 0.0, "where");
    let c = a.clip(-2.0, 3.0).unwrap();
    close(
        &f64s(&c),
        &x.mapv(|v| if v.is_nan() { v } else { v.clamp(-2.0, 3.0) }),
        0.0,
        "clip",
    );
    let i = a.astype(DType::I16);
    close(
        &f64s(&i),
        &x.mapv(|v| if v.is_nan() { 0.0 } else { v.trunc() }),
        0.0,
        "astype",
    );
    let nanfill = where_(&a.isnan(), 0.0, &a).unwrap();
    assert_eq!(nanfill.nanmean(None).unwrap().dtype(), DType::F64);
}

#[test]
fn fused_and_unfused_graphs_agree() {
    let x = Array::random_uniform(&[50, 40], -3.0, 3.0, 9, [16, 15]).unwrap();
    let y = Array::random_normal(&[40], 0.0, 1.0, 10, [15]).unwrap();
    let z = ((&x.sin().square() + &x.cos().square()) * &y - x.exp().log1p()).abs();
    let expr = [z.sum(None).unwrap(), z.clone(), z.nanmax(0).unwrap()];
    let fused = Runtime::new(Config::default()).unwrap();
    let plain = Runtime::new(Config {
        optimize: false,
        ..Config::default()
    })
    .unwrap();
    let refs: Vec<&Array> = expr.iter().collect();
    let a = fused.compute_many(&refs).unwrap();
    let b = plain.compute_many(&refs).unwrap();
    assert_eq!(a, b);
    // The fused graph for the sum: x (read three times) and the whole chain fuse into the
    // reductions' chunk step; only y's 3 blocks, broadcast to many consumers, stay apart.
    use chunkwise::graph::lower::Target;
    // 4 × 3 blocks, fan 2 per axis: 2 × 2 chunk-step groups of up to 4 blocks, and one
    // combine of the 4 partials as a chain of 3 pairwise merges.
    let g = fused.graph(&[Target::Array(&expr[0])]);
    assert_eq!(
        g.kind_counts(),
        vec![("map", 3), ("reduce-partial", 4), ("reduce-combine", 3)]
    );
}

#[test]
fn paired_sin_cos_in_float32_match_the_unfused_ops() {
    // sin and cos of one f32 register are computed together (one f64 sincos pass);
    // the result must equal the op-by-op graph bit for bit.
    let x = Array::random_uniform(&[60, 50], -40.0, 40.0, 4, [16, 20])
        .unwrap()
        .astype(DType::F32);
    let z = &(&x.sin() * &x.cos()) + &x.sin().square();
    assert_eq!(z.dtype(), DType::F32);
    let fused = Runtime::new(Config::default()).unwrap();
    let plain = Runtime::new(Config {
        optimize: false,
        ..Config::default()
    })
    .unwrap();
    let a = fused.compute::<f32>(&z).unwrap();
    let b = plain.compute::<f32>(&z).unwrap();
    assert!(
        a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
        "fused f32 sin/cos differ"
    );
    let xs = plain.compute::<f32>(&x).unwrap();
    for (g, &v) in a.iter().zip(&xs) {
        let (s, c) = (f64::from(v).sin() as f32, f64::from(v).cos() as f32);
        let want = s * c + s * s;
        assert!(
            (g - want).abs() <= 2e-6 * want.abs().max(1.0),
            "{g} vs {want} at x = {v}"
        );
    }
}

#[test]
fn isclose_allclose_nan_to_num_fillna_match_numpy() {
    // NumPy 2.4.6: np.isclose(a, b), with equal_nan=True, and with rtol=0, atol=1e-10.
    let a = ndarray::arr1(&[
        1.0,
        1.0 + 1e-9,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e10,
        0.0,
        f64::NAN,
        2.0,
    ])
    .into_dyn();
    let b = ndarray::arr1(&[
        1.0,
        1.0,
        f64::NAN,
        f64::INFINITY,
        f64::INFINITY,
        1.00001e10,
        1e-9,
        1.0,
        f64::NAN,
    ])
    .into_dyn();
    let cases: [(f64, f64, bool, [bool; 9]); 3] = [
        (
            1e-5,
            1e-8,
            false,
            [true, true, false, true, false, true, true, false, false],
        ),
        (
            1e-5,
            1e-8,
            true,
            [true, true, true, true, false, true, true, false, false],
        ),
        (
            0.0,
            1e-10,
            false,
            [true, false, false, true, false, false, false, false, false],
        ),
    ];
    for chunks in [[9], [2], [4]] {
        let (x, y) = (array(&a, DType::F64, &chunks), array(&b, DType::F64, &[3]));
        for (rtol, atol, equal_nan, want) in cases {
            let c = x.isclose(&y, rtol, atol, equal_nan).unwrap();
            assert_eq!(c.dtype(), DType::Bool);
            assert_eq!(
                c.compute::<bool>().unwrap().as_slice().unwrap(),
                &want,
                "rtol {rtol} atol {atol} equal_nan {equal_nan}"
            );
        }
        // np.allclose(a[:2], b[:2]) is True; np.allclose(a, b, equal_nan=True) False.
        let head = |v: &Array| v.slice_axis(0, None, Some(2), 1).unwrap();
        assert!(
            head(&x)
                .allclose(&head(&y), 1e-5, 1e-8, false)
                .unwrap()
                .compute_scalar::<bool>()
                .unwrap()
        );
        assert!(
            !x.allclose(&y, 1e-5, 1e-8, true)
                .unwrap()
                .compute_scalar::<bool>()
                .unwrap()
        );
    }
    // Integers compare as float64: np.isclose(int32 [1, 2], [1, 3]) = [True, False].
    let i = array(&ndarray::arr1(&[1.0, 2.0]).into_dyn(), DType::I32, &[1]);
    let j = array(&ndarray::arr1(&[1.0, 3.0]).into_dyn(), DType::I32, &[2]);
    assert_eq!(
        i.isclose(&j, 1e-5, 1e-8, false)
            .unwrap()
            .compute::<bool>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[true, false]
    );
    // np.nan_to_num(float32 [nan, inf, -inf, 1.5]) = [0, f32 max, f32 lowest, 1.5];
    // with nan=-1, posinf=9, neginf=-9: [-1, 9, -9, 1.5].
    let f = array(
        &ndarray::arr1(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5]).into_dyn(),
        DType::F32,
        &[3],
    );
    let n = f.nan_to_num(0.0, None, None).unwrap();
    assert_eq!(n.dtype(), DType::F32);
    assert_eq!(
        n.compute::<f32>().unwrap().as_slice().unwrap(),
        &[0.0, f32::MAX, f32::MIN, 1.5]
    );
    let n = f
        .nan_to_num(-1.0, Some(9.0), Some(-9.0))
        .unwrap()
        .compute::<f32>()
        .unwrap();
    assert_eq!(n.as_slice().unwrap(), &[-1.0, 9.0, -9.0, 1.5]);
    let filled = f.fillna(273.15).unwrap();
    assert_eq!(filled.dtype(), DType::F32);
    let filled = filled.compute::<f32>().unwrap();
    assert_eq!(
        filled.as_slice().unwrap(),
        &[273.15f32, f32::INFINITY, f32::NEG_INFINITY, 1.5]
    );
    assert_eq!(i.fillna(0.0).unwrap().dtype(), DType::I32);
    assert_eq!(i.nan_to_num(0.0, None, None).unwrap().dtype(), DType::I32);
}

/// Scalars and `where` inside a fused program whose tiles change length (a short tail
/// per row, then full tiles again, as a reduction evaluates its rows): each tile sees
/// its constants and selects, whatever length the tile before had.
#[test]
fn where_with_scalars_over_tiles_of_changing_length() {
    let n = 2 * 2048 + 37;
    let v: Vec<f64> = (0..3 * n).map(|i| ((i * 7919) % 1000) as f64 - 500.0).collect();
    let want: Vec<f64> = v
        .iter()
        .map(|&x| if x < -400.0 { f64::NAN } else { x * 0.5 + 3.0 })
        .collect();
    let a = ndarray::Array2::from_shape_vec((3, n), v).unwrap().into_dyn();
    for chunks in [[3, n], [1, n], [2, 2048 + 5]] {
        let x = Array::from_ndarray(a.clone(), chunks).unwrap();
        let y = &where_(&x.less(-400.0).unwrap(), f64::NAN, &x).unwrap() * 0.5 + 3.0;
        let got = f64s(&y);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g.to_bits() == w.to_bits(), "chunks {chunks:?} element {i}: {g} vs {w}");
        }
        // Reduced along the long axis, the program runs over each row's tiles in turn.
        let s = y.nansum([1]).unwrap().compute::<f64>().unwrap();
        for r in 0..3 {
            let row: f64 = want[r * n..(r + 1) * n].iter().filter(|v| !v.is_nan()).sum();
            assert!(
                (s[r] - row).abs() <= 1e-9 * row.abs(),
                "chunks {chunks:?} row {r}: {} vs {row}",
                s[r]
            );
        }
    }
}

/// A reduction over the leading axis of a fused program (never materialised) walks the
/// same tiles and row groups as over the materialised block: the same bits, for blocks
/// of one row group and of several, and for chunk steps of several blocks.
#[test]
fn fused_leading_axis_reductions_have_the_bits_of_materialised_blocks() {
    let fused = Runtime::new(Config::default()).unwrap();
    let plain = Runtime::new(Config {
        optimize: false,
        ..Config::default()
    })
    .unwrap();
    for chunks in [[10, 30, 70], [25, 30, 70], [60, 13, 70]] {
        let x = Array::random_normal(&[60, 30, 70], 280.0, 9.0, 21, chunks).unwrap();
        let x = where_(&x.less(265.0).unwrap(), f64::NAN, &x)
            .unwrap()
            .astype(DType::F32);
        let z = &x * 1.5 + 0.25;
        // NaN-free results, so that equality means the same bits.
        let ops = [
            z.nanmean(0).unwrap(),
            z.nanvar(0, 0.0).unwrap(),
            z.nansum([0]).unwrap(),
            z.nanmax(0).unwrap(),
        ];
        let refs: Vec<&Array> = ops.iter().collect();
        let a = fused.compute_many(&refs).unwrap();
        let b = plain.compute_many(&refs).unwrap();
        assert_eq!(a, b, "chunks {chunks:?}");
    }
}
