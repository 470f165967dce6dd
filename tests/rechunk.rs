//! Rechunking: values against the reference for random grids (property test), and the
//! staged plan for grids that do not nest (time-chunked → space-chunked) reading each
//! stored chunk once per band instead of once per output block, in bounded memory.

mod common;

use chunkwise::io::ChunkSource;
use chunkwise::io::memory::MemorySource;
use chunkwise::{Array, Chunk, ChunkSpec, Config, DType, Runtime};
use common::*;
use proptest::prelude::*;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A store stand-in with stored chunks: every read decodes (counts) each stored chunk
/// it touches, as a Zarr or HDF5 reader must.
#[derive(Debug)]
struct Stored {
    inner: MemorySource,
    chunks: Vec<usize>,
    decoded: AtomicUsize,
    /// Reads that start at this index of axis 0 take this long (a slow disk, or a
    /// thread the OS took away).
    slow: Option<(usize, Duration)>,
}

impl ChunkSource for Stored {
    fn name(&self) -> String {
        "stored".into()
    }
    fn shape(&self) -> &[usize] {
        self.inner.shape()
    }
    fn dtype(&self) -> DType {
        self.inner.dtype()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.chunks.clone())
    }
    fn read(&self, region: &[Range<usize>]) -> chunkwise::Result<Chunk> {
        let n: usize = region
            .iter()
            .zip(&self.chunks)
            .map(|(r, &c)| {
                if r.is_empty() {
                    0
                } else {
                    (r.end - 1) / c - r.start / c + 1
                }
            })
            .product();
        self.decoded.fetch_add(n, Ordering::Relaxed);
        if let Some((at, d)) = self.slow
            && region[0].start == at
        {
            std::thread::sleep(d);
        }
        self.inner.read(region)
    }
}

fn stored(r: &ndarray::ArrayD<f64>, chunks: &[usize]) -> (Arc<Stored>, Array) {
    stored_slow(r, chunks, None)
}

fn stored_slow(r: &ndarray::ArrayD<f64>, chunks: &[usize], slow: Option<(usize, Duration)>) -> (Arc<Stored>, Array) {
    let c = Chunk::new(r.shape().to_vec(), chunkwise::Buffer::F64(r.iter().copied().collect())).unwrap();
    let s = Arc::new(Stored {
        inner: MemorySource::new(c),
        chunks: chunks.to_vec(),
        decoded: AtomicUsize::new(0),
        slow,
    });
    let x = Array::from_source(s.clone(), ChunkSpec::from(chunks.to_vec())).unwrap();
    (s, x)
}

#[test]
fn time_to_space_rechunk_is_staged_and_bounded() {
    // 60 "days" of a 48 × 64 field in daily-ish blocks of 4 → blocks of (60, 8, 8).
    let shape = [60, 48, 64];
    let r = data(&shape, DType::F64, 8, 0.0);
    let target = [60usize, 8, 8];
    let bytes = 60 * 48 * 64 * 8;
    let max_mem = bytes / 6;

    // Direct: the store read on the target grid (what a rechunk of a stored array was
    // before it learned to read its own chunks once: src/array/rechunk.rs).
    let (direct_src, _) = stored(&r, &[4, 48, 64]);
    let direct = Array::from_source(direct_src.clone(), ChunkSpec::from(target)).unwrap();
    let (staged_src, x2) = stored(&r, &[4, 48, 64]);
    let staged = x2.rechunk_bounded(ChunkSpec::from(target), max_mem).unwrap();
    assert_eq!(staged.chunks(), direct.chunks());

    let rt = Runtime::new(Config {
        memory_limit: Some(max_mem * 3),
        ..Config::default()
    })
    .unwrap();
    // Reduce the result block by block, so the output itself is not held.
    let (d, _) = rt.compute_with_stats(&[&direct.sum(None).unwrap()]).unwrap();
    let (s, stats) = rt.compute_with_stats(&[&staged.sum(None).unwrap()]).unwrap();
    assert_eq!(d[0].data().get_f64(0), s[0].data().get_f64(0));
    let want: f64 = r.iter().sum();
    assert!((s[0].data().get_f64(0) - want).abs() < 1e-9 * want.abs());
    // Values, whole.
    assert_close(&staged.compute_chunk().unwrap(), &r, 0.0, "staged values");

    // Direct: every (60, 8, 8) block decodes all 15 stored chunks: 48 blocks × 15.
    let nd = direct_src.decoded.load(Ordering::Relaxed);
    let ns = staged_src.decoded.load(Ordering::Relaxed);
    assert_eq!(nd, 48 * 15, "direct decodes");
    // Staged (computed twice above): each stored chunk once per band.
    let per_run = ns / 2;
    assert!(per_run * 4 <= nd, "staged decodes {per_run} vs direct {nd}");
    // Never more than half the array held (max_mem is a sixth of it).
    assert!(
        stats.peak_bytes <= 3 * max_mem,
        "peak {} for max_mem {max_mem}",
        stats.peak_bytes
    );
}

