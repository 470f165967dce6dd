//! Running one task on the CPU: dispatch on its kind to the CPU kernels.

use super::GpuUse;
use crate::chunk::{Chunk, Value};
use crate::device::cpu::eval::{BlockCtx, InputRef, eval_block};
use crate::device::cpu::reduce::{
    ArgInfo, RowFeed, RowSource, finalize, merge, partial, partial_span, partial_stacked, stack_dims,
};
use crate::error::{Error, Result};
use crate::graph::{InlineLoad, ReduceNode, SplitNode, SplitTree, TaskKind};
use crate::grid::IndexIter;
use crate::ops::{Partial, ReduceSpec};
use std::sync::Arc;

fn inputs_of<'a>(vals: &'a [&'a Value]) -> Result<Vec<InputRef<'a>>> {
    vals.iter()
        .map(|v| {
            let c = v.as_chunk()?;
            Ok(InputRef {
                data: c.data(),
                shape: c.shape(),
            })
        })
        .collect()
}

thread_local! {
    // Decoded blocks of inline loads, kept for the worker's next load: reused memory
    // is written 3–4× faster than freshly mapped pages.
    static BUFFERS: std::cell::RefCell<Vec<crate::dtype::Buffer>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads one inline block (into a recycled buffer when the source decodes; shared,
/// without a copy, when it holds its blocks in memory), checking it. Errors name the
/// load as a separate Load task's would.
fn load_inline(l: &InlineLoad) -> Result<Arc<Chunk>> {
    let idx = l.grid.unlinear(l.block as usize);
    let region = l.grid.block_ranges(&idx);
    let read = || -> Result<Arc<Chunk>> {
        let c = if l.source.in_memory() {
            l.source.read_shared(&region)?
        } else {
            let spare = BUFFERS.with(|b| b.borrow_mut().pop());
            Arc::new(l.source.read_into(&region, spare)?)
        };
        check_block(&*l.source, &l.grid, &idx, &c)?;
        Ok(c)
    };
    read().map_err(|e| Error::Task {
        task: format!("load {} block {idx:?}", l.source.name()),
        source: Box::new(e),
    })
}

/// A stored block's stream as the reduction kernels read it, naming the load in errors.
struct StreamFeed<'l, F: Fn() -> String> {
    stream: std::cell::RefCell<Box<dyn crate::io::BoxStream + 'l>>,
    task: F,
}

impl<F: Fn() -> String> StreamFeed<'_, F> {
    fn named(&self, e: Error) -> Error {
        Error::Task {
            task: (self.task)(),
            source: Box::new(e),
        }
    }
}

impl<F: Fn() -> String> RowFeed for StreamFeed<'_, F> {
    fn read(&self, start: usize, out: &mut [u8]) -> Result<()> {
        self.stream.borrow_mut().read(start, out).map_err(|e| self.named(e))
    }
    fn with_ranges(&self, starts: &[usize], len: usize, f: &mut dyn FnMut(&[&[u8]]) -> Result<()>) -> Result<()> {
        // Errors from `f` (the kernel) pass through; the stream's own are named.
        let mut inner = None;
        let r = self.stream.borrow_mut().with_ranges(starts, len, &mut |s| {
            f(s).map_err(|e| {
                inner = Some(e);
                Error::Unsupported(String::new())
            })
        });
        match (r, inner) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(self.named(e)),
            (Ok(()), None) => Ok(()),
        }
    }
}

/// Rows read side by side at most for a block to be streamed (the stream caches about
/// two stored sub-blocks per row).
const STREAM_ROWS: usize = 64;

/// A stream over an inline block that a chunk step reads as `(rows, cols)` rows
/// ([`stack_dims`]), when its source offers one; errors name the load.
fn open_stream<'l>(
    l: &'l InlineLoad,
    shape: &[usize],
    axes: &[usize],
) -> Result<Option<Box<dyn crate::io::BoxStream + 'l>>> {
    let Some((rows, _)) = stack_dims(shape, axes) else {
        return Ok(None);
    };
    if rows > STREAM_ROWS || l.source.dtype() == crate::dtype::DType::Bool || l.source.in_memory() {
        return Ok(None);
    }
    let idx = l.grid.unlinear(l.block as usize);
    l.source
        .stream(&l.grid.block_ranges(&idx), rows)
        .map_err(|e| Error::Task {
            task: format!("load {} block {idx:?}", l.source.name()),
            source: Box::new(e),
        })
}

