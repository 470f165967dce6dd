//! Lowering: expressions → one task per block.
//!
//! Each expression node is lowered once (memoised by node identity), so a node used by
//! several consumers — or by several arrays computed together — has its blocks
//! computed once. Reductions become dask's tree: a partial per input block, then
//! combine levels that merge up to `split_every` partials (spread over the reduced axes)
//! until one block remains along every reduced axis; the last level also aggregates.

use super::{CustomDep, CustomNode, Output, RechunkNode, ReduceNode, TaskGraph, TaskId, TaskKind};
use crate::array::Array;
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, IndexIter};
use std::collections::HashMap;
use std::sync::Arc;

/// Something to compute.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// An array (all its blocks).
    Array(&'a Array),
    /// A custom task.
    Custom(&'a Arc<CustomNode>),
}

/// Builds the task graph for several targets at once, sharing common nodes.
#[must_use]
pub fn lower(targets: &[Target<'_>]) -> TaskGraph {
    let mut cx = Lowering {
        g: TaskGraph::new(),
        arrays: HashMap::new(),
        customs: HashMap::new(),
    };
    for t in targets {
        let out = match t {
            Target::Array(a) => {
                let tasks = cx.array(a);
                Output::Array {
                    grid: a.grid().clone(),
                    dtype: a.dtype(),
                    tasks,
                }
            }
            Target::Custom(c) => Output::Task(cx.custom(c)),
        };
        cx.g.outputs.push(out);
    }
    cx.g
}

struct Lowering {
    g: TaskGraph,
    arrays: HashMap<usize, Vec<TaskId>>,
    customs: HashMap<usize, TaskId>,
}

fn block_bytes(grid: &ChunkGrid, block: usize, itemsize: usize) -> u64 {
    (grid.block_len(block) * itemsize) as u64
}

impl Lowering {
    fn array(&mut self, a: &Array) -> Vec<TaskId> {
        let key = Arc::as_ptr(a.expr()) as usize;
        if let Some(t) = self.arrays.get(&key) {
            return t.clone();
        }
        let e = a.expr();
        let grid = Arc::new(e.grid.clone());
        let item = e.dtype.size();
        let nblocks = grid.num_blocks();
        let tasks: Vec<TaskId> = match &e.kind {
            ExprKind::Source(src) => (0..nblocks)
                .map(|b| {
                    let kind = TaskKind::Load {
                        source: src.clone(),
                        grid: grid.clone(),
                        block: b as u32,
                    };
                    self.g.push(kind, &[], block_bytes(&grid, b, item))
                })
                .collect(),
            ExprKind::Map { program, inputs } => {
                let ins: Vec<Vec<TaskId>> = inputs.iter().map(|i| self.array(i)).collect();
                let nd = grid.ndim();
                (0..nblocks)
                    .map(|b| {
                        let idx = if inputs.is_empty() {
                            Vec::new()
                        } else {
                            grid.unlinear(b)
                        };
                        let deps: Vec<TaskId> = inputs
                            .iter()
                            .zip(&ins)
                            .map(|(inp, tasks)| {
                                let ig = inp.grid();
                                let pad = nd - ig.ndim();
                                let iidx: Vec<usize> = (0..ig.ndim())
                                    .map(|ax| if ig.nblocks()[ax] == 1 { 0 } else { idx[pad + ax] })
                                    .collect();
                                tasks[ig.linear(&iidx)]
                            })
                            .collect();
                        let kind = TaskKind::Map {
                            program: program.clone(),
                            grid: grid.clone(),
                            block: b as u32,
                        };
                        self.g.push(kind, &deps, block_bytes(&grid, b, item))
                    })
                    .collect()
            }
            ExprKind::Rechunk { input } => {
                let ins = self.array(input);
                let in_grid = input.grid().clone();
                let overlaps: Vec<_> = (0..grid.ndim()).map(|ax| grid.overlaps(&in_grid, ax)).collect();
                let node = Arc::new(RechunkNode {
                    in_grid: in_grid.clone(),
                    out_grid: (*grid).clone(),
                    overlaps,
                    dtype: e.dtype,
                });
                (0..nblocks)
                    .map(|b| {
                        let idx = grid.unlinear(b);
                        let lists: Vec<&Vec<_>> =
                            idx.iter().enumerate().map(|(ax, &i)| &node.overlaps[ax][i]).collect();
                        let lens: Vec<usize> = lists.iter().map(|l| l.len()).collect();
                        let deps: Vec<TaskId> = if lens.is_empty() {
                            vec![ins[0]]
                        } else {
                            IndexIter::new(&lens)
                                .map(|k| {
                                    let iidx: Vec<usize> =
                                        k.iter().enumerate().map(|(ax, &j)| lists[ax][j].0).collect();
                                    ins[in_grid.linear(&iidx)]
                                })
                                .collect()
                        };
                        self.g.push(
                            TaskKind::Rechunk {
                                node: node.clone(),
                                block: b as u32,
                            },
                            &deps,
                            block_bytes(&grid, b, item),
                        )
                    })
                    .collect()
            }
            ExprKind::Reduce { input, spec } => self.reduce(input, spec, e.dtype),
            ExprKind::Blocks { op, inputs } => {
                let ins: Vec<Vec<TaskId>> = inputs.iter().map(|i| self.array(i)).collect();
                (0..nblocks)
                    .map(|b| {
                        if let Some((i, k)) = op.forward(b) {
                            return ins[i][k];
                        }
                        let deps: Vec<TaskId> = op.deps(b).iter().map(|&(i, k)| ins[i][k]).collect();
                        let bytes = op.out_bytes(b).unwrap_or_else(|| block_bytes(&grid, b, item));
                        let kind = TaskKind::Block {
                            op: op.clone(),
                            block: b as u32,
                        };
                        self.g.push(kind, &deps, bytes)
                    })
                    .collect()
            }
        };
        self.arrays.insert(key, tasks.clone());
        tasks
    }

    fn reduce(&mut self, input: &Array, spec: &crate::ops::ReduceSpec, out_dtype: crate::dtype::DType) -> Vec<TaskId> {
        let ins = self.array(input);
        let in_grid = input.grid().clone();
        let nd = in_grid.ndim();
        // The fan-in is spread over the reduced axes that have more than one block (dask
        // spreads it over all reduced axes, which wastes it on single-block axes).
        let split_axes = spec.axes.iter().filter(|&&a| in_grid.nblocks()[a] > 1).count();
        let k = split_axes.max(1) as f64;
        let fan = ((spec.split_every as f64).powf(1.0 / k) + 1e-9).floor().max(2.0) as usize;
        let node = Arc::new(ReduceNode {
            spec: spec.clone(),
            in_grid: in_grid.clone(),
            in_dtype: input.dtype(),
            out_dtype,
            fan,
        });
        let reduced = |a: usize| spec.axes.contains(&a);
        let mut nb = node.group_counts();
        let needs_combine = (0..nd).any(|a| reduced(a) && nb[a] > 1);
        // Partial bytes: the kept block extent times an upper bound per element (the
        // memory budget reserves this before a chunk step starts); a finished block: the
        // kept extent in the result dtype.
        let per_element = spec.op.partial_kind().bytes_per_element();
        let kept = |shape: &[usize]| -> u64 {
            shape
                .iter()
                .enumerate()
                .map(|(a, &n)| if reduced(a) { 1 } else { n })
                .product::<usize>() as u64
        };
        let pbytes = |shape: &[usize]| kept(shape) * per_element as u64;
        let fbytes = |shape: &[usize]| kept(shape) * out_dtype.size() as u64;
        let ngroups: usize = nb.iter().product();
        let mut cur: Vec<TaskId> = (0..ngroups)
            .map(|g| {
                let blocks = node.group_blocks(g);
                let shape = in_grid.block_shape(&in_grid.unlinear(blocks[0]));
                let deps: Vec<TaskId> = blocks.iter().map(|&b| ins[b]).collect();
                let kind = TaskKind::ReducePartial {
                    node: node.clone(),
                    pre: None,
                    block: g as u32,
                    finalize: !needs_combine,
                    inline: None,
                };
                let bytes = if needs_combine { pbytes(&shape) } else { fbytes(&shape) };
                self.g.push(kind, &deps, bytes)
            })
            .collect();
        while (0..nd).any(|a| reduced(a) && nb[a] > 1) {
            let new_nb: Vec<usize> = (0..nd)
                .map(|a| if reduced(a) { nb[a].div_ceil(fan) } else { nb[a] })
                .collect();
            let last = (0..nd).all(|a| !reduced(a) || new_nb[a] == 1);
            let cur_grid = ChunkGrid::from_chunks(&nb, nb.iter().map(|&n| vec![1; n]).collect()).expect("block grid");
            let mut next = Vec::with_capacity(new_nb.iter().product());
            for j in IndexIter::new(&new_nb) {
                let spans: Vec<(usize, usize)> = (0..nd)
                    .map(|a| {
                        if reduced(a) {
                            (j[a] * fan, ((j[a] + 1) * fan).min(nb[a]))
                        } else {
                            (j[a], j[a] + 1)
                        }
                    })
                    .collect();
                let lens: Vec<usize> = spans.iter().map(|(s, e)| e - s).collect();
                let deps: Vec<TaskId> = IndexIter::new(&lens)
                    .map(|o| {
                        let idx: Vec<usize> = o.iter().zip(&spans).map(|(&o, (s, _))| s + o).collect();
                        cur[cur_grid.linear(&idx)]
                    })
                    .collect();
                let bytes = if last {
                    // The first dependency's partial has the block's kept extent.
                    self.g.task(deps[0]).nbytes / per_element as u64 * out_dtype.size() as u64
                } else {
                    self.g.task(deps[0]).nbytes
                };
                // A combine of k partials is a chain of k - 1 pairwise merges in the
                // order the k-way merge folds them (so the bits are the same), each
                // merging into the accumulator it owns: a partial is folded in as soon
                // as it and everything before it are done, instead of every partial of
                // the group waiting for the slowest (on the medium nanmean that is one
                // 16.6 MB partial fewer alive at the peak).
                let mut acc = deps[0];
                for (i, &d) in deps.iter().enumerate().skip(1) {
                    let end = i + 1 == deps.len();
                    let link_bytes = if end { bytes } else { self.g.task(deps[0]).nbytes };
                    let kind = TaskKind::ReduceCombine {
                        node: node.clone(),
                        finalize: last && end,
                    };
                    acc = self.g.push(kind, &[acc, d], link_bytes);
                }
                if deps.len() == 1 {
                    let kind = TaskKind::ReduceCombine {
                        node: node.clone(),
                        finalize: last,
                    };
                    acc = self.g.push(kind, &deps, bytes);
                }
                next.push(acc);
            }
            cur = next;
            nb = new_nb;
        }
        cur
    }

    fn custom(&mut self, c: &Arc<CustomNode>) -> TaskId {
        let key = Arc::as_ptr(c) as usize;
        if let Some(&t) = self.customs.get(&key) {
            return t;
        }
        let deps: Vec<TaskId> = c
            .deps
            .iter()
            .map(|d| match d {
                CustomDep::Node(n) => self.custom(n),
                CustomDep::Block(a, b) => self.array(a)[*b],
            })
            .collect();
        let t = self.g.push(TaskKind::Custom { node: c.clone() }, &deps, 0);
        self.customs.insert(key, t);
        t
    }
}
