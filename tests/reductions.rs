//! Every reduction against the unchunked reference, over 0-d to 5-d shapes, empty axes,
//! NaN placements, several chunkings (one-element and ragged blocks) and `split_every`
//! values; plus NumPy's result dtypes and empty/all-NaN semantics.

mod common;

use chunkwise::{Array, Axes, DType, Error, ReduceOp, ReduceOptions, Runtime};
use common::*;

const SHAPES: &[&[usize]] = &[
    &[],
    &[7],
    &[5, 6],
    &[0, 4],
    &[3, 0],
    &[3, 4, 5],
    &[2, 3, 1, 4],
    &[2, 2, 3, 1, 2],
];

fn axes_sets(nd: usize) -> Vec<Axes> {
    let mut v = vec![Axes::All];
    for a in 0..nd {
        v.push(Axes::List(vec![a as isize]));
    }
    if nd >= 2 {
        v.push(Axes::List(vec![0, nd as isize - 1]));
    }
    if nd >= 3 {
        v.push(Axes::List(vec![-2]));
        v.push(Axes::List(vec![1, 2]));
    }
    v
}

fn norm_axes(ax: &Axes, nd: usize) -> Vec<usize> {
    match ax {
        Axes::All => (0..nd).collect(),
        Axes::List(l) => {
            let mut v: Vec<usize> = l
                .iter()
                .map(|&a| if a < 0 { (a + nd as isize) as usize } else { a as usize })
                .collect();
            v.sort_unstable();
            v
        }
    }
}

