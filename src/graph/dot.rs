//! Graphviz DOT export of a task graph (`chunkwise … --explain`, debugging).

use super::TaskGraph;
use std::fmt::Write as _;

/// The graph as DOT text: one node per task (kind and block), outputs doubled.
#[must_use]
pub fn to_dot(g: &TaskGraph) -> String {
    let mut s = String::from("digraph chunkwise {\n  rankdir=BT;\n  node [shape=box, fontsize=10];\n");
    let outputs = g.output_mask();
    for (i, _) in g.tasks().iter().enumerate() {
        let t = super::TaskId(i as u32);
        let label = g.describe(t).replace('"', "'");
        let peri = if outputs[i] { ", peripheries=2" } else { "" };
        let _ = writeln!(s, "  t{i} [label=\"{label}\"{peri}];");
    }
    for i in 0..g.len() {
        for d in g.deps(super::TaskId(i as u32)) {
            let _ = writeln!(s, "  t{} -> t{i};", d.0);
        }
    }
    s.push_str("}\n");
    s
}
