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

/// The blocks a task computes over (one for a Map, a group for a reduction's chunk step):
/// each block's shape and the array's shape.
fn block_shapes(k: &TaskKind) -> Option<Vec<(Vec<usize>, Vec<usize>)>> {
    match k {
        TaskKind::Map { grid, block, .. } => {
            Some(vec![(grid.block_shape(&grid.unlinear(*block as usize)), grid.shape())])
        }
        // Inlined loads fix the input layout; nothing more is fused in.
        TaskKind::ReducePartial { inline: Some(_), .. } => None,
        TaskKind::ReducePartial { node, block, .. } => {
            let g = &node.in_grid;
            let gs = g.shape();
            Some(
                node.group_blocks(*block as usize)
                    .iter()
                    .map(|&b| (g.block_shape(&g.unlinear(b)), gs.clone()))
                    .collect(),
            )
        }
        _ => None,
    }
}

fn identity_program(dtype: DType) -> Arc<Program> {
    let mut p = Program::new(1);
    p.push(InstOp::Input(0), dtype);
    Arc::new(p)
}

/// For each block's dependency list, the unique dependencies and the slot mapping.
fn dedup(list: &[TaskId]) -> (Vec<TaskId>, Vec<u32>) {
    let mut uniq: Vec<TaskId> = Vec::with_capacity(list.len());
    let mapping = list
        .iter()
        .map(|d| match uniq.iter().position(|u| u == d) {
            Some(p) => p as u32,
            None => {
                uniq.push(*d);
                (uniq.len() - 1) as u32
            }
        })
        .collect();
    (uniq, mapping)
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
            if g.deps(t).is_empty() {
                continue; // nothing to fuse in (a generated block, a reduction that loads its own)
            }
            let kind = &g.task(t).kind;
            let Some(shapes) = block_shapes(kind) else { continue };
            let nblk = shapes.len();
            let (mut kind, mut deps) = (kind.clone(), g.deps(t).to_vec());
            let mut touched = false;
            loop {
                let per = deps.len() / nblk;
                let current = |d: TaskId| cur[d.ix()].as_ref().map_or(&g.task(d).kind, |c| &c.0);
                // A slot is fusable when, in every block, it is fed by a Map task of the
                // same program, used only here, over a block of the same shape.
                let fusable = |s: usize| -> Option<Arc<Program>> {
                    let mut prog: Option<&Arc<Program>> = None;
                    for (b, shape) in shapes.iter().enumerate() {
                        let d = deps[b * per + s];
                        if outputs[d.ix()] || ndeps(d) != 1 || !keep[d.ix()] {
                            return None;
                        }
                        let TaskKind::Map { program, grid, block } = current(d) else {
                            return None;
                        };
                        // A block of another array (a concatenation's input) fuses
                        // when its values do not depend on their position.
                        if !grid.block_shape_is(*block as usize, &shape.0)
                            || (!grid.shape_is(&shape.1) && program.uses_position())
                        {
                            return None;
                        }
                        match prog {
                            Some(p) if !Arc::ptr_eq(p, program) => return None,
                            _ => prog = Some(program),
                        }
                    }
                    prog.cloned()
                };
                let Some((slot, prod)) = (0..per).find_map(|s| fusable(s).map(|p| (s, p))) else {
                    break;
                };
                let consumer: Arc<Program> = match &kind {
                    TaskKind::Map { program, .. } => program.clone(),
                    TaskKind::ReducePartial { pre: Some(p), .. } => p.clone(),
                    TaskKind::ReducePartial { pre: None, node, .. } => identities
                        .entry(node.in_dtype)
                        .or_insert_with(|| identity_program(node.in_dtype))
                        .clone(),
                    _ => unreachable!("only Map and ReducePartial have block shapes"),
                };
                let mut new_lists = Vec::with_capacity(nblk);
                for b in 0..nblk {
                    let own = &deps[b * per..(b + 1) * per];
                    let d = own[slot];
                    let ddeps = cur[d.ix()].as_ref().map_or_else(|| g.deps(d).to_vec(), |c| c.1.clone());
                    let mut list: Vec<TaskId> = own
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != slot)
                        .map(|(_, &x)| x)
                        .collect();
                    list.extend_from_slice(&ddeps);
                    new_lists.push(dedup(&list));
                }
                // Every block must read its inputs in the same pattern to share one program.
                if new_lists.iter().any(|(_, m)| *m != new_lists[0].1) {
                    break;
                }
                let key = (
                    Arc::as_ptr(&consumer) as usize,
                    slot as u32,
                    Arc::as_ptr(&prod) as usize,
                );
                let mut composed = memo
                    .entry(key)
                    .or_insert_with(|| Arc::new(consumer.substitute(slot as u32, &prod)))
                    .clone();
                let (uniq0, mapping) = &new_lists[0];
                if uniq0.len() != mapping.len() {
                    let key = (Arc::as_ptr(&composed) as usize, mapping.clone());
                    let nu = uniq0.len() as u32;
                    composed = remap
                        .entry(key)
                        .or_insert_with(|| Arc::new(composed.remap_inputs(mapping, nu)))
                        .clone();
                }
                for b in 0..nblk {
                    keep[deps[b * per + slot].ix()] = false;
                }
                deps = new_lists.into_iter().flat_map(|(u, _)| u).collect();
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
                        inline: None,
                    },
                    other => other,
                };
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
