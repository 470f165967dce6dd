//! The schedulers: shared work in `compute_many`, release of intermediates (the engine's
//! own byte accounting), priorities that finish branches first, errors that name the
//! failing task, progress callbacks, custom graphs, culling, DOT export.

mod common;

use chunkwise::graph::dot::to_dot;
use chunkwise::graph::lower::{Target, lower};
use chunkwise::io::ChunkSource;
use chunkwise::{Array, Chunk, Config, DType, Error, Result, Runtime, SchedulerKind, delayed, gather};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A source that counts reads and fails on one block.
#[derive(Debug)]
struct Counting {
    shape: Vec<usize>,
    reads: AtomicUsize,
    fail_at: Option<usize>,
}

impl ChunkSource for Counting {
    fn name(&self) -> String {
        "counting".into()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if Some(region[0].start) == self.fail_at {
            return Err(Error::Format(format!(
                "counting: corrupt chunk at row {}",
                region[0].start
            )));
        }
        let shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        let n = shape.iter().product();
        let cols = shape[1];
        let v: Vec<f64> = (0..n)
            .map(|i| ((region[0].start + i / cols) * 1000 + region[1].start + i % cols) as f64)
            .collect();
        Chunk::new(shape, chunkwise::Buffer::F64(v))
    }
}

fn counting(rows: usize, fail_at: Option<usize>) -> Arc<Counting> {
    Arc::new(Counting {
        shape: vec![rows, 1000],
        reads: AtomicUsize::new(0),
        fail_at,
    })
}

fn runtimes() -> Vec<Runtime> {
    vec![
        Runtime::new(Config {
            threads: 1,
            scheduler: SchedulerKind::Sync,
            ..Config::default()
        })
        .unwrap(),
        Runtime::new(Config {
            threads: 2,
            ..Config::default()
        })
        .unwrap(),
        Runtime::new(Config {
            threads: 4,
            ..Config::default()
        })
        .unwrap(),
    ]
}

#[test]
fn compute_many_reads_shared_inputs_once() {
    for rt in runtimes() {
        let src = counting(64, None);
        let x = Array::from_source(src.clone(), [8, 1000]).unwrap();
        let m = x.mean(0).unwrap();
        let s = x.std(0, 0.0).unwrap();
        let anom = (&x - &m).abs().max(None).unwrap();
        let out = rt.compute_many(&[&m, &s, &anom]).unwrap();
        assert_eq!(src.reads.load(Ordering::SeqCst), 8, "each block read once");
        let col0_mean: f64 = (0..64).map(|r| (r * 1000) as f64).sum::<f64>() / 64.0;
        assert!((out[0].data().get_f64(0) - col0_mean).abs() < 1e-9);
    }
}

#[test]
fn intermediates_are_released_early() {
    // 64 blocks of 8000 bytes; a tree sum should never hold more than a few of them.
    for rt in runtimes() {
        let src = counting(64, None);
        let x = Array::from_source(src, [1, 1000]).unwrap();
        let y = (&x * 2.0).sum(None).unwrap();
        let (_, stats) = rt.compute_with_stats(&[&y]).unwrap();
        let block = 8000;
        // A chunk-step task folds a group of 4 loaded blocks; at most one group per
        // worker (plus the one being assembled) is alive at a time, far below the 64.
        let bound = (rt.threads() + 1) * 4 * block;
        assert!(
            stats.peak_bytes <= bound,
            "peak {} bytes with {} threads",
            stats.peak_bytes,
            rt.threads()
        );
        assert!(stats.peak_bytes < 64 * block / 3);
        assert!(stats.total_bytes >= 64 * block);
    }
}

#[test]
fn task_errors_name_the_task_and_abort() {
    for rt in runtimes() {
        let src = counting(64, Some(24));
        let x = Array::from_source(src.clone(), [8, 1000]).unwrap();
        let e = rt.compute_many(&[&x.sum(None).unwrap()]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("load counting block [3, 0]"), "{msg}");
        assert!(msg.contains("corrupt chunk at row 24"), "{msg}");
        assert!(matches!(e.root(), Error::Format(_)));
    }
}

