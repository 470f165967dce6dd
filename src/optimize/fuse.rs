//! `fuse`: merge elementwise chains into one per-block pass.
//!
//! A `Map` task whose only consumer is another `Map` (or a reduction's chunk step) on a
//! block of the same shape is inlined into it: the consumer's program is composed with
//! the producer's ([`Program::substitute`]) and inherits the producer's inputs. Tasks
//! are visited in topological order, so a whole chain collapses in one pass; composed
//! programs are memoised per (consumer, slot, producer) program, so a million-block
//! array composes each distinct program once and its tasks share it.
//!
//! Producers used by several tasks (or requested as outputs) are left alone: fusing
//! them would compute them twice.

use super::Rule;
use crate::dtype::DType;
use crate::graph::{TaskGraph, TaskId, TaskKind};
use crate::ops::{InstOp, Program};
use std::collections::HashMap;
use std::sync::Arc;

/// Fuses elementwise chains.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fuse;

type Memo = HashMap<(usize, u32, usize), Arc<Program>>;
type RemapMemo = HashMap<(usize, Vec<u32>), Arc<Program>>;

fn block_shape(k: &TaskKind) -> Option<(Vec<usize>, Vec<usize>)> {
    match k {
        TaskKind::Map { grid, block, .. } => Some((grid.block_shape(&grid.unlinear(*block as usize)), grid.shape())),
        TaskKind::ReducePartial { node, block, .. } => {
            let g = &node.in_grid;
            Some((g.block_shape(&g.unlinear(*block as usize)), g.shape()))
        }
        _ => None,
    }
}

fn identity_program(dtype: DType) -> Arc<Program> {
    let mut p = Program::new(1);
    p.push(InstOp::Input(0), dtype);
    Arc::new(p)
}

impl Rule for Fuse {
    fn name(&self) -> &'static str {
        "fuse"
    }

    fn apply(&self, g: TaskGraph) -> (TaskGraph, bool) {
        let (offsets, _) = g.dependents();
        let ndeps = |t: TaskId| offsets[t.ix() + 1] - offsets[t.ix()];
        let outputs = g.output_mask();
        let n = g.len();
        let mut cur: Vec<Option<(TaskKind, Vec<TaskId>)>> = vec![None; n];
        let mut keep = vec![true; n];
        let mut memo: Memo = HashMap::new();
        let mut remap: RemapMemo = HashMap::new();
        let mut identities: HashMap<DType, Arc<Program>> = HashMap::new();
        let mut changed = false;
        for i in 0..n {
            let t = TaskId(i as u32);
            let kind = &g.task(t).kind;
            let Some((shape, gshape)) = block_shape(kind) else {
                continue;
            };
            let (mut kind, mut deps) = (kind.clone(), g.deps(t).to_vec());
            let mut touched = false;
            loop {
                let slot = deps.iter().position(|&d| {
                    if outputs[d.ix()] || ndeps(d) != 1 || !keep[d.ix()] {
                        return false;
                    }
                    let dk = cur[d.ix()].as_ref().map_or(&g.task(d).kind, |c| &c.0);
                    matches!(dk, TaskKind::Map { .. })
                        && block_shape(dk).is_some_and(|(s, gs)| s == shape && gs == gshape)
                });
                let Some(slot) = slot else { break };
                let d = deps[slot];
                let (dk, ddeps) = cur[d.ix()]
                    .clone()
                    .unwrap_or_else(|| (g.task(d).kind.clone(), g.deps(d).to_vec()));
                let TaskKind::Map { program: prod, .. } = &dk else {
                    unreachable!()
                };
                let consumer: Arc<Program> = match &kind {
                    TaskKind::Map { program, .. } => program.clone(),
                    TaskKind::ReducePartial { pre: Some(p), .. } => p.clone(),
                    TaskKind::ReducePartial { pre: None, node, .. } => identities
                        .entry(node.in_dtype)
                        .or_insert_with(|| identity_program(node.in_dtype))
                        .clone(),
                    _ => unreachable!(),
                };
                let key = (Arc::as_ptr(&consumer) as usize, slot as u32, Arc::as_ptr(prod) as usize);
                let mut composed = memo
                    .entry(key)
                    .or_insert_with(|| Arc::new(consumer.substitute(slot as u32, prod)))
                    .clone();
                let mut new_deps: Vec<TaskId> = deps
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != slot)
                    .map(|(_, &d)| d)
                    .collect();
                new_deps.extend_from_slice(&ddeps);
                // One upstream task in two slots: read it once.
                let mut uniq: Vec<TaskId> = Vec::with_capacity(new_deps.len());
                let mapping: Vec<u32> = new_deps
                    .iter()
                    .map(|d| match uniq.iter().position(|u| u == d) {
                        Some(p) => p as u32,
                        None => {
                            uniq.push(*d);
                            (uniq.len() - 1) as u32
                        }
                    })
                    .collect();
                if uniq.len() != new_deps.len() {
                    let key = (Arc::as_ptr(&composed) as usize, mapping.clone());
                    let nu = uniq.len() as u32;
                    composed = remap
                        .entry(key)
                        .or_insert_with(|| Arc::new(composed.remap_inputs(&mapping, nu)))
                        .clone();
                    new_deps = uniq;
                }
                kind = match kind {
                    TaskKind::Map { grid, block, .. } => TaskKind::Map {
                        program: composed,
                        grid,
                        block,
                    },
                    TaskKind::ReducePartial {
                        node, block, finalize, ..
                    } => TaskKind::ReducePartial {
                        node,
                        pre: Some(composed),
                        block,
                        finalize,
                    },
                    other => other,
                };
                deps = new_deps;
                keep[d.ix()] = false;
                touched = true;
            }
            if touched {
                changed = true;
                cur[i] = Some((kind, deps));
            }
        }
        if !changed {
            return (g, false);
        }
        let ng = g.rebuild(&keep, |t| cur[t.ix()].clone());
        (ng, true)
    }
}
