//! `split-columns`: a reduction of blocks that are in memory already runs as spans of
//! its output's columns, each span reading every block, instead of a tree of partials.
//!
//! A tree reduction of in-memory blocks along the leading axis (`nanmean(axis=0)` of a
//! `(365, 721, 1440)` field in `(10, 721, 1440)` chunks) writes a partial of the whole
//! output per chunk-step group (16 bytes per element for a mean: ten partials of
//! 16.6 MB), first-touches fresh memory for each, reads them all back in a chain of
//! merges, and runs the last links of that chain on one thread. A span of the output's
//! columns instead takes every row of its columns through accumulators that stay in
//! cache: its task replays the tree for those columns — the same chunk-step groups, the
//! same merges in the same order ([`SplitTree`]) — so every element gets the bits of
//! the unsplit graph, and nothing the size of the output is written but the output.
//! Spans are whole multiples of the CPU kernels' tile (so each column is folded by the
//! same tile and row groups as in the whole block) and numerous (64 on that field), so
//! every core is busy to the end.
//!
//! It applies only where that costs no memory and no decoding: every chunk step of the
//! tree reads its blocks as shared, uncopied in-memory blocks
//! ([`ChunkSource::reads_shared`](crate::io::ChunkSource::reads_shared)), through no
//! fused program, for an op that stacks rows (not argmin/argmax, not bool data), and
//! the output block has more than one tile of columns. Stored blocks stay in the tree:
//! a span would decode every block once per span, or hold them all decoded. The
//! runtime leaves the rule out when reductions run on a GPU or on host devices, whose
//! placement works on the tree's steps.

use super::Rule;
use crate::device::cpu::eval::TILE;
use crate::device::cpu::reduce::stack_dims;
use crate::graph::{InlineLoad, ReduceNode, SplitNode, SplitTree, TaskGraph, TaskId, TaskKind};
use std::sync::Arc;

/// Rewrites eligible reduction trees into [`TaskKind::ReduceSpan`] tasks joined by a
/// [`TaskKind::ReduceJoin`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitColumns;

/// At least this many spans per output block when it has that many tiles (enough for
/// 16 cores), each of at most [`MAX_SPAN_TILES`] tiles.
const MIN_SPANS: usize = 16;
/// Most tiles per span: 8 tiles of 2048 columns keep a mean's accumulators for one
/// span (16 bytes per column per live partial) in L2.
const MAX_SPAN_TILES: usize = 8;

struct Walk<'g> {
    g: &'g TaskGraph,
    consumers: Vec<u32>,
    outputs: Vec<bool>,
    /// Tasks of the tree below its root.
    members: Vec<TaskId>,
}

impl Walk<'_> {
    /// The tree under `t`, when every task of it belongs to `node` and every chunk
    /// step reads shared in-memory blocks only.
    fn tree(&mut self, t: TaskId, node: &Arc<ReduceNode>) -> Option<SplitTree> {
        let g = self.g;
        match &g.task(t).kind {
            TaskKind::ReducePartial {
                node: n,
                pre: None,
                block,
                inline,
                ..
            } if Arc::ptr_eq(n, node) => {
                let blocks = node.group_blocks(*block as usize);
                if inline.as_ref().is_some_and(|s| s.len() != blocks.len()) {
                    return None;
                }
                let mut deps = g.deps(t).iter();
                let mut loads = Vec::with_capacity(blocks.len());
                for k in 0..blocks.len() {
                    let l = match inline.as_ref().and_then(|s| s[k].clone()) {
                        Some(l) => l,
                        // A Load other tasks read too: read it here as well (shared, no
                        // copy); `cull` drops it if nothing else needs it.
                        None => match &g.task(*deps.next()?).kind {
                            TaskKind::Load { source, grid, block } => InlineLoad {
                                source: source.clone(),
                                grid: grid.clone(),
                                block: *block,
                            },
                            _ => return None,
                        },
                    };
                    let region = l.grid.block_ranges(&l.grid.unlinear(l.block as usize));
                    if !l.source.reads_shared(&region) {
                        return None;
                    }
                    loads.push(l);
                }
                deps.next().is_none().then_some(SplitTree::Group(loads))
            }
            TaskKind::ReduceCombine { node: n, .. } if Arc::ptr_eq(n, node) => {
                let mut parts = Vec::with_capacity(g.deps(t).len());
                for &d in g.deps(t) {
                    if self.consumers[d.ix()] != 1 || self.outputs[d.ix()] {
                        return None;
                    }
                    self.members.push(d);
                    parts.push(self.tree(d, node)?);
                }
                Some(SplitTree::Merge(parts))
            }
            _ => None,
        }
    }
}

