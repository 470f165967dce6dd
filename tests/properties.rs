//! Property tests: random shapes, chunkings, axes and ops against the reference.

mod common;

use chunkwise::{DType, ReduceOp, ReduceOptions};
use common::*;
use proptest::prelude::*;

fn case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, u64)> {
    prop::collection::vec((0usize..7, 1usize..5), 0..4).prop_flat_map(|v| {
        let (shape, chunks): (Vec<usize>, Vec<usize>) = v.into_iter().unzip();
        (Just(shape), Just(chunks), any::<u64>())
    })
}

const OPS: &[ReduceOp] = &[
    ReduceOp::Sum,
    ReduceOp::NanSum,
    ReduceOp::Mean,
    ReduceOp::NanMean,
    ReduceOp::NanVar,
    ReduceOp::Std,
    ReduceOp::Min,
    ReduceOp::NanMax,
    ReduceOp::ArgMax,
    ReduceOp::NanArgMin,
    ReduceOp::Count,
    ReduceOp::Any,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_reductions_match_reference((shape, chunks, seed) in case(), op_i in 0usize..12, axis_bits in 0u32..16, se in 2usize..6) {
        let op = OPS[op_i];
        let nd = shape.len();
        let mut axes: Vec<usize> = (0..nd).filter(|a| axis_bits & (1 << a) != 0).collect();
        if op.is_arg() && axes.len() > 1 { axes.truncate(1); }
        if op.is_arg() && axes.is_empty() { axes = (0..nd).collect(); }
        let x = data(&shape, DType::F64, seed, 0.2);
        let arr = array(&x, DType::F64, &chunks);
        let want = reference_reduce(&x, op, &axes, 0.0, DType::F64);
        let ax: chunkwise::Axes = if axes.len() == nd { chunkwise::Axes::All } else { axes.iter().map(|&a| a as isize).collect::<Vec<_>>().into() };
        let r = arr.reduce(op, ax, &ReduceOptions { split_every: se, ..Default::default() });
        match (r, want) {
            (Err(_), Err(_)) => {}
            (Ok(r), Ok(w)) => {
                match r.compute_chunk() {
                    Ok(g) => assert_close(&g, &w, 1e-9, &format!("{} {shape:?} {chunks:?} {axes:?}", op.name())),
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }
            (Ok(r), Err(_)) => prop_assert!(r.compute_chunk().is_err(), "expected an error"),
            (Err(e), Ok(_)) => prop_assert!(false, "unexpected build error {e}"),
        }
    }

    #[test]
    fn random_elementwise_chains_match_reference((shape, chunks, seed) in case(), other_chunks in prop::collection::vec(1usize..5, 4)) {
        let x = data(&shape, DType::F64, seed, 0.1);
        let y = data(&shape, DType::F64, seed ^ 0xabc, 0.0);
        let a = array(&x, DType::F64, &chunks);
        let b = array(&y, DType::F64, &other_chunks[..shape.len()]);
        let z = (&(&a * &b) + &a.sin()).maximum(&b).unwrap() - 0.5;
        let want = ndarray::Zip::from(&x).and(&y).map_collect(|&p, &q| {
            let v = p * q + p.sin();
            (if v.is_nan() || v > q { v } else { q }) - 0.5
        });
        let got = z.compute_chunk().unwrap();
        assert_close(&got, &want, 1e-14, "chain");
    }
}