fn check_op(op: ReduceOp, dtype: DType, nan_frac: f64, split_every: &[usize]) {
    let rt = Runtime::global();
    for (si, shape) in SHAPES.iter().enumerate() {
        let x = as_dtype(&data(shape, dtype, si as u64 + 1, nan_frac), dtype);
        // Each chunking twice: one stored block sliced per task (chunk steps fold block
        // by block), and the data held as its own blocks (groups reduced stacked).
        for (chunks, held) in chunkings(shape)
            .into_iter()
            .flat_map(|c| [(c.clone(), false), (c, true)])
        {
            let arr = if held {
                array_in_blocks(&x, dtype, &chunks)
            } else {
                array(&x, dtype, &chunks)
            };
            for axes in axes_sets(shape.len()) {
                let ax = norm_axes(&axes, shape.len());
                if op.is_arg() && !(ax.len() == 1 || ax.len() == shape.len()) {
                    continue;
                }
                let want = reference_reduce(&x, op, &ax, 1.0, dtype);
                for &se in split_every {
                    for keepdims in [false, true] {
                        let what = format!(
                            "{} {dtype} shape {shape:?} chunks {chunks:?} (held as blocks: {held}) axes {ax:?} split_every {se} keepdims {keepdims}",
                            op.name()
                        );
                        let opts = ReduceOptions {
                            keepdims,
                            ddof: 1.0,
                            split_every: se,
                            dtype: None,
                        };
                        let r = arr.reduce(op, axes.clone(), &opts);
                        let r = match (r, &want) {
                            (Err(Error::EmptyReduction { .. }), Err(_)) => continue,
                            (Err(e), _) => panic!("{what}: build failed: {e}"),
                            (Ok(r), _) => r,
                        };
                        assert_eq!(r.dtype(), op.result_dtype(dtype), "{what}: dtype");
                        let got = rt.compute_many(&[&r]);
                        match (got, &want) {
                            (Err(e), Err(_)) => assert!(e.to_string().contains("All-NaN"), "{what}: {e}"),
                            (Err(e), Ok(_)) => panic!("{what}: {e}"),
                            (Ok(_), Err(w)) => panic!("{what}: expected an error ({w})"),
                            (Ok(mut g), Ok(w)) => {
                                let g = g.pop().unwrap();
                                let w = with_keepdims(w, shape, &ax, keepdims);
                                let rtol = if r.dtype() == DType::F32 { 2e-5 } else { 1e-9 };
                                assert_close(&g, &w, rtol, &what);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn float_reductions_match_reference() {
    for op in ReduceOp::ALL {
        check_op(op, DType::F64, 0.15, &[2, 4]);
    }
}

#[test]
fn f32_reductions_accumulate_in_f64() {
    for op in [
        ReduceOp::Sum,
        ReduceOp::NanMean,
        ReduceOp::NanStd,
        ReduceOp::Max,
        ReduceOp::ArgMin,
        ReduceOp::Count,
    ] {
        check_op(op, DType::F32, 0.1, &[3]);
    }
}

#[test]
fn integer_and_bool_reductions_are_exact() {
    for dtype in [DType::I8, DType::U16, DType::I64, DType::Bool] {
        for op in [
            ReduceOp::Sum,
            ReduceOp::Prod,
            ReduceOp::Min,
            ReduceOp::Max,
            ReduceOp::Mean,
            ReduceOp::Var,
            ReduceOp::ArgMax,
            ReduceOp::Any,
            ReduceOp::All,
            ReduceOp::Count,
            ReduceOp::NanSum,
        ] {
            check_op(op, dtype, 0.0, &[2]);
        }
    }
}

#[test]
fn deep_trees_with_many_split_every_values() {
    // 1-element chunks along 40 × 30: several combine levels.
    let x = data(&[40, 30], DType::F64, 99, 0.05);
    let arr = array(&x, DType::F64, &[1, 1]);
    for se in [2, 3, 4, 7, 16, 1000] {
        for op in [ReduceOp::NanSum, ReduceOp::NanVar, ReduceOp::NanArgMax, ReduceOp::Max] {
            let opts = ReduceOptions {
                split_every: se,
                ..Default::default()
            };
            for ax in [vec![0usize], vec![1], vec![0, 1]] {
                let axes: Vec<isize> = ax.iter().map(|&a| a as isize).collect();
                let r = arr.reduce(op, axes, &opts).unwrap();
                let g = r.compute_chunk().unwrap();
                let w = reference_reduce(&x, op, &ax, 0.0, DType::F64).unwrap();
                assert_close(&g, &w, 1e-9, &format!("{} se {se} axes {ax:?}", op.name()));
            }
        }
    }
}

#[test]
fn numpy_empty_and_all_nan_semantics() {
    let empty = Array::zeros(&[0], DType::F64, [1]).unwrap();
    assert_eq!(empty.sum(None).unwrap().compute_scalar::<f64>().unwrap(), 0.0);
    assert_eq!(empty.prod(None).unwrap().compute_scalar::<f64>().unwrap(), 1.0);
    assert!(empty.mean(None).unwrap().compute_scalar::<f64>().unwrap().is_nan());
    assert!(!empty.any(None).unwrap().compute_scalar::<bool>().unwrap());
    assert!(empty.all(None).unwrap().compute_scalar::<bool>().unwrap());
    assert!(matches!(empty.max(None), Err(Error::EmptyReduction { op: "max" })));
    assert!(matches!(empty.argmin(None), Err(Error::EmptyReduction { .. })));
    let nan = Array::full(&[3, 2], f64::NAN, DType::F64, [2, 1]).unwrap();
    assert!(
        nan.nanmean(0)
            .unwrap()
            .compute::<f64>()
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert!(nan.nanmax(None).unwrap().compute_scalar::<f64>().unwrap().is_nan());
    assert_eq!(nan.count(None).unwrap().compute_scalar::<i64>().unwrap(), 0);
    let e = nan.nanargmin(None).unwrap().compute::<i64>().unwrap_err();
    assert!(e.to_string().contains("All-NaN slice"), "{e}");
    // NaN is truthy.
    assert!(nan.all(None).unwrap().compute_scalar::<bool>().unwrap());
}

#[test]
fn bad_axes_are_errors() {
    let x = Array::zeros(&[2, 3], DType::F32, [1, 1]).unwrap();
    assert!(matches!(x.sum(2), Err(Error::AxisOutOfRange { axis: 2, ndim: 2 })));
    assert!(matches!(x.sum(-3), Err(Error::AxisOutOfRange { .. })));
    assert!(matches!(x.sum([0, -2]), Err(Error::DuplicateAxis(0))));
    let s = Array::zeros(&[], DType::F32, ChunkSpecEmpty::spec()).unwrap();
    assert!(matches!(s.sum(0), Err(Error::AxisOutOfRange { axis: 0, ndim: 0 })));
}

struct ChunkSpecEmpty;
impl ChunkSpecEmpty {
    fn spec() -> chunkwise::ChunkSpec {
        chunkwise::ChunkSpec::from(Vec::<usize>::new())
    }
}

#[test]
fn results_are_bit_identical_across_thread_counts_and_schedulers() {
    let x = Array::random_normal(&[300, 200], 3.0, 10.0, 5, [37, 41]).unwrap();
    let ops = [
        x.sum(None).unwrap(),
        x.std(0, 0.0).unwrap(),
        x.nanmean([1]).unwrap(),
        x.argmax(None).unwrap(),
    ];
    let reference: Vec<_> = {
        let rt = Runtime::new(chunkwise::Config {
            threads: 1,
            scheduler: chunkwise::SchedulerKind::Sync,
            ..Default::default()
        })
        .unwrap();
        let refs: Vec<&Array> = ops.iter().collect();
        rt.compute_many(&refs).unwrap()
    };
    for threads in [1, 2, 3, 8] {
        let rt = Runtime::new(chunkwise::Config {
            threads,
            ..Default::default()
        })
        .unwrap();
        for _ in 0..3 {
            let refs: Vec<&Array> = ops.iter().collect();
            let got = rt.compute_many(&refs).unwrap();
            for (g, r) in got.iter().zip(&reference) {
                assert_eq!(g, r, "threads {threads}");
            }
        }
    }
}

/// `ddof` at and past the count, as NumPy: `var`/`std` divide by max(N - ddof, 0)
/// (inf, or NaN for 0 / 0), `nanvar`/`nanstd` of floats give NaN, and of integers (which
/// NumPy sends to `var`) inf — for every chunking, blocks stored or held.
#[test]
fn ddof_at_or_past_the_count_follows_numpy() {
    let rt = Runtime::global();
    let shape = [5usize, 3];
    for dtype in [DType::F64, DType::F32, DType::I32] {
        let x = as_dtype(&data(&shape, dtype, 7, if dtype.is_float() { 0.2 } else { 0.0 }), dtype);
        for op in [ReduceOp::Var, ReduceOp::Std, ReduceOp::NanVar, ReduceOp::NanStd] {
            for ddof in [0.0, 3.0, 4.0, 5.0, 9.0] {
                for axes in [vec![0usize], vec![1], vec![0, 1]] {
                    let want = reference_reduce(&x, op, &axes, ddof, dtype).expect("reference");
                    for chunks in chunkings(&shape) {
                        for held in [false, true] {
                            let arr = if held {
                                array_in_blocks(&x, dtype, &chunks)
                            } else {
                                array(&x, dtype, &chunks)
                            };
                            let opts = ReduceOptions {
                                ddof,
                                ..Default::default()
                            };
                            let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                            let r = arr.reduce(op, ax, &opts).expect("build");
                            let got = rt.compute_many(&[&r]).expect("run").pop().expect("one result");
                            let what = format!(
                                "{} {dtype} ddof {ddof} axes {axes:?} chunks {chunks:?} held {held}",
                                op.name()
                            );
                            let rtol = if r.dtype() == DType::F32 { 2e-5 } else { 1e-9 };
                            assert_close(&got, &want, rtol, &what);
                        }
                    }
                }
            }
        }
    }
}
