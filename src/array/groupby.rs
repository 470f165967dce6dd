//! Group-by reductions along one axis with integer labels, the way flox does them for
//! xarray: a monthly climatology of a daily field in one pass, in bounded memory.
//!
//! Plan (flox's "map-reduce"), sparse in groups:
//! - **chunk**: each block reduces the rows of every group present in it into that
//!   group's partial (the engine's reduction partials: sums, (sum, count), mergeable
//!   moments) — only the groups present, so a 10-day block of a daily series carries
//!   one or two monthly partials, not twelve;
//! - **combine**: partials of up to `split_every` neighbouring blocks along the axis are
//!   merged group by group (in a fixed order: results do not depend on thread timing),
//!   level after level, as any tree reduction;
//! - **aggregate**: the last partial becomes a dense block with one row per group.
//!
//! Labels are `i64`; a negative label leaves its row out (flox's NaN label). Groups
//! with no rows give NaN for float results, 0 for sums and counts, 1 for products,
//! and an error for min/max of integers (no value to give).

use super::Array;
use super::gather::copy_pairs;
use crate::chunk::{Chunk, Value};
use crate::device::cpu::eval::BlockCtx;
use crate::device::cpu::reduce::{RowSource, finalize, merge, partial};
use crate::dtype::{Buffer, DType, Scalar};
use crate::error::{Error, Result};
use crate::expr::BlockOp;
use crate::grid::{ChunkGrid, normalize_axis};
use crate::ops::{DEFAULT_SPLIT_EVERY, GroupedPartial, ReduceOp};
use std::sync::Arc;

/// Shared parameters of one group-by.
#[derive(Debug)]
struct GroupSpec {
    op: ReduceOp,
    axis: usize,
    labels: Vec<i64>,
    ngroups: usize,
    ddof: f64,
    out: DType,
}

/// Chunk step: one input block → the partials of the groups in it.
#[derive(Debug)]
struct GroupChunkOp {
    spec: Arc<GroupSpec>,
    in_grid: ChunkGrid,
    /// Estimated bytes per output block.
    bytes: Vec<u64>,
}

fn missing() -> Error {
    Error::Unsupported("groupby: an input block is missing".into())
}

