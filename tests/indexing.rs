//! Indexing and shape operations against an unchunked ndarray reference, over several
//! chunkings (ragged last blocks, one-element blocks, selections crossing block
//! boundaries), plus property tests and chunk-touching tests (a counting source).

mod common;

use chunkwise::{Array, ChunkSpec, DType, Index};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;
use std::sync::atomic::Ordering;

/// Python's `range(n)[start:stop:step]`, written from the language reference's
/// definition (not the engine's algorithm).
fn py_slice(start: Option<isize>, stop: Option<isize>, step: isize, n: usize) -> Vec<usize> {
    let n = n as isize;
    let fix = |v: isize| {
        if v < 0 {
            (v + n).max(if step < 0 { -1 } else { 0 })
        } else {
            v.min(if step < 0 { n - 1 } else { n })
        }
    };
    if step > 0 {
        let s = start.map_or(0, fix);
        let e = stop.map_or(n, fix);
        (0..n)
            .filter(|&i| i >= s && i < e && (i - s) % step == 0)
            .map(|i| i as usize)
            .collect()
    } else {
        let s = start.map_or(n - 1, fix);
        let e = stop.map_or(-1, fix);
        (0..n)
            .rev()
            .filter(|&i| i <= s && i > e && (s - i) % (-step) == 0)
            .map(|i| i as usize)
            .collect()
    }
}

fn pick(r: &ArrayD<f64>, axis: usize, pos: &[usize]) -> ArrayD<f64> {
    r.select(Axis(axis), pos)
}

fn check(got: &Array, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let c = got.compute_chunk().unwrap();
    assert_eq!(c.shape(), want.shape(), "{what}: computed shape");
    let g = c.data().cast(DType::F64);
    for (i, w) in want.iter().enumerate() {
        let v = g.get_f64(i);
        assert!(v == *w || (v.is_nan() && w.is_nan()), "{what}: element {i}: {v} != {w}");
    }
}

#[test]
fn python_slices_match_known_results() {
    // From CPython: list(range(10))[s] for each slice.
    assert_eq!(py_slice(None, None, -1, 10), vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert_eq!(py_slice(Some(8), Some(2), -3, 10), vec![8, 5]);
    assert_eq!(py_slice(Some(-3), None, 1, 10), vec![7, 8, 9]);
    assert_eq!(py_slice(Some(-100), Some(100), 4, 10), vec![0, 4, 8]);
    assert_eq!(py_slice(Some(5), Some(-100), -2, 10), vec![5, 3, 1]);
    for (s, e, st) in [
        (None, None, -1),
        (Some(8), Some(2), -3),
        (Some(-3), None, 1),
        (Some(5), Some(-100), -2),
    ] {
        assert_eq!(
            chunkwise::array::slice_positions(s, e, st, 10).unwrap(),
            py_slice(s, e, st, 10)
        );
    }
}

#[test]
fn slices_with_steps_and_integers_on_every_chunking() {
    let shape = [7, 9, 5];
    let r = data(&shape, DType::F64, 1, 0.1);
    let cases: Vec<(Vec<Index>, &str)> = vec![
        (vec![Index::from(2..6)], "x[2:6]"),
        (vec![Index::full(), Index::range(Some(1), None, 3)], "x[:, 1::3]"),
        (vec![Index::range(None, None, -1), Index::at(-2)], "x[::-1, -2]"),
        (
            vec![Index::Ellipsis, Index::range(Some(4), Some(0), -2)],
            "x[..., 4:0:-2]",
        ),
        (
            vec![Index::at(3), Index::NewAxis, Index::from(1..8), Index::at(0)],
            "x[3, None, 1:8, 0]",
        ),
        (vec![Index::from(5..5)], "x[5:5] (empty)"),
        (
            vec![Index::NewAxis, Index::Ellipsis, Index::NewAxis],
            "x[None, ..., None]",
        ),
    ];
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        for (idx, what) in &cases {
            // Reference: per-axis positions, then drop/insert axes.
            let mut want = r.clone();
            let mut axis = 0;
            let mut out_axes: Vec<Option<usize>> = Vec::new();
            let named = idx
                .iter()
                .filter(|i| !matches!(i, Index::NewAxis | Index::Ellipsis))
                .count();
            let mut full = Vec::new();
            for i in idx {
                if matches!(i, Index::Ellipsis) {
                    full.extend(std::iter::repeat_n(Index::full(), 3 - named));
                } else {
                    full.push(*i);
                }
            }
            if !idx.contains(&Index::Ellipsis) {
                full.extend(std::iter::repeat_n(Index::full(), 3 - named));
            }
            let mut drop = Vec::new();
            for i in &full {
                match *i {
                    Index::NewAxis => out_axes.push(None),
                    Index::At(k) => {
                        let p = if k < 0 {
                            (k + shape[axis] as isize) as usize
                        } else {
                            k as usize
                        };
                        want = pick(&want, axis, &[p]);
                        drop.push(axis);
                        axis += 1;
                    }
                    Index::Slice { start, stop, step } => {
                        want = pick(&want, axis, &py_slice(start, stop, step, shape[axis]));
                        out_axes.push(Some(axis));
                        axis += 1;
                    }
                    Index::Ellipsis => unreachable!(),
                }
            }
            let kept: Vec<usize> = (0..3).filter(|a| !drop.contains(a)).collect();
            let mut sh: Vec<usize> = Vec::new();
            for a in &out_axes {
                sh.push(a.map_or(1, |a| want.shape()[a]));
            }
            let _ = kept;
            let want = ArrayD::from_shape_vec(IxDyn(&sh), want.iter().copied().collect()).unwrap();
            check(&x.slice(idx).unwrap(), &want, &format!("{what} chunks {chunks:?}"));
        }
    }
}

