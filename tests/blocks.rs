//! `map_blocks`, `blockwise` and `map_overlap` against whole-array references, over
//! several chunkings and every boundary mode; halos read only neighbouring blocks.

mod common;

use chunkwise::graph::lower::{Target, lower};
use chunkwise::{Array, Boundary, DType};
use common::*;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// 3×3 mean over the neighbours that exist (a truncated window at the edges).
fn mean3(x: ArrayViewD<'_, f64>) -> ArrayD<f64> {
    let (n, m) = (x.shape()[0] as isize, x.shape()[1] as isize);
    ArrayD::from_shape_fn(IxDyn(x.shape()), |ix| {
        let (i, j) = (ix[0] as isize, ix[1] as isize);
        let (mut s, mut c) = (0.0, 0.0);
        for di in -1..=1 {
            for dj in -1..=1 {
                let (a, b) = (i + di, j + dj);
                if a >= 0 && a < n && b >= 0 && b < m {
                    s += x[[a as usize, b as usize]];
                    c += 1.0;
                }
            }
        }
        s / c
    })
}

/// NumPy's `np.pad` for one mode, written out per element.
fn pad(x: &ArrayD<f64>, d: &[usize], mode: Boundary) -> ArrayD<f64> {
    let sh: Vec<usize> = x.shape().iter().zip(d).map(|(&n, &d)| n + 2 * d).collect();
    ArrayD::from_shape_fn(IxDyn(&sh), |ix| {
        let mut src = Vec::new();
        for a in 0..sh.len() {
            let n = x.shape()[a] as isize;
            let p = ix[a] as isize - d[a] as isize;
            let q = if (0..n).contains(&p) {
                p
            } else {
                match mode {
                    Boundary::Constant(c) => return c,
                    Boundary::Nearest => p.clamp(0, n - 1),
                    Boundary::Periodic => ((p % n) + n) % n,
                    Boundary::Reflect => {
                        // symmetric: -1 → 0, -2 → 1, n → n-1 (repeating for wide pads).
                        let mut q = p;
                        while !(0..n).contains(&q) {
                            q = if q < 0 { -q - 1 } else { 2 * n - 1 - q };
                        }
                        q
                    }
                    Boundary::None => unreachable!(),
                }
            };
            src.push(q as usize);
        }
        x[IxDyn(&src)]
    })
}

fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn map_overlap_matches_padded_reference_for_every_boundary() {
    let shape = [11, 13];
    let r = data(&shape, DType::F64, 9, 0.0);
    let modes = [
        Boundary::None,
        Boundary::Periodic,
        Boundary::Reflect,
        Boundary::Nearest,
        Boundary::Constant(2.5),
    ];
    for chunks in [vec![11, 13], vec![4, 5], vec![3, 3], vec![1, 2], vec![6, 13]] {
        let x = array(&r, DType::F64, &chunks);
        for mode in modes {
            for depth in [[1usize, 1], [2, 1], [3, 2]] {
                let want = if mode == Boundary::None {
                    // Truncated windows at the edges; the depth covers the window.
                    mean3(r.view())
                } else {
                    let p = pad(&r, &depth, mode);
                    let m = mean3(p.view());
                    m.slice_each_axis(|ax| {
                        let d = depth[ax.axis.index()];
                        ndarray::Slice::from(d..d + shape[ax.axis.index()])
                    })
                    .to_owned()
                };
                let y = x.map_overlap(&depth, mode, mean3).unwrap();
                let got = y.compute::<f64>().unwrap();
                close(&got, &want, &format!("{mode:?} depth {depth:?} chunks {chunks:?}"));
            }
        }
    }
}

