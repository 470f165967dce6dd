//! The accumulators of the chunk step: one [`Bank`] per kind of reduction.
//!
//! A bank owns a partial's accumulators and takes a block's elements three ways: a row
//! added elementwise (`row`), a run folded into one element (`fold`), and a group of
//! rows added side by side (`rows`), which the banks that matter for speed (sums,
//! means) override to keep each column's running value in registers across the rows,
//! so the accumulators are read and written once per group instead of once per row.
//! How the rows are walked, and in which order, is [`super::drive`]'s business; the
//! banks only add, so a materialised block and a streamed one give the same bits.

use super::filled;
use crate::device::cpu::mean512;
use crate::device::cpu::num::Num;
use crate::dtype::Element;

/// Accumulator types of sums and products.
pub(super) trait Acc: Element + Num {
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
pub(super) trait Bank<T> {
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
pub(super) struct Unmade {
    /// The accumulators' length once made; 0 when they were given.
    len: usize,
}

impl Unmade {
    /// An empty vector that will hold `n` accumulators, or the given ones.
    /// Vectors that partials are done with are taken first (see [`super::pool`]).
    pub(super) fn vec<A: 'static>(given: Option<Vec<A>>, n: usize) -> (Vec<A>, Self) {
        match given {
            Some(v) => (v, Self { len: 0 }),
            None => (
                super::pool::take_as(n).unwrap_or_else(|| Vec::with_capacity(n)),
                Self { len: n },
            ),
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
pub(super) const LANES: usize = 8;

/// How far ahead in each row the `rows` overrides ask for data: 4 KiB, about the time
/// a group of rows takes to fold one cache line each.
pub(super) const PREFETCH_BYTES: usize = 4096;

/// Most rows a [`Prefetch`] covers; a `rows` call gets at most [`super::ROW_GROUP`].
pub(super) const PREFETCH_ROWS: usize = 16;

/// What a `rows` kernel prefetches while it adds row `i`'s columns `c..`: the same
/// columns of row `i` of the next call (`ahead`), so every line of a tile is asked for
/// one group of rows (≈ 100 KB of reads) before it is needed — including the first
/// lines of each tile, which a prefetch a fixed distance ahead in the same row never
/// covers, while that one fetches lines of the next tile long before they are read.
/// In a C copy of the mean loop (`benches/floor/mean_rows.c`), one core over an
/// in-memory field: 14.5 GB/s with the 4 KiB in-row prefetch, 17.1 with none, 18.9
/// with this. Without `ahead` (streamed rows), [`PREFETCH_BYTES`] ahead in the row.
pub(in crate::device::cpu) struct Prefetch<T> {
    bases: [*const T; PREFETCH_ROWS],
}

impl<T> Prefetch<T> {
    pub(in crate::device::cpu) fn new(rows: &[&[T]], ahead: &[&[T]]) -> Self {
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
    pub(in crate::device::cpu) fn at(&self, i: usize, c: usize) {
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
pub(super) fn prefetch_ptr<T>(p: *const T) {
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
pub(super) fn line_start<T>(c: usize) -> bool {
    (c * std::mem::size_of::<T>()).is_multiple_of(64)
}

pub(super) struct SumBank<A, const NAN: bool, const PROD: bool>(pub(super) Vec<A>, pub(super) Unmade);

/// `x`, or the identity of the sum (product) where `x` is a skipped NaN. The choice is
/// made in the element type, before widening: one 8-wide mask for f32 instead of two
/// 4-wide ones after conversion to f64.
#[inline(always)]
pub(super) fn unnan<T: Num, const NAN: bool, const PROD: bool>(x: T) -> T {
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
pub(super) struct MinMaxBank<T, const MAX: bool, const NAN: bool>(pub(super) Vec<T>);

#[inline(always)]
pub(super) fn mm<T: Num, const MAX: bool, const NAN: bool>(acc: T, x: T) -> T {
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

pub(super) struct LogicBank<const ALL: bool>(pub(super) Vec<bool>);
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

pub(super) struct CountBank(pub(super) Vec<i64>);
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
pub(super) const MEAN_LANES: usize = 16;

/// Sum and count; NAN skips NaN.
pub(super) struct MeanBank<const NAN: bool> {
    pub(super) sum: Vec<f64>,
    pub(super) n: Vec<f64>,
    unmade: Unmade,
    /// Whether f32 rows may take the AVX-512 loop ([`mean512`]); the same bits.
    pub(super) wide: bool,
}
impl<const NAN: bool> MeanBank<NAN> {
    /// A bank adding to `given` (sums, counts), or to accumulators it makes.
    pub(super) fn new(given: Option<(Vec<f64>, Vec<f64>)>, len: usize) -> Self {
        let (sum, n) = given.unzip();
        let (sum, unmade) = Unmade::vec(sum, len);
        let n = n.unwrap_or_else(|| super::pool::take(len).unwrap_or_else(|| Vec::with_capacity(len)));
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
pub(super) fn f32_rows<'r, 'a, T: Element>(rows: &'r [&'a [T]]) -> Option<&'r [&'a [f32]]> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: `T` is `f32` (same type id), so the two slice types are the same type.
    Some(unsafe { &*(std::ptr::from_ref(rows) as *const [&'a [f32]]) })
}

/// Second pass of var/std: squared deviations from a known mean.
pub(super) struct M2Bank<'m, const NAN: bool> {
    pub(super) mean: &'m [f64],
    pub(super) m2: Vec<f64>,
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