#[test]
fn slicing_errors_name_the_problem() {
    let x = Array::zeros(&[4, 5], DType::F32, [2, 2]).unwrap();
    let e = x.slice(&[Index::at(4)]).unwrap_err().to_string();
    assert!(e.contains("out of bounds") && e.contains("axis 0"), "{e}");
    let e = x
        .slice(&[Index::full(), Index::full(), Index::full()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("too many indices"), "{e}");
    let e = x.slice(&[Index::range(None, None, 0)]).unwrap_err().to_string();
    assert!(e.contains("step"), "{e}");
    let e = x.take(&[0, 7], 1).unwrap_err().to_string();
    assert!(e.contains("index 7") && e.contains("axis 1"), "{e}");
    assert!(x.flip(2).is_err());
}

#[test]
fn take_compress_flip_roll() {
    let shape = [6, 11];
    let r = data(&shape, DType::I32, 2, 0.0);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::I32, &chunks);
        let idx = [10isize, 0, -1, 3, 3, 7];
        let pos: Vec<usize> = idx
            .iter()
            .map(|&i| if i < 0 { (i + 11) as usize } else { i as usize })
            .collect();
        check(
            &x.take(&idx, 1).unwrap(),
            &pick(&r, 1, &pos),
            &format!("take chunks {chunks:?}"),
        );
        let mask = [true, false, false, true, true, false];
        check(&x.compress(&mask, 0).unwrap(), &pick(&r, 0, &[0, 3, 4]), "compress");
        let lazy_mask = Array::from_ndarray(ndarray::arr1(&mask).into_dyn(), [4]).unwrap();
        check(
            &x.compress_by(&lazy_mask, 0).unwrap(),
            &pick(&r, 0, &[0, 3, 4]),
            "compress_by",
        );
        let rev: Vec<usize> = (0..11).rev().collect();
        check(&x.flip(-1).unwrap(), &pick(&r, 1, &rev), "flip");
        for shift in [-13isize, -1, 0, 3, 11, 25] {
            let n = 11isize;
            let pos: Vec<usize> = (0..n).map(|i| (i - shift).rem_euclid(n) as usize).collect();
            check(&x.roll(shift, 1).unwrap(), &pick(&r, 1, &pos), &format!("roll {shift}"));
        }
    }
}

