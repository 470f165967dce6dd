//! Storage at the edges: reading and writing blocks by index.
//!
//! A [`ChunkSource`] hands out any box of an array as a [`Chunk`]; Load tasks call it on
//! the worker threads, so decoding runs in parallel and never on the caller's thread.
//! Formats are known only inside this module: [`memory`] (an in-memory ndarray),
//! [`npy`], [`netcdf3`] (read by chunkwise itself, every feature set), Zarr v2/v3 (`zarr`
//! feature) and HDF5/NetCDF-4 (`hdf5` feature).

pub mod cf;
pub mod concat;
mod file_rows;
#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod memory;
pub mod netcdf3;
pub mod npy;
pub mod shuffle;
pub mod sliced;
pub mod sniff;
pub mod spill;
pub mod staging;
#[cfg(feature = "zarr")]
pub mod zarr;
#[cfg(feature = "zarr")]
mod zarr_direct;
#[cfg(feature = "zarr")]
pub mod zarr_write;

use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::Result;
use std::ops::Range;
use std::sync::Arc;

/// A vector of `n` elements to decode into: `spare`'s allocation when there is one,
/// else fresh zeroed memory. A spare keeps its old contents (a previous block's data,
/// zeros past its old length): the caller overwrites every element, and not clearing a
/// reused chunk-sized buffer saves a pass over memory per block.
pub(crate) fn buffer<T: bytemuck::Pod>(spare: Option<Vec<T>>, n: usize) -> Vec<T> {
    match spare {
        Some(mut v) => {
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, T::zeroed());
            }
            v
        }
        None => bytemuck::zeroed_vec(n),
    }
}

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

    /// Whether the blocks are already in memory, so [`ChunkSource::read_shared`] costs
    /// nothing and should be preferred to decoding into a buffer.
    fn in_memory(&self) -> bool {
        false
    }

    /// Whether [`ChunkSource::read_shared`] returns `region` without copying (it is
    /// exactly one block held in memory). Callers that would hold several reads at once
    /// (a reduction's stacked group) rely on it: the memory budget counts one inline
    /// read per task at a time.
    fn reads_shared(&self, _region: &[Range<usize>]) -> bool {
        false
    }

    /// Reads a box, reusing `spare`'s allocation when the source can (a worker's
    /// recycled block buffer: writing reused memory is several times faster than
    /// first-touching fresh pages). The default ignores `spare`.
    ///
    /// # Errors
    /// As [`ChunkSource::read`].
    fn read_into(&self, region: &[Range<usize>], spare: Option<crate::dtype::Buffer>) -> Result<Chunk> {
        let _ = spare;
        self.read(region)
    }

    /// A reader of the box `region` by byte ranges that decodes only the stored data
    /// each range needs, for a reduction that reads the box as `rows` rows side by side
    /// (tile by tile): the box is never materialised, and what is decoded is read back
    /// while it is still in cache. `None` when the source cannot do this for the box
    /// (the caller reads it whole); Zarr blosc-lz4 chunks can (see `zarr_direct`).
    ///
    /// # Errors
    /// When the stored chunk exists but cannot be opened or its header is invalid.
    fn stream(&self, region: &[Range<usize>], rows: usize) -> Result<Option<Box<dyn BoxStream + '_>>> {
        let _ = (region, rows);
        Ok(None)
    }
}

/// A box read by byte ranges as it is decoded ([`ChunkSource::stream`]).
pub trait BoxStream {
    /// Writes bytes `start..start + out.len()` of the box (in C order) into `out`.
    ///
    /// # Errors
    /// A corrupt or unreadable stored chunk, naming the file and chunk.
    fn read(&mut self, start: usize, out: &mut [u8]) -> Result<()>;

    /// Calls `f` once with bytes `s..s + len` of the box for every `s` in `starts`, as
    /// slices into the stream's decoded data where it can (a reduction's tile of
    /// several rows, without a copy). The default copies each through
    /// [`BoxStream::read`] into 8-byte-aligned buffers.
    ///
    /// # Errors
    /// As [`BoxStream::read`], and whatever `f` returns.
    fn with_ranges(&mut self, starts: &[usize], len: usize, f: &mut dyn FnMut(&[&[u8]]) -> Result<()>) -> Result<()> {
        let mut bufs: Vec<Vec<u64>> = starts.iter().map(|_| vec![0u64; len.div_ceil(8)]).collect();
        for (b, &s) in bufs.iter_mut().zip(starts) {
            self.read(s, &mut bytemuck::cast_slice_mut(b)[..len])?;
        }
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &bytemuck::cast_slice(b)[..len]).collect();
        f(&slices)
    }
}

/// Somewhere an array's blocks are written: a store being created.
///
/// The driver (`Array::store`) lines the array's blocks up with [`ChunkSink::chunks`],
/// so each [`ChunkSink::write`] covers whole stored chunks (shards) and no two writes
/// touch the same one: writes run in parallel on the workers with no read-modify-write.
/// Output is staged under a temporary name; [`ChunkSink::commit`] makes it appear
/// complete, [`ChunkSink::abort`] removes it, so a failed run leaves nothing behind.
pub trait ChunkSink: Send + Sync + std::fmt::Debug {
    /// The target, for messages.
    fn name(&self) -> String;
    /// The stored chunk (or shard) shape writes are aligned to.
    fn chunks(&self) -> &[usize];
    /// The element type it stores (the driver checks the array has it).
    fn dtype(&self) -> DType;
    /// Writes the box `region`, whose data is `block` (of [`ChunkSink::dtype`]).
    ///
    /// # Errors
    /// Whatever the storage reports, naming the target and region.
    fn write(&self, region: &[Range<usize>], block: &Chunk) -> Result<()>;
    /// Makes the output appear under its final name.
    ///
    /// # Errors
    /// A failed rename or flush.
    fn commit(&self) -> Result<()>;
    /// Removes the staged output (after a failure).
    fn abort(&self);
}
