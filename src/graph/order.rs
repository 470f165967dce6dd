//! Static task priorities that free memory early (the spirit of dask's `order.py`).
//!
//! The order is a depth-first post-order from the outputs: a task's priority is the
//! position at which the DFS finishes it. Following it, the scheduler completes one
//! branch — load a few blocks, reduce them, combine the partials — before it opens the
//! next, so each intermediate is consumed (and released) soon after it is made, instead
//! of all loads running first and all partials waiting in memory. Lower numbers run
//! first; ties cannot happen (priorities are a permutation).

use super::{TaskGraph, TaskId};

/// Priority of each task (a permutation of `0..len`), lower first.
#[must_use]
pub fn priorities(g: &TaskGraph) -> Vec<u32> {
    let n = g.len();
    let mut prio = vec![u32::MAX; n];
    let mut visited = vec![false; n];
    let mut next = 0u32;
    // Explicit stack of (task, next dependency index): graphs may be millions deep-wide.
    let mut stack: Vec<(TaskId, u32)> = Vec::new();
    let roots: Vec<TaskId> = g.outputs.iter().flat_map(|o| o.tasks().iter().copied()).collect();
    // Tasks no output reaches (cull normally removes them) run last, in id order.
    let all = (0..n as u32).map(TaskId);
    for root in roots.into_iter().chain(all) {
        if visited[root.ix()] {
            continue;
        }
        visited[root.ix()] = true;
        stack.push((root, 0));
        while let Some((t, i)) = stack.last_mut() {
            let deps = g.deps(*t);
            if (*i as usize) < deps.len() {
                let d = deps[*i as usize];
                *i += 1;
                if !visited[d.ix()] {
                    visited[d.ix()] = true;
                    stack.push((d, 0));
                }
            } else {
                prio[t.ix()] = next;
                next += 1;
                stack.pop();
            }
        }
    }
    prio
}
