//! The scheduler's bookkeeping, shared by both schedulers (see the module docs above).

use super::ahead::RunAhead;
use super::budget::start_need;
use super::hosts::Hosts;
use super::trace::{Span, TraceBuilder};
use super::{Outputs, Progress, RunOptions, RunStats};
use crate::chunk::Value;
use crate::error::Result;
use crate::graph::{TaskGraph, TaskId, TaskKind, order};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

pub(super) struct State<'g> {
    pub g: &'g TaskGraph,
    prio: Vec<u32>,
    missing: Vec<u32>,
    pending: Vec<u32>,
    is_output: Vec<bool>,
    results: Vec<Option<Arc<Value>>>,
    held: Vec<usize>,
    ready: BinaryHeap<Reverse<(u32, u32)>>,
    dep_offsets: Vec<u32>,
    dependents: Vec<TaskId>,
    resident: usize,
    /// Output estimates of the running tasks (reserved against the budget).
    reserved: usize,
    limit: usize,
    /// How far the run is ahead of the one-worker order, under a budget.
    ahead: Option<RunAhead>,
    bytes_read: usize,
    trace: Option<TraceBuilder>,
    /// Per-device residency and copies with several host devices.
    hosts: Option<Hosts>,
    pub stats: RunStats,
    pub done: usize,
}

/// Ready tasks looked at, in priority order, for one that fits the budget.
const SCAN: usize = 64;

impl<'g> State<'g> {
    pub fn new(g: &'g TaskGraph, opts: &RunOptions) -> Self {
        let n = g.len();
        let prio = order::priorities(g);
        let (dep_offsets, dependents) = g.dependents();
        let missing: Vec<u32> = (0..n).map(|i| g.deps(TaskId(i as u32)).len() as u32).collect();
        let pending: Vec<u32> = (0..n).map(|i| dep_offsets[i + 1] - dep_offsets[i]).collect();
        let mut ready = BinaryHeap::new();
        for (i, &m) in missing.iter().enumerate() {
            if m == 0 {
                ready.push(Reverse((prio[i], i as u32)));
            }
        }
        let limit = opts.memory_limit.unwrap_or(usize::MAX);
        let ahead = RunAhead::new(g, &prio, limit);
        State {
            g,
            prio,
            missing,
            pending,
            is_output: g.output_mask(),
            results: vec![None; n],
            held: vec![0; n],
            ready,
            dep_offsets,
            dependents,
            resident: 0,
            reserved: 0,
            limit,
            ahead,
            bytes_read: 0,
            trace: opts.trace.then(TraceBuilder::default),
            hosts: opts.hosts.map(|h| Hosts::new(h, n)),
            stats: RunStats::default(),
            done: 0,
        }
    }

    /// The next task to start: the best-priority ready task if it fits the budget, else
    /// the best of the next [`SCAN`] in priority order that fits and consumes inputs (a
    /// combine or a consumer, which frees memory; a root started early would only hold
    /// more), or — when `in_flight` is 0, so waiting would stall — the best ready task
    /// regardless, counted in `over_budget`.
    pub fn pop_startable(&mut self, in_flight: usize) -> Option<TaskId> {
        if self.limit == usize::MAX {
            return self.ready.pop().map(|Reverse((_, t))| TaskId(t));
        }
        let mut skipped: Vec<Reverse<(u32, u32)>> = Vec::new();
        let mut found = None;
        while skipped.len() < SCAN {
            let Some(Reverse((p, t))) = self.ready.pop() else { break };
            let first = skipped.is_empty();
            let consumes = !self.g.deps(TaskId(t)).is_empty();
            let fits = self.resident + self.reserved + start_need(self.g, TaskId(t)) <= self.limit
                && self.ahead.as_ref().is_none_or(|a| a.allows(self.g, TaskId(t), p));
            if (first || consumes) && fits {
                found = Some(TaskId(t));
                break;
            }
            skipped.push(Reverse((p, t)));
        }
        if found.is_none() && in_flight == 0 && !skipped.is_empty() {
            let Reverse((_, t)) = skipped.remove(0);
            self.stats.over_budget += 1;
            found = Some(TaskId(t));
        }
        self.ready.extend(skipped);
        found
    }

