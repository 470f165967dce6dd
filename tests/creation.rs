//! Creation routines and chunk grids: constants, arange/linspace like NumPy, random
//! arrays identical whatever the chunking, rechunking and auto chunks.

mod common;

use chunkwise::{Array, ChunkSpec, DType, Runtime};
use common::*;

#[test]
fn constants_and_ranges() {
    assert_eq!(
        Array::arange(0, 10, 3, [2])
            .unwrap()
            .compute::<i64>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[0, 3, 6, 9]
    );
    assert_eq!(
        Array::arange(5, 0, -2, [1])
            .unwrap()
            .compute::<i64>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[5, 3, 1]
    );
    assert_eq!(
        Array::arange(0.0, 1.0, 0.25, [3])
            .unwrap()
            .compute::<f64>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(Array::arange(0, 0, 1, [3]).unwrap().shape(), vec![0]);
    assert!(Array::arange(0, 5, 0, [3]).is_err());
    let l = Array::linspace(0.0, 1.0, 11, [4]).unwrap().compute::<f64>().unwrap();
    assert_eq!(l.len(), 11);
    assert_eq!(l[10], 1.0);
    assert!((l[3] - 0.3).abs() < 1e-15);
    let f = Array::full(&[2, 3], 7, DType::U8, [1, 2]).unwrap();
    assert_eq!(
        f.compute::<u8>().unwrap().iter().copied().collect::<Vec<_>>(),
        vec![7; 6]
    );
    let z = f.zeros_like();
    assert_eq!(z.chunks(), f.chunks());
    assert_eq!(z.sum(None).unwrap().compute_scalar::<u64>().unwrap(), 0);
}

#[test]
fn random_values_do_not_depend_on_chunks_or_threads() {
    let whole = Array::random_normal(&[37, 23], 1.0, 2.0, 77, [37, 23])
        .unwrap()
        .compute::<f64>()
        .unwrap();
    for chunks in chunkings(&[37, 23]) {
        let a = Array::random_normal(&[37, 23], 1.0, 2.0, 77, ChunkSpec::from(chunks.clone())).unwrap();
        assert_eq!(a.compute::<f64>().unwrap(), whole, "chunks {chunks:?}");
    }
    let u = Array::random_uniform(&[200_000], 2.0, 4.0, 3, [30_000]).unwrap();
    let m = u.mean(None).unwrap().compute_scalar::<f64>().unwrap();
    assert!((m - 3.0).abs() < 0.01, "{m}");
    let (lo, hi) = (
        u.min(None).unwrap().compute_scalar::<f64>().unwrap(),
        u.max(None).unwrap().compute_scalar::<f64>().unwrap(),
    );
    assert!(lo >= 2.0 && hi < 4.0);
    let n = Array::random_normal(&[200_000], 0.0, 3.0, 4, [50_000]).unwrap();
    let s = n.std(None, 0.0).unwrap().compute_scalar::<f64>().unwrap();
    assert!((s - 3.0).abs() < 0.03, "{s}");
    assert_ne!(
        Array::random_uniform(&[4], 0.0, 1.0, 1, [4])
            .unwrap()
            .compute::<f64>()
            .unwrap(),
        Array::random_uniform(&[4], 0.0, 1.0, 2, [4])
            .unwrap()
            .compute::<f64>()
            .unwrap()
    );
}

#[test]
fn rechunk_preserves_values() {
    let x = data(&[17, 9, 4], DType::F64, 31, 0.1);
    let a = array(&x, DType::F64, &[5, 9, 1]);
    let m = (&a + 0.0).rechunk([3, 2, 4]).unwrap();
    assert_eq!(m.chunks()[0], vec![3, 3, 3, 3, 3, 2]);
    let got = m.compute_chunk().unwrap();
    assert_close(&got, &x, 0.0, "rechunk");
    // Rechunk of a source re-reads it on the new grid: no rechunk tasks.
    let r = a.rechunk([17, 1, 2]).unwrap();
    let g = Runtime::global().graph(&[chunkwise::graph::lower::Target::Array(&r)]);
    assert_eq!(g.kind_counts(), vec![("load", 18)]);
    assert_close(&r.compute_chunk().unwrap(), &x, 0.0, "re-read");
    assert!(a.rechunk([1, 2]).is_err());
}

#[test]
fn auto_chunks_meet_the_byte_target() {
    let a = Array::zeros(&[365, 721, 1440], DType::F32, ChunkSpec::auto()).unwrap();
    let max_block: usize = a.chunks().iter().map(|c| c[0]).product::<usize>() * 4;
    assert!(max_block <= 128 << 20 && max_block > 32 << 20, "{:?}", a.chunks());
    let b = Array::zeros(&[1000, 1000], DType::F64, ChunkSpec::auto_bytes(1 << 20)).unwrap();
    assert!(b.chunks()[0][0] * b.chunks()[1][0] * 8 <= 1 << 20);
}

#[test]
fn from_ndarray_any_layout() {
    let a = ndarray::Array::from_shape_fn((4, 6), |(i, j)| (i * 10 + j) as i32);
    let t = a.t().to_owned();
    let x = Array::from_ndarray(t.clone(), [3, 2]).unwrap();
    assert_eq!(x.compute::<i32>().unwrap(), t.into_dyn());
    let v = Array::from_ndarray(ndarray::arr0(5.0f32), Vec::<usize>::new()).unwrap();
    assert_eq!(v.compute_scalar::<f32>().unwrap(), 5.0);
}
