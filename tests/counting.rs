//! histogram, bincount and unique against references written from NumPy's definitions,
//! over several chunkings.

mod common;

use chunkwise::{Array, DType};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn};

/// `np.histogram`'s counts, element by element from its documented edges.
fn hist_ref(v: impl Iterator<Item = f64>, bins: usize, lo: f64, hi: f64) -> Vec<i64> {
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| lo + step * i as f64).collect();
    edges[bins] = hi;
    let mut c = vec![0i64; bins];
    for x in v {
        if x.is_nan() || x < lo || x > hi {
            continue;
        }
        // The bin whose half-open interval holds x; the last bin is closed.
        let i = (0..bins)
            .find(|&i| x >= edges[i] && (x < edges[i + 1] || i == bins - 1))
            .unwrap();
        c[i] += 1;
    }
    c
}

#[test]
fn histograms_over_all_and_along_an_axis() {
    let shape = [9, 7];
    let r = data(&shape, DType::F64, 41, 0.1);
    for chunks in chunkings(&shape) {
        let x = array(&r, DType::F64, &chunks);
        for (bins, range) in [(10, (-6.0, 14.0)), (7, (0.0, 1.0)), (1, (-100.0, 100.0))] {
            let h = x.histogram(bins, Some(range), None).unwrap().compute::<i64>().unwrap();
            assert_eq!(
                h.iter().copied().collect::<Vec<_>>(),
                hist_ref(r.iter().copied(), bins, range.0, range.1),
                "{chunks:?} {bins}"
            );
            let ha = x
                .histogram(bins, Some(range), Some(0))
                .unwrap()
                .compute::<i64>()
                .unwrap();
            assert_eq!(ha.shape(), &[bins, 7]);
            for j in 0..7 {
                let col: Vec<i64> = ha.index_axis(Axis(1), j).iter().copied().collect();
                assert_eq!(
                    col,
                    hist_ref(r.index_axis(Axis(1), j).iter().copied(), bins, range.0, range.1)
                );
            }
        }
        // Default range: the data's min and max; edges as np.linspace.
        let h = x.histogram(5, None, None).unwrap().compute::<i64>().unwrap();
        let finite: Vec<f64> = r.iter().copied().filter(|v| !v.is_nan()).collect();
        let (lo, hi) = finite
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert_eq!(
            h.iter().copied().collect::<Vec<_>>(),
            hist_ref(r.iter().copied(), 5, lo, hi)
        );
        assert_eq!(h.sum() as usize, finite.len(), "every finite value counted once");
        assert_eq!(x.histogram_edges(5, None).unwrap().len(), 6);
    }
    let x = array(&r, DType::F64, &[3, 3]);
    assert!(x.histogram(0, Some((0.0, 1.0)), None).is_err());
    assert!(
        x.histogram(3, Some((1.0, 0.0)), None)
            .unwrap_err()
            .to_string()
            .contains("range")
    );
}

#[test]
fn bincount_and_unique() {
    let r = data(&[40], DType::U8, 42, 0.0);
    for chunks in [[40], [7], [1]] {
        let x = array(&r, DType::U8, &chunks);
        let b = x.bincount(60).unwrap().compute::<i64>().unwrap();
        assert_eq!(b.len(), 60);
        for (v, &n) in b.iter().enumerate() {
            assert_eq!(n as usize, r.iter().filter(|&&e| e as usize == v).count());
        }
        let u = x.unique().unwrap().compute::<u8>().unwrap();
        let mut want: Vec<u8> = r.iter().map(|&v| v as u8).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(u.iter().copied().collect::<Vec<_>>(), want);
    }
    let f = Array::from_ndarray(
        ArrayD::from_shape_vec(IxDyn(&[6]), vec![2.0, f64::NAN, -1.0, 2.0, f64::NAN, 0.5]).unwrap(),
        [4],
    )
    .unwrap();
    let u = f.unique().unwrap().compute::<f64>().unwrap();
    assert_eq!(u.len(), 4);
    assert_eq!(&u.as_slice().unwrap()[..3], &[-1.0, 0.5, 2.0]);
    assert!(u[3].is_nan());
    let neg = Array::from_ndarray(ndarray::arr1(&[1i32, -2, 3]).into_dyn(), [2]).unwrap();
    assert!(neg.bincount(0).unwrap_err().to_string().contains("negative"));
    assert!(f.bincount(0).unwrap_err().to_string().contains("integer"));
}