impl BlockOp for GroupChunkOp {
    fn name(&self) -> String {
        format!("groupby-{}-chunk", self.spec.op.name())
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn out_bytes(&self, b: usize) -> Option<u64> {
        Some(self.bytes[b])
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let s = &self.spec;
        let c = inputs.first().ok_or_else(missing)?.as_chunk()?;
        let idx = self.in_grid.unlinear(b);
        let r = self.in_grid.range(s.axis, idx[s.axis]);
        let shape = c.shape().to_vec();
        let mut kept = shape.clone();
        kept[s.axis] = 1;
        // Rows of each group present, in group order.
        let mut rows: Vec<(u32, Vec<usize>)> = Vec::new();
        let mut order: Vec<(i64, usize)> = s.labels[r.clone()]
            .iter()
            .enumerate()
            .filter(|(_, l)| **l >= 0)
            .map(|(i, &l)| (l, i))
            .collect();
        order.sort_unstable();
        for (l, i) in order {
            match rows.last_mut() {
                Some((g, v)) if i64::from(*g) == l => v.push(i),
                _ => rows.push((l as u32, vec![i])),
            }
        }
        let mut groups = Vec::with_capacity(rows.len());
        let mut parts = Vec::with_capacity(rows.len());
        for (g, pos) in rows {
            let contiguous = pos.windows(2).all(|w| w[1] == w[0] + 1);
            let sub = if contiguous && pos.len() == shape[s.axis] {
                None
            } else if contiguous {
                let mut ranges: Vec<std::ops::Range<usize>> = shape.iter().map(|&n| 0..n).collect();
                ranges[s.axis] = pos[0]..pos[pos.len() - 1] + 1;
                Some(c.slice(&ranges))
            } else {
                let mut sh = shape.clone();
                sh[s.axis] = pos.len();
                let mut out = Chunk::new(sh.clone(), Buffer::zeros(c.dtype(), sh.iter().product()))?;
                let pairs: Vec<Vec<(usize, usize)>> = (0..shape.len())
                    .map(|a| {
                        if a == s.axis {
                            pos.iter().enumerate().map(|(d, &p)| (d, p)).collect()
                        } else {
                            (0..shape[a]).map(|i| (i, i)).collect()
                        }
                    })
                    .collect();
                copy_pairs(c, &mut out, &pairs)?;
                Some(out)
            };
            let block = sub.as_ref().unwrap_or(c);
            let offset = vec![0; shape.len()];
            let ctx = BlockCtx {
                global_shape: block.shape(),
                offset: &offset,
                shape: block.shape(),
            };
            let p = partial(s.op, &[s.axis], &RowSource::Block(block.data()), &ctx, None, None)?;
            groups.push(g);
            parts.push(p);
        }
        Ok(Value::Grouped(GroupedPartial {
            groups,
            parts,
            shape: kept,
        }))
    }
}

/// Combine step: merges the partials of up to `fan` neighbouring blocks.
#[derive(Debug)]
struct GroupCombineOp {
    spec: Arc<GroupSpec>,
    in_grid: ChunkGrid,
    out_grid: ChunkGrid,
    fan: usize,
    bytes: Vec<u64>,
}

fn merge_grouped(op: ReduceOp, into: GroupedPartial, other: &GroupedPartial) -> Result<GroupedPartial> {
    let shape = into.shape.clone();
    let mut groups = Vec::with_capacity(into.groups.len() + other.groups.len());
    let mut parts = Vec::with_capacity(groups.capacity());
    let mut a = into.groups.into_iter().zip(into.parts).peekable();
    let mut b = other.groups.iter().zip(&other.parts).peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ga, _)), Some((gb, _))) if *ga == **gb => {
                let (g, mut p) = a.next().ok_or_else(missing)?;
                let (_, q) = b.next().ok_or_else(missing)?;
                merge(op, &mut p, q)?;
                groups.push(g);
                parts.push(p);
            }
            (Some((ga, _)), Some((gb, _))) if *ga > **gb => {
                let (g, q) = b.next().ok_or_else(missing)?;
                groups.push(*g);
                parts.push(q.copy());
            }
            (Some(_), _) => {
                let (g, p) = a.next().ok_or_else(missing)?;
                groups.push(g);
                parts.push(p);
            }
            (None, Some(_)) => {
                let (g, q) = b.next().ok_or_else(missing)?;
                groups.push(*g);
                parts.push(q.copy());
            }
        }
    }
    Ok(GroupedPartial { groups, parts, shape })
}

fn grouped(v: &Value) -> Result<&GroupedPartial> {
    match v {
        Value::Grouped(g) => Ok(g),
        _ => Err(Error::Unsupported("groupby: expected group partials".into())),
    }
}

fn combine_all(op: ReduceOp, inputs: &[&Value]) -> Result<GroupedPartial> {
    let first = grouped(inputs.first().ok_or_else(missing)?)?;
    let shape = first.shape.clone();
    let mut acc = GroupedPartial {
        groups: first.groups.clone(),
        parts: first.parts.iter().map(crate::ops::Partial::copy).collect(),
        shape: shape.clone(),
    };
    for v in &inputs[1..] {
        acc = merge_grouped(op, acc, grouped(v)?)?;
    }
    Ok(acc)
}

impl BlockOp for GroupCombineOp {
    fn name(&self) -> String {
        format!("groupby-{}-combine", self.spec.op.name())
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let ax = self.spec.axis;
        let mut idx = self.out_grid.unlinear(b);
        let j = idx[ax];
        let n = self.in_grid.nblocks()[ax];
        (j * self.fan..((j + 1) * self.fan).min(n))
            .map(|k| {
                idx[ax] = k;
                (0, self.in_grid.linear(&idx))
            })
            .collect()
    }
    fn out_bytes(&self, b: usize) -> Option<u64> {
        Some(self.bytes[b])
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        Ok(Value::Grouped(combine_all(self.spec.op, inputs)?))
    }
}

