//! Graph rewrites: named rules run to a fixed point.
//!
//! A [`Rule`] takes a graph and returns a graph plus whether it changed anything (the
//! shape of DataFusion's `PhysicalOptimizerRule` and polars' optimizer stack). The
//! default pipeline is [`Cull`] (drop tasks no output needs) then [`Fuse`] (merge chains
//! of elementwise tasks, and an elementwise task into the reduction that consumes it,
//! into one per-block pass), then [`InlineLoads`] (a reduction reads the blocks it
//! folds itself, one at a time, instead of waiting for separate Load tasks), then
//! [`SplitColumns`] (a reduction of in-memory blocks runs as spans of its output's
//! columns, each replaying the whole tree, instead of a tree of partials). With a
//! memory budget, [`RegionReads`] first turns a stored array's decode-once rechunk back
//! into region reads when it does not fit the budget, and [`RereadShared`] splits Loads
//! that would be held across a long stretch of the run (re-reading them instead).

mod cull;
mod fuse;
mod inline_loads;
mod region_reads;
mod reread;
mod split_columns;

pub use cull::Cull;
pub use fuse::Fuse;
pub use inline_loads::InlineLoads;
pub use region_reads::RegionReads;
pub use reread::RereadShared;
pub use split_columns::SplitColumns;

use crate::graph::TaskGraph;

/// A graph rewrite.
pub trait Rule: Send + Sync {
    /// A short name for logs and `--explain`.
    fn name(&self) -> &'static str;
    /// Rewrites `g`; the flag says whether anything changed.
    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool);
}

/// The default rules, in order, without a memory budget.
#[must_use]
pub fn default_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(Cull),
        Box::new(Fuse),
        Box::new(InlineLoads),
        Box::new(SplitColumns),
    ]
}

/// The default rules for a run within `budget` bytes, whose shared storage reads may
/// hold an eighth of it ([`RereadShared`] runs before [`InlineLoads`], so the copies it
/// makes are folded into the reductions that read them).
#[must_use]
pub fn rules_for_budget(budget: usize) -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(Cull),
        Box::new(RegionReads { budget }),
        Box::new(Fuse),
        Box::new(RereadShared {
            hold_limit: budget / 8,
            budget,
        }),
        Box::new(InlineLoads),
        Box::new(SplitColumns),
    ]
}

/// Runs `rules` in order, repeatedly, until none changes the graph (at most 8 rounds).
/// Returns the graph and the names of the rules that changed it, in the order they did.
#[must_use]
pub fn optimize(mut g: TaskGraph, rules: &[Box<dyn Rule>]) -> (TaskGraph, Vec<&'static str>) {
    let mut applied = Vec::new();
    for _ in 0..8 {
        let mut changed = false;
        for r in rules {
            let (ng, c) = r.apply(g);
            g = ng;
            if c {
                applied.push(r.name());
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (g, applied)
}
