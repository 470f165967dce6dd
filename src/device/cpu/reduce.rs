//! Per-block reductions: chunk → [`Partial`], partial ⊕ partial, partial → result.
//!
//! The chunk step walks the block once in an order chosen for the cache. Adjacent
//! axes that are both reduced (or both kept) are merged, so any reduction is a loop
//! nest over alternating groups. When the innermost group is *kept* (e.g. `axis=0` of
//! a `(time, lat, lon)` block) every row is added elementwise into a row of
//! accumulators — and the rows are visited tile-major (all time steps of 2048 columns,
//! then the next 2048), so the accumulators stay in L1 instead of streaming the whole
//! partial through memory once per time step. Rows go to the accumulators at most 12
//! at a time (rows a field apart share cache sets; many at once thrash them), and a
//! chunk-step group of in-memory blocks is read as one stack of rows
//! ([`partial_stacked`]), so the group's partial is written once, not read and written
//! per block. Accumulators are filled by a write, never `calloc`ed (see `filled`).
//! When the innermost group is *reduced*,
//! each row is folded with eight independent accumulators (vectorised, and more
//! accurate than one running sum) and the fold is added to its output element.
//!
//! The source of the rows is either a materialised block or a fused [`Program`]
//! evaluated tile by tile, so a reduction over a fused elementwise chain makes one pass.

use super::eval::{BlockCtx, Evaluator, InputRef, TILE, cast_buffer, num_dispatch};
use super::mean512;
use super::num::Num;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use crate::grid::c_strides;
use crate::ops::{Partial, Program, ReduceOp};

/// Where a reduction reads its block from.
pub enum RowSource<'a> {
    /// A materialised block.
    Block(&'a Buffer),
    /// Materialised blocks stacked along the reduced rows: each is `(rows_i, cols)` in
    /// the sense of [`stack_dims`], all with the same `cols` and dtype (see
    /// [`partial_stacked`]).
    Stack {
        /// The blocks, in order.
        blocks: &'a [&'a Buffer],
        /// Elements per row (the kept extent).
        cols: usize,
        /// The columns reduced, `start..end` of each row (`0..cols` for all of them;
        /// see [`partial_span`]).
        span: (usize, usize),
    },
    /// A block that is never materialised, read by byte ranges through a [`RowFeed`]
    /// that decodes only what they need (a stored chunk read by ranges). Rows are
    /// fetched tile by tile, in the order the materialised block would be read, so the
    /// result is the same bits.
    Stream {
        /// The block's element type (not bool).
        dtype: DType,
        /// The reader.
        feed: &'a dyn RowFeed,
    },
    /// A fused program over input chunks.
    Program {
        /// The program.
        prog: &'a Program,
        /// Its inputs.
        inputs: &'a [InputRef<'a>],
    },
}

/// What a [`RowSource::Stream`] reads through: byte ranges of the block in C order.
pub trait RowFeed {
    /// Writes bytes `start..start + out.len()` of the block into `out`.
    ///
    /// # Errors
    /// Whatever decoding the stored data reports.
    fn read(&self, start: usize, out: &mut [u8]) -> Result<()>;
    /// Calls `f` once with bytes `s..s + len` of the block for every `s` in `starts`
    /// (the same tile of several rows), as slices into the feed's own decoded data
    /// where it can (no copy).
    ///
    /// # Errors
    /// As [`RowFeed::read`], and whatever `f` returns.
    fn with_ranges(&self, starts: &[usize], len: usize, f: &mut dyn FnMut(&[&[u8]]) -> Result<()>) -> Result<()>;
}

/// `bytes` as elements of `T`, when they are aligned for it (`None` otherwise, or for
/// bool, whose bytes are not all valid values).
fn elements<T: Element>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if T::DTYPE == DType::Bool
        || !bytes.len().is_multiple_of(size)
        || bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0
    {
        return None;
    }
    // SAFETY: every numeric element type accepts any bit pattern; the pointer is aligned
    // for T and the length is a whole number of elements inside `bytes`.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Misaligned bytes copied into elements of `T`.
fn unaligned<T: Element>(bytes: &[u8]) -> Result<Vec<T>> {
    let mut b = Buffer::zeros(T::DTYPE, bytes.len() / std::mem::size_of::<T>());
    b.bytes_mut()
        .ok_or_else(|| Error::Unsupported("streamed reduction of bool data".into()))?
        .copy_from_slice(bytes);
    T::vec_of(b).map_err(|_| Error::Unsupported("reduction row dtype mismatch".into()))
}

/// Where the block sits, for argmin/argmax indices.
#[derive(Clone, Copy, Debug)]
pub struct ArgInfo<'a> {
    /// Whole-array shape.
    pub global_shape: &'a [usize],
    /// Block offset.
    pub offset: &'a [usize],
    /// `Some(axis)` for an index along one axis, `None` for the flat C-order index.
    pub axis: Option<usize>,
}

struct Plan {
    // (length, reduced) per merged group
    groups: Vec<(usize, bool)>,
    in_strides: Vec<usize>,
    out_strides: Vec<usize>,
    out_len: usize,
    empty: bool,
}

fn plan(shape: &[usize], axes: &[usize]) -> Plan {
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (a, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let red = axes.contains(&a);
        match groups.last_mut() {
            Some((len, r)) if *r == red => *len *= n,
            _ => groups.push((n, red)),
        }
    }
    if groups.is_empty() {
        groups.push((1, false));
    }
    let lens: Vec<usize> = groups.iter().map(|g| g.0).collect();
    let in_strides = c_strides(&lens);
    let kept: Vec<usize> = groups.iter().filter(|g| !g.1).map(|g| g.0).collect();
    let ks = c_strides(&kept);
    let mut out_strides = Vec::with_capacity(groups.len());
    let mut k = 0;
    for g in &groups {
        if g.1 {
            out_strides.push(0);
        } else {
            out_strides.push(ks[k]);
            k += 1;
        }
    }
    let empty = shape.contains(&0);
    let out_len = if empty {
        shape
            .iter()
            .enumerate()
            .map(|(a, &n)| if axes.contains(&a) { 1 } else { n })
            .product()
    } else {
        kept.iter().product()
    };
    Plan {
        groups,
        in_strides,
        out_strides,
        out_len,
        empty,
    }
}

/// Visits the block as rows: `f(in_offset, len, out_offset, inner_reduced)`.
fn visit(p: &Plan, mut f: impl FnMut(usize, usize, usize, bool) -> Result<()>) -> Result<()> {
    if p.empty {
        return Ok(());
    }
    let n = p.groups.len();
    let (last_len, last_red) = p.groups[n - 1];
    let outer = &p.groups[..n - 1];
    let mut idx = vec![0usize; outer.len()];
    let outer_count: usize = outer.iter().map(|g| g.0).product();
    let offsets = |idx: &[usize]| {
        let mut io = 0;
        let mut oo = 0;
        for (a, &i) in idx.iter().enumerate() {
            io += i * p.in_strides[a];
            oo += i * p.out_strides[a];
        }
        (io, oo)
    };
    let step = |idx: &mut [usize]| {
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < outer[a].0 {
                return;
            }
            idx[a] = 0;
        }
    };
    if last_red {
        for _ in 0..outer_count {
            let (io, oo) = offsets(&idx);
            let mut t = 0;
            while t < last_len {
                let l = TILE.min(last_len - t);
                f(io + t, l, oo, true)?;
                t += l;
            }
            step(&mut idx);
        }
    } else {
        let mut t = 0;
        while t < last_len {
            let l = TILE.min(last_len - t);
            idx.iter_mut().for_each(|i| *i = 0);
            for _ in 0..outer_count {
                let (io, oo) = offsets(&idx);
                f(io + t, l, oo + t, false)?;
                step(&mut idx);
            }
            t += l;
        }
    }
    Ok(())
}

/// The longest reduced run [`drive`] folds a tile of at a time (`coarsen` windows).
const SHORT_FOLD: usize = 32;

