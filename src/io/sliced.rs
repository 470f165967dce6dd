//! A box of another source, seen as a source of its own (contiguous slicing pushed
//! down to storage).
//!
//! `x.slice(...)` on an array read straight from storage with unit steps does not
//! load whole blocks and copy parts out of them: it becomes a [`SlicedSource`] whose
//! reads are translated into reads of exactly the selected box of the parent, so one
//! time step of a store decodes only the stored chunks that hold it. Axes indexed by
//! an integer are dropped and `newaxis` axes inserted, as lengths of 1.

use super::ChunkSource;
use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::Result;
use std::ops::Range;
use std::sync::Arc;

/// A contiguous box of a parent source.
#[derive(Debug)]
pub struct SlicedSource {
    parent: Arc<dyn ChunkSource>,
    /// The box, one range per parent axis.
    bounds: Vec<Range<usize>>,
    /// Per output axis: the parent axis it is, or `None` for a new axis of length 1.
    axes: Vec<Option<usize>>,
    shape: Vec<usize>,
}

impl SlicedSource {
    /// The box `bounds` of `parent`, keeping the parent axes listed in `axes` (in
    /// order; `None` inserts an axis of length 1). Parent axes not listed must have
    /// bounds of length 1.
    #[must_use]
    pub fn new(parent: Arc<dyn ChunkSource>, bounds: Vec<Range<usize>>, axes: Vec<Option<usize>>) -> Self {
        let shape = axes.iter().map(|a| a.map_or(1, |a| bounds[a].len())).collect();
        SlicedSource {
            parent,
            bounds,
            axes,
            shape,
        }
    }

    fn parent_region(&self, region: &[Range<usize>]) -> Vec<Range<usize>> {
        let mut r: Vec<Range<usize>> = self.bounds.iter().map(|b| b.start..b.start + 1).collect();
        for (k, a) in self.axes.iter().enumerate() {
            if let Some(a) = *a {
                let s = self.bounds[a].start;
                r[a] = s + region[k].start..s + region[k].end;
            }
        }
        r
    }

    fn shaped(region: &[Range<usize>], c: Chunk) -> Result<Chunk> {
        c.reshaped(region.iter().map(ExactSizeIterator::len).collect())
    }
}

impl ChunkSource for SlicedSource {
    fn name(&self) -> String {
        self.parent.name()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.parent.dtype()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        Self::shaped(region, self.parent.read(&self.parent_region(region))?)
    }
    fn read_into(&self, region: &[Range<usize>], spare: Option<crate::dtype::Buffer>) -> Result<Chunk> {
        Self::shaped(region, self.parent.read_into(&self.parent_region(region), spare)?)
    }
    fn in_memory(&self) -> bool {
        false
    }
}
