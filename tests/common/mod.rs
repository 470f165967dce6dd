//! Shared helpers for the integration tests: deterministic data, chunkings, and the
//! unchunked reference implementations (ndarray, f64 accumulation) every op is checked
//! against.
#![allow(dead_code)]

#[cfg(feature = "zarr")]
pub mod fixtures;
pub mod kernels;

use chunkwise::io::memory::MemorySource;
use chunkwise::{Array, Buffer, Chunk, ChunkSpec, DType, ReduceOp};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// A small deterministic generator (xorshift), independent of the engine's.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Values suited to `dtype`: small integers (exact in f64), floats with spread, and a
/// share of NaN for float types.
pub fn data(shape: &[usize], dtype: DType, seed: u64, nan_frac: f64) -> ArrayD<f64> {
    let mut r = Rng(seed.wrapping_mul(2654435761).wrapping_add(12345) | 1);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            let u = r.unit();
            match dtype {
                DType::Bool => f64::from(u8::from(u > 0.6)),
                DType::U8 | DType::U16 | DType::U32 | DType::U64 => (u * 50.0).floor(),
                d if d.is_integer() => (u * 100.0).floor() - 50.0,
                _ => {
                    if r.unit() < nan_frac {
                        f64::NAN
                    } else {
                        (u - 0.3) * 20.0
                    }
                }
            }
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// An engine array with the reference data cast to `dtype`.
pub fn array(reference: &ArrayD<f64>, dtype: DType, chunks: &[usize]) -> Array {
    let flat: Vec<f64> = reference.iter().copied().collect();
    let c = Chunk::new(reference.shape().to_vec(), Buffer::F64(flat).cast(dtype)).unwrap();
    Array::from_source(Arc::new(MemorySource::new(c)), ChunkSpec::from(chunks.to_vec())).unwrap()
}

/// As [`array`], but held as the blocks of its own grid (as `Array::from_ndarray` does),
/// so its blocks are read without a copy and a reduction's chunk-step group over them
/// takes the stacked path (`reduce::partial_stacked`) instead of folding block by block.
pub fn array_in_blocks(reference: &ArrayD<f64>, dtype: DType, chunks: &[usize]) -> Array {
    let flat: Vec<f64> = reference.iter().copied().collect();
    let c = Chunk::new(reference.shape().to_vec(), Buffer::F64(flat).cast(dtype)).unwrap();
    let spec = ChunkSpec::from(chunks.to_vec());
    let grid = chunkwise::ChunkGrid::new(reference.shape(), &spec, dtype.size()).unwrap();
    Array::from_source(Arc::new(MemorySource::split(c, grid).unwrap()), spec).unwrap()
}

/// The reference data as the engine would see it after the cast to `dtype`.
pub fn as_dtype(reference: &ArrayD<f64>, dtype: DType) -> ArrayD<f64> {
    let flat: Vec<f64> = reference.iter().copied().collect();
    let b = Buffer::F64(flat).cast(dtype);
    ArrayD::from_shape_vec(IxDyn(reference.shape()), (0..b.len()).map(|i| b.get_f64(i)).collect()).unwrap()
}

/// Chunkings to test a shape with: whole, one-element, ragged, and a middle size.
pub fn chunkings(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![shape.iter().map(|&n| n.max(1)).collect::<Vec<_>>()];
    out.push(shape.iter().map(|_| 1).collect());
    out.push(shape.iter().map(|&n| (n / 2 + 1).max(1)).collect());
    out.push(shape.iter().map(|&n| if n > 3 { 3 } else { 2 }).collect());
    out.dedup();
    out
}

/// Kahan-compensated sum.
pub fn kahan(v: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &x in v {
        let y = x - c;
        let t = s + y;
        c = (t - s) - y;
        s = t;
    }
    s
}

/// The reference result of one reduction: `Err` where NumPy raises.
/// A reference reduction's result `w` over `axes` of `shape`, with the reduced axes
/// kept as length 1 when `keepdims` (NumPy's `keepdims=True` shape).
pub fn with_keepdims(w: &ArrayD<f64>, shape: &[usize], axes: &[usize], keepdims: bool) -> ArrayD<f64> {
    if !keepdims {
        return w.clone();
    }
    let ks: Vec<usize> = (0..shape.len())
        .map(|a| if axes.contains(&a) { 1 } else { shape[a] })
        .collect();
    w.clone()
        .into_shape_with_order(ks)
        .expect("the reduced axes kept as length 1")
}

pub fn reference_reduce(
    x: &ArrayD<f64>,
    op: ReduceOp,
    axes: &[usize],
    ddof: f64,
    dtype: DType,
) -> Result<ArrayD<f64>, String> {
    let is_float = dtype.is_float();
    let shape = x.shape().to_vec();
    let out_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter(|(a, _)| !axes.contains(a))
        .map(|(_, &n)| n)
        .collect();
    let red_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let out_n: usize = out_shape.iter().product();
    let red_n: usize = red_shape.iter().product();
    if op.needs_nonempty() && red_n == 0 && out_n > 0 {
        return Err("empty".into());
    }
    let strides: Vec<usize> = {
        let mut s = vec![1; shape.len()];
        for a in (0..shape.len().saturating_sub(1)).rev() {
            s[a] = s[a + 1] * shape[a + 1];
        }
        s
    };
    let flat: Vec<f64> = x.iter().copied().collect();
    let mut out = Vec::with_capacity(out_n);
    for o in 0..out_n {
        // unravel o over kept axes
        let mut idx = vec![0usize; shape.len()];
        let mut rem = o;
        let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
        for &a in kept.iter().rev() {
            idx[a] = rem % shape[a];
            rem /= shape[a];
        }
        let mut vals = Vec::with_capacity(red_n);
        let mut flat_idx = Vec::with_capacity(red_n);
        for r in 0..red_n {
            let mut rem = r;
            for &a in axes.iter().rev() {
                idx[a] = rem % shape[a];
                rem /= shape[a];
            }
            let f: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            vals.push(flat[f]);
            // index along the single axis, or flat over all
            flat_idx.push(if axes.len() == 1 && shape.len() > 1 {
                idx[axes[0]]
            } else {
                f
            });
        }
        let nn: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
        let v = match op {
            ReduceOp::Sum => kahan(&vals),
            ReduceOp::NanSum => kahan(&nn),
            ReduceOp::Prod | ReduceOp::NanProd if !is_float => {
                // NumPy's integer products wrap around in 64 bits.
                if matches!(dtype, DType::U8 | DType::U16 | DType::U32 | DType::U64) {
                    vals.iter().fold(1u64, |a, &v| a.wrapping_mul(v as u64)) as f64
                } else {
                    vals.iter().fold(1i64, |a, &v| a.wrapping_mul(v as i64)) as f64
                }
            }
            ReduceOp::Prod => vals.iter().product(),
            ReduceOp::NanProd => nn.iter().product(),
            ReduceOp::Mean => kahan(&vals) / vals.len() as f64,
            ReduceOp::NanMean => kahan(&nn) / nn.len() as f64,
            ReduceOp::Min | ReduceOp::Max => {
                if vals.iter().any(|v| v.is_nan()) {
                    f64::NAN
                } else if op == ReduceOp::Min {
                    vals.iter().copied().fold(f64::INFINITY, f64::min)
                } else {
                    vals.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                }
            }
            ReduceOp::NanMin => {
                if nn.is_empty() {
                    f64::NAN
                } else {
                    nn.iter().copied().fold(f64::INFINITY, f64::min)
                }
            }
            ReduceOp::NanMax => {
                if nn.is_empty() {
                    f64::NAN
                } else {
                    nn.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                }
            }
            ReduceOp::Var | ReduceOp::Std | ReduceOp::NanVar | ReduceOp::NanStd => {
                let v = if matches!(op, ReduceOp::Var | ReduceOp::Std) {
                    &vals
                } else {
                    &nn
                };
                let n = v.len() as f64;
                // NumPy's nanvar of floats is NaN once ddof reaches the count; its var
                // (and nanvar of integers, which calls var) divides by max(N - ddof, 0).
                let nan_op = matches!(op, ReduceOp::NanVar | ReduceOp::NanStd);
                let var = if v.is_empty() || (nan_op && is_float && n - ddof <= 0.0) {
                    f64::NAN
                } else {
                    let m = kahan(v) / n;
                    let sq: Vec<f64> = v.iter().map(|x| (x - m) * (x - m)).collect();
                    kahan(&sq) / (n - ddof).max(0.0)
                };
                if matches!(op, ReduceOp::Std | ReduceOp::NanStd) {
                    var.sqrt()
                } else {
                    var
                }
            }
            ReduceOp::Any => f64::from(u8::from(vals.iter().any(|&v| v != 0.0))),
            ReduceOp::All => f64::from(u8::from(vals.iter().all(|&v| v != 0.0))),
            ReduceOp::Count => nn.len() as f64,
            ReduceOp::ArgMin | ReduceOp::ArgMax | ReduceOp::NanArgMin | ReduceOp::NanArgMax => {
                let skip = op.skips_nan();
                let max = matches!(op, ReduceOp::ArgMax | ReduceOp::NanArgMax);
                let mut best: Option<usize> = None;
                for (k, &v) in vals.iter().enumerate() {
                    if v.is_nan() {
                        if skip {
                            continue;
                        }
                        if is_float {
                            best = Some(k);
                            break;
                        }
                    }
                    match best {
                        None => best = Some(k),
                        Some(b) => {
                            if (max && v > vals[b]) || (!max && v < vals[b]) {
                                best = Some(k);
                            }
                        }
                    }
                }
                match best {
                    Some(b) => flat_idx[b] as f64,
                    None => return Err("All-NaN".into()),
                }
            }
        };
        out.push(v);
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&out_shape), out).unwrap())
}