/// Calls `f(in_offset, out_offset)` for every index of the first `n` groups of `p`
/// (C order).
fn each_outer(p: &Plan, n: usize, mut f: impl FnMut(usize, usize) -> Result<()>) -> Result<()> {
    let lens: Vec<usize> = p.groups[..n].iter().map(|g| g.0).collect();
    let count: usize = lens.iter().product();
    let mut idx = vec![0usize; n];
    for _ in 0..count {
        let io: usize = idx.iter().zip(&p.in_strides).map(|(i, s)| i * s).sum();
        let oo: usize = idx.iter().zip(&p.out_strides).map(|(i, s)| i * s).sum();
        f(io, oo)?;
        for a in (0..n).rev() {
            idx[a] += 1;
            if idx[a] < lens[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(())
}

/// Accumulator types of sums and products.
trait Acc: Element + Num {
    fn of<T: Element>(x: T) -> Self;
}
impl Acc for f64 {
    #[inline(always)]
    fn of<T: Element>(x: T) -> Self {
        x.to_f64()
    }
}
impl Acc for i64 {
    #[inline(always)]
    fn of<T: Element>(x: T) -> Self {
        x.to_i64()
    }
}
impl Acc for u64 {
    #[inline(always)]
    fn of<T: Element>(x: T) -> Self {
        x.to_u64()
    }
}

/// One kind of per-element accumulation.
trait Bank<T> {
    /// `acc[out + j] ⊕= xs[j]`.
    fn row(&mut self, out: usize, xs: &[T]);
    /// `acc[out] ⊕= fold(xs)`.
    fn fold(&mut self, out: usize, xs: &[T]);
    /// `acc[out + j] ⊕= fold(xs[j·width .. (j+1)·width])`: many short folds into
    /// consecutive accumulators (windows of `coarsen`), with one call's overhead.
    #[inline]
    fn folds(&mut self, out: usize, xs: &[T], width: usize) {
        for (j, c) in xs.chunks_exact(width).enumerate() {
            self.fold(out + j, c);
        }
    }
    /// `acc[out + j] ⊕= rows[0][j] ⊕ rows[1][j] ⊕ …`: several rows into the same
    /// accumulators. Banks that can keep partial results in registers across the rows
    /// override it, so the accumulators are read and written once per group of rows
    /// instead of once per row.
    ///
    /// `ahead` are the rows the next call will read (the same columns of the next group
    /// of rows, or the next tile's first group), to prefetch while these are added;
    /// empty when the caller cannot say.
    fn rows(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        let _ = ahead;
        for r in rows {
            self.row(out, r);
        }
    }
    /// Whether the accumulators are still to be made (see [`Unmade`]).
    fn unmade(&self) -> bool {
        false
    }
    /// Makes unmade accumulators, all the identity, for the paths that do not walk
    /// tiles of rows.
    fn make(&mut self) {}
    /// [`Bank::rows`] for the first group of rows of a tile of an unmade bank: the
    /// accumulators of columns `out..` (`out` is how many are made) are made, as the
    /// identity, then the rows added as by `rows`.
    fn rows_first(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        self.rows(out, rows, ahead);
    }
}

/// Accumulators made tile by tile, by the first group of rows of each tile. A fresh
/// chunk-step partial is a 16 MB vector (sum and count of a 721×1440 field): filled
/// with the identity up front, it is written to memory and read back once more before
/// the first rows are added; made a tile (16–32 KB) at a time, that fill stays in L1.
/// The arithmetic is the same (identity ⊕ rows), so are the bits.
struct Unmade {
    /// The accumulators' length once made; 0 when they were given.
    len: usize,
}

impl Unmade {
    /// An empty vector that will hold `n` accumulators, or the given ones.
    fn vec<A>(given: Option<Vec<A>>, n: usize) -> (Vec<A>, Self) {
        match given {
            Some(v) => (v, Self { len: 0 }),
            None => (Vec::with_capacity(n), Self { len: n }),
        }
    }

    /// Whether `v` is still to be made.
    fn pending<A>(&self, v: &[A]) -> bool {
        self.len > 0 && v.is_empty()
    }

    /// `v` made, all `init`, when it was still to be made.
    fn make<A: Copy>(&self, v: &mut Vec<A>, init: A) {
        if self.pending(v) {
            *v = filled(self.len, init);
        }
    }

    /// Appends `l` accumulators (columns `out..out + l`), all `init`.
    fn grow<A: Copy>(v: &mut Vec<A>, out: usize, l: usize, init: A) {
        debug_assert_eq!(v.len(), out, "unmade accumulators are made tile by tile, in order");
        v.resize(out + l, init);
    }
}

/// Columns handled per register block by the `rows` overrides.
const LANES: usize = 8;

/// How far ahead in each row the `rows` overrides ask for data: 4 KiB, about the time
/// a group of rows takes to fold one cache line each.
const PREFETCH_BYTES: usize = 4096;

/// Most rows a [`Prefetch`] covers; a `rows` call gets at most [`ROW_GROUP`].
const PREFETCH_ROWS: usize = 16;

/// What a `rows` kernel prefetches while it adds row `i`'s columns `c..`: the same
/// columns of row `i` of the next call (`ahead`), so every line of a tile is asked for
/// one group of rows (≈ 100 KB of reads) before it is needed — including the first
/// lines of each tile, which a prefetch a fixed distance ahead in the same row never
/// covers, while that one fetches lines of the next tile long before they are read.
/// In a C copy of the mean loop (`benches/floor/mean_rows.c`), one core over an
/// in-memory field: 14.5 GB/s with the 4 KiB in-row prefetch, 17.1 with none, 18.9
/// with this. Without `ahead` (streamed rows), [`PREFETCH_BYTES`] ahead in the row.
pub(super) struct Prefetch<T> {
    bases: [*const T; PREFETCH_ROWS],
}

impl<T> Prefetch<T> {
    pub(super) fn new(rows: &[&[T]], ahead: &[&[T]]) -> Self {
        let mut bases = [std::ptr::null(); PREFETCH_ROWS];
        for (i, (b, r)) in bases.iter_mut().zip(rows).enumerate() {
            *b = match ahead.get(i) {
                Some(a) => a.as_ptr(),
                // A row with no successor: its own (cached) data, a no-op.
                None if !ahead.is_empty() => r.as_ptr(),
                None => r
                    .as_ptr()
                    .wrapping_add(PREFETCH_BYTES / std::mem::size_of::<T>().max(1)),
            };
        }
        Self { bases }
    }

    /// Prefetches for row `i` at column `c`.
    #[inline(always)]
    pub(super) fn at(&self, i: usize, c: usize) {
        if let Some(&b) = self.bases.get(i) {
            prefetch_ptr(b.wrapping_add(c));
        }
    }
}

/// Asks the CPU to start loading the line at `p` into L2. The `rows` kernels read a
/// group of rows a whole field apart (axis 0 of a (time, lat, lon) block: 10 to 40
/// streams 4 MB apart), more than the hardware prefetchers follow: without prefetches
/// an in-memory `nanmean(axis=0)` ran at a third of the machine's read bandwidth.
/// `p` may lie anywhere (past the block): a prefetch never faults and reads nothing
/// into the program.
///
/// L2 (`_MM_HINT_T1`), not L1: a prefetch into L1 holds one of the core's few L1
/// miss buffers until its line arrives from memory, and a group ahead that is ~100
/// lines per row group in flight, which stalls the loads the loop needs now. Into L2
/// the same lines come through the L2's larger miss queue, and the loop's own loads
/// then hit L2 (a few cycles, hidden by the 10–12 independent rows). Measured
/// 2026-12-06 with `benches/floor/mean_rows.c` (the `PFH` switch), six alternating
/// rounds over the whole in-memory field: one core 28–29 GB/s against 23–26 for
/// L1, two cores 34–35 against 29–31; in the engine, `chunkwise bench nanmean-memory
/// --size medium --repeat 5`, five alternating rounds: medians 0.048–0.056 s against
/// 0.056–0.058 s (two threads), 0.067–0.076 s against 0.079–0.086 s (one).
#[inline(always)]
fn prefetch_ptr<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is a hint: it never faults, whatever the address, and
    // SSE (its only requirement) is part of every x86-64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Whether the lane block starting at column `c` begins a new cache line, so each line
/// is prefetched once.
#[inline(always)]
fn line_start<T>(c: usize) -> bool {
    (c * std::mem::size_of::<T>()).is_multiple_of(64)
}

struct SumBank<A, const NAN: bool, const PROD: bool>(Vec<A>, Unmade);

/// `x`, or the identity of the sum (product) where `x` is a skipped NaN. The choice is
/// made in the element type, before widening: one 8-wide mask for f32 instead of two
/// 4-wide ones after conversion to f64.
#[inline(always)]
fn unnan<T: Num, const NAN: bool, const PROD: bool>(x: T) -> T {
    if NAN && x.is_nan() {
        if PROD { T::ONE } else { T::ZERO }
    } else {
        x
    }
}

impl<T: Element + Num, A: Acc, const NAN: bool, const PROD: bool> Bank<T> for SumBank<A, NAN, PROD> {
    fn unmade(&self) -> bool {
        self.1.pending(&self.0)
    }
    fn make(&mut self) {
        self.1.make(&mut self.0, if PROD { A::ONE } else { A::ZERO });
    }
    fn rows_first(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        let l = rows.first().map_or(0, |r| r.len());
        Unmade::grow(&mut self.0, out, l, if PROD { A::ONE } else { A::ZERO });
        self.rows(out, rows, ahead);
    }
    #[inline]
    fn row(&mut self, out: usize, xs: &[T]) {
        let acc = &mut self.0[out..out + xs.len()];
        for (a, &x) in acc.iter_mut().zip(xs) {
            let v = A::of(unnan::<T, NAN, PROD>(x));
            *a = if PROD { A::mul(*a, v) } else { A::add(*a, v) };
        }
    }
    #[inline]
    fn rows(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        let Some(first) = rows.first() else { return };
        let l = first.len();
        let init = if PROD { A::ONE } else { A::ZERO };
        let acc = &mut self.0[out..out + l];
        let pf = Prefetch::new(rows, ahead);
        let mut c = 0;
        while c + LANES <= l {
            let mut r8 = [init; LANES];
            let fetch = line_start::<T>(c);
            for (i, r) in rows.iter().enumerate() {
                if fetch {
                    pf.at(i, c);
                }
                let x: &[T; LANES] = r[c..c + LANES].try_into().expect("a full lane block");
                for k in 0..LANES {
                    let v = A::of(unnan::<T, NAN, PROD>(x[k]));
                    r8[k] = if PROD { A::mul(r8[k], v) } else { A::add(r8[k], v) };
                }
            }
            let dst: &mut [A; LANES] = (&mut acc[c..c + LANES]).try_into().expect("lanes");
            for k in 0..LANES {
                dst[k] = if PROD {
                    A::mul(dst[k], r8[k])
                } else {
                    A::add(dst[k], r8[k])
                };
            }
            c += LANES;
        }
        for r in rows {
            for (a, &x) in acc[c..].iter_mut().zip(&r[c..]) {
                let v = A::of(unnan::<T, NAN, PROD>(x));
                *a = if PROD { A::mul(*a, v) } else { A::add(*a, v) };
            }
        }
    }
    #[inline]
    fn fold(&mut self, out: usize, xs: &[T]) {
        let init = if PROD { A::ONE } else { A::ZERO };
        let mut lanes = [init; 8];
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            for l in 0..8 {
                let v = A::of(unnan::<T, NAN, PROD>(c[l]));
                lanes[l] = if PROD { A::mul(lanes[l], v) } else { A::add(lanes[l], v) };
            }
        }
        for (l, &x) in chunks.remainder().iter().enumerate() {
            let v = A::of(unnan::<T, NAN, PROD>(x));
            lanes[l] = if PROD { A::mul(lanes[l], v) } else { A::add(lanes[l], v) };
        }
        let comb = |a: A, b: A| if PROD { A::mul(a, b) } else { A::add(a, b) };
        let s = comb(
            comb(comb(lanes[0], lanes[4]), comb(lanes[2], lanes[6])),
            comb(comb(lanes[1], lanes[5]), comb(lanes[3], lanes[7])),
        );
        self.0[out] = comb(self.0[out], s);
    }
}

/// min (MAX=false) / max (MAX=true); NAN=true skips NaN (nanmin), else NaN propagates.
struct MinMaxBank<T, const MAX: bool, const NAN: bool>(Vec<T>);

#[inline(always)]
fn mm<T: Num, const MAX: bool, const NAN: bool>(acc: T, x: T) -> T {
    let better = if MAX { x > acc } else { x < acc };
    if NAN {
        if better || acc.is_nan() { x } else { acc }
    } else if better || x.is_nan() {
        x
    } else {
        acc
    }
}

impl<T: Num, const MAX: bool, const NAN: bool> Bank<T> for MinMaxBank<T, MAX, NAN> {
    #[inline]
    fn row(&mut self, out: usize, xs: &[T]) {
        let acc = &mut self.0[out..out + xs.len()];
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a = mm::<T, MAX, NAN>(*a, x);
        }
    }
    #[inline]
    fn fold(&mut self, out: usize, xs: &[T]) {
        let mut a = self.0[out];
        for &x in xs {
            a = mm::<T, MAX, NAN>(a, x);
        }
        self.0[out] = a;
    }
}

struct LogicBank<const ALL: bool>(Vec<bool>);
impl<T: Element, const ALL: bool> Bank<T> for LogicBank<ALL> {
    fn row(&mut self, out: usize, xs: &[T]) {
        for (a, &x) in self.0[out..out + xs.len()].iter_mut().zip(xs) {
            *a = if ALL { *a && x.truthy() } else { *a || x.truthy() };
        }
    }
    fn fold(&mut self, out: usize, xs: &[T]) {
        let a = &mut self.0[out];
        *a = if ALL {
            *a && xs.iter().all(|x| x.truthy())
        } else {
            *a || xs.iter().any(|x| x.truthy())
        };
    }
}

struct CountBank(Vec<i64>);
impl<T: Element> Bank<T> for CountBank {
    fn row(&mut self, out: usize, xs: &[T]) {
        for (a, &x) in self.0[out..out + xs.len()].iter_mut().zip(xs) {
            *a += i64::from(!x.is_nan());
        }
    }
    fn fold(&mut self, out: usize, xs: &[T]) {
        self.0[out] += xs.iter().filter(|x| !x.is_nan()).count() as i64;
    }
}

/// Columns per register block of [`MeanBank::rows`]: a cache line of f32.
const MEAN_LANES: usize = 16;

/// Sum and count; NAN skips NaN.
struct MeanBank<const NAN: bool> {
    sum: Vec<f64>,
    n: Vec<f64>,
    unmade: Unmade,
    /// Whether f32 rows may take the AVX-512 loop ([`super::mean512`]); the same bits.
    wide: bool,
}
impl<const NAN: bool> MeanBank<NAN> {
    /// A bank adding to `given` (sums, counts), or to accumulators it makes.
    fn new(given: Option<(Vec<f64>, Vec<f64>)>, len: usize) -> Self {
        let (sum, n) = given.unzip();
        let (sum, unmade) = Unmade::vec(sum, len);
        let n = n.unwrap_or_else(|| Vec::with_capacity(len));
        Self {
            sum,
            n,
            unmade,
            wide: true,
        }
    }

    /// The portable `rows` loop over columns `done..` of the tile at `out`.
    #[inline]
    fn add_rows<T: Element + Num>(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]], done: usize) {
        let Some(first) = rows.first() else { return };
        let l = first.len();
        let (sum, cnt) = (&mut self.sum[out..out + l], &mut self.n[out..out + l]);
        let pf = Prefetch::new(rows, ahead);
        // Counts are kept as i32 lanes (one compare mask per 8 f32s, then one integer
        // subtract) and NaNs are zeroed in the element type before widening: half the
        // work of counting in f64. A pass covers at most `i32::MAX` rows.
        for rows in rows.chunks(i32::MAX as usize) {
            let mut c = done;
            while c + MEAN_LANES <= l {
                let mut s = [0.0f64; MEAN_LANES];
                let mut n = [0i32; MEAN_LANES];
                for (i, r) in rows.iter().enumerate() {
                    pf.at(i, c);
                    let x: &[T; MEAN_LANES] = r[c..c + MEAN_LANES].try_into().expect("a full lane block");
                    for k in 0..MEAN_LANES {
                        let keep = !(NAN && x[k].is_nan());
                        s[k] += if keep { x[k] } else { T::ZERO }.to_f64();
                        n[k] += i32::from(keep);
                    }
                }
                let ds: &mut [f64; MEAN_LANES] = (&mut sum[c..c + MEAN_LANES]).try_into().expect("lanes");
                let dn: &mut [f64; MEAN_LANES] = (&mut cnt[c..c + MEAN_LANES]).try_into().expect("lanes");
                // Two loops, not one: the compiler vectorises each, while one loop over
                // both was compiled to scalar stores (no wall-time change was measurable).
                for k in 0..MEAN_LANES {
                    ds[k] += s[k];
                }
                for k in 0..MEAN_LANES {
                    dn[k] += f64::from(n[k]);
                }
                c += MEAN_LANES;
            }
            for r in rows {
                for ((s, n), &x) in sum[c..].iter_mut().zip(cnt[c..].iter_mut()).zip(&r[c..]) {
                    let nan = NAN && x.is_nan();
                    *s += if nan { 0.0 } else { x.to_f64() };
                    *n += if nan { 0.0 } else { 1.0 };
                }
            }
        }
    }
}
impl<T: Element + Num, const NAN: bool> Bank<T> for MeanBank<NAN> {
    fn unmade(&self) -> bool {
        self.unmade.pending(&self.sum)
    }
    fn make(&mut self) {
        self.unmade.make(&mut self.n, 0.0);
        self.unmade.make(&mut self.sum, 0.0);
    }
    fn rows_first(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        let l = rows.first().map_or(0, |r| r.len());
        // The AVX-512 loop writes the first columns' accumulators outright (the bits
        // of identity ⊕ rows, see `mean512::make_f32`); the rest are made, then added.
        let done = match (self.wide, f32_rows(rows), f32_rows(ahead)) {
            (true, Some(r), Some(a)) => {
                debug_assert_eq!((self.sum.len(), self.n.len()), (out, out), "tiles are made in order");
                self.sum.reserve(l);
                self.n.reserve(l);
                let (s, n) = (
                    &mut self.sum.spare_capacity_mut()[..l],
                    &mut self.n.spare_capacity_mut()[..l],
                );
                let done = mean512::make_f32::<NAN>(r, &Prefetch::new(r, a), s, n);
                // SAFETY: `make_f32` wrote the first `done` spare values of both vectors.
                unsafe {
                    self.sum.set_len(out + done);
                    self.n.set_len(out + done);
                }
                done
            }
            _ => 0,
        };
        Unmade::grow(&mut self.sum, out + done, l - done, 0.0);
        Unmade::grow(&mut self.n, out + done, l - done, 0.0);
        self.add_rows(out, rows, ahead, done);
    }
    #[inline]
    fn row(&mut self, out: usize, xs: &[T]) {
        let l = xs.len();
        let (s, n) = (&mut self.sum[out..out + l], &mut self.n[out..out + l]);
        for ((s, n), &x) in s.iter_mut().zip(n.iter_mut()).zip(xs) {
            let nan = NAN && x.is_nan();
            *s += if nan { 0.0 } else { x.to_f64() };
            *n += if nan { 0.0 } else { 1.0 };
        }
    }
    #[inline]
    fn rows(&mut self, out: usize, rows: &[&[T]], ahead: &[&[T]]) {
        let Some(first) = rows.first() else { return };
        let l = first.len();
        let (sum, cnt) = (&mut self.sum[out..out + l], &mut self.n[out..out + l]);
        // Whole 16-column blocks of f32 rows in AVX-512 where the CPU has it: `done`
        // columns, then the portable loop from there.
        let done = match (self.wide, f32_rows(rows), f32_rows(ahead)) {
            (true, Some(r), Some(a)) => mean512::add_f32::<NAN>(r, &Prefetch::new(r, a), sum, cnt),
            _ => 0,
        };
        self.add_rows(out, rows, ahead, done);
    }
    #[inline]
    fn fold(&mut self, out: usize, xs: &[T]) {
        let mut lanes = [0.0f64; 8];
        let mut cnt = 0usize;
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            let c: &[T; 8] = c.try_into().expect("eight");
            let mut n = [0i32; 8];
            for l in 0..8 {
                lanes[l] += unnan::<T, NAN, false>(c[l]).to_f64();
                n[l] = i32::from(!(NAN && c[l].is_nan()));
            }
            cnt += n.iter().sum::<i32>() as usize;
        }
        for (l, &x) in chunks.remainder().iter().enumerate() {
            lanes[l] += unnan::<T, NAN, false>(x).to_f64();
            cnt += usize::from(!(NAN && x.is_nan()));
        }
        self.sum[out] +=
            ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        self.n[out] += cnt as f64;
    }
}