/// The split of `tree` (the whole reduction of one output block), when its blocks
/// stack into rows of one width wider than a tile.
fn plan(node: &Arc<ReduceNode>, tree: SplitTree) -> Option<SplitNode> {
    if node.spec.op.is_arg() || node.in_dtype == crate::dtype::DType::Bool {
        return None;
    }
    fn shapes(t: &SplitTree, out: &mut Vec<Vec<usize>>) {
        match t {
            SplitTree::Group(loads) => {
                out.extend(
                    loads
                        .iter()
                        .map(|l| l.grid.block_shape(&l.grid.unlinear(l.block as usize))),
                );
            }
            SplitTree::Merge(ts) => ts.iter().for_each(|t| shapes(t, out)),
        }
    }
    let mut all = Vec::new();
    shapes(&tree, &mut all);
    let first = all.first()?;
    let (_, cols) = stack_dims(first, &node.spec.axes)?;
    for s in &all {
        if stack_dims(s, &node.spec.axes)?.1 != cols {
            return None;
        }
    }
    let tiles = cols.div_ceil(TILE);
    if tiles < 2 {
        return None;
    }
    let span_tiles = (tiles / MIN_SPANS).clamp(1, MAX_SPAN_TILES);
    let pshape = first
        .iter()
        .enumerate()
        .map(|(a, &n)| if node.spec.axes.contains(&a) { 1 } else { n })
        .collect();
    Some(SplitNode {
        node: node.clone(),
        tree,
        cols,
        span_cols: span_tiles * TILE,
        pshape,
    })
}

impl Rule for SplitColumns {
    fn name(&self) -> &'static str {
        "split-columns"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        let (offsets, _) = g.dependents();
        let n = g.len();
        let mut walk = Walk {
            g: &g,
            consumers: (0..n).map(|i| offsets[i + 1] - offsets[i]).collect(),
            outputs: g.output_mask(),
            members: Vec::new(),
        };
        let mut keep = vec![true; n];
        let mut splits: Vec<Option<Arc<SplitNode>>> = vec![None; n];
        let mut changed = false;
        for (i, slot) in splits.iter_mut().enumerate() {
            let t = TaskId(i as u32);
            let node = match &g.task(t).kind {
                TaskKind::ReducePartial {
                    node, finalize: true, ..
                }
                | TaskKind::ReduceCombine { node, finalize: true } => node,
                _ => continue,
            };
            walk.members.clear();
            let Some(split) = walk.tree(t, node).and_then(|tree| plan(node, tree)) else {
                continue;
            };
            for m in &walk.members {
                keep[m.ix()] = false;
            }
            *slot = Some(Arc::new(split));
            changed = true;
        }
        if !changed {
            return (g, false);
        }
        let ng = g.rebuild_with(&keep, |t, ng, _| {
            let split = splits[t.ix()].clone()?;
            let size = split.node.out_dtype.size();
            let spans = (0..split.spans())
                .map(|k| {
                    let kind = TaskKind::ReduceSpan {
                        split: split.clone(),
                        span: k as u32,
                    };
                    ng.push(kind, &[], (split.span(k).len() * size) as u64)
                })
                .collect();
            Some((TaskKind::ReduceJoin { split }, spans))
        });
        (ng, true)
    }
}
