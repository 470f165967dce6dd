//! The memory budget: what a task needs, and the check made before anything runs.
//!
//! The scheduler accounts bytes exactly (see the module docs above): every live task
//! output, plus the blocks a running task reads from storage itself. A task may start
//! only when the bytes held now, plus what the tasks already running will add, plus what
//! this one will add (its output estimate and its inline reads) stay within the budget;
//! otherwise it waits for memory to be freed. The estimates are exact for arrays (a
//! block's size) and upper bounds for reduction partials.
//!
//! That alone could stall: if one task needs more than the whole budget it can never
//! start. So before running, every task's *own* need — its inputs, its output and its
//! inline reads, all alive at once while it runs — is compared with the budget (the
//! plan-time check cubed makes), and so is the peak of a one-worker run in the static
//! order ([`TaskGraph::sequential_peak`]: a reduction tree holds up to `split_every`
//! partials plus the block being folded, and finished output blocks stay until the
//! end). A graph that cannot run within the budget fails at once, naming what needs the
//! memory and the limit that would work. If at run time nothing is running and nothing
//! ready fits anyway (estimates that were low: a custom task's output is unknown), the
//! best task starts regardless and is counted in
//! [`RunStats::over_budget`](super::RunStats): the run finishes rather than hangs, and
//! the count says the budget was not kept.

use crate::error::{Error, Result};
use crate::graph::{TaskGraph, TaskId};

/// Bytes a task adds when it starts: its output (estimated) and the blocks it reads.
pub(super) fn start_need(g: &TaskGraph, t: TaskId) -> usize {
    let task = g.task(t);
    task.nbytes as usize + task.kind.inline_bytes().0
}

/// Fails when some task on its own, or the graph run one task at a time in its static
/// order, needs more than `limit` bytes.
///
/// # Errors
/// [`Error::MemoryLimit`] naming what needs the memory, how much, and the smallest limit
/// (rounded up to a MiB) that would work.
pub fn check(g: &TaskGraph, limit: usize) -> Result<()> {
    // Everything alive at once fits: nothing to look at (the common small graph, and
    // graphs of custom tasks, whose outputs are not sized).
    let everything: usize = g
        .tasks()
        .iter()
        .map(|t| t.nbytes as usize + t.kind.inline_bytes().0)
        .sum();
    if everything <= limit {
        return Ok(());
    }
    let Some((t, need)) = (0..g.len())
        .map(|i| (TaskId(i as u32), g.task_need(TaskId(i as u32))))
        .max_by_key(|&(t, need)| (need, std::cmp::Reverse(t)))
    else {
        return Ok(());
    };
    let suggest = |n: usize| n.div_ceil(1 << 20) << 20;
    let peak = g.sequential_peak();
    if need > limit {
        return Err(Error::MemoryLimit {
            what: format!("task {} (its inputs, output and the blocks it reads)", g.describe(t)),
            needs: need,
            limit,
            suggest: suggest(need.max(peak)),
        });
    }
    if peak > limit {
        return Err(Error::MemoryLimit {
            what: format!(
                "this computation ({} tasks), run one task at a time in its memory-saving order,",
                g.len()
            ),
            needs: peak,
            limit,
            suggest: suggest(peak),
        });
    }
    Ok(())
}

/// Fails when some task on its own needs more than `share` bytes: with several host
/// devices each has `share` of the budget, and a task runs on one of them.
///
/// # Errors
/// [`Error::MemoryLimit`] naming the task and the limit (for all devices together)
/// that would give each device enough.
pub fn check_device_share(g: &TaskGraph, share: usize, devices: usize) -> Result<()> {
    let Some((t, need)) = (0..g.len())
        .map(|i| (TaskId(i as u32), g.task_need(TaskId(i as u32))))
        .max_by_key(|&(t, need)| (need, std::cmp::Reverse(t)))
    else {
        return Ok(());
    };
    if need <= share {
        return Ok(());
    }
    Err(Error::MemoryLimit {
        what: format!(
            "task {} (its inputs, output and the blocks it reads) on one of {devices} host devices, each with 1/{devices} of the budget,",
            g.describe(t)
        ),
        needs: need,
        limit: share * devices,
        suggest: (need * devices).div_ceil(1 << 20) << 20,
    })
}
