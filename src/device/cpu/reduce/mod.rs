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

mod arg;
mod bank;
mod combine;
pub(crate) mod pool;

pub(super) use bank::Prefetch;
pub use combine::{finalize, merge};

use super::eval::{BlockCtx, Evaluator, InputRef, TILE, cast_buffer, num_dispatch};
use super::num::Num;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use crate::grid::c_strides;
use crate::ops::{Partial, Program, ReduceOp};
use arg::arg_partial;
use bank::{Bank, CountBank, LogicBank, M2Bank, MeanBank, MinMaxBank, SumBank, Unmade};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu::mean512;

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
