//! How far a parallel run may get ahead of the one-worker order under a memory budget.
//!
//! The budget check before a run ([`super::budget::check`]) proves that the graph run
//! one task at a time in its static order fits: its peak `P` is at most the limit. A
//! parallel run departs from that order: while one worker is stuck on a task (a slow
//! read, or a thread the OS took away), the others start the next ready tasks, which
//! are often roots of the *next* branch (loads). Each such start fits the budget when
//! it is made, yet together they can fill it with blocks of a branch that cannot be
//! finished yet, so that the successors of the stuck task no longer fit and nothing
//! else can run: the run has to start a task over budget. A test caught this
//! (`tests/rechunk.rs`, a staged rechunk under a budget of 3× its `max_mem`: one
//! worker ran 14 loads of band 4 while the other's last load of band 3 took 0.8 ms).
//!
//! The rule that keeps the promise: let the *cursor* be the first task of the static
//! order that has not started. When nothing is running, everything the run holds is at
//! most what the one-worker run holds at the cursor plus the outputs kept by tasks
//! *ahead* of it (started, with a later position, not yet passed by the cursor nor
//! released): the run-ahead. From there the one-worker order can be resumed, and it
//! holds at most `P` plus the run-ahead. So a task ahead of the cursor may start only
//! when the run-ahead, with its own output estimate, stays within the slack
//! `limit − P`. The blocks a running task reads itself are not counted there: they go
//! when it finishes, which needs nothing else, and while anything runs the scheduler
//! can wait rather than start a task over budget (the plain budget check counts them).
//! When nothing runs, the cursor task is ready (its dependencies come earlier in the
//! order and have all finished) and fits. Only graphs that do not fit the budget whole
//! are watched at all, and there the cost is a few additions per task.

use super::budget::start_need;
use crate::graph::{TaskGraph, TaskId};

pub(super) struct RunAhead {
    /// Tasks in static order (`by_prio[p]` has priority `p`).
    by_prio: Vec<u32>,
    started: Vec<bool>,
    /// Tasks ahead of the cursor whose bytes are in `total`.
    ahead: Vec<bool>,
    /// Bytes each of those adds to `total` now: its output estimate while it runs, the
    /// bytes it keeps once finished.
    counted: Vec<usize>,
    cursor: usize,
    total: usize,
    /// `limit − P`: how much run-ahead the budget allows.
    slack: usize,
}

impl RunAhead {
    /// `None` when the budget cannot be exceeded (everything fits at once) or there is
    /// no budget: nothing to watch.
    pub fn new(g: &TaskGraph, prio: &[u32], limit: usize) -> Option<Self> {
        if limit == usize::MAX {
            return None;
        }
        let n = g.len();
        let everything: usize = (0..n).map(|i| start_need(g, TaskId(i as u32))).sum();
        if everything <= limit {
            return None;
        }
        let mut by_prio = vec![0u32; n];
        for (i, &p) in prio.iter().enumerate() {
            by_prio[p as usize] = i as u32;
        }
        let slack = limit.saturating_sub(g.sequential_peak_in(prio));
        Some(RunAhead {
            by_prio,
            started: vec![false; n],
            ahead: vec![false; n],
            counted: vec![0; n],
            cursor: 0,
            total: 0,
            slack,
        })
    }

    /// Whether `t` (at position `p` of the order) may start as far as the run-ahead
    /// goes: it is the cursor task, or the run-ahead with its output fits the slack.
    pub fn allows(&self, g: &TaskGraph, t: TaskId, p: u32) -> bool {
        p as usize == self.cursor || self.total + g.task(t).nbytes as usize <= self.slack
    }

    /// `t` starts: counted while ahead; the cursor moves past everything started.
    pub fn start(&mut self, g: &TaskGraph, t: TaskId, p: u32) {
        self.started[t.ix()] = true;
        if p as usize > self.cursor {
            let out = g.task(t).nbytes as usize;
            self.ahead[t.ix()] = true;
            self.counted[t.ix()] = out;
            self.total += out;
        }
        while self.cursor < self.by_prio.len() && self.started[self.by_prio[self.cursor] as usize] {
            let c = self.by_prio[self.cursor] as usize;
            self.ahead[c] = false;
            self.total -= std::mem::take(&mut self.counted[c]);
            self.cursor += 1;
        }
    }

    /// `t` finished: a task still ahead now counts the bytes it keeps (0 when nothing
    /// reads them), not its estimate.
    pub fn finish(&mut self, t: TaskId, kept: usize) {
        if self.ahead[t.ix()] {
            let c = &mut self.counted[t.ix()];
            self.total = self.total - *c + kept;
            *c = kept;
        }
    }

    /// The output of `t` was released.
    pub fn release(&mut self, t: TaskId) {
        self.ahead[t.ix()] = false;
        self.total -= std::mem::take(&mut self.counted[t.ix()]);
    }
}
