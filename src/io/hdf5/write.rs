//! Writing HDF5 datasets (the `to_hdf5` sink).
//!
//! Chunks are compressed on the worker threads with the same filter pipeline the
//! reader decodes ([`super::filters`]: shuffle, deflate, fletcher32) and handed to
//! libhdf5 already encoded with `H5Dwrite_chunk`, so the library lock is held only to
//! copy bytes into the file, not to compress. Edge chunks are padded to the full chunk
//! shape, as HDF5 stores them.
//!
//! Nothing half-written is ever visible: a new file is built under a temporary name
//! and renamed into place; in an existing file the dataset is created under a
//! temporary link name and moved to its final name (replacing an old one only with
//! `overwrite`) after the last chunk is written; on failure the temporary is removed.
//! 0-d and empty arrays are stored contiguous, through the library.

use super::filters::{self, Filter};
use crate::chunk::{Chunk, for_each_run};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::io::{ChunkSink, staging};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Options of [`to_hdf5`](crate::Array::to_hdf5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hdf5WriteOptions {
    /// Stored chunk shape; `None` uses the array's first block shape.
    pub chunks: Option<Vec<usize>>,
    /// Deflate (gzip) level 1–9, or `None` for no compression; 4 by default (h5py's).
    pub deflate: Option<u8>,
    /// Byte shuffle before deflate (on by default: it helps floats compress).
    pub shuffle: bool,
    /// Append a Fletcher-32 checksum to every chunk.
    pub fletcher32: bool,
    /// Replace an existing dataset of the same name.
    pub overwrite: bool,
}

impl Default for Hdf5WriteOptions {
    fn default() -> Self {
        Hdf5WriteOptions {
            chunks: None,
            deflate: Some(4),
            shuffle: true,
            fletcher32: false,
            overwrite: false,
        }
    }
}

fn descriptor(d: DType) -> TypeDescriptor {
    match d {
        DType::Bool => TypeDescriptor::Boolean,
        DType::I8 => TypeDescriptor::Integer(IntSize::U1),
        DType::I16 => TypeDescriptor::Integer(IntSize::U2),
        DType::I32 => TypeDescriptor::Integer(IntSize::U4),
        DType::I64 => TypeDescriptor::Integer(IntSize::U8),
        DType::U8 => TypeDescriptor::Unsigned(IntSize::U1),
        DType::U16 => TypeDescriptor::Unsigned(IntSize::U2),
        DType::U32 => TypeDescriptor::Unsigned(IntSize::U4),
        DType::U64 => TypeDescriptor::Unsigned(IntSize::U8),
        DType::F32 => TypeDescriptor::Float(FloatSize::U4),
        DType::F64 => TypeDescriptor::Float(FloatSize::U8),
    }
}

/// Open handles; dropped (closing the file) before the output is published.
struct Handles {
    file: hdf5::File,
    parent: hdf5::Group,
    ds: hdf5::Dataset,
}

/// An HDF5 dataset being written.
pub struct Hdf5Sink {
    target: PathBuf,
    /// The staged file when creating a new one.
    staged_file: Option<PathBuf>,
    dataset: String,
    leaf: String,
    /// The link name written under (the final name inside a staged file).
    staged_leaf: String,
    chunks: Vec<usize>,
    shape: Vec<usize>,
    dtype: DType,
    /// `None`: no chunking (0-d or empty), written through the library.
    pipeline: Option<Vec<Filter>>,
    overwrite: bool,
    handles: Mutex<Option<Handles>>,
}

impl std::fmt::Debug for Hdf5Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hdf5Sink({}:{})", self.target.display(), self.dataset)
    }
}