/// Aggregate step: the merged partials as a dense block, one row per group.
#[derive(Debug)]
struct GroupFinalizeOp {
    spec: Arc<GroupSpec>,
    out_grid: ChunkGrid,
}

impl BlockOp for GroupFinalizeOp {
    fn name(&self) -> String {
        format!("groupby-{}-aggregate", self.spec.op.name())
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let s = &self.spec;
        let g = combine_all(s.op, inputs)?;
        let shape = self.out_grid.block_shape(&self.out_grid.unlinear(b));
        let n: usize = shape.iter().product();
        let fill = match s.op {
            ReduceOp::Sum | ReduceOp::NanSum | ReduceOp::Count => Some(Scalar::from(0u8)),
            ReduceOp::Prod | ReduceOp::NanProd => Some(Scalar::from(1u8)),
            _ if s.out.is_float() => Some(Scalar::from(f64::NAN)),
            _ => None,
        };
        let present = g.groups.len();
        if present < s.ngroups && fill.is_none() {
            let missing_group = (0..s.ngroups as u32).find(|k| !g.groups.contains(k)).unwrap_or(0);
            return Err(Error::Value(format!(
                "groupby {}: group {missing_group} has no elements (an integer {} has no empty value)",
                s.op.name(),
                s.op.name()
            )));
        }
        let mut out = Chunk::new(
            shape.clone(),
            Buffer::filled(s.out, n, fill.unwrap_or(Scalar::from(0u8))),
        )?;
        let kept = g.shape.clone();
        let full: Vec<std::ops::Range<usize>> = kept.iter().map(|&k| 0..k).collect();
        for (grp, p) in g.groups.iter().zip(g.parts) {
            let buf = finalize(s.op, p, s.ddof, s.out)?;
            let c = Chunk::new(kept.clone(), buf)?;
            let mut at = vec![0; kept.len()];
            at[s.axis] = *grp as usize;
            out.write_box(&at, &c, &full)?;
        }
        Ok(Value::Chunk(out))
    }
}

/// Options of [`Array::groupby_reduce`].
#[derive(Clone, Debug)]
pub struct GroupByOptions {
    /// Number of groups (labels are `0..ngroups`); `None`: the largest label + 1.
    pub ngroups: Option<usize>,
    /// Delta degrees of freedom for var/std.
    pub ddof: f64,
    /// Partials merged per combine task.
    pub split_every: usize,
    /// Result dtype (default NumPy's for the op).
    pub dtype: Option<DType>,
}

impl Default for GroupByOptions {
    fn default() -> Self {
        GroupByOptions {
            ngroups: None,
            ddof: 0.0,
            split_every: DEFAULT_SPLIT_EVERY,
            dtype: None,
        }
    }
}

