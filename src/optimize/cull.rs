//! `cull`: remove tasks that no output depends on.

use super::Rule;
use crate::graph::{TaskGraph, TaskId};

/// Drops tasks unreachable from the outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cull;

impl Rule for Cull {
    fn name(&self) -> &'static str {
        "cull"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        let mut keep = g.output_mask();
        // Reverse id order is a reverse topological order.
        for i in (0..g.len()).rev() {
            if keep[i] {
                for d in g.deps(TaskId(i as u32)) {
                    keep[d.ix()] = true;
                }
            }
        }
        if keep.iter().all(|&k| k) {
            return (g, false);
        }
        (g.rebuild(&keep, |_| None), true)
    }
}