/// `rows` as f32 rows, when `T` is f32.
fn f32_rows<'r, 'a, T: Element>(rows: &'r [&'a [T]]) -> Option<&'r [&'a [f32]]> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: `T` is `f32` (same type id), so the two slice types are the same type.
    Some(unsafe { &*(std::ptr::from_ref(rows) as *const [&'a [f32]]) })
}

/// Second pass of var/std: squared deviations from a known mean.
struct M2Bank<'m, const NAN: bool> {
    mean: &'m [f64],
    m2: Vec<f64>,
}
impl<T: Element, const NAN: bool> Bank<T> for M2Bank<'_, NAN> {
    #[inline]
    fn row(&mut self, out: usize, xs: &[T]) {
        let l = xs.len();
        let (m, acc) = (&self.mean[out..out + l], &mut self.m2[out..out + l]);
        for ((a, &m), &x) in acc.iter_mut().zip(m).zip(xs) {
            let d = x.to_f64() - m;
            *a += if NAN && x.is_nan() { 0.0 } else { d * d };
        }
    }
    #[inline]
    fn fold(&mut self, out: usize, xs: &[T]) {
        let m = self.mean[out];
        let mut lanes = [0.0f64; 8];
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            for l in 0..8 {
                let d = c[l].to_f64() - m;
                lanes[l] += if NAN && c[l].is_nan() { 0.0 } else { d * d };
            }
        }
        for (l, &x) in chunks.remainder().iter().enumerate() {
            let d = x.to_f64() - m;
            lanes[l] += if NAN && x.is_nan() { 0.0 } else { d * d };
        }
        self.m2[out] += lanes.iter().sum::<f64>();
    }
}