#[test]
fn panics_in_tasks_become_errors() {
    let d = delayed("boom", || -> Result<i32> { panic!("kaboom") });
    for rt in runtimes().into_iter().skip(1) {
        let e = rt.compute_delayed(&d).unwrap_err();
        assert!(e.to_string().contains("kaboom"), "{e}");
    }
}

#[test]
fn progress_counts_every_task_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let rt = Runtime::new(Config {
        threads: 2,
        progress: Some(Arc::new(move |p| s2.lock().unwrap().push(p))),
        ..Config::default()
    })
    .unwrap();
    let x = Array::random_uniform(&[100, 100], 0.0, 1.0, 1, [10, 10]).unwrap();
    let y = x.nanmean(0).unwrap();
    rt.compute_many(&[&y]).unwrap();
    let g = rt.graph(&[Target::Array(&y)]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), g.len());
    let dones: Vec<usize> = seen.iter().map(|p| p.done).collect();
    assert_eq!(dones, (1..=g.len()).collect::<Vec<_>>());
    assert!(seen.iter().all(|p| p.total == g.len()));
}

#[test]
fn custom_graphs_mix_closures_and_array_blocks() {
    let x = Array::arange(0, 100, 1, [25]).unwrap();
    let parts: Vec<_> = (0..4)
        .map(|b| x.block_delayed::<i64>(&[b]).unwrap().then("block-sum", |a| Ok(a.sum())))
        .collect();
    let total = gather(&parts, "total", |v| Ok(v.iter().copied().sum::<i64>()));
    let scale = delayed("scale", || Ok(2i64));
    let out = total.zip(&scale, "scaled", |t, s| Ok(t * s));
    for rt in runtimes() {
        assert_eq!(rt.compute_delayed(&out).unwrap(), 2 * 4950);
    }
    let failing = total.then("check", |&t| if t > 0 { Err(Error::msg("too big")) } else { Ok(t) });
    let e = Runtime::global().compute_delayed(&failing).unwrap_err();
    assert_eq!(e.to_string(), "task custom check failed: too big");
    assert!(x.block_delayed::<f64>(&[0]).is_err());
    assert!(x.block_delayed::<i64>(&[4]).is_err());
}

#[test]
fn order_finishes_branches_before_opening_new_ones() {
    // A 1-D tree sum over 16 blocks with split_every 4: the order must reduce each group
    // of four loads before loading the next group.
    let x = Array::from_source(counting(16, None), [1, 1000]).unwrap();
    let y = x.sum(None).unwrap();
    // Without `inline-loads`, which would move the loads into the chunk steps.
    let rules: Vec<Box<dyn chunkwise::optimize::Rule>> =
        vec![Box::new(chunkwise::optimize::Cull), Box::new(chunkwise::optimize::Fuse)];
    let g = chunkwise::optimize::optimize(lower(&[Target::Array(&y)]), &rules).0;
    let prio = chunkwise::graph::order::priorities(&g);
    let mut by_prio: Vec<usize> = (0..g.len()).collect();
    by_prio.sort_by_key(|&t| prio[t]);
    let kinds: Vec<&str> = by_prio.iter().map(|&t| g.tasks()[t].kind.kind_name()).collect();
    // Each chunk-step task folds 4 blocks: their 4 loads run, then the partial, before
    // the next group's loads.
    let first_partial = kinds.iter().position(|k| *k == "reduce-partial").unwrap();
    let loads_before = kinds[..first_partial].iter().filter(|k| **k == "load").count();
    let second_partial = first_partial
        + 1
        + kinds[first_partial + 1..]
            .iter()
            .position(|k| *k == "reduce-partial")
            .unwrap();
    assert_eq!(second_partial - first_partial, 5, "{kinds:?}");
    assert_eq!(loads_before, 4, "{kinds:?}");
}