#[test]
fn transposes_squeeze_expand_broadcast() {
    let shape = [3, 4, 5];
    let r = data(&shape, DType::F32, 3, 0.1);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F32, &chunks);
        let want = as_dtype(&r, DType::F32);
        check(
            &x.permute_axes(&[2, 0, 1]).unwrap(),
            &want
                .clone()
                .permuted_axes(IxDyn(&[2, 0, 1]))
                .as_standard_layout()
                .to_owned(),
            "permute",
        );
        check(&x.t(), &want.t().as_standard_layout().to_owned(), "T");
        let mut sw = want.clone();
        sw.swap_axes(0, 2);
        check(
            &x.swapaxes(0, -1).unwrap(),
            &sw.as_standard_layout().to_owned(),
            "swapaxes",
        );
        check(
            &x.moveaxis(0, -1).unwrap(),
            &want
                .clone()
                .permuted_axes(IxDyn(&[1, 2, 0]))
                .as_standard_layout()
                .to_owned(),
            "moveaxis",
        );
        let e = x.expand_dims(1).unwrap();
        assert_eq!(e.shape(), vec![3, 1, 4, 5]);
        check(&e, &want.clone().insert_axis(Axis(1)), "expand_dims");
        check(&e.squeeze(None).unwrap(), &want, "squeeze");
        assert!(x.squeeze(Some(&[0])).unwrap_err().to_string().contains("length 3"));
        let b = x.index_axis(0, 1).unwrap().broadcast_to(&[2, 3, 4, 5]).unwrap();
        let row = want.index_axis(Axis(0), 1).to_owned();
        check(
            &b,
            &row.broadcast(IxDyn(&[2, 3, 4, 5])).unwrap().to_owned(),
            "broadcast_to",
        );
        assert!(x.broadcast_to(&[3, 4, 6]).is_err());
    }
}

#[test]
fn reshape_merges_and_splits_axes() {
    let shape = [6, 4, 10];
    let r = data(&shape, DType::F64, 4, 0.0);
    let flat: Vec<f64> = r.iter().copied().collect();
    let targets: &[&[isize]] = &[
        &[24, 10],
        &[6, 40],
        &[-1],
        &[6, 4, 2, 5],
        &[3, 2, 40],
        &[2, 12, 10],
        &[1, 240, 1],
        &[12, 20],
    ];
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        for t in targets {
            let y = x.reshape(t).unwrap();
            let sh: Vec<usize> = y.shape();
            let want = ArrayD::from_shape_vec(IxDyn(&sh), flat.clone()).unwrap();
            check(&y, &want, &format!("reshape {t:?} chunks {chunks:?}"));
        }
    }
    let x = array(&r, DType::F64, &[2, 2, 2]);
    assert!(x.reshape(&[7, -1]).unwrap_err().to_string().contains("cannot reshape"));
    // An empty array takes any empty shape (a median over an axis of a (0, 5) array
    // with keepdims is reshaped to (0, 1)), keeping its dtype.
    let e = Array::zeros(&[0, 5], DType::I32, [1, 5]).unwrap();
    for t in [&[0isize, 1][..], &[5, 0], &[0], &[1, 0, 5]] {
        let y = e.reshape(t).unwrap();
        assert_eq!(y.shape(), t.iter().map(|&n| n as usize).collect::<Vec<_>>());
        assert_eq!(y.dtype(), DType::I32);
        assert_eq!(y.compute::<i32>().unwrap().len(), 0);
    }
    assert!(e.reshape(&[1, 1]).unwrap_err().to_string().contains("cannot reshape"));
}

#[test]
fn concatenate_and_stack_promote_dtypes() {
    let a = data(&[4, 5], DType::I16, 5, 0.0);
    let b = data(&[3, 5], DType::F32, 6, 0.0);
    for (ca, cb) in [([4, 5], [3, 5]), ([3, 2], [2, 3]), ([1, 1], [2, 5])] {
        let x = array(&a, DType::I16, &ca);
        let y = array(&b, DType::F32, &cb);
        let z = Array::concatenate(&[&x, &y, &x], 0).unwrap();
        assert_eq!(z.dtype(), DType::F32);
        let want = ndarray::concatenate(Axis(0), &[a.view(), as_dtype(&b, DType::F32).view(), a.view()]).unwrap();
        check(&z, &want, "concatenate");
        let s = Array::stack(&[&x, &x.astype(DType::I64)], 1).unwrap();
        assert_eq!(s.dtype(), DType::I64);
        check(&s, &ndarray::stack(Axis(1), &[a.view(), a.view()]).unwrap(), "stack");
    }
    let x = array(&a, DType::I16, &[2, 2]);
    let y = array(&b, DType::F32, &[2, 2]);
    assert!(
        Array::concatenate(&[&x, &y], 1)
            .unwrap_err()
            .to_string()
            .contains("differ")
    );
}