/// Most rows read side by side by one `Bank::rows` call (see [`drive`]).
const ROW_GROUP: usize = 12;

/// Walks `nr` rows of `nk` columns tile by tile (TILE columns), each tile's rows in
/// even groups of at most ROW_GROUP: `f(t, len, r0, r1)`. Rows of a (time, lat, lon)
/// block lie a whole field apart, so they map to the same cache sets, and reading many
/// of them side by side thrashes L1/L2 (40 rows at once ran at 7 GB/s, groups of 10 at
/// 16). Materialised and streamed blocks both go through here, so they fold their
/// rows in the same order (the same bits).
fn tile_groups(nr: usize, nk: usize, mut f: impl FnMut(Group, Option<Group>) -> Result<()>) -> Result<()> {
    let g = nr.div_ceil(nr.div_ceil(ROW_GROUP).max(1)).max(1);
    let next = |x: Group| {
        if x.r1 < nr {
            Some(Group {
                r0: x.r1,
                r1: (x.r1 + g).min(nr),
                ..x
            })
        } else if x.t + x.l < nk {
            let t = x.t + x.l;
            Some(Group {
                t,
                l: TILE.min(nk - t),
                r0: 0,
                r1: g.min(nr),
            })
        } else {
            None
        }
    };
    if nr == 0 || nk == 0 {
        return Ok(());
    }
    let mut at = Some(Group {
        t: 0,
        l: TILE.min(nk),
        r0: 0,
        r1: g.min(nr),
    });
    while let Some(x) = at {
        at = next(x);
        f(x, at)?;
    }
    Ok(())
}

/// One call of a [`tile_groups`] walk: rows `r0..r1` of the `l` columns from `t`.
#[derive(Clone, Copy)]
struct Group {
    t: usize,
    l: usize,
    r0: usize,
    r1: usize,
}

/// Runs a bank over the rows of a source.
///
/// An unmade bank ([`Unmade`]) is made tile by tile by the tile walks (the first group
/// of rows of each tile), up front by every other path.
fn drive<T: Element>(p: &Plan, src: &mut Rows<'_, '_>, bank: &mut impl Bank<T>) -> Result<()> {
    let walk = matches!(p.groups.as_slice(), [(nr, true), (nk, false)] if *nr > 0 && *nk > 0) && !p.empty;
    let unmade = bank.unmade();
    // The first group of rows of each tile makes an unmade bank's accumulators.
    let first = |r0: usize| unmade && r0 == 0;
    if walk && let ([(nr, _), (nk, _)], RowSource::Stream { dtype, feed }) = (p.groups.as_slice(), src.src) {
        // The same tiles and row groups as the materialised path below, each group's
        // tile handed over as slices of the stream's decoded data (copied only when
        // not aligned for T).
        let (nr, nk, size) = (*nr, *nk, dtype.size());
        let mut starts = Vec::new();
        let mut copies: Vec<Vec<T>> = Vec::new();
        return tile_groups(nr, nk, |Group { t, l, r0, r1 }, _| {
            starts.clear();
            starts.extend((r0..r1).map(|r| (r * nk + t) * size));
            feed.with_ranges(&starts, l * size, &mut |slices| {
                copies.clear();
                for s in slices.iter().filter(|s| elements::<T>(s).is_none()) {
                    copies.push(unaligned::<T>(s)?);
                }
                let mut copied = copies.iter();
                let rows: Vec<&[T]> = slices
                    .iter()
                    .map(|s| elements::<T>(s).or_else(|| copied.next().map(Vec::as_slice)))
                    .collect::<Option<_>>()
                    .ok_or_else(|| Error::Unsupported("streamed rows run short".into()))?;
                if first(r0) {
                    bank.rows_first(t, &rows, &[]);
                } else {
                    bank.rows(t, &rows, &[]);
                }
                Ok(())
            })
        });
    }
    // Reduced axes before kept ones over a materialised block (axis 0 of a (time, lat,
    // lon) block): hand each tile's rows to the bank together.
    if walk && let ([(nr, _), (nk, _)], Some(all)) = (p.groups.as_slice(), src.rows::<T>(p)) {
        let (mut rows, mut ahead): (Vec<&[T]>, Vec<&[T]>) = (Vec::new(), Vec::new());
        return tile_groups(*nr, *nk, |Group { t, l, r0, r1 }, next| {
            rows.clear();
            rows.extend(all[r0..r1].iter().map(|r| &r[t..t + l]));
            ahead.clear();
            if let Some(n) = next {
                ahead.extend(all[n.r0..n.r1].iter().map(|r| &r[n.t..n.t + n.l]));
            }
            if first(r0) {
                bank.rows_first(t, &rows, &ahead);
            } else {
                bank.rows(t, &rows, &ahead);
            }
            Ok(())
        });
    }
    bank.make();
    // Short reduced runs after a kept axis (a (…, n/f, f) window split): fold them a
    // tile at a time rather than one `f`-element call each.
    if let [outer @ .., (k, false), (f, true)] = p.groups.as_slice()
        && *f <= SHORT_FOLD
        && !p.empty
    {
        let (k, f) = (*k, *f);
        let per = (TILE / f).max(1);
        return each_outer(p, outer.len(), |io, oo| {
            let mut j = 0;
            while j < k {
                let m = per.min(k - j);
                bank.folds(oo + j, src.get::<T>(io + j * f, m * f)?, f);
                j += m;
            }
            Ok(())
        });
    }
    visit(p, |io, len, oo, red| {
        let xs = src.get::<T>(io, len)?;
        if red {
            bank.fold(oo, xs);
        } else {
            bank.row(oo, xs);
        }
        Ok(())
    })
}

struct Rows<'s, 'a> {
    src: &'s RowSource<'a>,
    ev: Option<Evaluator<'a>>,
    ctx: BlockCtx<'s>,
    cast: Option<Buffer>,
    /// A streamed block's current range.
    scratch: Option<Buffer>,
}