#[test]
fn dot_export_and_graph_size() {
    let x = Array::from_ndarray(ndarray::Array2::<f32>::ones((4, 4)), [2, 2]).unwrap();
    let y = (&x + 1.0).sum(None).unwrap();
    let g = Runtime::global().graph(&[Target::Array(&y)]);
    let dot = to_dot(&g);
    assert!(dot.starts_with("digraph chunkwise"));
    // The four loads are read inside the one chunk step (inline-loads): no edges.
    assert_eq!(dot.matches(" -> ").count(), 0);
    assert!(dot.contains("reduce-partial sum"));
    assert!(g.tasks().iter().all(|t| t.kind.kind_name() != "load"));
    // A 10^4-block graph stays small per task.
    let big = Array::zeros(&[10_000, 100], DType::F32, [1, 100])
        .unwrap()
        .sum(None)
        .unwrap();
    let g = Runtime::global().graph(&[Target::Array(&big)]);
    assert!(
        g.metadata_bytes() / g.len() < 200,
        "{} bytes per task",
        g.metadata_bytes() / g.len()
    );
}

#[test]
fn typed_compute_checks_the_dtype() {
    let x = Array::ones(&[3], DType::F32, [2]).unwrap();
    assert!(matches!(
        x.compute::<f64>(),
        Err(Error::DTypeMismatch {
            requested: DType::F64,
            actual: DType::F32
        })
    ));
    assert!(x.compute_scalar::<f32>().is_err());
}

/// Multi-block results are written in place as their blocks finish
/// (`scheduler::sink`): the same values as the blocks assembled, for ragged and
/// one-element blocks, every dtype kind, on every scheduler, when an output's blocks
/// are also read by another output (kept, not dropped), when one array is asked for
/// twice, and with the memory accounting still counting the result.
#[test]
fn results_written_in_place_match_the_reference() {
    let (r, c) = (13usize, 7usize);
    let reference = ndarray::Array2::from_shape_fn((r, c), |(i, j)| (i * 100 + j) as f64 * 0.5 - 20.0);
    for rt in runtimes() {
        for chunks in [[13, 7], [4, 3], [1, 1], [5, 7], [13, 2]] {
            let x = Array::from_ndarray(reference.clone().into_dyn(), chunks).unwrap();
            let y = &x * 2.0 + 1.0;
            let want = reference.mapv(|v| v * 2.0 + 1.0);
            let got = rt.compute::<f64>(&y).unwrap();
            assert_eq!(got.shape(), &[r, c]);
            assert_eq!(got.as_slice().unwrap(), want.as_slice().unwrap(), "chunks {chunks:?}");
            // One output's blocks feed another: both right.
            let s = y.sum(0).unwrap();
            let (out, stats) = rt.compute_with_stats(&[&y, &s]).unwrap();
            assert_eq!(out[0].data().as_slice::<f64>().unwrap(), want.as_slice().unwrap());
            for j in 0..c {
                let col: f64 = (0..r).map(|i| want[[i, j]]).sum();
                assert!(
                    (out[1].data().get_f64(j) - col).abs() < 1e-9,
                    "chunks {chunks:?} column {j}"
                );
            }
            assert!(
                stats.peak_bytes >= r * c * 8,
                "the result's bytes are accounted ({} < {})",
                stats.peak_bytes,
                r * c * 8
            );
            // The same array twice.
            let twice = rt.compute_many(&[&y, &y]).unwrap();
            for o in &twice {
                assert_eq!(o.data().as_slice::<f64>().unwrap(), want.as_slice().unwrap());
            }
            // Other dtypes: bool and a narrow integer.
            let b = rt.compute::<bool>(&y.greater(0.0).unwrap()).unwrap();
            assert!(
                b.iter().zip(want.iter()).all(|(&b, &w)| b == (w > 0.0)),
                "chunks {chunks:?}"
            );
            let i = rt.compute::<i16>(&y.astype(DType::I16)).unwrap();
            assert!(
                i.iter().zip(want.iter()).all(|(&i, &w)| i == w as i16),
                "chunks {chunks:?}"
            );
        }
        // A task error leaves no result.
        let src = counting(40, Some(16));
        let x = Array::from_source(src, [8, 500]).unwrap();
        assert!(rt.compute::<f64>(&(&x + 1.0)).is_err());
    }
}