#[test]
fn one_time_step_reads_only_that_step() {
    // A (40, 6, 8) "time series" in blocks of 10 steps.
    let r = data(&[40, 6, 8], DType::F64, 7, 0.0);
    let (src, x) = counting(&r, &[10, 6, 8]);
    let y = x.index_axis(0, 23).unwrap();
    check(&y, &r.index_axis(Axis(0), 23).to_owned(), "x[23]");
    assert_eq!(src.elements.load(Ordering::Relaxed), 6 * 8, "reads exactly one step");
    // A strided selection loads whole blocks, but only the ones it touches.
    let (src, x) = counting(&r, &[10, 6, 8]);
    let y = x.slice(&[Index::range(Some(1), Some(15), 7)]).unwrap();
    check(&y, &pick(&r, 0, &[1, 8]), "x[1:15:7]");
    assert_eq!(src.reads.load(Ordering::Relaxed), 1, "one block holds steps 1 and 8");
    assert_eq!(src.elements.load(Ordering::Relaxed), 10 * 6 * 8);
}

fn sel() -> impl Strategy<Value = (Option<isize>, Option<isize>, isize)> {
    (
        prop::option::of(-12isize..12),
        prop::option::of(-12isize..12),
        prop_oneof![1isize..4, -4isize..-1],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_slices_match_the_reference(
        dims in prop::collection::vec((1usize..9, 1usize..5, sel()), 1..4),
        seed in any::<u64>(),
        on_source in any::<bool>(),
    ) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        let chunks: Vec<usize> = dims.iter().map(|d| d.1).collect();
        let r = data(&shape, DType::F64, seed, 0.1);
        // Either straight from a source (push-down for unit steps) or after a map.
        let x = if on_source { array(&r, DType::F64, &chunks) } else { &array(&r, DType::F64, &chunks) * 1.0 };
        let idx: Vec<Index> = dims.iter().map(|d| Index::range(d.2.0, d.2.1, d.2.2)).collect();
        let mut want = r.clone();
        for (a, d) in dims.iter().enumerate() {
            want = pick(&want, a, &py_slice(d.2.0, d.2.1, d.2.2, d.0));
        }
        check(&x.slice(&idx).unwrap(), &want, "random slice");
    }

    #[test]
    fn random_rechunks_then_slices_agree(
        dims in prop::collection::vec((1usize..9, 1usize..5, 1usize..5), 1..4),
        seed in any::<u64>(),
        start in 0isize..4,
    ) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        let r = data(&shape, DType::F64, seed, 0.0);
        let x = array(&r, DType::F64, &dims.iter().map(|d| d.1).collect::<Vec<_>>());
        let y = (&x + 0.0).rechunk(ChunkSpec::from(dims.iter().map(|d| d.2).collect::<Vec<_>>())).unwrap();
        let want = pick(&r, 0, &py_slice(Some(start), None, 1, shape[0]));
        check(&y.slice(&[Index::range(Some(start), None, 1)]).unwrap(), &want, "rechunk+slice");
    }
}

/// NumPy's `x[mask]` for a mask over the leading `k` axes, written out: the rows of the
/// flattened leading axes whose mask is true, in C order.
fn mask_ref(r: &ArrayD<f64>, mask: &ArrayD<bool>) -> ArrayD<f64> {
    let k = mask.ndim();
    let lead: usize = r.shape()[..k].iter().product();
    let rest: Vec<usize> = r.shape()[k..].to_vec();
    let row: usize = rest.iter().product();
    let flat: Vec<f64> = r.iter().copied().collect();
    let mut out = Vec::new();
    for (i, &m) in mask.iter().enumerate().take(lead) {
        if m {
            out.extend_from_slice(&flat[i * row..(i + 1) * row]);
        }
    }
    let mut shape = vec![out.len() / row.max(1)];
    shape.extend(rest);
    ArrayD::from_shape_vec(IxDyn(&shape), out).unwrap()
}

#[test]
fn boolean_masks_over_leading_axes_select_in_c_order() {
    let shape = [6, 7, 4];
    let r = data(&shape, DType::F64, 17, 0.0);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        for k in 1..=3 {
            // A lazy mask (x > 0.3 on the leading axes' first slice), and an all-false
            // and an all-true one.
            let lead: Vec<usize> = shape[..k].to_vec();
            let mut sel: Vec<Index> = vec![Index::full(); k];
            sel.extend((k..3).map(|_| Index::at(0)));
            let m = x.slice(&sel).unwrap().greater(0.3).unwrap();
            let mref = r
                .slice_each_axis(|ax| {
                    if ax.axis.index() < k {
                        ndarray::Slice::from(..)
                    } else {
                        ndarray::Slice::from(0..1)
                    }
                })
                .to_owned()
                .into_shape_with_order(IxDyn(&lead))
                .unwrap()
                .mapv(|v| v > 0.3);
            let what = format!("k {k} chunks {chunks:?}");
            check(
                &x.boolean_index(&m).unwrap(),
                &mask_ref(&r, &mref),
                &format!("x[x > 0.3] {what}"),
            );
            let none = m.logical_and(false).unwrap();
            check(
                &x.boolean_index(&none).unwrap(),
                &mask_ref(&r, &mref.mapv(|_| false)),
                &format!("all false {what}"),
            );
            let all = m.logical_or(true).unwrap();
            check(
                &x.boolean_index(&all).unwrap(),
                &mask_ref(&r, &mref.mapv(|_| true)),
                &format!("all true {what}"),
            );
        }
    }
    let x = array(&r, DType::F64, &[3, 3, 3]);
    let bad = x.slice(&[Index::at(0)]).unwrap().greater(0.0).unwrap();
    let e = x.boolean_index(&bad).unwrap_err().to_string();
    assert!(e.contains("leading axes") && e.contains("[7, 4]"), "{e}");
    let e = x.boolean_index(&x).unwrap_err().to_string();
    assert!(e.contains("must be bool"), "{e}");
}

