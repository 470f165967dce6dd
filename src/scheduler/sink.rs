//! Output arrays written in place, block by block, as their tasks finish.
//!
//! `compute()` returns one contiguous array. Assembled after the run, it costs a second
//! copy of the result in fresh memory while every block is still held: for the 8000²
//! f64 `matmul` workload 512 MB of blocks plus 512 MB of result, and the result's
//! first touch alone took 1.4 s of the 13.6 s run here (fresh pages in this project's
//! VMs are 0.3–3 GB/s on first touch against 23–27 GB/s once mapped, `/tmp/ft.c`-style
//! memset timing). With a sink the result is allocated before the run and each output
//! block is copied into it on the worker that made it, right after its task: the copy
//! overlaps the rest of the run on every core, and a block that nothing else reads is
//! dropped at once, so its memory is reused by the next task instead of fresh pages
//! being mapped for it (`Value::Written` stands in for it, carrying its size so the
//! memory accounting is unchanged).
//!
//! Only multi-block array outputs whose blocks are each one task, listed once, are sunk;
//! anything else (a single block, a task shared by two outputs) is assembled after the
//! run as before. The blocks of one grid never overlap, and each block is claimed once
//! (an atomic flag) before it is written, so the writers never touch the same bytes.

use crate::chunk::{Chunk, Value};
use crate::dtype::Buffer;
use crate::error::{Error, Result};
use crate::graph::{Output, TaskGraph, TaskId};
use crate::grid::ChunkGrid;
use std::sync::atomic::{AtomicBool, Ordering};

/// One output array being written in place.
pub(crate) struct SharedOut {
    grid: ChunkGrid,
    /// The whole array; only written through `base` until [`SharedOut::into_chunk`].
    chunk: Chunk,
    /// `chunk`'s element storage (its heap buffer does not move with the struct).
    base: *mut u8,
    claimed: Vec<AtomicBool>,
}

// SAFETY: `base` is only written through `write_block`, which claims each block of the
// grid once (an atomic swap) and writes only inside that block's box; boxes of one grid
// are disjoint, so concurrent writers never touch the same bytes, and nothing reads the
// chunk until `into_chunk` consumes the sink after the run.
unsafe impl Sync for SharedOut {}
// SAFETY: as above; the raw pointer is into `chunk`, which moves with it.
unsafe impl Send for SharedOut {}

impl SharedOut {
    fn new(grid: ChunkGrid, dtype: crate::dtype::DType) -> Result<Self> {
        let shape = grid.shape();
        let mut chunk = Chunk::new(shape.clone(), Buffer::zeros(dtype, shape.iter().product()))?;
        let base = chunk.base_ptr();
        let claimed = (0..grid.num_blocks()).map(|_| AtomicBool::new(false)).collect();
        Ok(SharedOut {
            grid,
            chunk,
            base,
            claimed,
        })
    }

    /// Copies block `b` of the grid into place (once per block).
    fn write_block(&self, b: usize, c: &Chunk) -> Result<()> {
        let idx = self.grid.unlinear(b);
        let want = self.grid.block_shape(&idx);
        if c.shape() != want.as_slice() || c.dtype() != self.chunk.dtype() {
            return Err(Error::Unsupported(format!(
                "output block {idx:?} came back as {:?} {} (expected {want:?} {})",
                c.shape(),
                c.dtype(),
                self.chunk.dtype()
            )));
        }
        if self.claimed[b].swap(true, Ordering::AcqRel) {
            return Err(Error::Unsupported(format!("output block {idx:?} written twice")));
        }
        let start = self.grid.block_offset(&idx);
        let dst_shape = self.chunk.shape();
        let full: Vec<std::ops::Range<usize>> = want.iter().map(|&n| 0..n).collect();
        crate::dispatch_buffer!(c.data(), s, T => {
            let dst = self.base.cast::<T>();
            crate::chunk::for_each_run(&want, &full, dst_shape, &start, |so, dof, n| {
                // SAFETY: the run lies inside block `b`'s box (its shape was checked
                // against the grid), which this call alone has claimed; the dtypes
                // match, so `dst` addresses `T`s.
                unsafe { std::ptr::copy_nonoverlapping(s[so..so + n].as_ptr(), dst.add(dof), n) }
            });
        });
        Ok(())
    }

    /// The finished array. Every block must have been written.
    fn into_chunk(self) -> Result<Chunk> {
        if let Some(b) = self.claimed.iter().position(|c| !c.load(Ordering::Acquire)) {
            return Err(Error::Unsupported(format!(
                "output block {:?} was never written",
                self.grid.unlinear(b)
            )));
        }
        Ok(self.chunk)
    }
}

/// Where each sunk task's block goes.
#[derive(Clone, Copy)]
struct Slot {
    out: u32,
    block: u32,
    /// No other task reads it: the value can be dropped once written.
    last: bool,
}

