//! Static task priorities that free memory early (the spirit of dask's `order.py`).
//!
//! The order is a depth-first post-order from the outputs: a task's priority is the
//! position at which the DFS finishes it. Following it, the scheduler completes one
//! branch — load a few blocks, reduce them, combine the partials — before it opens the
//! next, so each intermediate is consumed (and released) soon after it is made, instead
//! of all loads running first and all partials waiting in memory.
//!
//! A plain DFS from one output at a time is wrong for several outputs that share inputs
//! (mean and std of the same array): it would finish the whole first output while every
//! shared block waits in memory for the second. So whenever a task is placed, any task
//! whose dependencies are now *all* placed is placed right after it (eagerly, before the
//! DFS goes on): the std partial of a group runs right after the loads it shares with the
//! mean partial, and the loads are released together. Lower numbers run first; ties
//! cannot happen (priorities are a permutation).

use super::{TaskGraph, TaskId};

/// Priority of each task (a permutation of `0..len`), lower first.
#[must_use]
pub fn priorities(g: &TaskGraph) -> Vec<u32> {
    let n = g.len();
    let (offsets, dependents) = g.dependents();
    let mut unplaced: Vec<u32> = (0..n).map(|i| g.deps(TaskId(i as u32)).len() as u32).collect();
    let mut prio = vec![u32::MAX; n];
    let mut visited = vec![false; n];
    let mut next = 0u32;
    // Explicit stacks: graphs may be millions wide and deep.
    let mut stack: Vec<(TaskId, u32)> = Vec::new();
    let mut eager: Vec<TaskId> = Vec::new();
    let mut place = |t: TaskId, prio: &mut Vec<u32>, visited: &mut Vec<bool>, unplaced: &mut Vec<u32>| {
        eager.push(t);
        while let Some(t) = eager.pop() {
            prio[t.ix()] = next;
            next += 1;
            for &d in &dependents[offsets[t.ix()] as usize..offsets[t.ix() + 1] as usize] {
                unplaced[d.ix()] -= 1;
                if unplaced[d.ix()] == 0 && !visited[d.ix()] {
                    visited[d.ix()] = true;
                    eager.push(d);
                }
            }
        }
    };
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
                let t = *t;
                stack.pop();
                place(t, &mut prio, &mut visited, &mut unplaced);
            }
        }
    }
    prio
}