pub(super) fn recycle(c: Arc<Chunk>) {
    if let Ok(c) = Arc::try_unwrap(c) {
        BUFFERS.with(|b| {
            let mut b = b.borrow_mut();
            if b.is_empty() {
                b.push(c.into_data());
            }
        });
    }
}

/// A loaded block must have the block's shape and the source's dtype.
fn check_block(
    source: &dyn crate::io::ChunkSource,
    grid: &crate::grid::ChunkGrid,
    idx: &[usize],
    c: &Chunk,
) -> Result<()> {
    if c.shape() != grid.block_shape(idx).as_slice() || c.dtype() != source.dtype() {
        return Err(Error::Format(format!(
            "{}: block {idx:?} came back as {:?} {} (expected {:?} {})",
            source.name(),
            c.shape(),
            c.dtype(),
            grid.block_shape(idx),
            source.dtype()
        )));
    }
    Ok(())
}

fn out_shape(spec: &ReduceSpec, pshape: &[usize]) -> Vec<usize> {
    if spec.keepdims {
        pshape.to_vec()
    } else {
        pshape
            .iter()
            .enumerate()
            .filter(|(a, _)| !spec.axes.contains(a))
            .map(|(_, &n)| n)
            .collect()
    }
}

/// The chunk step of a group whose blocks are all in memory already (dependencies, or
/// in-memory blocks read inline without a copy: `reads_shared`), read as rows of one shape: all
/// blocks are reduced in one pass ([`partial_stacked`]). `None` when the group does not
/// qualify; blocks of stored sources are still decoded and folded one at a time, so a
/// task holds one decoded chunk, not the group's.
///
/// Stored blocks streamed side by side (each block's stream read as rows of one stack,
/// so the accumulators are read and written once per group instead of once per block)
/// were tried and measured slower: on the medium Zarr v2 field, `nanmean(axis=0)` took
/// 0.34 s stacking the group's 3–4 blocks and 0.325 s stacking 2, against 0.256 s one
/// block at a time (ten alternating rounds each, medians; the same bits). Each block's
/// stream keeps one decoded 512 KiB blosc block per row, so stacking k blocks keeps k
/// times as many, 12–24 MB per worker: more than the shared L3 holds next to the other
/// worker's, and decoded data then goes to memory and back, which costs more than the
/// accumulator traffic saved.
fn stacked_group(
    node: &ReduceNode,
    blocks: &[usize],
    deps: &[InputRef<'_>],
    slots: Option<&[Option<InlineLoad>]>,
    has_pre: bool,
    fin: bool,
) -> Result<Option<Value>> {
    let g = &node.in_grid;
    let spec = &node.spec;
    if has_pre || blocks.len() < 2 || spec.op.is_arg() || node.in_dtype == crate::dtype::DType::Bool {
        return Ok(None);
    }
    let total = slots.map_or(deps.len(), <[_]>::len);
    let shared = |l: &InlineLoad| {
        let idx = l.grid.unlinear(l.block as usize);
        l.source.reads_shared(&l.grid.block_ranges(&idx))
    };
    if total != blocks.len() || slots.is_some_and(|s| !s.iter().flatten().all(shared)) {
        return Ok(None);
    }
    let shapes: Vec<Vec<usize>> = blocks.iter().map(|&b| g.block_shape(&g.unlinear(b))).collect();
    let dims: Option<Vec<(usize, usize)>> = shapes.iter().map(|s| stack_dims(s, &spec.axes)).collect();
    let Some(dims) = dims else { return Ok(None) };
    let cols = dims[0].1;
    if dims.iter().any(|d| d.1 != cols) {
        return Ok(None);
    }
    let loaded = load_slots(slots)?;
    let (mut from_load, mut from_dep) = (loaded.iter(), deps.iter());
    let bufs: Vec<&crate::dtype::Buffer> = (0..blocks.len())
        .map(|k| {
            let inl = slots.is_some_and(|s| s[k].is_some());
            let b = if inl {
                from_load.next().map(|c| c.data())
            } else {
                from_dep.next().map(|r| r.data)
            };
            b.ok_or_else(|| Error::Unsupported("reduction inputs run short".into()))
        })
        .collect::<Result<_>>()?;
    let p = partial_stacked(spec.op, &bufs, cols)?;
    finish_reduce(node, p, partial_shape(&shapes[0], &spec.axes), fin).map(Some)
}

/// A split reduction's span `k`: its tree replayed over the span's columns — each
/// chunk step's blocks stacked, partials merged in the tree's order — then finalised.
fn reduce_span(split: &SplitNode, k: usize) -> Result<Value> {
    fn replay(t: &SplitTree, split: &SplitNode, span: &std::ops::Range<usize>) -> Result<Partial> {
        let op = split.node.spec.op;
        match t {
            SplitTree::Group(loads) => {
                let chunks = loads.iter().map(load_inline).collect::<Result<Vec<_>>>()?;
                let bufs: Vec<&crate::dtype::Buffer> = chunks.iter().map(|c| c.data()).collect();
                partial_span(op, &bufs, split.cols, span.clone())
            }
            SplitTree::Merge(parts) => {
                let mut it = parts.iter();
                let first = it
                    .next()
                    .ok_or_else(|| Error::Unsupported("combine without partials".into()))?;
                let mut acc = replay(first, split, span)?;
                for t in it {
                    merge(op, &mut acc, &replay(t, split, span)?)?;
                }
                Ok(acc)
            }
        }
    }
    let span = split.span(k);
    let p = replay(&split.tree, split, &span)?;
    let spec = &split.node.spec;
    let buf = finalize(spec.op, p, spec.ddof, split.node.out_dtype)?;
    Ok(Value::Chunk(Chunk::new(vec![span.len()], buf)?))
}

/// A split reduction's output block from its spans (in order).
fn reduce_join(split: &SplitNode, spans: &[&Value]) -> Result<Value> {
    if spans.len() != split.spans() {
        return Err(Error::Unsupported("split reduction spans and inputs disagree".into()));
    }
    let data = crate::dtype::Buffer::zeros(split.node.out_dtype, split.cols);
    let mut out = Chunk::new(vec![split.cols], data)?;
    for (k, v) in spans.iter().enumerate() {
        let r = split.span(k);
        out.write_box(&[r.start], v.as_chunk()?, std::slice::from_ref(&(0..r.len())))?;
    }
    Ok(Value::Chunk(out.reshaped(out_shape(&split.node.spec, &split.pshape))?))
}

/// The blocks of the inline-load slots that have one, read now.
pub(super) fn load_slots(slots: Option<&[Option<InlineLoad>]>) -> Result<Vec<Arc<Chunk>>> {
    slots.into_iter().flatten().flatten().map(load_inline).collect()
}

/// One block's `per` inputs in slot order: the slot's inline load where it has one (from
/// `loaded`, in order), else the next dependency.
pub(super) fn block_inputs<'x, 'l: 'x, 'd: 'x>(
    own: Option<&[Option<InlineLoad>]>,
    loaded: &mut std::slice::Iter<'l, Arc<Chunk>>,
    deps: &mut std::slice::Iter<'_, InputRef<'d>>,
    per: usize,
) -> Result<Vec<InputRef<'x>>> {
    (0..per)
        .map(|s| {
            let r = if own.is_some_and(|o| o[s].is_some()) {
                loaded.next().map(|c| InputRef {
                    data: c.data(),
                    shape: c.shape(),
                })
            } else {
                deps.next().copied()
            };
            r.ok_or_else(|| Error::Unsupported("reduction inputs run short".into()))
        })
        .collect()
}