    /// Tasks whose dependencies have all finished and that have not started.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    pub fn is_finished(&self) -> bool {
        self.done == self.g.len()
    }

    /// The input values of a ready task, in dependency order. A value this task is the
    /// last consumer of is moved out of the state rather than shared, so the task may
    /// reuse its memory (a combine merges into its first partial in place); its bytes
    /// stay accounted until the task finishes. With host devices the task is placed
    /// first and inputs held elsewhere are copied to its device ([`Hosts::fetch`]).
    ///
    /// # Errors
    /// A copy that cannot be made (a GPU partial).
    pub fn inputs(&mut self, t: TaskId) -> Result<Vec<Arc<Value>>> {
        let g = self.g;
        // Blocks the task reads itself count while it runs.
        let (work, _) = g.task(t).kind.inline_bytes();
        self.resident += work;
        self.reserved += g.task(t).nbytes as usize;
        if let Some(a) = &mut self.ahead {
            a.start(g, t, self.prio[t.ix()]);
        }
        if let Some(h) = &mut self.hosts {
            h.place(t, g.deps(t), g.task(t).nbytes as usize, work);
            h.start(t, work);
        }
        let mut ins = Vec::with_capacity(g.deps(t).len());
        for d in g.deps(t) {
            let last = self.pending[d.ix()] == 1 && !self.is_output[d.ix()];
            let slot = &mut self.results[d.ix()];
            let v = if last { slot.take() } else { slot.clone() }.expect("dependency finished");
            let v = match &mut self.hosts {
                Some(h) => {
                    let (v, added) = h.fetch(t, *d, v, !last)?;
                    self.resident += added;
                    v
                }
                None => v,
            };
            ins.push(v);
        }
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.resident);
        Ok(ins)
    }

    pub fn finish(&mut self, t: TaskId, v: Value, span: Option<Span>) -> Progress {
        let bytes = v.nbytes();
        let task = self.g.task(t);
        let (work, read) = task.kind.inline_bytes();
        self.resident -= work;
        self.reserved -= task.nbytes as usize;
        self.stats.tasks += 1;
        self.stats.total_bytes += bytes + read;
        self.bytes_read += read
            + if matches!(task.kind, TaskKind::Load { .. }) {
                bytes
            } else {
                0
            };
        self.done += 1;
        let kept = self.pending[t.ix()] > 0 || self.is_output[t.ix()];
        if let Some(h) = &mut self.hosts {
            self.resident -= h.finish(t, work, bytes, kept);
        }
        if let Some(a) = &mut self.ahead {
            a.finish(t, if kept { bytes } else { 0 });
        }
        if kept {
            self.resident += bytes;
            self.held[t.ix()] = bytes;
            self.stats.peak_bytes = self.stats.peak_bytes.max(self.resident);
            self.results[t.ix()] = Some(Arc::new(v));
        }
        let (s, e) = (self.dep_offsets[t.ix()] as usize, self.dep_offsets[t.ix() + 1] as usize);
        for k in s..e {
            let d = self.dependents[k];
            self.missing[d.ix()] -= 1;
            if self.missing[d.ix()] == 0 {
                self.ready.push(Reverse((self.prio[d.ix()], d.0)));
            }
        }
        for &d in self.g.deps(t) {
            let p = &mut self.pending[d.ix()];
            *p -= 1;
            if *p == 0 && !self.is_output[d.ix()] {
                self.results[d.ix()] = None;
                self.resident -= std::mem::take(&mut self.held[d.ix()]);
                if let Some(a) = &mut self.ahead {
                    a.release(d);
                }
                if let Some(h) = &mut self.hosts {
                    self.resident -= h.release(d);
                }
            }
        }
        if let (Some(tr), Some(span)) = (&mut self.trace, span) {
            tr.record(t, span, self.resident);
        }
        Progress {
            done: self.done,
            total: self.g.len(),
            resident_bytes: self.resident,
            bytes_read: self.bytes_read,
        }
    }

    pub fn into_outputs(mut self) -> (Outputs, RunStats) {
        let outs = self
            .g
            .outputs
            .iter()
            .map(|o| {
                o.tasks()
                    .iter()
                    .map(|t| self.results[t.ix()].clone().expect("output computed"))
                    .collect()
            })
            .collect();
        self.results.clear();
        self.stats.bytes_read = self.bytes_read;
        if let Some(h) = self.hosts.take() {
            self.stats.transfers = h.transfers;
            self.stats.transferred_bytes = h.transferred_bytes;
            self.stats.devices = h.stats;
        }
        self.stats.trace = self.trace.take().map(|t| Arc::new(t.finish(self.g)));
        (outs, self.stats)
    }
}
