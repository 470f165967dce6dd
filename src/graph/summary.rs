//! What a graph will do, before it runs (`chunkwise reduce --explain`): tasks per kind,
//! bytes produced and read, the critical path, the largest single task and the peak of
//! live bytes if it ran on one worker in its static order.
//!
//! The peak is a simulation of the scheduler's accounting (outputs live until their last
//! consumer finishes, inline reads live while their task runs) over the estimates, so it
//! says how far a budget is from what the graph needs without running it.

use super::{TaskGraph, TaskId, TaskKind, order};
use crate::bytesize::format_size;
use std::fmt;

/// The summary of one graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Tasks per kind name.
    pub kinds: Vec<(&'static str, usize)>,
    /// All tasks.
    pub tasks: usize,
    /// Dependency edges.
    pub edges: usize,
    /// Longest chain of tasks (each waits for the one before).
    pub critical_path: usize,
    /// Bytes read from storage (Load tasks and inline reads).
    pub bytes_read: usize,
    /// Bytes of all task outputs.
    pub bytes_produced: usize,
    /// The largest single-task need (inputs, output, inline reads) and its task.
    pub largest_task: (usize, String),
    /// Peak live bytes running one task at a time in the static order.
    pub sequential_peak: usize,
    /// Graph metadata bytes per task.
    pub bytes_per_task: usize,
}

impl TaskGraph {
    /// Bytes alive while a task runs, by itself: its inputs, its output and its inline
    /// reads (what a memory budget must at least allow).
    #[must_use]
    pub fn task_need(&self, t: TaskId) -> usize {
        let mut deps: Vec<TaskId> = self.deps(t).to_vec();
        deps.sort_unstable();
        deps.dedup();
        let inputs: usize = deps.iter().map(|d| self.task(*d).nbytes as usize).sum();
        inputs + self.task(t).nbytes as usize + self.task(t).kind.inline_bytes().0
    }

    /// The summary (see the module docs).
    #[must_use]
    pub fn summary(&self) -> Summary {
        let n = self.len();
        let mut depth = vec![0usize; n];
        let (mut read, mut produced, mut edges) = (0usize, 0usize, 0usize);
        let mut largest = (0usize, TaskId(0));
        for i in 0..n {
            let t = TaskId(i as u32);
            let deps = self.deps(t);
            edges += deps.len();
            depth[i] = 1 + deps.iter().map(|d| depth[d.ix()]).max().unwrap_or(0);
            let task = self.task(t);
            produced += task.nbytes as usize;
            read += task.kind.inline_bytes().1;
            if matches!(task.kind, TaskKind::Load { .. }) {
                read += task.nbytes as usize;
            }
            let need = self.task_need(t);
            if need > largest.0 {
                largest = (need, t);
            }
        }
        Summary {
            kinds: self.kind_counts(),
            tasks: n,
            edges,
            critical_path: depth.iter().copied().max().unwrap_or(0),
            bytes_read: read,
            bytes_produced: produced,
            largest_task: (largest.0, if n > 0 { self.describe(largest.1) } else { String::new() }),
            sequential_peak: self.sequential_peak(),
            bytes_per_task: self.metadata_bytes().checked_div(n).unwrap_or(0),
        }
    }

    /// Peak accounted bytes of a one-worker run in the static order, from the estimates.
    #[must_use]
    pub fn sequential_peak(&self) -> usize {
        self.sequential_peak_in(&order::priorities(self))
    }

    /// [`TaskGraph::sequential_peak`] in the order `prio`: the static order, passed by a
    /// caller that has it already, so a large graph is not ordered twice.
    #[must_use]
    pub fn sequential_peak_in(&self, prio: &[u32]) -> usize {
        let n = self.len();
        let mut by_prio = vec![TaskId(0); n];
        for (i, &p) in prio.iter().enumerate() {
            by_prio[p as usize] = TaskId(i as u32);
        }
        let (offsets, _) = self.dependents();
        let mut pending: Vec<u32> = (0..n).map(|i| offsets[i + 1] - offsets[i]).collect();
        let outputs = self.output_mask();
        let (mut live, mut peak) = (0usize, 0usize);
        for t in by_prio {
            let task = self.task(t);
            let out = task.nbytes as usize;
            peak = peak.max(live + out + task.kind.inline_bytes().0);
            live += out;
            for d in self.deps(t) {
                pending[d.ix()] -= 1;
                if pending[d.ix()] == 0 && !outputs[d.ix()] {
                    live -= self.task(*d).nbytes as usize;
                }
            }
            if pending[t.ix()] == 0 && !outputs[t.ix()] {
                live -= out;
            }
        }
        peak
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, c)| format!("{c} {k}")).collect();
        writeln!(f, "tasks          {} ({})", self.tasks, kinds.join(", "))?;
        writeln!(f, "dependencies   {}", self.edges)?;
        writeln!(f, "critical path  {} tasks", self.critical_path)?;
        writeln!(f, "reads          {}", format_size(self.bytes_read))?;
        writeln!(f, "produces       {}", format_size(self.bytes_produced))?;
        writeln!(
            f,
            "largest task   {} ({})",
            format_size(self.largest_task.0),
            self.largest_task.1
        )?;
        writeln!(
            f,
            "peak, 1 worker {} (static order, estimated)",
            format_size(self.sequential_peak)
        )?;
        write!(f, "graph size     {} bytes per task", self.bytes_per_task)
    }
}