/// Compares a computed chunk with a reference: exact for integer/bool results, relative
/// tolerance `rtol` for floats, NaN equal to NaN.
pub fn assert_close(got: &Chunk, want: &ArrayD<f64>, rtol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let exact = !got.dtype().is_float();
    for (i, &w) in want.iter().enumerate() {
        let g = got.data().get_f64(i);
        if w.is_nan() || g.is_nan() {
            assert!(w.is_nan() && g.is_nan(), "{what}: element {i}: got {g}, want {w}");
            continue;
        }
        if exact {
            assert_eq!(g, w, "{what}: element {i}");
        } else if g != w {
            // (Equal infinities pass above; a difference of them is NaN.)
            let tol = rtol * w.abs().max(1.0);
            assert!(
                (g - w).abs() <= tol,
                "{what}: element {i}: got {g}, want {w} (rtol {rtol})"
            );
        }
    }
}

/// A source that counts the reads asked of it and the elements they cover (for tests
/// that prove an operation reads only what it needs).
#[derive(Debug)]
pub struct Counting {
    pub inner: MemorySource,
    pub reads: std::sync::atomic::AtomicUsize,
    pub elements: std::sync::atomic::AtomicUsize,
}

impl chunkwise::io::ChunkSource for Counting {
    fn name(&self) -> String {
        "counting".into()
    }
    fn shape(&self) -> &[usize] {
        self.inner.shape()
    }
    fn dtype(&self) -> DType {
        self.inner.dtype()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    fn read(&self, region: &[std::ops::Range<usize>]) -> chunkwise::Result<Chunk> {
        use std::sync::atomic::Ordering::Relaxed;
        self.elements
            .fetch_add(region.iter().map(ExactSizeIterator::len).product(), Relaxed);
        self.reads.fetch_add(1, Relaxed);
        self.inner.read(region)
    }
}

/// The reference data (f64) behind a [`Counting`] source, as an array of `chunks`.
pub fn counting(reference: &ArrayD<f64>, chunks: &[usize]) -> (Arc<Counting>, Array) {
    let c = Chunk::new(
        reference.shape().to_vec(),
        Buffer::F64(reference.iter().copied().collect()),
    )
    .unwrap();
    let src = Arc::new(Counting {
        inner: MemorySource::new(c),
        reads: std::sync::atomic::AtomicUsize::new(0),
        elements: std::sync::atomic::AtomicUsize::new(0),
    });
    let x = Array::from_source(src.clone(), ChunkSpec::from(chunks.to_vec())).unwrap();
    (src, x)
}