/// The sinks of one run: one per graph output (None: assembled after the run).
pub(crate) struct Sinks {
    outs: Vec<Option<SharedOut>>,
    by_task: Vec<Option<Slot>>,
}

impl Sinks {
    /// No output is sunk.
    pub(crate) fn none() -> Sinks {
        Sinks {
            outs: Vec::new(),
            by_task: Vec::new(),
        }
    }

    /// A sink for every multi-block array output of `g` whose tasks appear in no other
    /// output slot.
    pub(crate) fn for_graph(g: &TaskGraph) -> Result<Sinks> {
        let mut uses = vec![0u32; g.len()];
        for o in &g.outputs {
            for t in o.tasks() {
                uses[t.ix()] += 1;
            }
        }
        let (offsets, _) = g.dependents();
        let mut by_task = vec![None; g.len()];
        let mut outs = Vec::with_capacity(g.outputs.len());
        for (k, o) in g.outputs.iter().enumerate() {
            let sunk = match o {
                Output::Array { grid, dtype, tasks }
                    if tasks.len() > 1
                        && tasks.len() == grid.num_blocks()
                        && tasks.iter().all(|t| uses[t.ix()] == 1) =>
                {
                    for (b, t) in tasks.iter().enumerate() {
                        by_task[t.ix()] = Some(Slot {
                            out: k as u32,
                            block: b as u32,
                            last: offsets[t.ix() + 1] == offsets[t.ix()],
                        });
                    }
                    Some(SharedOut::new(grid.clone(), *dtype)?)
                }
                _ => None,
            };
            outs.push(sunk);
        }
        Ok(Sinks { outs, by_task })
    }

    /// Writes task `t`'s value into its output when it has a sink; returns the value
    /// to keep (a [`Value::Written`] placeholder when nothing else reads it).
    pub(crate) fn take(&self, t: TaskId, v: Value) -> Result<Value> {
        let Some(Some(slot)) = self.by_task.get(t.ix()) else {
            return Ok(v);
        };
        let sink = self.outs[slot.out as usize]
            .as_ref()
            .ok_or_else(|| Error::Unsupported("output sink missing".into()))?;
        sink.write_block(slot.block as usize, v.as_chunk()?)?;
        Ok(if slot.last { Value::Written(v.nbytes()) } else { v })
    }

    /// Output `k`'s array when it was sunk (None: assemble it from its blocks).
    pub(crate) fn finish(&mut self, k: usize) -> Option<Result<Chunk>> {
        self.outs.get_mut(k)?.take().map(SharedOut::into_chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    fn block(grid: &ChunkGrid, b: usize) -> Chunk {
        let idx = grid.unlinear(b);
        let shape = grid.block_shape(&idx);
        let off = grid.block_offset(&idx);
        let cols = grid.shape()[1];
        let v: Vec<i32> = (0..shape[0] * shape[1])
            .map(|i| ((off[0] + i / shape[1]) * cols + off[1] + i % shape[1]) as i32)
            .collect();
        Chunk::new(shape, Buffer::I32(v)).unwrap()
    }

    #[test]
    fn ragged_blocks_land_in_place_once_each() {
        let grid = ChunkGrid::from_chunks(&[5, 3], vec![vec![2, 2, 1], vec![2, 1]]).unwrap();
        let out = SharedOut::new(grid.clone(), DType::I32).unwrap();
        // Out of order, as workers finish.
        for b in [5, 0, 3, 1, 4, 2] {
            out.write_block(b, &block(&grid, b)).unwrap();
        }
        let err = out.write_block(2, &block(&grid, 2)).unwrap_err().to_string();
        assert!(err.contains("written twice"), "{err}");
        let c = out.into_chunk().unwrap();
        assert_eq!(c.shape(), &[5, 3]);
        assert_eq!(
            c.data().as_slice::<i32>().unwrap(),
            (0..15).collect::<Vec<i32>>().as_slice()
        );
    }

    #[test]
    fn a_wrong_block_or_a_missing_one_is_an_error() {
        let grid = ChunkGrid::from_chunks(&[4, 2], vec![vec![2, 2], vec![2]]).unwrap();
        let out = SharedOut::new(grid.clone(), DType::I32).unwrap();
        let wrong_shape = Chunk::new(vec![1, 2], Buffer::I32(vec![0, 1])).unwrap();
        assert!(
            out.write_block(0, &wrong_shape)
                .unwrap_err()
                .to_string()
                .contains("expected [2, 2]")
        );
        let wrong_dtype = Chunk::new(vec![2, 2], Buffer::F64(vec![0.0; 4])).unwrap();
        assert!(out.write_block(0, &wrong_dtype).is_err());
        out.write_block(1, &block(&grid, 1)).unwrap();
        let err = out.into_chunk().unwrap_err().to_string();
        assert!(err.contains("[0, 0] was never written"), "{err}");
    }
}