impl Hdf5Sink {
    /// Stages dataset `dataset` of `shape` and `dtype` in `file`.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory is missing; [`Error::Format`] when the dataset
    /// exists (without `overwrite`), the file is not HDF5, or libhdf5 refuses;
    /// [`Error::InvalidArgument`] for chunk shapes that do not fit.
    pub fn create(
        file: impl AsRef<Path>,
        dataset: &str,
        shape: &[usize],
        dtype: DType,
        chunks: &[usize],
        opts: &Hdf5WriteOptions,
    ) -> Result<Self> {
        let target = file.as_ref().to_path_buf();
        staging::check_target(&target, true)?;
        let parts: Vec<String> = dataset
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let shown = format!("{}:/{}", target.display(), parts.join("/"));
        let Some((leaf, groups)) = parts.split_last() else {
            return Err(Error::InvalidArgument(format!(
                "{shown}: name a dataset, not the root group"
            )));
        };
        let chunked = !shape.is_empty() && !shape.contains(&0);
        if chunked && (chunks.len() != shape.len() || chunks.contains(&0)) {
            return Err(Error::InvalidArgument(format!(
                "{shown}: chunk shape {chunks:?} does not fit an array of shape {shape:?}"
            )));
        }
        let err = |what: &str, e: hdf5::Error| Error::Format(format!("{shown}: {what}: {e}"));
        let existing = target.exists();
        let staged_file = (!existing).then(|| staging::temp_sibling(&target));
        let h5 = match &staged_file {
            Some(tmp) => hdf5::File::create(tmp).map_err(|e| err("cannot create", e))?,
            None => {
                if !super::is_hdf5(&target) {
                    return Err(Error::Format(format!(
                        "{}: exists and is not an HDF5 file",
                        target.display()
                    )));
                }
                hdf5::File::open_rw(&target).map_err(|e| err("cannot open for writing", e))?
            }
        };
        let cleanup = |e: Error| {
            if let Some(tmp) = &staged_file {
                staging::discard(tmp);
            }
            e
        };
        let mut parent: hdf5::Group = h5.group("/").map_err(|e| cleanup(err("root group", e)))?;
        for g in groups {
            parent = match parent.group(g) {
                Ok(g) => g,
                Err(_) => parent
                    .create_group(g)
                    .map_err(|e| cleanup(err(&format!("creating group {g}"), e)))?,
            };
        }
        if parent.link_exists(leaf) && !opts.overwrite {
            return Err(cleanup(Error::Format(format!(
                "{shown}: dataset exists (set overwrite to replace it)"
            ))));
        }
        let staged_leaf = if existing {
            format!(".{leaf}.chunkwise-tmp-{}", std::process::id())
        } else {
            leaf.clone()
        };
        if parent.link_exists(&staged_leaf) {
            let _ = parent.unlink(&staged_leaf);
        }
        let mut b = parent
            .new_dataset_builder()
            .empty_as(descriptor(dtype))
            .shape(shape.to_vec());
        if chunked {
            let mut fs = Vec::new();
            if opts.shuffle && opts.deflate.is_some() {
                fs.push(hdf5::filters::Filter::Shuffle);
            }
            if let Some(l) = opts.deflate {
                fs.push(hdf5::filters::Filter::Deflate(l.clamp(1, 9)));
            }
            if opts.fletcher32 {
                fs.push(hdf5::filters::Filter::Fletcher32);
            }
            b = b.chunk(chunks.to_vec()).set_filters(&fs);
        }
        let ds = b
            .create(staged_leaf.as_str())
            .map_err(|e| cleanup(err("creating the dataset", e)))?;
        // The pipeline as libhdf5 stored it: chunks are encoded in exactly this order.
        let pipeline = if chunked {
            let stored = ds.dcpl().map_err(|e| cleanup(err("dataset properties", e)))?.filters();
            let p = Filter::pipeline(&stored, dtype.size());
            Some(p.ok_or_else(|| cleanup(Error::Format(format!("{shown}: unexpected filters {stored:?}"))))?)
        } else {
            None
        };
        Ok(Hdf5Sink {
            target,
            staged_file,
            dataset: format!("/{}", parts.join("/")),
            leaf: leaf.clone(),
            staged_leaf,
            chunks: if chunked {
                chunks.to_vec()
            } else {
                shape.iter().map(|&n| n.max(1)).collect()
            },
            shape: shape.to_vec(),
            dtype,
            pipeline,
            overwrite: opts.overwrite,
            handles: Mutex::new(Some(Handles { file: h5, parent, ds })),
        })
    }

    fn ctx(&self) -> String {
        format!("{}:{}", self.target.display(), self.dataset)
    }

    fn with_ds<R>(&self, f: impl FnOnce(&Handles) -> Result<R>) -> Result<R> {
        let h = self.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match h.as_ref() {
            Some(h) => f(h),
            None => Err(Error::Format(format!("{}: already committed", self.ctx()))),
        }
    }
}

