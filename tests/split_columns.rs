//! The `split-columns` rewrite: reductions of in-memory blocks run as column spans
//! that replay the reduction tree. Each case is checked against the unchunked reference,
//! bit for bit against the unsplit tree (the graph as lowered), across thread counts,
//! and for whether the split happened where it should (and only there).

mod common;

use chunkwise::device::DeviceKind;
use chunkwise::graph::lower::Target;
use chunkwise::{Array, Chunk, Config, DType, ReduceOp, ReduceOptions, Runtime, SchedulerKind};
use common::*;

fn runtime(threads: usize, optimize: bool, device: DeviceKind) -> Runtime {
    Runtime::new(Config {
        threads,
        scheduler: if threads == 1 {
            SchedulerKind::Sync
        } else {
            SchedulerKind::Threaded
        },
        optimize,
        device,
        ..Config::default()
    })
    .unwrap()
}

fn bits(c: &Chunk) -> Vec<u64> {
    (0..c.data().len()).map(|i| c.data().get_f64(i).to_bits()).collect()
}

/// The bits of two results agree (the first difference named, not the whole arrays).
fn same_bits(a: &Chunk, b: &Chunk, what: &str) {
    let (x, y) = (bits(a), bits(b));
    assert_eq!(x.len(), y.len(), "{what}: length");
    if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
        panic!(
            "{what}: element {i}: {} vs {}",
            a.data().get_f64(i),
            b.data().get_f64(i)
        );
    }
}

fn spans(rt: &Runtime, r: &Array) -> usize {
    let g = rt.graph(&[Target::Array(r)]);
    g.kind_counts()
        .iter()
        .find(|(k, _)| *k == "reduce-span")
        .map_or(0, |(_, n)| *n)
}

/// (shape, reduced axes, chunkings, kept columns per output block for each chunking).
type Case = (&'static [usize], &'static [usize], &'static [(&'static [usize], usize)]);

const CASES: &[Case] = &[
    // A (time, lat, lon) field over time: one-row blocks (a deep tree, not split: see
    // `check`), two-row blocks (a deep tree), ragged blocks,
    // one block (a tree of one chunk step), the kept plane in two blocks of 2250
    // columns, and a plane narrower than a tile (not split).
    (
        &[24, 3, 1500],
        &[0],
        &[
            (&[1, 3, 1500], 4500),
            (&[2, 3, 1500], 4500),
            (&[5, 3, 1500], 4500),
            (&[24, 3, 1500], 4500),
            (&[4, 3, 750], 2250),
            (&[7, 1, 1500], 1500),
        ],
    ),
    // Two leading axes reduced together (time, level).
    (
        &[6, 4, 3, 1400],
        &[0, 1],
        &[(&[2, 2, 3, 1400], 4200), (&[1, 3, 3, 1400], 4200)],
    ),
    // 2-D, and a reduction of the trailing axis (rows are not the kept extent: not split).
    (&[5, 5000], &[0], &[(&[2, 5000], 5000), (&[5, 2500], 2500)]),
    (&[5, 5000], &[1], &[(&[2, 5000], 1)]),
];

fn check(dtype: DType, nan_frac: f64) {
    let tree = runtime(2, false, DeviceKind::Cpu);
    let split = runtime(2, true, DeviceKind::Cpu);
    let one = runtime(1, true, DeviceKind::Cpu);
    let mut split_cases = 0;
    for (ci, (shape, axes, chunkings)) in CASES.iter().enumerate() {
        let x = as_dtype(&data(shape, dtype, 40 + ci as u64, nan_frac), dtype);
        for op in ReduceOp::ALL {
            if op.is_arg() && axes.len() != 1 {
                continue;
            }
            let want = reference_reduce(&x, op, axes, 1.0, dtype);
            for &(chunks, cols) in chunkings.iter() {
                let arr = array_in_blocks(&x, dtype, chunks);
                for (se, keepdims) in [(2, false), (4, true)] {
                    let what = format!(
                        "{} {dtype} shape {shape:?} chunks {chunks:?} axes {axes:?} split_every {se} keepdims {keepdims}",
                        op.name()
                    );
                    let opts = ReduceOptions {
                        keepdims,
                        ddof: 1.0,
                        split_every: se,
                        dtype: None,
                    };
                    let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                    let r = arr.reduce(op, ax, &opts).unwrap();
                    // Blocks of one reduced row are folded one by one in the tree (a
                    // different order of adds), so a tree with any stays whole.
                    let rows = axes
                        .iter()
                        .map(|&a| match shape[a] % chunks[a] {
                            0 => chunks[a],
                            rem => rem.min(chunks[a]),
                        })
                        .product::<usize>();
                    let stacks = !op.is_arg() && dtype != DType::Bool && cols > 2048 && rows > 1;
                    assert_eq!(spans(&split, &r) > 0, stacks, "{what}: split or not");
                    assert_eq!(spans(&tree, &r), 0, "{what}: unoptimised graph");
                    split_cases += usize::from(stacks);
                    let got = split.compute_many(&[&r]);
                    let base = tree.compute_many(&[&r]);
                    let single = one.compute_many(&[&r]);
                    match (got, &want) {
                        (Err(e), Err(_)) => {
                            assert!(e.to_string().contains("All-NaN"), "{what}: {e}");
                            assert!(base.is_err() && single.is_err(), "{what}");
                        }
                        (Err(e), Ok(_)) => panic!("{what}: {e}"),
                        (Ok(_), Err(w)) => panic!("{what}: expected an error ({w})"),
                        (Ok(mut g), Ok(w)) => {
                            let g = g.pop().unwrap();
                            let w = with_keepdims(w, shape, axes, keepdims);
                            let rtol = if r.dtype() == DType::F32 { 2e-5 } else { 1e-9 };
                            assert_close(&g, &w, rtol, &what);
                            assert_eq!(g.dtype(), r.dtype(), "{what}: dtype");
                            same_bits(&g, &base.unwrap()[0], &format!("{what}: bits of the tree"));
                            same_bits(&g, &single.unwrap()[0], &format!("{what}: bits on one thread"));
                        }
                    }
                }
            }
        }
    }
    if dtype != DType::Bool {
        assert!(split_cases > 100, "{dtype}: only {split_cases} cases split");
    }
}

