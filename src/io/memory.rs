//! An in-memory array as a [`ChunkSource`] (`from_ndarray`): blocks are copied out of it
//! on demand, so the source itself is shared, never duplicated per block.

use super::ChunkSource;
use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::Result;
use std::ops::Range;

/// A whole array held in memory.
#[derive(Debug)]
pub struct MemorySource {
    data: Chunk,
}

impl MemorySource {
    /// Wraps a materialised array.
    #[must_use]
    pub fn new(data: Chunk) -> Self {
        MemorySource { data }
    }
}

impl ChunkSource for MemorySource {
    fn name(&self) -> String {
        "memory".into()
    }
    fn shape(&self) -> &[usize] {
        self.data.shape()
    }
    fn dtype(&self) -> DType {
        self.data.dtype()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        Ok(self.data.slice(region))
    }
}