#[test]
fn a_stored_array_that_fits_is_decoded_once_not_once_per_block() {
    // The same time-to-space rechunk with room for the whole array: each of the 15
    // stored chunks is decoded once and cut into the 48 target blocks, instead of each
    // target block decoding all 15 (720 decodes).
    let shape = [60, 48, 64];
    let r = data(&shape, DType::F64, 9, 0.1);
    let (src, x) = stored(&r, &[4, 48, 64]);
    let y = x.rechunk_bounded(ChunkSpec::from([60usize, 8, 8]), usize::MAX).unwrap();
    assert_close(&y.compute_chunk().unwrap(), &r, 0.0, "values");
    assert_eq!(src.decoded.load(Ordering::Relaxed), 15);
    // Blocks that are unions of stored chunks are still read directly (no rechunk tasks).
    let (src2, x2) = stored(&r, &[4, 48, 64]);
    let z = x2
        .rechunk_bounded(ChunkSpec::from([8usize, 48, 64]), usize::MAX)
        .unwrap();
    assert_close(&z.compute_chunk().unwrap(), &r, 0.0, "values");
    assert_eq!(src2.decoded.load(Ordering::Relaxed), 15);
    let g = Runtime::global().graph(&[chunkwise::graph::lower::Target::Array(&z)]);
    assert!(
        g.kind_counts().iter().all(|(k, _)| *k != "rechunk"),
        "{:?}",
        g.kind_counts()
    );
}

#[test]
fn a_decode_once_rechunk_that_does_not_fit_the_budget_reads_regions() {
    // The decode-once plan's first block needs all 15 stored chunks (1.47 MB); under a
    // budget of 0.74 MB the rechunk tasks become region reads (src/optimize/region_reads.rs):
    // every (60, 8, 8) block decodes the 15 chunks it cuts, one at a time.
    let shape = [60, 48, 64];
    let r = data(&shape, DType::F64, 10, 0.0);
    let (src, x) = stored(&r, &[4, 48, 64]);
    let y = x.rechunk_bounded(ChunkSpec::from([60usize, 8, 8]), usize::MAX).unwrap();
    let budget = 60 * 48 * 64 * 8 / 2;
    let rt = Runtime::new(Config {
        memory_limit: Some(budget),
        ..Config::default()
    })
    .unwrap();
    let (got, stats) = rt.compute_with_stats(&[&y.sum(None).unwrap()]).unwrap();
    let want: f64 = r.iter().sum();
    let got = got[0].data().get_f64(0);
    assert!((got - want).abs() < 1e-9 * want.abs(), "{got} vs {want}");
    assert_eq!(src.decoded.load(Ordering::Relaxed), 48 * 15);
    assert!(stats.peak_bytes <= budget, "peak {} over {budget}", stats.peak_bytes);
    // With room, the same graph keeps its rechunk tasks.
    let roomy = Runtime::new(Config {
        memory_limit: Some(64 << 20),
        ..Config::default()
    })
    .unwrap();
    let kinds = roomy.graph(&[chunkwise::graph::lower::Target::Array(&y)]).kind_counts();
    assert!(kinds.contains(&("rechunk", 48)), "{kinds:?}");
    let kinds = rt.graph(&[chunkwise::graph::lower::Target::Array(&y)]).kind_counts();
    assert!(kinds.iter().all(|(k, _)| *k != "rechunk"), "{kinds:?}");
}

#[test]
fn a_slow_read_does_not_let_other_workers_break_the_budget() {
    // The plan above, with the last stored chunk of every band slow to read: while one
    // worker waits on it, the others must not fill the budget with the next band's
    // loads, or the slow band's blocks no longer fit and a task has to start over
    // budget (this happened, rarely, without the slow read; src/scheduler/ahead.rs).
    let shape = [60, 48, 64];
    let r = data(&shape, DType::F64, 9, 0.0);
    let max_mem = 60 * 48 * 64 * 8 / 6;
    let (_, x) = stored_slow(&r, &[4, 48, 64], Some((56, Duration::from_millis(20))));
    let staged = x.rechunk_bounded(ChunkSpec::from([60usize, 8, 8]), max_mem).unwrap();
    let rt = Runtime::new(Config {
        threads: 4,
        memory_limit: Some(max_mem * 3),
        ..Config::default()
    })
    .unwrap();
    let (s, stats) = rt.compute_with_stats(&[&staged.sum(None).unwrap()]).unwrap();
    let want: f64 = r.iter().sum();
    assert!((s[0].data().get_f64(0) - want).abs() < 1e-9 * want.abs());
    assert_eq!(
        stats.over_budget, 0,
        "tasks started over budget (peak {})",
        stats.peak_bytes
    );
    assert!(
        stats.peak_bytes <= 3 * max_mem,
        "peak {} for max_mem {max_mem}",
        stats.peak_bytes
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_rechunks_match_the_reference(
        dims in prop::collection::vec((1usize..10, 1usize..6, 1usize..6), 1..4),
        seed in any::<u64>(),
        mem in 64usize..4096,
        computed in any::<bool>(),
        from_store in any::<bool>(),
    ) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        let r = data(&shape, DType::F64, seed, 0.1);
        let chunks: Vec<usize> = dims.iter().map(|d| d.1).collect();
        // A stored source is rechunked from its own chunks or re-read on the new grid.
        let x = if from_store { stored(&r, &chunks).1 } else { array(&r, DType::F64, &chunks) };
        let x = if computed { &x * 1.0 } else { x };
        let y = x.rechunk_bounded(ChunkSpec::from(dims.iter().map(|d| d.2).collect::<Vec<_>>()), mem).unwrap();
        assert_close(&y.compute_chunk().unwrap(), &r, 0.0, "rechunk");
    }
}