impl<'s, 'a> Rows<'s, 'a> {
    /// The whole block when it is one materialised buffer.
    fn block<T: Element>(&self) -> Option<&[T]> {
        match (&self.cast, self.src) {
            (Some(b), _) => T::slice_of(b),
            (None, RowSource::Block(b)) => T::slice_of(b),
            _ => None,
        }
    }

    /// Every row of a materialised `(rows, cols)` plan, across stacked blocks too.
    fn rows<T: Element>(&self, p: &Plan) -> Option<Vec<&[T]>> {
        let [(nr, true), (nk, false)] = p.groups.as_slice() else {
            return None;
        };
        let (nr, nk) = (*nr, *nk);
        if p.empty || nk == 0 {
            return None;
        }
        let out: Vec<&[T]> = match (self.block::<T>(), self.src) {
            (Some(b), _) => b.chunks_exact(nk).collect(),
            (None, RowSource::Stack { blocks, cols, span }) => {
                if span.1 - span.0 != nk {
                    return None;
                }
                let mut v = Vec::with_capacity(nr);
                for b in blocks.iter() {
                    v.extend(T::slice_of(b)?.chunks_exact(*cols).map(|r| &r[span.0..span.1]));
                }
                v
            }
            _ => return None,
        };
        (out.len() == nr).then_some(out)
    }

    fn get<T: Element>(&mut self, start: usize, len: usize) -> Result<&[T]> {
        let buf: &Buffer = if let Some(b) = &self.cast {
            b
        } else {
            match self.src {
                RowSource::Block(b) => b,
                RowSource::Stack { blocks, cols, span } => {
                    // Rows never straddle blocks: `visit` tiles within a row.
                    let width = span.1 - span.0;
                    let (mut row, col) = (start / width, span.0 + start % width);
                    for b in blocks.iter() {
                        let r = b.len() / cols;
                        if row < r {
                            let v = T::slice_of(b)
                                .ok_or_else(|| Error::Unsupported("reduction row dtype mismatch".into()))?;
                            let at = row * cols + col;
                            return v
                                .get(at..at + len)
                                .ok_or_else(|| Error::Unsupported("stacked reduction row out of range".into()));
                        }
                        row -= r;
                    }
                    return Err(Error::Unsupported("stacked reduction row out of range".into()));
                }
                RowSource::Stream { dtype, feed } => {
                    let size = dtype.size();
                    if self.scratch.as_ref().is_none_or(|b| b.len() < len) {
                        self.scratch = Some(Buffer::zeros(*dtype, len.max(TILE)));
                    }
                    let buf = self.scratch.as_mut().expect("just set");
                    let bytes = buf
                        .bytes_mut()
                        .ok_or_else(|| Error::Unsupported("streamed reduction of bool data".into()))?;
                    feed.read(start * size, &mut bytes[..len * size])?;
                    let v =
                        T::slice_of(buf).ok_or_else(|| Error::Unsupported("reduction row dtype mismatch".into()))?;
                    return Ok(&v[..len]);
                }
                RowSource::Program { inputs, .. } => {
                    let ev = self.ev.as_mut().expect("evaluator");
                    let b = ev.eval(&self.ctx, inputs, start, len)?;
                    return T::slice_of(b).ok_or_else(|| Error::Unsupported("reduction row dtype mismatch".into()));
                }
            }
        };
        let v = T::slice_of(buf).ok_or_else(|| Error::Unsupported("reduction row dtype mismatch".into()))?;
        Ok(&v[start..start + len])
    }
}

/// Chunk step: reduces `axes` of one block (shape `ctx.shape`) into a partial whose
/// reduced axes have length 1.
///
/// # Errors
/// When the source does not fit (a lowering bug) or an op/dtype pair is unsupported.
pub fn partial(
    op: ReduceOp,
    axes: &[usize],
    src: &RowSource<'_>,
    ctx: &BlockCtx<'_>,
    arg: Option<ArgInfo<'_>>,
    acc: Option<Partial>,
) -> Result<Partial> {
    let mut dt = match src {
        RowSource::Block(b) => b.dtype(),
        RowSource::Stack { blocks, .. } => {
            let dt = blocks.first().map_or(DType::F64, |b| b.dtype());
            if dt == DType::Bool || blocks.iter().any(|b| b.dtype() != dt) {
                return Err(Error::Unsupported(
                    "stacked reduction blocks of bool or mixed dtypes".into(),
                ));
            }
            dt
        }
        RowSource::Program { prog, .. } => prog.out_dtype(),
        RowSource::Stream { dtype, .. } => {
            if *dtype == DType::Bool {
                return Err(Error::Unsupported("streamed reduction of bool data".into()));
            }
            *dtype
        }
    };
    let mut rows = Rows {
        src,
        ev: None,
        ctx: *ctx,
        cast: None,
        scratch: None,
    };
    if let RowSource::Program { prog, .. } = src {
        rows.ev = Some(Evaluator::new(prog));
    }
    // Bool data reduces as int8 (0/1); results are cast back by the aggregate step.
    if dt == DType::Bool {
        let b = match src {
            RowSource::Block(b) => cast_buffer(b, DType::I8),
            RowSource::Stack { .. } | RowSource::Stream { .. } => unreachable!("rejected above"),
            RowSource::Program { prog, inputs } => cast_buffer(&super::eval::eval_block(prog, ctx, inputs)?, DType::I8),
        };
        rows.cast = Some(b);
        dt = DType::I8;
    }
    let p = plan(ctx.shape, axes);
    let n = p.out_len;
    num_dispatch!(&Buffer::zeros(dt, 0), _v, T => partial_typed::<T>(op, &p, n, &mut rows, ctx, arg, acc), bool => unreachable!("bool data was cast to int8 above"))
}

/// `(rows, cols)` when reducing `axes` of a block of `shape` reads it as rows of kept
/// elements, one row per reduced position (the reduced axes lead, as `axis=0` of a
/// `(time, lat, lon)` block), with more than one kept element per row.
#[must_use]
pub fn stack_dims(shape: &[usize], axes: &[usize]) -> Option<(usize, usize)> {
    let p = plan(shape, axes);
    match p.groups.as_slice() {
        [(r, true), (k, false)] if !p.empty => Some((*r, *k)),
        _ => None,
    }
}

/// Chunk step over several materialised blocks at once, each read as `(rows_i, cols)`
/// (see [`stack_dims`]; not argmin/argmax, which need block offsets). Every tile's
/// accumulators then take all the group's rows before they are written back, instead
/// of being read and written once per block: for a mean over `axis=0` of (10, 721,
/// 1440) f32 blocks that is 33 MB of accumulator traffic per block saved.
///
/// # Errors
/// When the blocks do not fit `cols`, mix dtypes, or are bool; as [`partial`].
pub fn partial_stacked(op: ReduceOp, blocks: &[&Buffer], cols: usize) -> Result<Partial> {
    partial_span(op, blocks, cols, 0..cols)
}

/// [`partial_stacked`] over the columns `span` of every row only: the partial of those
/// columns, with the bits they have in the whole-row partial when `span.start` is a
/// multiple of [`TILE`] (each column is then folded by the same tile and row groups).
/// A split reduction (`crate::optimize::SplitColumns`) reduces a field this way, one
/// span per task, all of the field's blocks at once, so no partial of the whole field
/// is ever written.
///
/// # Errors
/// As [`partial_stacked`]; a span outside the row.
pub fn partial_span(op: ReduceOp, blocks: &[&Buffer], cols: usize, span: std::ops::Range<usize>) -> Result<Partial> {
    if op.is_arg() || cols == 0 || blocks.iter().any(|b| b.len() % cols != 0) {
        return Err(Error::Unsupported("blocks that do not stack into rows".into()));
    }
    if span.start >= span.end || span.end > cols {
        return Err(Error::Unsupported(format!("columns {span:?} outside rows of {cols}")));
    }
    let rows: usize = blocks.iter().map(|b| b.len() / cols).sum();
    let shape = [rows, span.end - span.start];
    let ctx = BlockCtx {
        global_shape: &shape,
        offset: &[0, 0],
        shape: &shape,
    };
    let src = RowSource::Stack {
        blocks,
        cols,
        span: (span.start, span.end),
    };
    partial(op, &[0], &src, &ctx, None, None)
}

fn mismatch() -> Error {
    Error::Unsupported("accumulating into a partial of another kind or size".into())
}

/// `n` copies of `v`, written (not `calloc`ed): accumulators are read before they are
/// written, and fresh zero pages from `calloc` then fault twice each — once mapping
/// the shared zero page, once copying it on the first write, with a TLB shootdown to
/// every core. That made the first reduction in a process 4× slower than the next
/// (nanmean over an in-memory (365, 721, 1440) field: 430 ms → 98 ms).
fn filled<A: Copy>(n: usize, v: A) -> Vec<A> {
    let mut out = Vec::with_capacity(n);
    // The pointer escapes before the fill, so the allocation and the fill cannot be
    // folded back into a `calloc`.
    std::hint::black_box(out.as_mut_ptr());
    out.resize(n, v);
    out
}