#[test]
fn float_reductions_split_by_columns_match_the_tree() {
    check(DType::F32, 0.2);
    check(DType::F64, 0.05);
}

#[test]
fn integer_and_bool_reductions_split_by_columns_match_the_tree() {
    check(DType::I32, 0.0);
    check(DType::U8, 0.0);
    check(DType::Bool, 0.0);
}

#[test]
fn all_nan_columns_and_stored_blocks() {
    // Columns that are NaN in every row: nanmean and nanmax give NaN there (NumPy's
    // warning case), as unsplit.
    let shape = [9usize, 4200];
    let mut x = data(&shape, DType::F64, 7, 0.1);
    for r in 0..9 {
        x[[r, 3000]] = f64::NAN;
        x[[r, 17]] = f64::NAN;
    }
    let arr = array_in_blocks(&x, DType::F64, &[3, 4200]);
    let rt = runtime(2, true, DeviceKind::Cpu);
    let m = arr.nanmean(0).unwrap();
    assert!(spans(&rt, &m) > 0);
    let got = rt.compute::<f64>(&m).unwrap();
    assert!(got[[3000]].is_nan() && got[[17]].is_nan() && !got[[16]].is_nan());
    let mx = arr.nanmax(0).unwrap();
    assert!(spans(&rt, &mx) > 0);
    let got_max = rt.compute::<f64>(&mx).unwrap();
    assert!(got_max[[3000]].is_nan() && got_max[[17]].is_nan() && !got_max[[16]].is_nan());

    // Blocks sliced out of one stored chunk are copies, not shared: the tree stays.
    let sliced = array(&x, DType::F64, &[3, 4200]);
    assert_eq!(spans(&rt, &sliced.nanmean(0).unwrap()), 0);
    // Nor with host devices, whose placement takes the tree's steps.
    let hosts = runtime(2, true, DeviceKind::Hosts(2));
    assert_eq!(spans(&hosts, &m), 0);
    let h = hosts.compute::<f64>(&m).unwrap();
    assert_eq!(
        h.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn shared_loads_feed_split_reductions_computed_together() {
    // Two reductions of one in-memory array computed together: its loads have two
    // consumers, are not inlined, and both reductions still split (reading them shared).
    let shape = [12usize, 2, 3000];
    let x = data(&shape, DType::F32, 3, 0.1);
    let arr = array_in_blocks(&x, DType::F32, &[3, 2, 3000]);
    let (a, b) = (arr.nanmean(0).unwrap(), arr.nanstd(0, 0.0).unwrap());
    let rt = runtime(2, true, DeviceKind::Cpu);
    let g = rt.graph(&[Target::Array(&a), Target::Array(&b)]);
    let kinds = g.kind_counts();
    assert!(kinds.iter().any(|(k, n)| *k == "reduce-join" && *n == 2), "{kinds:?}");
    assert!(
        !kinds.iter().any(|(k, _)| *k == "load" || *k == "reduce-partial"),
        "{kinds:?}"
    );
    let got = rt.compute_many(&[&a, &b]).unwrap();
    let base = runtime(2, false, DeviceKind::Cpu).compute_many(&[&a, &b]).unwrap();
    same_bits(&got[0], &base[0], "nanmean");
    same_bits(&got[1], &base[1], "nanstd");
}

#[test]
fn a_split_reduction_holds_less_than_the_tree() {
    // The engine's own accounting (not wall-clock): the tree holds partials of the whole
    // output; the spans hold their columns only.
    let shape = [40usize, 4, 2100];
    let x = data(&shape, DType::F32, 9, 0.1);
    let arr = array_in_blocks(&x, DType::F32, &[2, 4, 2100]);
    let m = arr.nanmean(0).unwrap();
    let peak = |optimize_split: bool| {
        let rules: Vec<Box<dyn chunkwise::optimize::Rule>> = if optimize_split {
            chunkwise::optimize::default_rules()
        } else {
            vec![
                Box::new(chunkwise::optimize::Cull),
                Box::new(chunkwise::optimize::Fuse),
                Box::new(chunkwise::optimize::InlineLoads),
            ]
        };
        let g = chunkwise::optimize::optimize(chunkwise::graph::lower::lower(&[Target::Array(&m)]), &rules).0;
        g.summary().sequential_peak
    };
    let (split, tree) = (peak(true), peak(false));
    assert!(split * 4 < tree, "split {split} B, tree {tree} B");
}