impl Array {
    /// Reduces the rows of `axis` that share a label (`labels[i]` for row `i`;
    /// negative: left out): the result has `axis` replaced by one row per group, in
    /// label order. sum, prod, mean, min, max, var, std, count, any, all and their
    /// nan-variants (not argmin/argmax).
    ///
    /// # Errors
    /// An axis out of range, labels of the wrong length, labels ≥ `ngroups`, or an
    /// arg-reduction.
    pub fn groupby_reduce(&self, labels: &[i64], axis: isize, op: ReduceOp, opts: &GroupByOptions) -> Result<Array> {
        let ax = normalize_axis(axis, self.ndim())?;
        let shape = self.shape();
        if labels.len() != shape[ax] {
            return Err(Error::InvalidArgument(format!(
                "groupby: {} labels for axis {ax} of length {}",
                labels.len(),
                shape[ax]
            )));
        }
        if op.is_arg() {
            return Err(Error::Unsupported(format!("groupby {} (use min/max)", op.name())));
        }
        let max = labels.iter().copied().max().unwrap_or(-1);
        let ngroups = opts.ngroups.unwrap_or((max + 1).max(0) as usize);
        if max >= ngroups as i64 {
            return Err(Error::InvalidArgument(format!(
                "groupby: label {max} but only {ngroups} groups"
            )));
        }
        if ngroups == 0 || self.size() == 0 {
            return Err(Error::InvalidArgument(
                "groupby: no groups (every label is negative, or the array is empty)".into(),
            ));
        }
        let op = op.for_input(self.dtype());
        let out = opts.dtype.unwrap_or_else(|| op.result_dtype(self.dtype()));
        let spec = Arc::new(GroupSpec {
            op,
            axis: ax,
            labels: labels.to_vec(),
            ngroups,
            ddof: opts.ddof,
            out,
        });
        let g = self.grid().clone();
        let per = op.partial_kind().bytes_per_element() as u64;
        // Distinct groups per block along the axis (the chunk step's partial count).
        let nb = g.nblocks()[ax];
        let groups_in: Vec<Vec<u32>> = (0..nb)
            .map(|k| {
                let mut v: Vec<u32> = labels[g.range(ax, k)]
                    .iter()
                    .filter(|&&l| l >= 0)
                    .map(|&l| l as u32)
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let kept_len = |grid: &ChunkGrid, b: usize| -> u64 {
            let idx = grid.unlinear(b);
            let sh = grid.block_shape(&idx);
            sh.iter()
                .enumerate()
                .map(|(a, &n)| if a == ax { 1 } else { n as u64 })
                .product()
        };
        let mut chunks = g.all_chunks().to_vec();
        chunks[ax] = vec![1; nb];
        let mut shape1 = shape.clone();
        shape1[ax] = nb;
        let grid0 = ChunkGrid::from_chunks(&shape1, chunks)?;
        let bytes: Vec<u64> = (0..grid0.num_blocks())
            .map(|b| kept_len(&grid0, b) * per * groups_in[grid0.unlinear(b)[ax]].len() as u64)
            .collect();
        let mut cur = Array::from_block_op(
            GroupChunkOp {
                spec: spec.clone(),
                in_grid: g.clone(),
                bytes,
            },
            vec![self.clone()],
            grid0,
            out,
        );
        let mut sets = groups_in;
        let fan = opts.split_every.max(2);
        while cur.grid().nblocks()[ax] > 1 {
            let in_grid = cur.grid().clone();
            let n = in_grid.nblocks()[ax];
            let m = n.div_ceil(fan);
            let next_sets: Vec<Vec<u32>> = (0..m)
                .map(|j| {
                    let mut v: Vec<u32> = sets[j * fan..((j + 1) * fan).min(n)].concat();
                    v.sort_unstable();
                    v.dedup();
                    v
                })
                .collect();
            let mut chunks = in_grid.all_chunks().to_vec();
            chunks[ax] = vec![1; m];
            let mut sh = in_grid.shape();
            sh[ax] = m;
            let out_grid = ChunkGrid::from_chunks(&sh, chunks)?;
            let bytes: Vec<u64> = (0..out_grid.num_blocks())
                .map(|b| kept_len(&out_grid, b) * per * next_sets[out_grid.unlinear(b)[ax]].len() as u64)
                .collect();
            cur = Array::from_block_op(
                GroupCombineOp {
                    spec: spec.clone(),
                    in_grid,
                    out_grid: out_grid.clone(),
                    fan,
                    bytes,
                },
                vec![cur],
                out_grid,
                out,
            );
            sets = next_sets;
        }
        let mut chunks = cur.grid().all_chunks().to_vec();
        chunks[ax] = vec![ngroups];
        let mut sh = shape;
        sh[ax] = ngroups;
        let out_grid = ChunkGrid::from_chunks(&sh, chunks)?;
        Ok(Array::from_block_op(
            GroupFinalizeOp {
                spec,
                out_grid: out_grid.clone(),
            },
            vec![cur],
            out_grid,
            out,
        ))
    }
}
