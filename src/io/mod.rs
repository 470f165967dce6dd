//! Storage at the edges: reading and writing blocks by index.
//!
//! A [`ChunkSource`] hands out any box of an array as a [`Chunk`]; Load tasks call it on
//! the worker threads, so decoding runs in parallel and never on the caller's thread.
//! Formats are known only inside this module: [`memory`] (an in-memory ndarray),
//! [`npy`], Zarr v2/v3 (`zarr` feature) and HDF5/NetCDF-4 (`hdf5` feature).

#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod memory;
pub mod npy;
#[cfg(feature = "zarr")]
pub mod zarr;

use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::Result;
use std::ops::Range;
use std::sync::Arc;

/// Something that can produce any box of an array.
pub trait ChunkSource: Send + Sync + std::fmt::Debug {
    /// A short name for graphs and error messages (a path, `"memory"`).
    fn name(&self) -> String;
    /// The array shape.
    fn shape(&self) -> &[usize];
    /// The element type.
    fn dtype(&self) -> DType;
    /// The stored chunk shape, when the storage has one (reading whole stored chunks is
    /// cheapest; an array's blocks are chosen as multiples of it).
    fn natural_chunks(&self) -> Option<Vec<usize>>;
    /// Reads the box `region` (one range per axis).
    ///
    /// # Errors
    /// Whatever the storage reports, with the source name and region in the message.
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk>;

    /// Reads a box as a shared chunk: sources that already hold blocks in memory return
    /// them without copying. The default wraps [`ChunkSource::read`].
    ///
    /// # Errors
    /// As [`ChunkSource::read`].
    fn read_shared(&self, region: &[Range<usize>]) -> Result<Arc<Chunk>> {
        Ok(Arc::new(self.read(region)?))
    }
}
