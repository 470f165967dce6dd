//! `region-reads`: read a rechunked block straight from storage when the plan that
//! decodes each stored chunk once does not fit the memory budget.
//!
//! A stored array rechunked so that new blocks cut its chunks into many pieces is read
//! on its own chunks once and cut up (`Array::rechunk`, within its `max_mem`): each
//! stored chunk is decoded once, but a rechunk task needs every chunk it takes a piece
//! of, and a time-to-space rechunk's first block needs all of them. That is chosen when
//! the array builds, before any budget is known. When the graph is run under a budget
//! its one-worker peak ([`TaskGraph::sequential_peak`]) does not fit, this rule turns each
//! such rechunk task back into a Load of its own region: the store decodes the chunks
//! the region touches one at a time into the block (more decoding, a block's worth of
//! memory), which is how such a rechunk ran before it learned to decode once.

use super::Rule;
use crate::graph::{TaskGraph, TaskId, TaskKind};
use std::sync::Arc;

/// Rechunk tasks over stored Loads become region Loads when the graph's one-worker
/// peak exceeds `budget` (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct RegionReads {
    /// The memory budget of the run.
    pub budget: usize,
}

impl Rule for RegionReads {
    fn name(&self) -> &'static str {
        "region-reads"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        // The source every dependency of a rechunk task loads, when they all load
        // the same stored (not in-memory) source.
        let source_of = |i: usize| {
            let TaskKind::Rechunk { .. } = &g.tasks()[i].kind else {
                return None;
            };
            let mut found: Option<&Arc<dyn crate::io::ChunkSource>> = None;
            for d in g.deps(TaskId(i as u32)) {
                let TaskKind::Load { source, .. } = &g.task(*d).kind else {
                    return None;
                };
                if source.in_memory() || found.is_some_and(|f| !Arc::ptr_eq(f, source)) {
                    return None;
                }
                found = Some(source);
            }
            found.cloned()
        };
        let sources: Vec<_> = (0..g.len()).map(source_of).collect();
        if sources.iter().all(Option::is_none) || g.sequential_peak() <= self.budget {
            return (g, false);
        }
        let mut out = TaskGraph::new();
        let mut map = vec![u32::MAX; g.len()];
        for (i, t) in g.tasks().iter().enumerate() {
            map[i] = match (&sources[i], &t.kind) {
                (Some(source), TaskKind::Rechunk { node, block }) => {
                    let kind = TaskKind::Load {
                        source: source.clone(),
                        grid: Arc::new(node.out_grid.clone()),
                        block: *block,
                    };
                    out.push(kind, &[], t.nbytes).0
                }
                _ => {
                    let deps: Vec<TaskId> = g.deps(TaskId(i as u32)).iter().map(|d| TaskId(map[d.ix()])).collect();
                    out.push(t.kind.clone(), &deps, t.nbytes).0
                }
            };
        }
        out.outputs = g.outputs.iter().map(|o| o.remapped(&map)).collect();
        // The Loads only those rechunk tasks read are left without consumers; `cull`
        // drops them in the next round.
        (out, true)
    }
}
