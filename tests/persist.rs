//! `persist()`: blocks computed once and reused; in memory when they fit half the
//! budget, spilled to disk (and cleaned up) when not.

mod common;

use chunkwise::{Config, DType, Runtime};
use common::*;
use std::sync::atomic::Ordering;

#[test]
fn persisted_blocks_are_reused_not_recomputed() {
    let r = data(&[20, 12], DType::F64, 31, 0.0);
    let (src, x) = counting(&r, &[6, 5]);
    let y = (&x * 2.0 + 1.0).persist().unwrap();
    assert_eq!(y.chunks(), x.chunks());
    let after_persist = src.reads.load(Ordering::Relaxed);
    assert_eq!(after_persist, x.num_blocks());
    let s = y.sum(None).unwrap().compute_scalar::<f64>().unwrap();
    let m = y.max(None).unwrap().compute_scalar::<f64>().unwrap();
    assert_eq!(src.reads.load(Ordering::Relaxed), after_persist, "no further reads");
    let want = r.mapv(|v| v * 2.0 + 1.0);
    assert!((s - want.sum()).abs() < 1e-9 * want.sum().abs());
    assert_eq!(m, want.iter().copied().fold(f64::MIN, f64::max));
}

#[test]
fn persist_spills_to_disk_beyond_the_budget() {
    let r = data(&[64, 40], DType::F32, 32, 0.1);
    let x = array(&r, DType::F32, &[10, 16]);
    let y = &x.sqrt() + 1.0;
    // 10 KB of data, a 12 KB budget: more than half, so it spills.
    let rt = Runtime::new(Config {
        memory_limit: Some(12_000),
        ..Config::default()
    })
    .unwrap();
    let p = rt.persist(&y).unwrap();
    let name = p.source_name().unwrap();
    assert!(name.starts_with("spill "), "{name}");
    let dir = std::path::PathBuf::from(name.trim_start_matches("spill "));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), p.num_blocks());
    let want = y.astype(DType::F64).compute::<f64>().unwrap();
    let got = rt.compute_many(&[&p]).unwrap().pop().unwrap();
    assert_close(&got, &want, 0.0, "spilled values");
    // A reduction of the spilled array reads the files back.
    let s = rt.compute_many(&[&p.nansum(None).unwrap()]).unwrap().pop().unwrap();
    let w = rt.compute_many(&[&y.nansum(None).unwrap()]).unwrap().pop().unwrap();
    assert_eq!(s.data().get_f64(0), w.data().get_f64(0));
    drop(p);
    assert!(!dir.exists(), "the spill directory is removed with the array");
}