fn acc_vec<A: Element>(acc: Option<Partial>, n: usize, init: A) -> Result<Vec<A>> {
    match acc {
        None => Ok(filled(n, init)),
        Some(Partial::Acc(b)) if b.len() == n => A::vec_of(b).map_err(|_| mismatch()),
        Some(_) => Err(mismatch()),
    }
}

/// The accumulators of `acc` when given (None: the bank makes them, see [`Unmade`]).
fn acc_given<A: Element>(acc: Option<Partial>, n: usize) -> Result<Option<Vec<A>>> {
    match acc {
        None => Ok(None),
        Some(Partial::Acc(b)) if b.len() == n => A::vec_of(b).map(Some).map_err(|_| mismatch()),
        Some(_) => Err(mismatch()),
    }
}

fn mean_vecs(acc: Option<Partial>, n: usize) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
    match acc {
        None => Ok(None),
        Some(Partial::Mean { sum, n: c }) if c.len() == n => Ok(Some((sum, c))),
        Some(_) => Err(mismatch()),
    }
}

fn partial_typed<T: Num>(
    op: ReduceOp,
    p: &Plan,
    n: usize,
    rows: &mut Rows<'_, '_>,
    ctx: &BlockCtx<'_>,
    arg: Option<ArgInfo<'_>>,
    acc: Option<Partial>,
) -> Result<Partial> {
    use ReduceOp::*;
    macro_rules! acc_bank {
        ($A:ty, $nan:expr, $prod:expr) => {{
            let (v, unmade) = Unmade::vec(acc_given::<$A>(acc, n)?, n);
            if $nan {
                let mut b = SumBank::<$A, true, $prod>(v, unmade);
                drive::<T>(p, rows, &mut b)?;
                <$A>::into_buffer(b.0)
            } else {
                let mut b = SumBank::<$A, false, $prod>(v, unmade);
                drive::<T>(p, rows, &mut b)?;
                <$A>::into_buffer(b.0)
            }
        }};
    }
    macro_rules! sum_like {
        ($nan:expr, $prod:expr) => {{
            match op.acc_dtype(T::DTYPE) {
                DType::F64 => acc_bank!(f64, $nan, $prod),
                DType::U64 => acc_bank!(u64, $nan, $prod),
                _ => acc_bank!(i64, $nan, $prod),
            }
        }};
    }
    macro_rules! run {
        ($bank:expr) => {{
            let mut b = $bank;
            drive::<T>(p, rows, &mut b)?;
            b
        }};
    }
    Ok(match op {
        Sum => Partial::Acc(sum_like!(false, false)),
        NanSum => Partial::Acc(sum_like!(true, false)),
        Prod => Partial::Acc(sum_like!(false, true)),
        NanProd => Partial::Acc(sum_like!(true, true)),
        Min => Partial::Acc(T::into_buffer(
            run!(MinMaxBank::<T, false, false>(acc_vec(acc, n, T::MAX)?)).0,
        )),
        Max => Partial::Acc(T::into_buffer(
            run!(MinMaxBank::<T, true, false>(acc_vec(acc, n, T::MIN)?)).0,
        )),
        NanMin => Partial::Acc(T::into_buffer(
            run!(MinMaxBank::<T, false, true>(acc_vec(acc, n, nan_or(T::MAX))?)).0,
        )),
        NanMax => Partial::Acc(T::into_buffer(
            run!(MinMaxBank::<T, true, true>(acc_vec(acc, n, nan_or(T::MIN))?)).0,
        )),
        Any => Partial::Acc(Buffer::Bool(run!(LogicBank::<false>(acc_vec(acc, n, false)?)).0)),
        All => Partial::Acc(Buffer::Bool(run!(LogicBank::<true>(acc_vec(acc, n, true)?)).0)),
        Count => Partial::Acc(Buffer::I64(run!(CountBank(acc_vec(acc, n, 0i64)?)).0)),
        Mean => {
            let b = run!(MeanBank::<false>::new(mean_vecs(acc, n)?, n));
            Partial::Mean { sum: b.sum, n: b.n }
        }
        NanMean => {
            let b = run!(MeanBank::<true>::new(mean_vecs(acc, n)?, n));
            Partial::Mean { sum: b.sum, n: b.n }
        }
        Var | Std | NanVar | NanStd => {
            let nan = op.skips_nan();
            let (sum, cnt) = if nan {
                let b = run!(MeanBank::<true>::new(None, n));
                (b.sum, b.n)
            } else {
                let b = run!(MeanBank::<false>::new(None, n));
                (b.sum, b.n)
            };
            let mean: Vec<f64> = sum
                .iter()
                .zip(&cnt)
                .map(|(&s, &c)| if c > 0.0 { s / c } else { 0.0 })
                .collect();
            let m2 = if nan {
                run!(M2Bank::<true> {
                    mean: &mean,
                    m2: filled(n, 0.0)
                })
                .m2
            } else {
                run!(M2Bank::<false> {
                    mean: &mean,
                    m2: filled(n, 0.0)
                })
                .m2
            };
            // Moments need the block's own mean first (two passes), so a block's moments
            // are merged into the group's with Chan's formula.
            let fresh = Partial::Moments { n: cnt, mean, m2 };
            match acc {
                None => fresh,
                Some(mut a) => {
                    merge(op, &mut a, &fresh)?;
                    a
                }
            }
        }
        ArgMin | ArgMax | NanArgMin | NanArgMax => {
            let info = arg.ok_or_else(|| Error::Unsupported("argmin/argmax without index information".into()))?;
            let (val, idx) = match acc {
                None => (filled(n, T::default()), filled(n, -1i64)),
                Some(Partial::Arg { val, idx }) if idx.len() == n => (T::vec_of(val).map_err(|_| mismatch())?, idx),
                Some(_) => return Err(mismatch()),
            };
            arg_partial::<T>(op, p, rows, ctx, info, val, idx)?
        }
    })
}

fn nan_or<T: Num>(fallback: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(f64::NAN)
    } else {
        fallback
    }
}

/// Does candidate (a, ia) beat incumbent (b, ib)? First occurrence wins ties; argmin and
/// argmax return the first NaN, the nan-variants never pick NaN unless all are.
#[inline]
fn wins<T: Element>(op: ReduceOp, a: T, ia: i64, b: T, ib: i64) -> bool {
    if ib < 0 {
        return true;
    }
    let (an, bn) = (a.is_nan(), b.is_nan());
    let skip = op.skips_nan();
    if an || bn {
        if an && bn {
            return ia < ib;
        }
        return if skip { bn } else { an };
    }
    let max = matches!(op, ReduceOp::ArgMax | ReduceOp::NanArgMax);
    let better = if max { a > b } else { a < b };
    better || (a == b && ia < ib)
}

fn arg_partial<T: Num>(
    op: ReduceOp,
    p: &Plan,
    rows: &mut Rows<'_, '_>,
    ctx: &BlockCtx<'_>,
    info: ArgInfo<'_>,
    mut val: Vec<T>,
    mut idx: Vec<i64>,
) -> Result<Partial> {
    let lstr = c_strides(ctx.shape);
    let gstr = c_strides(info.global_shape);
    let shape = ctx.shape;
    let index_of = |flat: usize| -> i64 {
        match info.axis {
            Some(ax) => (info.offset[ax] + (flat / lstr[ax]) % shape[ax].max(1)) as i64,
            None => {
                let mut g = 0usize;
                let mut rem = flat;
                for a in 0..shape.len() {
                    let i = rem / lstr[a];
                    rem %= lstr[a];
                    g += (info.offset[a] + i) * gstr[a];
                }
                g as i64
            }
        }
    };
    let max = matches!(op, ReduceOp::ArgMax | ReduceOp::NanArgMax);
    let skip = op.skips_nan();
    visit(p, |io, len, oo, red| {
        let xs = rows.get::<T>(io, len)?;
        if red {
            // The whole row folds into one output: find the row's first best with plain
            // comparisons, then compute one index and compare once with the incumbent.
            let mut best: Option<usize> = None;
            for (j, &x) in xs.iter().enumerate() {
                let take = match best {
                    None => true,
                    Some(b) => {
                        let y = xs[b];
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => false,
                            (true, false) => !skip,
                            (false, true) => skip,
                            (false, false) => {
                                if max {
                                    x > y
                                } else {
                                    x < y
                                }
                            }
                        }
                    }
                };
                if take {
                    best = Some(j);
                    if !skip && x.is_nan() {
                        break; // the first NaN wins argmin/argmax
                    }
                }
            }
            if let Some(j) = best {
                let i = index_of(io + j);
                if wins(op, xs[j], i, val[oo], idx[oo]) {
                    val[oo] = xs[j];
                    idx[oo] = i;
                }
            }
            return Ok(());
        }
        // A row of kept elements: argmin/argmax over one axis, which is reduced, so its
        // coordinate (the index we record) is the same for the whole row.
        // `wins` written without branches (non-short-circuit `&`/`|` and selects), so the
        // loop vectorises (criterion `reduce/argmax_*_axis0`: 0.29–0.62 → 2.7–3.1 GiB/s).
        let i = index_of(io);
        let n = xs.len();
        let (vals, idxs) = (&mut val[oo..oo + n], &mut idx[oo..oo + n]);
        for ((v, ix), &x) in vals.iter_mut().zip(idxs.iter_mut()).zip(xs) {
            let (cur, ci) = (*v, *ix);
            let (an, bn) = (x.is_nan(), cur.is_nan());
            let lt = i < ci;
            let better = if max { x > cur } else { x < cur };
            let nan_pick = if skip { bn } else { an };
            let take = (ci < 0) | (an & bn & lt) | ((an ^ bn) & nan_pick) | (!(an | bn) & (better | ((x == cur) & lt)));
            *v = if take { x } else { cur };
            *ix = if take { i } else { ci };
        }
        Ok(())
    })?;
    Ok(Partial::Arg {
        val: T::into_buffer(val),
        idx,
    })
}

