//! `persist()`: compute an array once and keep its blocks, so later computations
//! reuse them instead of recomputing (dask's `persist`).
//!
//! The blocks stay in memory when the array fits in half the runtime's memory budget
//! (or there is none): the result is an in-memory source sharing the computed blocks,
//! with no copy. Otherwise they are spilled to local disk as they are computed — one
//! file per block, each written as soon as its block exists and freed right after
//! ([`SpillSource`]) — so persisting an array larger than the budget streams through
//! memory instead of holding it. Either way the persisted array has the same chunks.

use crate::array::Array;
use crate::chunk::Value;
use crate::delayed::gather;
use crate::error::{Error, Result};
use crate::expr::ExprKind;
use crate::graph::lower::Target;
use crate::io::memory::MemorySource;
use crate::io::spill::SpillSource;
use crate::runtime::Runtime;
use std::sync::Arc;

impl Runtime {
    /// Computes `a` and returns an array over its materialised blocks: in memory when
    /// it fits half the memory budget, else spilled to disk (see the module docs).
    ///
    /// # Errors
    /// The first task error, or a failed spill write.
    pub fn persist(&self, a: &Array) -> Result<Array> {
        if matches!(&a.expr().kind, ExprKind::Source(s) if s.in_memory()) {
            return Ok(a.clone());
        }
        let fits = self.config().memory_limit.is_none_or(|l| a.nbytes() <= l / 2);
        let grid = a.grid().clone();
        let source: Arc<dyn crate::io::ChunkSource> = if fits {
            let (mut outs, _, _) = self.run(&[Target::Array(a)])?;
            let blocks = outs
                .pop()
                .ok_or_else(|| Error::Unsupported("persist: no output".into()))?
                .into_iter()
                .map(|v| match Arc::try_unwrap(v) {
                    Ok(Value::Chunk(c)) => Ok(Arc::new(c)),
                    Ok(Value::Shared(c)) => Ok(c),
                    Ok(_) => Err(Error::Unsupported("persist: an output block is not a chunk".into())),
                    Err(v) => Ok(Arc::new(v.as_chunk()?.try_clone()?)),
                })
                .collect::<Result<Vec<_>>>()?;
            Arc::new(MemorySource::from_grid_blocks(grid.clone(), blocks)?)
        } else {
            let spill = Arc::new(SpillSource::create(grid.clone(), a.dtype())?);
            let writes = (0..a.num_blocks())
                .map(|b| {
                    let s = spill.clone();
                    a.block_then(b, &format!("spill block {b}"), move |c| s.write_block(b, c))
                })
                .collect::<Result<Vec<_>>>()?;
            self.compute_delayed(&gather(&writes, "persist", |_| Ok(())))?;
            spill
        };
        Ok(Array::from_expr(ExprKind::Source(source), grid, a.dtype()))
    }
}

impl Array {
    /// [`Runtime::persist`] on the global runtime.
    ///
    /// # Errors
    /// As [`Runtime::persist`].
    pub fn persist(&self) -> Result<Array> {
        Runtime::global().persist(self)
    }
}