impl ChunkSink for Hdf5Sink {
    fn name(&self) -> String {
        self.ctx()
    }
    fn chunks(&self) -> &[usize] {
        &self.chunks
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn write(&self, region: &[Range<usize>], block: &Chunk) -> Result<()> {
        let Some(pipeline) = &self.pipeline else {
            if block.data().is_empty() {
                return Ok(());
            }
            return self.with_ds(|h| {
                crate::dispatch_buffer!(block.data(), v, T => h.ds.write_raw(v.as_slice()))
                    .map_err(|e| Error::Format(format!("{}: {e}", self.ctx())))
            });
        };
        let nd = region.len();
        let es = self.dtype.size();
        let bytes = crate::io::npy::le_bytes(block.data());
        let block_shape = block.shape().to_vec();
        let chunk_bytes = self.chunks.iter().product::<usize>() * es;
        let first: Vec<usize> = region.iter().zip(&self.chunks).map(|(r, &c)| r.start / c).collect();
        let counts: Vec<usize> = (0..nd)
            .map(|a| region[a].end.div_ceil(self.chunks[a]) - first[a])
            .collect();
        for idx in crate::grid::IndexIter::new(&counts) {
            let start: Vec<usize> = (0..nd).map(|a| (first[a] + idx[a]) * self.chunks[a]).collect();
            // The chunk's part inside the array, in block coordinates.
            let inner: Vec<Range<usize>> = (0..nd)
                .map(|a| start[a] - region[a].start..(start[a] + self.chunks[a]).min(self.shape[a]) - region[a].start)
                .collect();
            let mut full = vec![0u8; chunk_bytes];
            let zero = vec![0; nd];
            for_each_run(&block_shape, &inner, &self.chunks, &zero, |s, d, n| {
                full[d * es..(d + n) * es].copy_from_slice(&bytes[s * es..(s + n) * es]);
            });
            let enc = filters::encode(pipeline, &full);
            let offset: Vec<u64> = start.iter().map(|&s| s as u64).collect();
            self.with_ds(|h| {
                // SAFETY: a live dataset id; `offset` has one entry per dimension and
                // is chunk-aligned; `enc` holds `enc.len()` bytes. Library lock held
                // (`sync`, with libhdf5's error printing off on this worker thread).
                let rc = hdf5::sync::sync(|| unsafe {
                    hdf5_sys::h5d::H5Dwrite_chunk(
                        h.ds.id(),
                        hdf5_sys::h5p::H5P_DEFAULT,
                        0,
                        offset.as_ptr(),
                        enc.len(),
                        enc.as_ptr().cast(),
                    )
                });
                if rc < 0 {
                    return Err(Error::Format(format!(
                        "{}: libhdf5 refused to write the chunk at {start:?}",
                        self.ctx()
                    )));
                }
                Ok(())
            })?;
        }
        Ok(())
    }
    fn commit(&self) -> Result<()> {
        let mut guard = self.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(h) = guard.take() else { return Ok(()) };
        let ctx = self.ctx();
        let fail = |what: &str, e: hdf5::Error| Error::Format(format!("{ctx}: {what}: {e}"));
        if self.staged_leaf != self.leaf {
            if h.parent.link_exists(&self.leaf) {
                if !self.overwrite {
                    return Err(Error::Format(format!("{ctx}: dataset appeared while writing")));
                }
                h.parent
                    .unlink(&self.leaf)
                    .map_err(|e| fail("removing the old dataset", e))?;
            }
            h.parent
                .relink(&self.staged_leaf, &self.leaf)
                .map_err(|e| fail("moving the dataset into place", e))?;
        }
        h.file.flush().map_err(|e| fail("flushing", e))?;
        drop(h);
        if let Some(tmp) = &self.staged_file {
            if self.target.exists() && !self.overwrite {
                staging::discard(tmp);
                return Err(Error::Format(format!("{ctx}: file appeared while writing")));
            }
            staging::publish(tmp, &self.target)?;
        }
        Ok(())
    }
    fn abort(&self) {
        let mut guard = self.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(h) = guard.take() {
            if self.staged_file.is_none() {
                let _ = h.parent.unlink(&self.staged_leaf);
            }
            drop(h);
        }
        if let Some(tmp) = &self.staged_file {
            staging::discard(tmp);
        }
    }
}
