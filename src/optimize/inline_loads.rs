//! `inline-loads`: a reduction's chunk step reads its blocks from storage itself.
//!
//! Lowered as written, a storage-fed reduction has one Load task per block and one
//! chunk-step task per group of blocks along the reduced axes (see
//! [`ReduceNode::group_blocks`](crate::graph::ReduceNode::group_blocks)); the chunk
//! step can start only when every Load of its group has finished, so a whole group of
//! decoded blocks is alive at once per worker, each in a fresh allocation. Inlined, the
//! chunk step loads a block, folds it into its accumulator and drops it before loading
//! the next: one decoded block per worker, decoded into a buffer the worker reuses
//! (first-touching fresh memory costs 3–4× a reused buffer on these machines). Loads
//! with another consumer, or requested as outputs, stay separate tasks.
//!
//! The cost: a reduction's parallelism becomes its number of chunk-step groups (blocks
//! along the reduced axes / `split_every`, times the kept blocks) rather than its number
//! of blocks. That is ample on a few cores; on many cores with few groups the group
//! size should shrink with the worker count (not done yet).

use super::Rule;
use crate::graph::{InlineLoad, TaskGraph, TaskId, TaskKind};
use std::sync::Arc;

/// Moves single-consumer Load tasks into the reduction chunk step that reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineLoads;

impl Rule for InlineLoads {
    fn name(&self) -> &'static str {
        "inline-loads"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        let (offsets, _) = g.dependents();
        let ndeps = |t: TaskId| offsets[t.ix() + 1] - offsets[t.ix()];
        let outputs = g.output_mask();
        let n = g.len();
        let mut keep = vec![true; n];
        let mut cur: Vec<Option<(TaskKind, Vec<TaskId>)>> = vec![None; n];
        let mut changed = false;
        for (i, slot) in cur.iter_mut().enumerate() {
            let t = TaskId(i as u32);
            let TaskKind::ReducePartial {
                node,
                pre,
                block,
                finalize,
                inline: None,
            } = &g.task(t).kind
            else {
                continue;
            };
            let deps = g.deps(t);
            let slots: Vec<Option<InlineLoad>> = deps
                .iter()
                .map(|&d| match &g.task(d).kind {
                    TaskKind::Load { source, grid, block } if ndeps(d) == 1 && !outputs[d.ix()] => Some(InlineLoad {
                        source: source.clone(),
                        grid: grid.clone(),
                        block: *block,
                    }),
                    _ => None,
                })
                .collect();
            if slots.iter().all(Option::is_none) {
                continue;
            }
            let rest: Vec<TaskId> = deps
                .iter()
                .zip(&slots)
                .filter_map(|(&d, s)| {
                    if s.is_some() {
                        keep[d.ix()] = false;
                        None
                    } else {
                        Some(d)
                    }
                })
                .collect();
            let kind = TaskKind::ReducePartial {
                node: node.clone(),
                pre: pre.clone(),
                block: *block,
                finalize: *finalize,
                inline: Some(Arc::from(slots)),
            };
            *slot = Some((kind, rest));
            changed = true;
        }
        if !changed {
            return (g, false);
        }
        let ng = g.rebuild(&keep, |t| cur[t.ix()].clone());
        (ng, true)
    }
}