#[test]
fn map_overlap_reads_only_neighbours_and_adds_no_tasks() {
    let r = data(&[12, 12], DType::F64, 3, 0.0);
    let x = array(&r, DType::F64, &[4, 4]);
    let y = x
        .map_overlap(&[1, 0], Boundary::Nearest, |v: ArrayViewD<'_, f64>| v.to_owned())
        .unwrap();
    let g = lower(&[Target::Array(&y)]);
    // 9 loads + 9 halo tasks, nothing in between.
    assert_eq!(g.len(), 18, "{:?}", g.kind_counts());
    // The middle block (1, 1) reads blocks (0,1), (1,1), (2,1) only (no halo on axis 1).
    let mid = g.outputs[0].tasks()[4];
    assert_eq!(g.deps(mid).len(), 3);
    close(&y.compute::<f64>().unwrap(), &r, "identity");
}

#[test]
fn map_overlap_wide_halos_span_several_blocks() {
    // Depth 3 over blocks of 2 (and a ragged last block of 1) reaches two blocks away.
    let r = data(&[9, 5], DType::F64, 4, 0.0);
    let x = array(&r, DType::F64, &[2, 5]);
    let sum_window = |v: ArrayViewD<'_, f64>| {
        let n = v.shape()[0];
        ArrayD::from_shape_fn(IxDyn(v.shape()), |ix| {
            let i = ix[0];
            if i < 3 || i + 3 >= n {
                0.0
            } else {
                (i - 3..=i + 3).map(|k| v[[k, ix[1]]]).sum()
            }
        })
    };
    let got = x
        .map_overlap(&[3, 0], Boundary::Periodic, sum_window)
        .unwrap()
        .compute::<f64>()
        .unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[9, 5]), |ix| {
        (-3isize..=3)
            .map(|d| r[[((ix[0] as isize + d).rem_euclid(9)) as usize, ix[1]]])
            .sum()
    });
    close(&got, &want, "periodic depth 3");
}

#[test]
fn map_blocks_and_blockwise() {
    let shape = [7, 6];
    let r = data(&shape, DType::F32, 5, 0.0);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F32, &chunks);
        let y = x
            .map_blocks(|v: ArrayViewD<'_, f32>| v.mapv(|e| f64::from(e) * 2.0 + 1.0))
            .unwrap();
        assert_eq!(y.dtype(), DType::F64);
        let want = as_dtype(&r, DType::F32).mapv(|e| e * 2.0 + 1.0);
        close(&y.compute::<f64>().unwrap(), &want, "map_blocks");
        // Block positions reach the closure.
        let pos = x
            .map_blocks_with(x.chunks().to_vec(), |v: ArrayViewD<'_, f32>, info| {
                ArrayD::from_shape_fn(IxDyn(v.shape()), |ix| {
                    (info.offset[0] + ix[0]) as i64 * 100 + (info.offset[1] + ix[1]) as i64
                })
            })
            .unwrap();
        let want = ArrayD::from_shape_fn(IxDyn(&shape), |ix| (ix[0] * 100 + ix[1]) as f64);
        close(&pos.astype(DType::F64).compute::<f64>().unwrap(), &want, "block info");
        // Per-block sums declared as (1, 1) chunks.
        let nb = x.grid().nblocks();
        let sums = x
            .map_blocks_with(vec![vec![1; nb[0]], vec![1; nb[1]]], |v: ArrayViewD<'_, f32>, _| {
                ArrayD::from_elem(IxDyn(&[1, 1]), v.iter().map(|&e| f64::from(e)).sum::<f64>())
            })
            .unwrap();
        let total: f64 = sums.compute::<f64>().unwrap().sum();
        let want_total: f64 = as_dtype(&r, DType::F32).sum();
        assert!((total - want_total).abs() < 1e-6 * want_total.abs().max(1.0));
        // Two arrays with different chunks are aligned first.
        let z = array(&r, DType::F32, &[3, 2]);
        let w = Array::blockwise(&[&x, &z], |v: &[ArrayViewD<'_, f32>]| &v[0] - &v[1] * 2.0).unwrap();
        let want = as_dtype(&r, DType::F32).mapv(|e| -e);
        close(&w.astype(DType::F64).compute::<f64>().unwrap(), &want, "blockwise");
    }
}

