//! Writing arrays to storage: `Array::store` and the `to_zarr` / `to_hdf5` front ends.
//!
//! Writing is a graph like any other: one task per block, each writing its block to
//! the [`ChunkSink`] as soon as it is computed (so the block is freed right after, and
//! an array larger than memory streams to disk), and a final task that waits for all.
//! Before that, the array's blocks are lined up with the sink's stored chunks — if a
//! block boundary falls inside a stored chunk the array is re-chunked to the stored
//! chunk shape — so no two tasks write the same stored chunk. The output is staged
//! under a temporary name and published only when every write succeeded; on any error
//! it is removed and the error returned.

use crate::array::Array;
use crate::delayed::gather;
use crate::error::Result;
use crate::io::ChunkSink;
use crate::runtime::Runtime;
use std::sync::Arc;

/// Whether every block boundary of `a` (except the array end) falls on a multiple of
/// `chunks`.
fn aligned(a: &Array, chunks: &[usize]) -> bool {
    a.chunks().iter().zip(chunks).all(|(sizes, &c)| {
        let mut edge = 0;
        sizes[..sizes.len().saturating_sub(1)].iter().all(|&s| {
            edge += s;
            edge % c == 0
        })
    })
}

impl Runtime {
    /// Computes `array` and writes it to `sink`, publishing the output when complete.
    ///
    /// # Errors
    /// The first task or write error (the staged output is removed), or a failed
    /// publish.
    pub fn store(&self, array: &Array, sink: Arc<dyn ChunkSink>) -> Result<()> {
        let result = (|| {
            if array.dtype() != sink.dtype() {
                return Err(crate::error::Error::DTypeMismatch {
                    requested: sink.dtype(),
                    actual: array.dtype(),
                });
            }
            let a = if aligned(array, sink.chunks()) {
                array.clone()
            } else {
                array.rechunk(sink.chunks().to_vec())?
            };
            let grid = a.grid().clone();
            let writes: Vec<_> = (0..a.num_blocks())
                .map(|lin| {
                    let region = grid.block_ranges(&grid.unlinear(lin));
                    let sink = sink.clone();
                    a.block_then(lin, &format!("store block {lin}"), move |block| {
                        sink.write(&region, block)
                    })
                })
                .collect::<Result<_>>()?;
            let all = gather(&writes, "store", |_| Ok(()));
            self.compute_delayed(&all)?;
            sink.commit()
        })();
        if result.is_err() {
            sink.abort();
        }
        result
    }
}

impl Array {
    /// Computes this array and writes it to `sink` on the global runtime.
    ///
    /// # Errors
    /// As [`Runtime::store`].
    pub fn store(&self, sink: Arc<dyn ChunkSink>) -> Result<()> {
        Runtime::global().store(self, sink)
    }

    /// Writes this array as a Zarr v3 array in directory `path` (created; replaced only
    /// with `opts.overwrite`). The store appears complete or not at all.
    ///
    /// ```
    /// # fn main() -> chunkwise::Result<()> {
    /// use chunkwise::Array;
    /// use chunkwise::io::zarr_write::ZarrWriteOptions;
    /// let dir = std::env::temp_dir().join(format!("doc-to-zarr-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let x = Array::arange(0.0, 100.0, 1.0, [30])?;
    /// x.to_zarr(dir.join("x.zarr"), &ZarrWriteOptions::default())?;
    /// let back = Array::from_zarr(dir.join("x.zarr"))?;
    /// assert_eq!(back.chunks()[0], vec![30, 30, 30, 10]);
    /// assert_eq!(back.sum(None)?.compute_scalar::<f64>()?, 4950.0);
    /// # std::fs::remove_dir_all(dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the directory is missing or the store
    /// exists; [`Error::InvalidArgument`](crate::Error::InvalidArgument) for chunk shapes
    /// that do not fit; otherwise as [`Runtime::store`].
    #[cfg(feature = "zarr")]
    pub fn to_zarr(
        &self,
        path: impl AsRef<std::path::Path>,
        opts: &crate::io::zarr_write::ZarrWriteOptions,
    ) -> Result<()> {
        let chunks = opts.chunks.clone().unwrap_or_else(|| self.first_block_shape());
        let sink = crate::io::zarr_write::ZarrSink::create(path, &self.shape(), self.dtype(), &chunks, opts)?;
        self.store(Arc::new(sink))
    }

