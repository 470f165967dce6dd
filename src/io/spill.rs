//! Blocks spilled to local disk: what `persist()` keeps when an array does not fit the
//! memory budget.
//!
//! Each block is one `.npy` file (written atomically: a temporary name, then a rename)
//! in a directory of its own under the system temporary directory (or `$CHUNKWISE_SPILL_DIR`).
//! Reads of one block return it; other boxes are assembled from the blocks they
//! overlap. The directory is removed when the last handle to the source is dropped.

use super::ChunkSource;
use super::memory::assemble;
use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::grid::ChunkGrid;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An array kept as one file per block in a private directory.
#[derive(Debug)]
pub struct SpillSource {
    dir: PathBuf,
    grid: ChunkGrid,
    shape: Vec<usize>,
    dtype: DType,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl SpillSource {
    /// A new, empty spill directory for an array of `grid` and `dtype`.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be created.
    pub fn create(grid: ChunkGrid, dtype: DType) -> Result<Self> {
        let root = std::env::var_os("CHUNKWISE_SPILL_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = root.join(format!(
            "chunkwise-spill-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        Ok(SpillSource {
            dir,
            shape: grid.shape(),
            grid,
            dtype,
        })
    }

    /// The directory holding the blocks.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, b: usize) -> PathBuf {
        self.dir.join(format!("{b}.npy"))
    }

    /// Writes block `b`.
    ///
    /// # Errors
    /// A shape or dtype that does not match the grid, or a failed write.
    pub fn write_block(&self, b: usize, c: &Chunk) -> Result<()> {
        if c.dtype() != self.dtype || c.shape() != self.grid.block_shape(&self.grid.unlinear(b)).as_slice() {
            return Err(Error::InvalidArgument(format!(
                "spill block {b}: {:?} {} does not fit the grid",
                c.shape(),
                c.dtype()
            )));
        }
        super::npy::write_npy(&self.path(b), c)
    }

    fn block(&self, b: usize) -> Result<Arc<Chunk>> {
        Ok(Arc::new(super::npy::read_npy(&self.path(b))?))
    }
}

impl Drop for SpillSource {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ChunkSource for SpillSource {
    fn name(&self) -> String {
        format!("spill {}", self.dir.display())
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.grid.all_chunks().iter().map(|c| c[0]).collect())
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        let c = assemble(&self.grid, self.dtype, region, |b| self.block(b))?;
        Arc::try_unwrap(c).or_else(|c| c.try_clone())
    }
}