#[test]
fn map_blocks_errors_name_the_problem() {
    let x = Array::zeros(&[4, 4], DType::F32, [2, 2]).unwrap();
    let e = x
        .map_blocks(|v: ArrayViewD<'_, f64>| v.to_owned())
        .unwrap_err()
        .to_string();
    assert!(e.contains("float64") && e.contains("float32"), "{e}");
    let bad = x
        .map_blocks(|_: ArrayViewD<'_, f32>| ArrayD::<f32>::zeros(IxDyn(&[3])))
        .unwrap();
    let e = bad.compute::<f32>().unwrap_err().to_string();
    assert!(e.contains("returned shape [3]") && e.contains("declared [2, 2]"), "{e}");
    let e = x
        .map_overlap(&[1], Boundary::None, |v: ArrayViewD<'_, f32>| v.to_owned())
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 depths"), "{e}");
}

#[test]
fn map_blocks_dropping_and_adding_axes() {
    let shape = [5, 7, 4];
    let r = data(&shape, DType::F64, 9, 0.0);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        let what = format!("chunks {chunks:?}");
        // Drop axis 1: the function sums it away (it sees the axis whole).
        let s = x
            .map_blocks_axes(&[1], &[], |v: ArrayViewD<'_, f64>, _| {
                assert_eq!(v.shape()[1], 7, "the dropped axis arrives whole");
                v.sum_axis(ndarray::Axis(1))
            })
            .unwrap();
        assert_eq!(s.shape(), vec![5, 4], "{what}");
        assert_eq!(s.chunks()[0], x.chunks()[0], "{what}: kept axes keep their chunks");
        close(
            &s.compute::<f64>().unwrap(),
            &r.sum_axis(ndarray::Axis(1)),
            &format!("drop {what}"),
        );
        // New axis at position 1 of length 2: [x, x²].
        let p = x
            .map_blocks_axes(&[], &[(1, 2)], |v: ArrayViewD<'_, f64>, _| {
                let sq = v.mapv(|e| e * e);
                ndarray::stack(ndarray::Axis(1), &[v.view(), sq.view()]).unwrap()
            })
            .unwrap();
        assert_eq!(p.shape(), vec![5, 2, 7, 4], "{what}");
        let want = ArrayD::from_shape_fn(IxDyn(&[5, 2, 7, 4]), |ix| {
            let v = r[[ix[0], ix[2], ix[3]]];
            if ix[1] == 0 { v } else { v * v }
        });
        close(&p.compute::<f64>().unwrap(), &want, &format!("new axis {what}"));
        // Both at once, with the block's position: per (axis-0 lane) min and max of
        // axes 1 and 2 of each block, new trailing axis; block info is the input's.
        let q = x
            .map_blocks_axes(&[1, 2], &[(-1, 3)], |v: ArrayViewD<'_, f64>, info| {
                ArrayD::from_shape_fn(IxDyn(&[v.shape()[0], 3]), |ix| {
                    let lane = v.index_axis(ndarray::Axis(0), ix[0]);
                    match ix[1] {
                        0 => lane.fold(f64::INFINITY, |a, &e| a.min(e)),
                        1 => lane.fold(f64::NEG_INFINITY, |a, &e| a.max(e)),
                        _ => (info.offset[0] + ix[0]) as f64,
                    }
                })
            })
            .unwrap();
        assert_eq!(q.shape(), vec![5, 3], "{what}");
        let want = ArrayD::from_shape_fn(IxDyn(&[5, 3]), |ix| {
            let lane = r.index_axis(ndarray::Axis(0), ix[0]);
            match ix[1] {
                0 => lane.fold(f64::INFINITY, |a, &e| a.min(e)),
                1 => lane.fold(f64::NEG_INFINITY, |a, &e| a.max(e)),
                _ => ix[0] as f64,
            }
        });
        close(&q.compute::<f64>().unwrap(), &want, &format!("drop and add {what}"));
    }
    let x = Array::zeros(&[4, 4], DType::F32, [2, 2]).unwrap();
    let same = |v: ArrayViewD<'_, f32>, _: &chunkwise::BlockInfo| v.to_owned();
    let e = x.map_blocks_axes(&[0, 0], &[], same).unwrap_err().to_string();
    assert!(e.contains("repeats an axis"), "{e}");
    let e = x.map_blocks_axes(&[2], &[], same).unwrap_err().to_string();
    assert!(e.contains("axis 2"), "{e}");
    let e = x.map_blocks_axes(&[], &[(5, 2)], same).unwrap_err().to_string();
    assert!(e.contains("axis 5"), "{e}");
    // A function that keeps the dropped axis returns the wrong shape: an error.
    let bad = x.map_blocks_axes(&[0], &[], same).unwrap();
    let e = bad.compute::<f32>().unwrap_err().to_string();
    assert!(e.contains("returned shape [4, 2]") && e.contains("declared [2]"), "{e}");
}