    /// Writes `members` (name, array, options) as the arrays of a new Zarr group at
    /// `path` with group attributes `attributes` — a dataset xarray's `open_zarr`
    /// opens, with coordinates beside the variable and the members' metadata
    /// consolidated into the group's (as xarray writes it). The whole group is staged under a
    /// temporary name and published when every member is written, so `path` holds
    /// the old group or the complete new one, never a part.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the directory is missing or `path` exists
    /// without `overwrite`; [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// for a member name that is not one path component, or twice; otherwise as
    /// [`Array::to_zarr`] for each member.
    #[cfg(feature = "zarr")]
    pub fn to_zarr_group(
        path: impl AsRef<std::path::Path>,
        members: &[(&str, &Array, crate::io::zarr_write::ZarrWriteOptions)],
        attributes: &serde_json::Map<String, serde_json::Value>,
        version: crate::io::zarr_write::ZarrVersion,
        overwrite: bool,
    ) -> Result<()> {
        use crate::io::staging;
        let target = path.as_ref();
        let mut seen = std::collections::HashSet::new();
        for (name, _, _) in members {
            let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']);
            if !plain || !seen.insert(*name) {
                return Err(crate::error::Error::InvalidArgument(format!(
                    "{}: member name '{name}' is empty, hidden, a path or given twice",
                    target.display()
                )));
            }
        }
        staging::check_target(target, overwrite)?;
        let tmp = staging::temp_sibling(target);
        std::fs::create_dir(&tmp).map_err(|source| crate::error::Error::Io {
            path: tmp.clone(),
            source,
        })?;
        let written = (|| {
            for (name, array, opts) in members {
                let opts = crate::io::zarr_write::ZarrWriteOptions {
                    version,
                    overwrite: false,
                    ..opts.clone()
                };
                array.to_zarr(tmp.join(name), &opts)?;
            }
            let names: Vec<&str> = members.iter().map(|m| m.0).collect();
            crate::io::zarr_write::write_group_metadata(&tmp, version, attributes, &names)
        })();
        match written {
            Ok(()) => staging::publish(&tmp, target),
            Err(e) => {
                staging::discard(&tmp);
                Err(e)
            }
        }
    }

    /// Writes this array as dataset `dataset` (`/group/var`, groups created as needed)
    /// of the HDF5 file `file`: a new file is staged and renamed into place; in an
    /// existing file the dataset is written under a temporary name and linked into
    /// place when complete. Chunks are compressed on the workers in parallel.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the directory is missing;
    /// [`Error::Format`](crate::Error::Format) when the dataset exists (without
    /// `opts.overwrite`) or libhdf5 refuses; otherwise as [`Runtime::store`].
    #[cfg(feature = "hdf5")]
    pub fn to_hdf5(
        &self,
        file: impl AsRef<std::path::Path>,
        dataset: &str,
        opts: &crate::io::hdf5::write::Hdf5WriteOptions,
    ) -> Result<()> {
        let chunks = opts.chunks.clone().unwrap_or_else(|| self.first_block_shape());
        let sink = crate::io::hdf5::write::Hdf5Sink::create(file, dataset, &self.shape(), self.dtype(), &chunks, opts)?;
        self.store(Arc::new(sink))
    }

    /// The shape of block 0 (every axis at least 1), the default stored chunk shape.
    fn first_block_shape(&self) -> Vec<usize> {
        self.chunks()
            .iter()
            .map(|c| c.first().copied().unwrap_or(1).max(1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_checks_inner_block_edges_only() {
        let a = Array::zeros(&[10, 7], crate::DType::F32, vec![4, 7]).unwrap();
        assert!(aligned(&a, &[4, 7]));
        assert!(aligned(&a, &[2, 3])); // edges at 4 and 8 are multiples of 2; one block on axis 1
        assert!(!aligned(&a, &[3, 7]));
    }
}