/// Combine step: merges `b` into `a` (same shape), in that order.
///
/// # Errors
/// When the partials are of different kinds (a lowering bug).
pub fn merge(op: ReduceOp, a: &mut Partial, b: &Partial) -> Result<()> {
    match (a, b) {
        (Partial::Acc(x), Partial::Acc(y)) => merge_acc(op, x, y),
        (Partial::Mean { sum, n }, Partial::Mean { sum: s2, n: n2 }) => {
            for i in 0..sum.len() {
                sum[i] += s2[i];
                n[i] += n2[i];
            }
            Ok(())
        }
        (
            Partial::Moments { n, mean, m2 },
            Partial::Moments {
                n: nb,
                mean: mb,
                m2: m2b,
            },
        ) => {
            for i in 0..n.len() {
                let (na, nbi) = (n[i], nb[i]);
                let nt = na + nbi;
                if nbi == 0.0 {
                    continue;
                }
                if na == 0.0 {
                    n[i] = nbi;
                    mean[i] = mb[i];
                    m2[i] = m2b[i];
                    continue;
                }
                let d = mb[i] - mean[i];
                mean[i] += d * nbi / nt;
                m2[i] += m2b[i] + d * d * na * nbi / nt;
                n[i] = nt;
            }
            Ok(())
        }
        (Partial::Arg { val, idx }, Partial::Arg { val: vb, idx: ib }) => {
            crate::dispatch_buffer!(val, va, T => {
                let vb = T::slice_of(vb).ok_or_else(|| Error::Unsupported("argmin partials differ in dtype".into()))?;
                for i in 0..idx.len() {
                    if ib[i] >= 0 && wins(op, vb[i], ib[i], va[i], idx[i]) {
                        va[i] = vb[i];
                        idx[i] = ib[i];
                    }
                }
                Ok(())
            })
        }
        _ => Err(Error::Unsupported(format!("mismatched partials for {}", op.name()))),
    }
}

fn merge_acc(op: ReduceOp, a: &mut Buffer, b: &Buffer) -> Result<()> {
    use ReduceOp::*;
    if a.dtype() != b.dtype() {
        return Err(Error::Unsupported("partials differ in dtype".into()));
    }
    if let (Buffer::Bool(x), Buffer::Bool(y)) = (&mut *a, b) {
        let all = op == All;
        for (x, &y) in x.iter_mut().zip(y) {
            *x = if all { *x && y } else { *x || y };
        }
        return Ok(());
    }
    num_dispatch!(a, x, T => {
        let y = T::slice_of(b).expect("dtype checked");
        let f: fn(T, T) -> T = match op {
            Sum | NanSum | Count => <T as Num>::add,
            Prod | NanProd => <T as Num>::mul,
            Min => mm::<T, false, false>,
            Max => mm::<T, true, false>,
            NanMin => mm::<T, false, true>,
            NanMax => mm::<T, true, true>,
            _ => return Err(Error::Unsupported(format!("{} has no elementwise combine", op.name()))),
        };
        for (x, &y) in x.iter_mut().zip(y) { *x = f(*x, y); }
        Ok(())
    }, bool => unreachable!("handled above"))
}