#[test]
fn boolean_index_reads_each_block_at_most_twice() {
    let shape = [12, 10];
    let r = data(&shape, DType::F64, 23, 0.0);
    let (src, x) = counting(&r, &[4, 5]);
    let m = x.greater(0.5).unwrap();
    let sel = x.boolean_index(&m).unwrap();
    let counted = src.elements.load(Ordering::SeqCst);
    assert_eq!(counted, 120, "the counts read each element once");
    let want = mask_ref(&r, &r.mapv(|v| v > 0.5));
    check(&sel, &want, "x[x > 0.5]");
    // The selection reads each block for the values and at most once more for the
    // mask: never the whole mask per block.
    let after = src.elements.load(Ordering::SeqCst) - counted;
    assert!(after <= 240, "selection read {after} elements");
}

/// A concatenation of differently computed parts (files each packed its own way) hands
/// its input blocks on instead of copying them: no concatenate tasks are left, and a
/// reduction over it fuses each part's elementwise program into its chunk steps — all
/// of them where no chunk step reads blocks of two parts (a chunk step runs one
/// program). The answers equal ndarray's on every chunking.
#[test]
fn concatenated_parts_fuse_into_the_reduction_over_them() {
    use chunkwise::Runtime;
    use chunkwise::graph::lower::Target;
    let a = as_dtype(&data(&[12, 5, 6], DType::F32, 11, 0.1), DType::F32);
    let b = as_dtype(&data(&[8, 5, 6], DType::F32, 12, 0.1), DType::F32);
    let joined = ndarray::concatenate(
        Axis(0),
        &[
            a.mapv(|v| v * 2.0).view(),
            as_dtype(&b.mapv(|v| v + 1.0), DType::F32).view(),
        ],
    )
    .unwrap();
    // The first chunking gives each part 4 blocks along axis 0: chunk steps of 4 blocks
    // (the default split_every) each read one part.
    for (ca, cb) in [
        ([3, 5, 6], [2, 5, 6]),
        ([4, 5, 6], [4, 5, 6]),
        ([3, 5, 3], [5, 2, 3]),
        ([1, 1, 6], [8, 5, 6]),
    ] {
        let x = &array(&a, DType::F32, &ca) * 2.0;
        let y = &array(&b, DType::F32, &cb) + 1.0;
        let z = Array::concatenate(&[&x, &y], 0).unwrap();
        check(&z, &joined, "the joined values");
        for (axes, want) in [
            (vec![0], joined.map_axis(Axis(0), |l| nanmean(l.iter().copied()))),
            (vec![1, 2], {
                let flat = joined.to_shape((20, 30)).unwrap().to_owned();
                flat.map_axis(Axis(1), |l| nanmean(l.iter().copied())).into_dyn()
            }),
        ] {
            let m = z.nanmean(axes.clone()).unwrap();
            let got = m.compute::<f32>().unwrap();
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-6 * w.abs() || (g.is_nan() && w.is_nan()),
                    "{ca:?}/{cb:?} axes {axes:?}: {g} vs {w}"
                );
            }
            let g = Runtime::global().graph(&[Target::Array(&m)]);
            let kinds = g.summary().kinds;
            let aligned = ca == [3, 5, 6];
            assert!(
                kinds.iter().all(|(k, _)| *k != "block" && (*k != "map" || !aligned)),
                "{ca:?}/{cb:?} axes {axes:?}: {kinds:?}"
            );
        }
    }
}

fn nanmean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}