/// A block's shape with the reduced axes at length 1: the shape of its partial.
pub(super) fn partial_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(a, &n)| if axes.contains(&a) { 1 } else { n })
        .collect()
}

pub(super) fn finish_reduce(node: &ReduceNode, p: Partial, pshape: Vec<usize>, fin: bool) -> Result<Value> {
    if !fin {
        return Ok(Value::Partial(p, pshape));
    }
    let buf = finalize(node.spec.op, p, node.spec.ddof, node.out_dtype)?;
    Ok(Value::Chunk(Chunk::new(out_shape(&node.spec, &pshape), buf)?))
}

/// Executes a task over its input values (in dependency order). Values passed with no
/// other owner are reused in place where the task can (a combine's first partial).
/// With a GPU, reduction chunk and combine steps it can take run there
/// (`gpu_exec`); everything else, and everything without one, on the CPU.
///
/// # Errors
/// Whatever the kernel or storage reports.
pub fn execute(kind: &TaskKind, inputs: Vec<Arc<Value>>, gpu: Option<GpuUse>) -> Result<Value> {
    if let TaskKind::ReduceCombine { node, finalize: fin } = kind {
        let inputs = match gpu {
            Some(_) => match super::gpu_exec::combine(node, inputs, *fin)? {
                Ok(v) => return Ok(v),
                Err(back) => back,
            },
            None => inputs,
        };
        // Partials on the device join the host ones here.
        let inputs = inputs
            .into_iter()
            .map(super::gpu_exec::to_host)
            .collect::<Result<Vec<_>>>()?;
        let mut it = inputs.into_iter();
        let first = it
            .next()
            .ok_or_else(|| Error::Unsupported("combine without partials".into()))?;
        let (mut acc, pshape) = match Arc::try_unwrap(first) {
            Ok(Value::Partial(p, s)) => (p, s),
            Err(shared) => match &*shared {
                Value::Partial(p, s) => (p.copy(), s.clone()),
                _ => return Err(Error::Unsupported("combine of a non-partial".into())),
            },
            Ok(_) => return Err(Error::Unsupported("combine of a non-partial".into())),
        };
        for v in it {
            let Value::Partial(p, _) = &*v else {
                return Err(Error::Unsupported("combine of a non-partial".into()));
            };
            merge(node.spec.op, &mut acc, p)?;
            // A merged partial no one else holds: its vectors to the next chunk step.
            if let Ok(Value::Partial(p, _)) = Arc::try_unwrap(v) {
                crate::device::cpu::reduce::pool::give_partial(p);
            }
        }
        return finish_reduce(node, acc, pshape, *fin);
    }
    let vals: Vec<&Value> = inputs.iter().map(|v| &**v).collect();
    let vals = vals.as_slice();
    match kind {
        TaskKind::Load { source, grid, block } => {
            let idx = grid.unlinear(*block as usize);
            let region = grid.block_ranges(&idx);
            let c = source.read_shared(&region)?;
            check_block(&**source, grid, &idx, &c)?;
            Ok(Value::Shared(c))
        }
        TaskKind::Map { program, grid, block } => {
            let idx = grid.unlinear(*block as usize);
            let shape = grid.block_shape(&idx);
            let offset = grid.block_offset(&idx);
            let gshape = grid.shape();
            let ctx = BlockCtx {
                global_shape: &gshape,
                offset: &offset,
                shape: &shape,
            };
            let ins = inputs_of(vals)?;
            let buf = eval_block(program, &ctx, &ins)?;
            Ok(Value::Chunk(Chunk::new(shape, buf)?))
        }
        TaskKind::ReducePartial {
            node,
            pre,
            block,
            finalize: fin,
            inline,
        } => {
            let g = &node.in_grid;
            let blocks = node.group_blocks(*block as usize);
            let deps = inputs_of(vals)?;
            let slots = inline.as_deref();
            let total = slots.map_or(deps.len(), <[_]>::len);
            if blocks.is_empty() || total % blocks.len() != 0 {
                return Err(Error::Unsupported("reduction group and inputs disagree".into()));
            }
            let per = total / blocks.len();
            if let Some(g) = gpu
                && let Some(v) = super::gpu_exec::reduce_partial(g, node, pre.as_deref(), &blocks, &deps, slots, *fin)?
            {
                return Ok(v);
            }
            let gshape = g.shape();
            let spec = &node.spec;
            if let Some(v) = stacked_group(node, &blocks, &deps, slots, pre.is_some(), *fin)? {
                return Ok(v);
            }
            let mut acc = None;
            let mut pshape = Vec::new();
            let mut next_dep = deps.iter();
            // Fold every block of the group into one accumulator, in block order; blocks
            // read inline are loaded right before their fold and their buffers recycled.
            for (k, &b) in blocks.iter().enumerate() {
                let idx = g.unlinear(b);
                let shape = g.block_shape(&idx);
                let offset = g.block_offset(&idx);
                let ctx = BlockCtx {
                    global_shape: &gshape,
                    offset: &offset,
                    shape: &shape,
                };
                let own = slots.map(|s| &s[k * per..(k + 1) * per]);
                let arg = spec.op.is_arg().then(|| ArgInfo {
                    global_shape: &gshape,
                    offset: &offset,
                    axis: if spec.axes.len() == 1 && gshape.len() > 1 {
                        Some(spec.axes[0])
                    } else if gshape.len() == 1 {
                        Some(0)
                    } else {
                        None
                    },
                });
                // A stored block read only by this step, as rows: streamed from storage
                // tile by tile when the source can, instead of decoded whole.
                if pre.is_none()
                    && let Some([Some(l)]) = own
                    && let Some(stream) = open_stream(l, &shape, &spec.axes)?
                {
                    let feed = StreamFeed {
                        stream: std::cell::RefCell::new(stream),
                        task: || format!("load {} block {idx:?}", l.source.name()),
                    };
                    let src = RowSource::Stream {
                        dtype: node.in_dtype,
                        feed: &feed,
                    };
                    acc = Some(partial(spec.op, &spec.axes, &src, &ctx, arg, acc.take())?);
                    pshape = partial_shape(&shape, &spec.axes);
                    continue;
                }
                let loaded = load_slots(own)?;
                let mut from_load = loaded.iter();
                let mine = block_inputs(own, &mut from_load, &mut next_dep, per)?;
                let src = match pre {
                    Some(p) => RowSource::Program { prog: p, inputs: &mine },
                    None => RowSource::Block(
                        mine.first()
                            .ok_or_else(|| Error::Unsupported("reduction without input".into()))?
                            .data,
                    ),
                };
                acc = Some(partial(spec.op, &spec.axes, &src, &ctx, arg, acc.take())?);
                drop(mine);
                loaded.into_iter().for_each(recycle);
                pshape = partial_shape(&shape, &spec.axes);
            }
            let p = acc.ok_or_else(|| Error::Unsupported("empty reduction group".into()))?;
            finish_reduce(node, p, pshape, *fin)
        }
        TaskKind::ReduceCombine { .. } => unreachable!("handled above"),
        TaskKind::ReduceSpan { split, span } => reduce_span(split, *span as usize),
        TaskKind::ReduceJoin { split } => reduce_join(split, vals),
        TaskKind::Rechunk { node, block } => {
            let og = &node.out_grid;
            let idx = og.unlinear(*block as usize);
            let shape = og.block_shape(&idx);
            let n: usize = shape.iter().product();
            let mut out = Chunk::new(shape, crate::dtype::Buffer::zeros(node.dtype, n))?;
            let lists: Vec<&Vec<_>> = idx.iter().enumerate().map(|(ax, &i)| &node.overlaps[ax][i]).collect();
            let lens: Vec<usize> = lists.iter().map(|l| l.len()).collect();
            if lens.is_empty() {
                let c = vals
                    .first()
                    .ok_or_else(|| Error::Unsupported("rechunk without input".into()))?
                    .as_chunk()?;
                return Ok(Value::Chunk(c.try_clone()?));
            }
            for (k, v) in IndexIter::new(&lens).zip(vals) {
                let c = v.as_chunk()?;
                let dst: Vec<usize> = k.iter().enumerate().map(|(ax, &j)| lists[ax][j].1.start).collect();
                let src: Vec<std::ops::Range<usize>> =
                    k.iter().enumerate().map(|(ax, &j)| lists[ax][j].2.clone()).collect();
                out.write_box(&dst, c, &src)?;
            }
            Ok(Value::Chunk(out))
        }
        TaskKind::Custom { node } => (node.f)(vals),
        TaskKind::Block { op, block } => op.compute(*block as usize, vals),
    }
}