/// Aggregate step: the final partial as the result dtype.
///
/// # Errors
/// [`Error::Value`] for `nanargmin`/`nanargmax` over an all-NaN slice (as NumPy).
pub fn finalize(op: ReduceOp, part: Partial, ddof: f64, out: DType) -> Result<Buffer> {
    use ReduceOp::*;
    Ok(match part {
        Partial::Acc(b) => cast_buffer(&b, out),
        Partial::Mean { sum, n } => {
            let v: Vec<f64> = sum.iter().zip(&n).map(|(&s, &c)| s / c).collect();
            cast_buffer(&Buffer::F64(v), out)
        }
        Partial::Moments { n, m2, .. } => {
            let v: Vec<f64> = n
                .iter()
                .zip(&m2)
                .map(|(&c, &m)| {
                    let var = if c == 0.0 { f64::NAN } else { m / (c - ddof).max(0.0) };
                    if matches!(op, Std | NanStd) { var.sqrt() } else { var }
                })
                .collect();
            cast_buffer(&Buffer::F64(v), out)
        }
        Partial::Arg { val, idx } => {
            if op.skips_nan() {
                let all_nan = crate::dispatch_buffer!(&val, v, _T => v.iter().any(|x| x.is_nan()));
                if all_nan {
                    return Err(Error::Value(format!("{}: All-NaN slice encountered", op.name())));
                }
            }
            Buffer::I64(idx)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: every element of column `j` over all rows of all blocks, in f64.
    fn column(blocks: &[Vec<f32>], cols: usize, j: usize) -> Vec<f64> {
        blocks
            .iter()
            .flat_map(|b| b.iter().skip(j).step_by(cols).map(|&x| f64::from(x)))
            .collect()
    }

    fn finalized(op: ReduceOp, p: Partial) -> Vec<f64> {
        let out = op.result_dtype(DType::F32);
        let b = finalize(op, p, 1.0, out).expect("finalize");
        (0..b.len()).map(|i| b.get_f64(i)).collect()
    }

    #[test]
    fn stacked_blocks_reduce_as_one_block() {
        // Three blocks of 5, 13 and 30 rows (more than ROW_GROUP, not a multiple of it),
        // 2100 columns (a full tile, a ragged tile, a tail under the lane width).
        let cols = 2100;
        let rows = [5usize, 13, 30];
        let blocks: Vec<Vec<f32>> = rows
            .iter()
            .enumerate()
            .map(|(b, &r)| {
                (0..r * cols)
                    .map(|i| {
                        let k = i + 7919 * b;
                        if k % 17 == 3 || (i % cols == 11) {
                            f32::NAN
                        } else {
                            (k % 101) as f32 * 0.25 - 9.0
                        }
                    })
                    .collect()
            })
            .collect();
        let bufs: Vec<Buffer> = blocks.iter().map(|b| Buffer::F32(b.clone())).collect();
        let refs: Vec<&Buffer> = bufs.iter().collect();
        let ops = [
            ReduceOp::Sum,
            ReduceOp::NanSum,
            ReduceOp::NanProd,
            ReduceOp::Mean,
            ReduceOp::NanMean,
            ReduceOp::NanVar,
            ReduceOp::NanMin,
            ReduceOp::Max,
            ReduceOp::Count,
        ];
        for op in ops {
            let got = finalized(op, partial_stacked(op, &refs, cols).expect("stacked"));
            assert_eq!(got.len(), cols);
            for j in [0, 1, 11, 15, 16, 2047, 2048, 2090, 2099] {
                let v = column(&blocks, cols, j);
                let kept: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                let any_nan = kept.len() < v.len();
                let want = match op {
                    ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Max if any_nan => f64::NAN,
                    ReduceOp::Sum => v.iter().sum(),
                    ReduceOp::NanSum => kept.iter().sum(),
                    ReduceOp::NanProd => kept.iter().product(),
                    ReduceOp::Mean => v.iter().sum::<f64>() / v.len() as f64,
                    ReduceOp::NanMean | ReduceOp::NanMin if kept.is_empty() => f64::NAN,
                    ReduceOp::NanVar if kept.len() < 2 => f64::NAN,
                    ReduceOp::NanMean => kept.iter().sum::<f64>() / kept.len() as f64,
                    ReduceOp::NanVar => {
                        let m = kept.iter().sum::<f64>() / kept.len() as f64;
                        kept.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (kept.len() as f64 - 1.0)
                    }
                    ReduceOp::NanMin => kept.iter().copied().fold(f64::INFINITY, f64::min),
                    ReduceOp::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    ReduceOp::Count => kept.len() as f64,
                    _ => unreachable!(),
                };
                let g = got[j];
                // Results are f32 (NumPy's dtypes for f32 data), accumulated in f64.
                let ok = (g.is_nan() && want.is_nan()) || (g - want).abs() <= 1e-6 * want.abs().max(1.0);
                assert!(ok, "{op:?} column {j}: got {g}, want {want}");
            }
        }
    }

    #[test]
    fn column_spans_give_the_bits_of_the_whole_rows() {
        // 4196 columns: two whole tiles and a ragged one; spans start on tiles. Every
        // op that stacks, over f32 and i32 blocks with NaNs, huge and negative values.
        let cols = 4196;
        let rows = [7usize, 13, 2];
        let make = |b: usize, i: usize| -> f64 {
            let k = i * 31 + 7919 * b;
            match k % 23 {
                3 => f64::NAN,
                5 => 3.0e38,
                7 => -0.0,
                _ => (k % 101) as f64 * 0.37 - 11.0,
            }
        };
        for dt in [DType::F32, DType::I32] {
            let bufs: Vec<Buffer> = rows
                .iter()
                .enumerate()
                .map(|(b, &r)| match dt {
                    DType::F32 => Buffer::F32((0..r * cols).map(|i| make(b, i) as f32).collect()),
                    _ => Buffer::I32((0..r * cols).map(|i| (i * 7 + b) as i32 % 1000 - 500).collect()),
                })
                .collect();
            let refs: Vec<&Buffer> = bufs.iter().collect();
            for op in ReduceOp::ALL.into_iter().filter(|o| !o.is_arg()) {
                let out = op.result_dtype(dt);
                let whole = finalize(op, partial_stacked(op, &refs, cols).expect("whole"), 1.0, out).expect("fin");
                let mut got = Vec::new();
                for span in [0..TILE, TILE..2 * TILE, 2 * TILE..cols] {
                    let p = partial_span(op, &refs, cols, span).expect("span");
                    let b = finalize(op, p, 1.0, out).expect("fin");
                    got.extend((0..b.len()).map(|i| b.get_f64(i).to_bits()));
                }
                let want: Vec<u64> = (0..whole.len()).map(|i| whole.get_f64(i).to_bits()).collect();
                assert_eq!(got, want, "{op:?} over {dt}");
            }
        }
        let b = Buffer::F32(vec![0.0; 10]);
        assert!(partial_span(ReduceOp::Sum, &[&b], 5, 3..6).is_err());
        assert!(partial_span(ReduceOp::Sum, &[&b], 5, 2..2).is_err());
    }

    #[test]
    fn stacking_refuses_what_it_cannot_read_as_rows() {
        assert_eq!(stack_dims(&[10, 721, 1440], &[0]), Some((10, 721 * 1440)));
        assert_eq!(stack_dims(&[4, 3, 6, 5], &[0, 2]), None);
        // A unit axis between two reduced ones does not separate them.
        assert_eq!(stack_dims(&[4, 1, 6, 5], &[0, 2]), Some((24, 5)));
        assert_eq!(stack_dims(&[4, 1, 6, 5], &[0, 1]), Some((4, 30)));
        assert_eq!(stack_dims(&[4, 6], &[1]), None);
        assert_eq!(stack_dims(&[4, 6], &[0, 1]), None);
        let b = Buffer::F32(vec![0.0; 10]);
        assert!(partial_stacked(ReduceOp::ArgMax, &[&b], 5).is_err());
        assert!(partial_stacked(ReduceOp::Sum, &[&b], 3).is_err());
    }

    /// The bits of a sum-like or mean partial.
    fn bits(p: &Partial) -> Vec<u64> {
        match p {
            Partial::Acc(b) => (0..b.len()).map(|i| b.get_f64(i).to_bits()).collect(),
            Partial::Mean { sum, n } => sum.iter().chain(n).map(|x| x.to_bits()).collect(),
            other => panic!("unexpected partial {other:?}"),
        }
    }

    #[test]
    fn accumulators_made_tile_by_tile_are_the_bits_of_given_identities() {
        // A fresh partial's accumulators are made by the first rows of each tile (the
        // tile walk) or up front (every other path); either way the bits must be those
        // of adding the block to given identity accumulators (here the partial of an
        // empty block of the same kept shape).
        let cases: [(&[usize], &[usize]); 5] = [
            (&[7, 2100], &[0]),    // tile walk: full and ragged tiles, a lane tail
            (&[30, 3, 40], &[0]),  // tile walk, rows in several groups
            (&[4, 3, 5], &[0, 2]), // reduced axes apart: element by element
            (&[6, 9], &[1]),       // kept axis first: folds
            (&[3, 0], &[0]),       // nothing kept
        ];
        let ops = [
            ReduceOp::Sum,
            ReduceOp::NanSum,
            ReduceOp::Prod,
            ReduceOp::NanProd,
            ReduceOp::Mean,
            ReduceOp::NanMean,
        ];
        for (shape, axes) in cases {
            let len: usize = shape.iter().product();
            let xs: Vec<f32> = (0..len)
                .map(|i| {
                    if i % 13 == 5 {
                        f32::NAN
                    } else {
                        (i % 7) as f32 * 0.375 - 1.0
                    }
                })
                .collect();
            let ints: Vec<i32> = (0..len).map(|i| (i % 11) as i32 - 4).collect();
            let mut empty_shape = shape.to_vec();
            for &a in axes {
                empty_shape[a] = 0;
            }
            for (block, empty) in [
                (Buffer::F32(xs), Buffer::F32(Vec::new())),
                (Buffer::I32(ints), Buffer::I32(Vec::new())),
            ] {
                for op in ops {
                    let at = vec![0; shape.len()];
                    let run = |b: &Buffer, sh: &[usize], acc: Option<Partial>| {
                        let c = BlockCtx {
                            global_shape: sh,
                            offset: &at,
                            shape: sh,
                        };
                        partial(op, axes, &RowSource::Block(b), &c, None, acc).expect("partial")
                    };
                    let identity = run(&empty, &empty_shape, None);
                    let made = run(&block, shape, None);
                    let given = run(&block, shape, Some(identity));
                    assert_eq!(
                        bits(&made),
                        bits(&given),
                        "{op:?} over {axes:?} of {shape:?} ({})",
                        block.dtype()
                    );
                }
            }
        }
    }

    /// Rows of `cols` f32 with NaN, −0.0, +0.0, huge and tiny values sprinkled in.
    fn awkward_rows(n: usize, cols: usize, seed: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|r| {
                (0..cols)
                    .map(|j| match (r * 31 + j * 7 + seed) % 23 {
                        0 => f32::NAN,
                        1 => -0.0,
                        2 => 0.0,
                        3 => 3.0e38,
                        4 => -1.0e-30,
                        k => (k as f32 - 11.5) * 0.1 + (j % 97) as f32,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn wide_mean_loop_gives_the_bits_of_the_portable_one() {
        // The AVX-512 loop (`mean512`, taken where the CPU has it) against the portable
        // loop, for mean and nanmean: made tiles (written, not added to zeros), added
        // groups, a column 0 of −0.0 only (a sum that must stay +0.0),
        // 2100 columns (131 lane blocks and a 4-column tail), prefetch targets given
        // and not.
        let cols = 2100;
        let mut groups = vec![
            awkward_rows(10, cols, 0),
            awkward_rows(12, cols, 5),
            awkward_rows(3, cols, 9),
        ];
        for r in groups.iter_mut().flatten() {
            r[0] = -0.0;
        }
        fn run<const NAN: bool>(groups: &[Vec<Vec<f32>>], wide: bool, cols: usize) -> (Vec<u64>, Vec<u64>) {
            let mut bank = MeanBank::<NAN>::new(None, cols);
            bank.wide = wide;
            for (g, rows) in groups.iter().enumerate() {
                let rows: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
                let ahead: Vec<&[f32]> = groups
                    .get(g + 1)
                    .map_or(Vec::new(), |n| n.iter().map(Vec::as_slice).collect());
                if g == 0 {
                    Bank::<f32>::rows_first(&mut bank, 0, &rows, &ahead);
                } else {
                    Bank::<f32>::rows(&mut bank, 0, &rows, &ahead);
                }
            }
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect();
            (bits(&bank.sum), bits(&bank.n))
        }
        let portable = run::<true>(&groups, false, cols);
        assert_eq!(run::<true>(&groups, true, cols), portable);
        assert_eq!(portable.0[0], 0.0f64.to_bits(), "−0.0 rows added to +0.0 give +0.0");
        let all = 25f64.to_bits();
        assert_eq!(portable.1[0], all);
        assert!(portable.1.iter().any(|&n| n != all), "NaN was skipped somewhere");
        assert_eq!(run::<false>(&groups, true, cols), run::<false>(&groups, false, cols));
        if !mean512::available() {
            eprintln!("no AVX-512 here: the portable loop was compared with itself");
        }
    }

    #[test]
    fn tile_walk_names_the_next_group_it_will_visit() {
        // The `next` a walk hands over (the rows to prefetch) is the group it visits
        // next, and the walk covers every (row, column) once.
        for (nr, nk) in [
            (1, 1),
            (5, 2048),
            (12, 2049),
            (13, 4096),
            (40, 5000),
            (365, 3000),
            (3, 0),
            (0, 3),
        ] {
            let mut seen = Vec::new();
            let mut promised: Option<Group> = None;
            tile_groups(nr, nk, |x, next| {
                if let Some(p) = promised {
                    assert_eq!((p.t, p.l, p.r0, p.r1), (x.t, x.l, x.r0, x.r1));
                }
                assert!(x.r1 - x.r0 <= ROW_GROUP && x.l <= TILE);
                seen.push((x.t, x.l, x.r0, x.r1));
                promised = next;
                Ok(())
            })
            .expect("walk");
            assert!(promised.is_none(), "the last group has no successor");
            let cells: usize = seen.iter().map(|&(_, l, r0, r1)| l * (r1 - r0)).sum();
            assert_eq!(cells, nr * nk, "({nr}, {nk})");
        }
    }
}
