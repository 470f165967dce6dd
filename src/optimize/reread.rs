//! `reread-shared`: read a block from storage again rather than hold it for a distant
//! second consumer.
//!
//! A Load whose block feeds two consumers is normally read once and kept until both
//! have run. When the consumers run close together (the mean and the std of the same
//! array, placed next to each other by [`order`](crate::graph::order)) that costs
//! nothing. When one consumer waits for a barrier — the anomaly `x - x.mean(axis=0)`
//! needs the whole mean before it can use any block of `x` — every block would be held
//! from its first read to the end of the mean: the whole array in memory, which is how
//! dask runs out of it. A graph that reads `x` twice is cheaper than an out-of-memory
//! kill.
//!
//! The rule walks the static order and measures, for each shared Load, how long it is
//! held (from its position to its last consumer's) and how many bytes shared Loads hold
//! at once at the worst point. If that exceeds the hold limit (a fraction of the memory
//! budget, set by the runtime), Loads are split, longest-held first, until it does not
//! (or all of them, when the partly split graph still would not run within the budget):
//! each consumer after the first gets its own Load of the same block (which
//! `inline-loads` can then fold into a reduction). Loads of in-memory sources are always
//! split: their "read" is a shared pointer, so holding them buys nothing. Loads that
//! read a small part of the stored chunks they touch (more than twice as many elements
//! decoded as kept: the pieces of a staged rechunk) are never split: each re-read would
//! decode whole stored chunks again. Nor are stored Loads cut into pieces by rechunk
//! tasks (a stored array rechunked from its own chunks): a copy per piece would decode
//! the whole chunk once per piece, and the rechunk already bounds what it holds
//! (`max_mem`, see [`crate::array`]'s `rechunk`).

use super::Rule;
use crate::graph::{TaskGraph, TaskId, TaskKind, order};

/// Splits shared Loads held across long stretches of the order (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct RereadShared {
    /// Bytes that shared Loads may hold at once.
    pub hold_limit: usize,
    /// The memory budget: a partial split whose one-worker peak
    /// ([`TaskGraph::sequential_peak`]) exceeds it is replaced by splitting every
    /// shared Load.
    pub budget: usize,
}

struct Candidate {
    task: TaskId,
    from: u32,
    to: u32,
    bytes: usize,
    in_memory: bool,
}

/// The most bytes held at once by the loads in `c` (intervals `[from, to]`).
fn peak_overlap(c: &[&Candidate]) -> usize {
    let mut ev: Vec<(u32, i64)> = Vec::with_capacity(c.len() * 2);
    for x in c {
        ev.push((x.from, x.bytes as i64));
        ev.push((x.to + 1, -(x.bytes as i64)));
    }
    ev.sort_unstable_by_key(|&(p, d)| (p, d));
    let (mut cur, mut peak) = (0i64, 0i64);
    for (_, d) in ev {
        cur += d;
        peak = peak.max(cur);
    }
    peak as usize
}

impl Rule for RereadShared {
    fn name(&self) -> &'static str {
        "reread-shared"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        let (offsets, dependents) = g.dependents();
        let outputs = g.output_mask();
        let shared: Vec<usize> = (0..g.len())
            .filter(|&i| {
                let TaskKind::Load { source, grid, block } = &g.tasks()[i].kind else {
                    return false;
                };
                let users = &dependents[offsets[i] as usize..offsets[i + 1] as usize];
                users.len() > 1
                    && !outputs[i]
                    && (source.in_memory()
                        || (amplification(&**source, grid, *block as usize) <= 2.0
                            && !users
                                .iter()
                                .any(|u| matches!(g.tasks()[u.ix()].kind, TaskKind::Rechunk { .. }))))
            })
            .collect();
        if shared.is_empty() {
            return (g, false);
        }
        let prio = order::priorities(&g);
        let mut cands: Vec<Candidate> = shared
            .iter()
            .map(|&i| {
                let users = &dependents[offsets[i] as usize..offsets[i + 1] as usize];
                let TaskKind::Load { source, .. } = &g.tasks()[i].kind else {
                    unreachable!("filtered to loads")
                };
                Candidate {
                    task: TaskId(i as u32),
                    from: prio[i],
                    to: users.iter().map(|u| prio[u.ix()]).max().unwrap_or(prio[i]),
                    bytes: g.tasks()[i].nbytes as usize,
                    in_memory: source.in_memory(),
                }
            })
            .collect();
        // Longest-held first; split the shortest prefix that brings the rest under the limit.
        cands.sort_by_key(|c| (!c.in_memory, std::cmp::Reverse(c.to - c.from)));
        let always = cands.iter().filter(|c| c.in_memory).count();
        let fits = |m: usize| {
            let rest: Vec<&Candidate> = cands[m..].iter().collect();
            peak_overlap(&rest) <= self.hold_limit
        };
        let (mut lo, mut hi) = (always, cands.len());
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            if fits(mid) { hi = mid } else { lo = mid + 1 }
        }
        if lo == 0 {
            return (g, false);
        }
        let mut split = vec![false; g.len()];
        for c in &cands[..lo] {
            split[c.task.ix()] = true;
        }
        let partial = split_loads(&g, &split);
        if lo == cands.len() || partial.sequential_peak() <= self.budget {
            return (partial, true);
        }
        // Loads still shared inside a group that was otherwise split can keep a whole
        // group of blocks waiting; re-read everything instead.
        for c in &cands {
            split[c.task.ix()] = true;
        }
        (split_loads(&g, &split), true)
    }
}

/// Elements decoded per element kept when reading block `b` of `grid`: the stored
/// chunks it touches over the block's size (1 when the source has no stored chunks).
fn amplification(source: &dyn crate::io::ChunkSource, grid: &crate::grid::ChunkGrid, b: usize) -> f64 {
    let Some(nc) = source.natural_chunks() else { return 1.0 };
    let ranges = grid.block_ranges(&grid.unlinear(b));
    let shape = source.shape();
    let mut ratio = 1.0;
    for ((r, &c), &n) in ranges.iter().zip(&nc).zip(shape) {
        if r.is_empty() || c == 0 {
            return 1.0;
        }
        let first = r.start / c * c;
        let last = (r.end.div_ceil(c) * c).min(n);
        ratio *= (last - first) as f64 / r.len() as f64;
    }
    ratio
}

/// A copy of `g` where every consumer of a `split` Load after the first reads its own
/// copy of the Load (pushed right before the consumer, so ids stay topological).
fn split_loads(g: &TaskGraph, split: &[bool]) -> TaskGraph {
    let mut map = vec![u32::MAX; g.len()];
    let mut used = vec![false; g.len()];
    let mut out = TaskGraph::new();
    for (i, t) in g.tasks().iter().enumerate() {
        let mut copies: Vec<(u32, TaskId)> = Vec::new();
        let deps: Vec<TaskId> = g
            .deps(TaskId(i as u32))
            .iter()
            .map(|d| {
                if !split[d.ix()] {
                    return TaskId(map[d.ix()]);
                }
                if let Some(&(_, c)) = copies.iter().find(|(o, _)| *o == d.0) {
                    return c;
                }
                if !used[d.ix()] {
                    used[d.ix()] = true;
                    copies.push((d.0, TaskId(map[d.ix()])));
                    return TaskId(map[d.ix()]);
                }
                let src = g.task(*d);
                let c = out.push(src.kind.clone(), &[], src.nbytes);
                copies.push((d.0, c));
                c
            })
            .collect();
        map[i] = out.push(t.kind.clone(), &deps, t.nbytes).0;
    }
    out.outputs = g.outputs.iter().map(|o| o.remapped(&map)).collect();
    out
}
