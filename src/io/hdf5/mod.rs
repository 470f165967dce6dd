//! HDF5 and NetCDF-4 datasets through `hdf5-metno` (feature `hdf5`).
//!
//! A NetCDF-4 file is an HDF5 file, so `file.nc:/group/var` and `file.h5:/dataset` are
//! read the same way. The library is used for what it is good at — walking groups,
//! datatypes, the filter pipeline, finding where each chunk lives — and kept out of the
//! hot path, because every libhdf5 call runs under one process-wide lock:
//!
//! * **Chunked** datasets whose filters are shuffle, deflate and fletcher32 (what
//!   h5py, netCDF-C and xarray write) are read *directly*: the chunk's file address
//!   comes from `H5Dget_chunk_info_by_coord` (a B-tree lookup under the lock, micro-
//!   seconds), its bytes from a positioned read of our own file handle, and the filter
//!   pipeline runs in Rust ([`filters`]) on the worker thread — so N workers decode N
//!   chunks at once. Unallocated chunks read as the dataset's fill value.
//! * **Contiguous** datasets are read the same way, straight from their file offset,
//!   with the block grid the caller chooses (they have no stored chunking).
//! * Anything else (compact layout, external storage, other filters such as szip or
//!   blosc, files with a user block) goes through `H5Dread`, under the lock: correct,
//!   serial.
//!
//! Big-endian data is byte-swapped after decoding. [`write`](mod@write) holds `to_hdf5`.

pub mod filters;
pub mod write;

use super::{ChunkSource, buffer};
use crate::chunk::{Chunk, for_each_run};
use crate::dtype::{Buffer, DType, Element, Scalar};
use crate::error::{Error, Result};
use filters::Filter;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5_sys::h5::haddr_t;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// `HADDR_UNDEF`: the address of a chunk that was never written.
const HADDR_UNDEF: haddr_t = haddr_t::MAX;

/// How blocks are read.
#[derive(Debug, Clone)]
enum Layout {
    /// Chunks read directly and decoded in Rust.
    Chunked { chunk: Vec<usize>, pipeline: Vec<Filter> },
    /// Bytes at this absolute file offset, in C order.
    Contiguous { offset: u64 },
    /// Through `H5Dread` (under the library lock).
    Library { chunk: Option<Vec<usize>>, why: String },
}

/// An HDF5 (or NetCDF-4) dataset opened for reading.
pub struct Hdf5Source {
    file: PathBuf,
    dataset_path: String,
    ds: hdf5::Dataset,
    raw: std::fs::File,
    shape: Vec<usize>,
    dtype: DType,
    swap: bool,
    fill: Scalar,
    layout: Layout,
    filters: Vec<String>,
}

impl std::fmt::Debug for Hdf5Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hdf5Source({})", self.name())
    }
}

fn h5err(file: &Path, what: &str, e: &hdf5::Error) -> Error {
    Error::Format(format!("{}: {what}: {e}", file.display()))
}

/// Whether a file starts with the HDF5 signature (at 0 or a power-of-two user-block
/// offset; only 0 is checked, which is what NetCDF-4 and h5py write).
#[must_use]
pub fn is_hdf5(path: &Path) -> bool {
    let mut sig = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut sig, 0))
        .is_ok()
        && &sig == b"\x89HDF\r\n\x1a\n"
}

/// An error unless `path` is an HDF5 file: what the file is instead when its signature
/// says (netCDF-3, GRIB, …; see [`super::sniff`]).
fn check_signature(path: &Path) -> Result<()> {
    if is_hdf5(path) {
        return Ok(());
    }
    if let Some(what) = super::sniff::foreign_format(path) {
        return Err(Error::Format(format!("{}: {what}", path.display())));
    }
    Err(Error::Format(format!(
        "{}: not an HDF5 or NetCDF-4 file (no HDF5 signature)",
        path.display()
    )))
}

/// The chunkwise dtype of an HDF5 datatype.
fn map_dtype(desc: &TypeDescriptor) -> Option<DType> {
    Some(match desc {
        TypeDescriptor::Boolean => DType::Bool,
        TypeDescriptor::Integer(s) => match s {
            IntSize::U1 => DType::I8,
            IntSize::U2 => DType::I16,
            IntSize::U4 => DType::I32,
            IntSize::U8 => DType::I64,
        },
        TypeDescriptor::Unsigned(s) => match s {
            IntSize::U1 => DType::U8,
            IntSize::U2 => DType::U16,
            IntSize::U4 => DType::U32,
            IntSize::U8 => DType::U64,
        },
        TypeDescriptor::Float(FloatSize::U4) => DType::F32,
        TypeDescriptor::Float(FloatSize::U8) => DType::F64,
        // An enum reads as its integer base type (NetCDF-4 enums, h5py's bool is
        // recognised above as Boolean).
        TypeDescriptor::Enum(e) => map_dtype(&if e.signed {
            TypeDescriptor::Integer(e.size)
        } else {
            TypeDescriptor::Unsigned(e.size)
        })?,
        _ => return None,
    })
}

/// What is at `path` inside the file, for "not found" messages.
fn members(file: &hdf5::File, group: &str) -> String {
    let g = if group.is_empty() { "/" } else { group };
    match file.group(g).and_then(|g| g.member_names()) {
        Ok(m) if m.is_empty() => "nothing".into(),
        Ok(m) => m.join(", "),
        Err(_) => "nothing readable".into(),
    }
}

impl Hdf5Source {
    /// Opens dataset `dataset` (`/group/var`; the leading `/` optional) of an HDF5 or
    /// NetCDF-4 file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file does not exist; [`Error::Format`] when it is not an
    /// HDF5 file, the path names nothing or a group, or the datatype is not numeric.
    pub fn open(file: impl AsRef<Path>, dataset: &str) -> Result<Self> {
        let path = file.as_ref().to_path_buf();
        let raw = std::fs::File::open(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        check_signature(&path)?;
        let h5 = hdf5::File::open(&path).map_err(|e| h5err(&path, "cannot open", &e))?;
        let dpath = if dataset.starts_with('/') {
            dataset.to_string()
        } else {
            format!("/{dataset}")
        };
        let shown = format!("{}:{dpath}", path.display());
        if dpath == "/" {
            return Err(Error::Format(format!(
                "{shown}: is the root group, not a dataset (it holds: {})",
                members(&h5, "/")
            )));
        }
        // Walk the path so a missing component is named precisely.
        let parts: Vec<&str> = dpath.split('/').filter(|p| !p.is_empty()).collect();
        let mut prefix = String::new();
        for p in &parts {
            let next = format!("{prefix}/{p}");
            if !h5.link_exists(&next) {
                return Err(Error::Format(format!(
                    "{shown}: no '{p}' in {} (it holds: {})",
                    if prefix.is_empty() { "/" } else { &prefix },
                    members(&h5, &prefix)
                )));
            }
            prefix = next;
        }
        let ds = match h5.dataset(&dpath) {
            Ok(ds) => ds,
            Err(e) => {
                if h5.group(&dpath).is_ok() {
                    return Err(Error::Format(format!(
                        "{shown}: is a group, not a dataset (it holds: {})",
                        members(&h5, &dpath)
                    )));
                }
                return Err(h5err(&path, &format!("opening {dpath}"), &e));
            }
        };
        let h5type = ds.dtype().map_err(|e| h5err(&path, &dpath, &e))?;
        let desc = h5type.to_descriptor().map_err(|e| h5err(&path, &dpath, &e))?;
        let dtype = map_dtype(&desc).ok_or_else(|| {
            Error::Format(format!(
                "{shown}: datatype {desc} is not supported (bool, int8–64, uint8–64, float32/64)"
            ))
        })?;
        let swap = dtype.size() > 1 && matches!(h5type.byte_order(), hdf5::datatype::ByteOrder::BigEndian);
        let shape: Vec<usize> = ds.shape();
        // libhdf5 1.10 opens a dataspace whose size passes its own maximum (1.14
        // refuses it, as h5py does): a garbled header, which would make a huge array
        // of fill values.
        if let Ok(space) = ds.space() {
            for (axis, (&n, max)) in shape.iter().zip(space.maxdims()).enumerate() {
                if let Some(max) = max.filter(|&m| n > m) {
                    return Err(Error::Format(format!(
                        "{shown}: corrupt dataspace: axis {axis} has {n} elements, more than its maximum of {max}"
                    )));
                }
            }
        }
        let dcpl = ds.dcpl().map_err(|e| h5err(&path, &dpath, &e))?;
        let fill = fill_value(&dcpl, dtype).map_err(|m| Error::Format(format!("{shown}: {m}")))?;
        let userblock = h5.userblock();
        let h5filters = dcpl.filters();
        let filter_names: Vec<String> = h5filters.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
        let layout = match dcpl.layout() {
            hdf5::dataset::Layout::Chunked => {
                let chunk = ds.chunk().unwrap_or_else(|| shape.clone());
                let pipeline = Filter::pipeline(&h5filters, dtype.size());
                match pipeline {
                    Some(pipeline) if userblock == 0 && dcpl.external().is_empty() => {
                        Layout::Chunked { chunk, pipeline }
                    }
                    Some(_) => Layout::Library {
                        chunk: Some(chunk),
                        why: "file has a user block or external storage".into(),
                    },
                    None => Layout::Library {
                        chunk: Some(chunk),
                        why: format!("filters {filter_names:?} are decoded by libhdf5"),
                    },
                }
            }
            hdf5::dataset::Layout::Contiguous if dcpl.external().is_empty() => match ds.offset() {
                Some(offset) => Layout::Contiguous { offset },
                None => Layout::Library {
                    chunk: None,
                    why: "contiguous storage not allocated".into(),
                },
            },
            other => Layout::Library {
                chunk: None,
                why: format!("{other:?} layout"),
            },
        };
        Ok(Hdf5Source {
            file: path,
            dataset_path: dpath,
            ds,
            raw,
            shape,
            dtype,
            swap,
            fill,
            layout,
            filters: filter_names,
        })
    }

    /// The file.
    #[must_use]
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The dataset path inside the file.
    #[must_use]
    pub fn dataset_path(&self) -> &str {
        &self.dataset_path
    }

    /// The dataset handle (metadata, attributes).
    #[must_use]
    pub fn dataset(&self) -> &hdf5::Dataset {
        &self.ds
    }

    /// The stored chunk shape of a chunked dataset.
    #[must_use]
    pub fn stored_chunks(&self) -> Option<&[usize]> {
        match &self.layout {
            Layout::Chunked { chunk, .. } => Some(chunk),
            Layout::Library { chunk, .. } => chunk.as_deref(),
            Layout::Contiguous { .. } => None,
        }
    }

    /// The filter pipeline, as libhdf5 names it.
    #[must_use]
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// The fill value of unwritten elements.
    #[must_use]
    pub fn fill_value(&self) -> Scalar {
        self.fill
    }

    /// How blocks are read: `"direct"` (chunks decoded in Rust in parallel),
    /// `"contiguous"`, or `"libhdf5 (<why>)"`.
    #[must_use]
    pub fn read_path(&self) -> String {
        match &self.layout {
            Layout::Chunked { .. } => "direct chunk reads, filters decoded in parallel".into(),
            Layout::Contiguous { .. } => "direct reads of contiguous storage".into(),
            Layout::Library { why, .. } => format!("through libhdf5, serialised ({why})"),
        }
    }

    /// Bytes of stored data and number of allocated chunks (chunked datasets).
    #[must_use]
    pub fn storage(&self) -> (u64, Option<usize>) {
        (self.ds.storage_size(), self.ds.num_chunks())
    }

    fn ctx(&self, region: &[Range<usize>]) -> String {
        format!("{}:{} elements {region:?}", self.file.display(), self.dataset_path)
    }

    /// Positioned read of `len` bytes at `addr`.
    fn read_bytes(&self, addr: u64, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<()> {
        self.raw
            .read_exact_at(buf, addr)
            .map_err(|e| Error::Format(format!("{}: {e} reading {} bytes at offset {addr}", what(), buf.len())))
    }

    fn read_typed<T: Element + bytemuck::Pod>(&self, region: &[Range<usize>], spare: Option<Vec<T>>) -> Result<Vec<T>> {
        let out_shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        let n: usize = out_shape.iter().product();
        let out: Vec<T> = match &self.layout {
            Layout::Chunked { chunk, pipeline } => self.read_chunked(region, chunk, pipeline, spare)?,
            Layout::Contiguous { offset } => {
                let mut out = buffer(spare, n);
                let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
                let es = std::mem::size_of::<T>();
                let full = self.shape.clone();
                let zero = vec![0; region.len()];
                let mut err = None;
                for_each_run(&full, region, &out_shape, &zero, |s, d, len| {
                    if err.is_none() {
                        let addr = offset + (s * es) as u64;
                        err = self
                            .read_bytes(addr, &mut bytes[d * es..(d + len) * es], &|| self.ctx(region))
                            .err();
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
                self.to_native(&mut out);
                out
            }
            Layout::Library { .. } => return self.read_library::<T>(region),
        };
        Ok(out)
    }

    /// Byte-swaps elements read from a big-endian dataset.
    fn to_native<T: bytemuck::Pod>(&self, v: &mut [T]) {
        if self.swap {
            swap_bytes(bytemuck::cast_slice_mut::<T, u8>(v), std::mem::size_of::<T>());
        }
    }

    fn read_chunked<T: Element + bytemuck::Pod>(
        &self,
        region: &[Range<usize>],
        chunk: &[usize],
        pipeline: &[Filter],
        mut spare: Option<Vec<T>>,
    ) -> Result<Vec<T>> {
        let nd = region.len();
        let out_shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        let n: usize = out_shape.iter().product();
        let chunk_elems: usize = chunk.iter().product();
        // Stored chunks the box touches.
        let first: Vec<usize> = region.iter().zip(chunk).map(|(r, &c)| r.start / c).collect();
        let counts: Vec<usize> = region
            .iter()
            .zip(chunk)
            .zip(&first)
            .map(|((r, &c), &f)| r.end.div_ceil(c) - f)
            .collect();
        let mut out: Vec<T> = Vec::new();
        let mut tmp: Vec<T> = Vec::new();
        for idx in crate::grid::IndexIter::new(&counts) {
            let start: Vec<usize> = (0..nd).map(|a| (first[a] + idx[a]) * chunk[a]).collect();
            let what = || format!("{}:{} chunk at {start:?}", self.file.display(), self.dataset_path);
            let (mask, addr, size) =
                chunk_location(&self.ds, &start).map_err(|e| Error::Format(format!("{}: {e}", what())))?;
            // The part of this stored chunk inside the box, in chunk and box coordinates.
            let inner: Vec<Range<usize>> = (0..nd)
                .map(|a| region[a].start.max(start[a]) - start[a]..region[a].end.min(start[a] + chunk[a]) - start[a])
                .collect();
            let dst: Vec<usize> = (0..nd).map(|a| start[a] + inner[a].start - region[a].start).collect();
            // The box is this one chunk, or its leading part in C order (the short last
            // chunk along the first axis): decoded straight into the output's allocation.
            let leading = inner.iter().all(|r| r.start == 0)
                && inner[1..].iter().zip(&chunk[1..]).all(|(r, &c)| r.end == c)
                && counts.iter().all(|&c| c == 1);
            if addr == HADDR_UNDEF {
                if out.is_empty() {
                    out = buffer(spare.take(), n);
                    out.fill(self.fill.to::<T>());
                } else {
                    let v = self.fill.to::<T>();
                    for_each_run(chunk, &inner, &out_shape, &dst, |_, d, len| out[d..d + len].fill(v));
                }
                continue;
            }
            // The stored bytes are read as the pipeline consumes them (streamed for
            // deflate and shuffle + deflate: see `filters::decode_from`).
            let decode = |dst: &mut [T]| {
                let mut read = |off: u64, buf: &mut [u8]| {
                    self.raw
                        .read_exact_at(buf, addr + off)
                        .map_err(|e| format!("{e} reading {} bytes at offset {}", buf.len(), addr + off))
                };
                filters::decode_from(pipeline, mask, size as usize, &mut read, bytemuck::cast_slice_mut(dst))
                    .map_err(|e| Error::Format(format!("{}: {e}", what())))?;
                self.to_native(dst);
                Ok::<(), Error>(())
            };
            if leading {
                out = buffer(spare.take(), chunk_elems);
                decode(&mut out)?;
                out.truncate(n);
                return Ok(out);
            }
            tmp.resize(chunk_elems, T::from_f64(0.0));
            decode(&mut tmp)?;
            if out.is_empty() {
                out = buffer(spare.take(), n);
            }
            for_each_run(chunk, &inner, &out_shape, &dst, |s, d, len| {
                out[d..d + len].copy_from_slice(&tmp[s..s + len]);
            });
        }
        if out.is_empty() {
            out = vec![self.fill.to::<T>(); n];
        }
        Ok(out)
    }

    fn read_library<T: Element>(&self, region: &[Range<usize>]) -> Result<Vec<T>> {
        dispatch_h5!(T, self.read_library_as(region))
    }

    fn read_library_as<H: hdf5::H5Type + Clone, T: Element>(&self, region: &[Range<usize>]) -> Result<Vec<T>> {
        let arr = if region.is_empty() {
            self.ds
                .read_scalar::<H>()
                .map(|v| ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), v))
        } else {
            let sel: Vec<hdf5::SliceOrIndex> = region.iter().map(|r| hdf5::SliceOrIndex::from(r.clone())).collect();
            self.ds.read_slice::<H, _, ndarray::IxDyn>(hdf5::Hyperslab::from(sel))
        }
        .map_err(|e| Error::Format(format!("{}: {e}", self.ctx(region))))?;
        let (v, _) = arr.as_standard_layout().into_owned().into_raw_vec_and_offset();
        // H is T itself (or, for bool, hdf5's own bool); reinterpret without copying.
        Ok(v.into_iter().map(|h| h5_to::<H, T>(&h)).collect())
    }
}

/// Maps an element type to the type hdf5-metno reads it as, then calls `$e` with it.
macro_rules! dispatch_h5 {
    ($t:ty, $self:ident . $m:ident ( $($a:expr),* )) => {{
        match <$t as Element>::DTYPE {
            DType::Bool => $self.$m::<bool, $t>($($a),*),
            DType::I8 => $self.$m::<i8, $t>($($a),*),
            DType::I16 => $self.$m::<i16, $t>($($a),*),
            DType::I32 => $self.$m::<i32, $t>($($a),*),
            DType::I64 => $self.$m::<i64, $t>($($a),*),
            DType::U8 => $self.$m::<u8, $t>($($a),*),
            DType::U16 => $self.$m::<u16, $t>($($a),*),
            DType::U32 => $self.$m::<u32, $t>($($a),*),
            DType::U64 => $self.$m::<u64, $t>($($a),*),
            DType::F32 => $self.$m::<f32, $t>($($a),*),
            DType::F64 => $self.$m::<f64, $t>($($a),*),
        }
    }};
}
use dispatch_h5;

/// Converts between identical element types picked by [`dispatch_h5`].
fn h5_to<H: 'static + Clone, T: Element>(h: &H) -> T {
    let any: &dyn std::any::Any = h;
    if let Some(v) = any.downcast_ref::<T>() {
        return *v;
    }
    unreachable!("dispatch_h5 pairs each dtype with itself")
}

/// Byte-swaps every `size`-byte element in place.
fn swap_bytes(b: &mut [u8], size: usize) {
    if size > 1 {
        for e in b.chunks_exact_mut(size) {
            e.reverse();
        }
    }
}

/// The filter mask, file address and stored size of the chunk starting at `start`.
fn chunk_location(ds: &hdf5::Dataset, start: &[usize]) -> std::result::Result<(u32, haddr_t, u64), String> {
    let offset: Vec<u64> = start.iter().map(|&s| s as u64).collect();
    let (mut mask, mut addr, mut size) = (0u32, 0 as haddr_t, 0u64);
    // Through `hdf5::sync::sync`, which holds the library lock and turns libhdf5's
    // error printing off on this (worker) thread: a failing lookup in a corrupt file
    // is our one-line error, not the library's error stack on stderr.
    // SAFETY: the dataset id is valid while `ds` lives; `offset` has one entry per
    // dimension; the out-pointers point at live locals. The library lock is held.
    let rc = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5d::H5Dget_chunk_info_by_coord(ds.id(), offset.as_ptr(), &mut mask, &mut addr, &mut size)
    });
    if rc < 0 {
        return Err("cannot locate the chunk in the file's chunk index (corrupt file?)".into());
    }
    Ok((mask, addr, size))
}

/// The dataset's fill value (0 when none is defined, as libhdf5 reads it).
///
/// The fill-value message is checked first (`H5Pfill_value_defined`): libhdf5
/// converts a garbled message's value without checking its type and can crash, and a
/// message it cannot read is an error here — a fill of 0 in its place could become a
/// wrong number wherever a chunk was never written.
fn fill_value(dcpl: &hdf5::plist::DatasetCreate, dtype: DType) -> std::result::Result<Scalar, String> {
    fn get<T: hdf5::H5Type + Copy + Default>(dcpl: &hdf5::plist::DatasetCreate) -> std::result::Result<T, String> {
        let unreadable = || "its fill value cannot be read (corrupt dataset creation properties)".to_string();
        let mut status = hdf5_sys::h5d::H5D_fill_value_t::H5D_FILL_VALUE_ERROR;
        // SAFETY: a valid plist id; `status` is a live local. The library lock is held
        // (`sync`, with libhdf5's error printing off on this thread).
        let rc = hdf5::sync::sync(|| unsafe { hdf5_sys::h5p::H5Pfill_value_defined(dcpl.id(), &mut status) });
        if rc < 0 {
            return Err(unreadable());
        }
        if status == hdf5_sys::h5d::H5D_fill_value_t::H5D_FILL_VALUE_UNDEFINED {
            return Ok(T::default());
        }
        let t = hdf5::Datatype::from_type::<T>().map_err(|e| e.to_string())?;
        let mut v = T::default();
        // SAFETY: valid plist and type ids; `v` is a live `T`, the size of the memory
        // type passed. The library lock is held (`sync`, errors unprinted).
        let rc = hdf5::sync::sync(|| unsafe {
            hdf5_sys::h5p::H5Pget_fill_value(dcpl.id(), t.id(), std::ptr::from_mut(&mut v).cast())
        });
        if rc < 0 { Err(unreadable()) } else { Ok(v) }
    }
    Ok(match dtype {
        DType::Bool => Scalar::from(get::<bool>(dcpl)?),
        DType::I8 => Scalar::from(get::<i8>(dcpl)?),
        DType::I16 => Scalar::from(get::<i16>(dcpl)?),
        DType::I32 => Scalar::from(get::<i32>(dcpl)?),
        DType::I64 => Scalar::from(get::<i64>(dcpl)?),
        DType::U8 => Scalar::from(get::<u8>(dcpl)?),
        DType::U16 => Scalar::from(get::<u16>(dcpl)?),
        DType::U32 => Scalar::from(get::<u32>(dcpl)?),
        DType::U64 => Scalar::from(get::<u64>(dcpl)?),
        DType::F32 => Scalar::from(get::<f32>(dcpl)?),
        DType::F64 => Scalar::from(get::<f64>(dcpl)?),
    })
}

impl ChunkSource for Hdf5Source {
    fn name(&self) -> String {
        format!("{}:{}", self.file.display(), self.dataset_path)
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    /// The stored chunks; for contiguous storage, blocks of whole trailing axes (one
    /// read each, [`crate::grid::contiguous_chunks`]).
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        match self.layout {
            Layout::Contiguous { .. } => Some(crate::grid::contiguous_chunks(
                &self.shape,
                self.dtype.size(),
                crate::grid::DEFAULT_CHUNK_BYTES,
            )),
            _ => self.stored_chunks().map(<[usize]>::to_vec),
        }
    }
    /// Contiguous storage: rows read from the file in small windows, reduced while in
    /// cache (`io::file_rows`).
    fn stream(&self, region: &[Range<usize>], rows: usize) -> Result<Option<Box<dyn super::BoxStream + '_>>> {
        let Layout::Contiguous { offset } = self.layout else {
            return Ok(None);
        };
        if self.dtype == DType::Bool || region.iter().any(Range::is_empty) {
            return Ok(None);
        }
        let layout = super::file_rows::Contiguous::new(offset, None, self.dtype.size(), &self.shape, region);
        let rows = super::file_rows::FileRows::new(&self.raw, layout, self.swap, rows, self.ctx(region));
        Ok(Some(Box::new(rows)))
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        self.read_into(region, None)
    }
    fn read_into(&self, region: &[Range<usize>], spare: Option<Buffer>) -> Result<Chunk> {
        let shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        if shape.contains(&0) {
            return Chunk::new(shape, Buffer::zeros(self.dtype, 0));
        }
        // The spare buffer's allocation when it has this dtype.
        fn reuse<T: Element>(spare: Option<Buffer>) -> Option<Vec<T>> {
            spare.and_then(|b| T::vec_of(b).ok())
        }
        let data = match self.dtype {
            // bool is one byte 0/1 on disk; read as u8 and map, never transmute.
            DType::Bool => {
                let v = if matches!(self.layout, Layout::Library { .. }) {
                    self.read_library::<bool>(region)?
                } else {
                    self.read_typed::<u8>(region, None)?
                        .into_iter()
                        .map(|b| b != 0)
                        .collect()
                };
                Buffer::Bool(v)
            }
            DType::I8 => Buffer::I8(self.read_typed(region, reuse::<i8>(spare))?),
            DType::I16 => Buffer::I16(self.read_typed(region, reuse::<i16>(spare))?),
            DType::I32 => Buffer::I32(self.read_typed(region, reuse::<i32>(spare))?),
            DType::I64 => Buffer::I64(self.read_typed(region, reuse::<i64>(spare))?),
            DType::U8 => Buffer::U8(self.read_typed(region, reuse::<u8>(spare))?),
            DType::U16 => Buffer::U16(self.read_typed(region, reuse::<u16>(spare))?),
            DType::U32 => Buffer::U32(self.read_typed(region, reuse::<u32>(spare))?),
            DType::U64 => Buffer::U64(self.read_typed(region, reuse::<u64>(spare))?),
            DType::F32 => Buffer::F32(self.read_typed(region, reuse::<f32>(spare))?),
            DType::F64 => Buffer::F64(self.read_typed(region, reuse::<f64>(spare))?),
        };
        Chunk::new(shape, data)
    }
}

/// A string attribute of an object (dataset or group) of an HDF5/NetCDF-4 file:
/// `Ok(None)` when the object or the attribute does not exist. Reads variable-length
/// strings (h5py) and fixed-length ones (netCDF's `NC_CHAR`), trailing NULs trimmed.
///
/// # Errors
/// [`Error::Format`] when the file cannot be opened or the attribute is not a string.
pub fn string_attr(file: &Path, object: &str, name: &str) -> Result<Option<String>> {
    use hdf5::types::{FixedAscii, FixedUnicode, VarLenAscii, VarLenUnicode};
    let h5 = hdf5::File::open(file).map_err(|e| h5err(file, "cannot open", &e))?;
    let attr = if let Ok(ds) = h5.dataset(object) {
        ds.attr(name)
    } else if let Ok(g) = h5.group(object) {
        g.attr(name)
    } else {
        return Ok(None);
    };
    let Ok(attr) = attr else { return Ok(None) };
    let s = if let Ok(s) = attr.read_scalar::<VarLenUnicode>() {
        s.as_str().to_string()
    } else if let Ok(s) = attr.read_scalar::<VarLenAscii>() {
        s.as_str().to_string()
    } else if let Ok(s) = attr.read_scalar::<FixedAscii<1024>>() {
        s.as_str().to_string()
    } else if let Ok(s) = attr.read_scalar::<FixedUnicode<1024>>() {
        s.as_str().to_string()
    } else if let Ok(v) = attr.read_raw::<FixedAscii<1024>>() {
        v.first().map(|s| s.as_str().to_string()).unwrap_or_default()
    } else {
        return Err(Error::Format(format!(
            "{}:{object}: attribute '{name}' is not a string",
            file.display()
        )));
    };
    Ok(Some(s.trim_end_matches('\0').to_string()))
}

/// The CF attributes of dataset `object` of an HDF5/NetCDF-4 file (see
/// [`crate::io::cf`]), each with its stored type.
///
/// # Errors
/// [`Error::Format`] when the file cannot be opened or a CF attribute is not numeric.
pub fn cf_attrs(file: &Path, object: &str) -> Result<crate::io::cf::CfAttrs> {
    use crate::io::cf::{AttrType, CfAttr, CfAttrs};
    let h5 = hdf5::File::open(file).map_err(|e| h5err(file, "cannot open", &e))?;
    let Ok(ds) = h5.dataset(object) else {
        return Ok(CfAttrs::default());
    };
    let read = |name: &str| -> Result<Option<CfAttr>> {
        let Ok(attr) = ds.attr(name) else { return Ok(None) };
        let bad = || {
            Error::Format(format!(
                "{}:{object}: attribute '{name}' is not a number",
                file.display()
            ))
        };
        let ty = match attr.dtype().and_then(|t| t.to_descriptor()).map_err(|_| bad())? {
            TypeDescriptor::Float(FloatSize::U8) => AttrType::F64,
            TypeDescriptor::Float(_) => AttrType::F32,
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => AttrType::Int,
            _ => return Err(bad()),
        };
        let values = attr
            .read_raw::<f64>()
            .map_err(|e| h5err(file, &format!("{object}: attribute '{name}'"), &e))?;
        Ok(Some(CfAttr::typed(values, ty)))
    };
    Ok(CfAttrs {
        fill_value: read("_FillValue")?,
        missing_value: read("missing_value")?,
        scale_factor: read("scale_factor")?,
        add_offset: read("add_offset")?,
        // xarray compares the value with the string "true"; any other value (a number
        // included) is ignored.
        unsigned: if ds.attr("_Unsigned").is_ok() {
            string_attr(file, object, "_Unsigned").unwrap_or_else(|_| Some(String::new()))
        } else {
            None
        },
    })
}

/// The dimension names of dataset `object`, as netCDF-4 and xarray read them: each
/// axis's dimension scale from the dataset's `DIMENSION_LIST` attribute (HDF5's
/// dimension-scale convention, which netCDF-4 files and h5py's `dims.attach_scale`
/// write), named by the scale's own name in its group; a 1-D scale itself (a
/// coordinate variable such as `lat`) has its own name. `None` when the file or
/// dataset cannot be read, or any axis has no scale attached (plain HDF5).
#[must_use]
pub fn dimension_names(file: &Path, object: &str) -> Option<Vec<String>> {
    use hdf5::{ObjectReference1, ReferencedObject, types::VarLenArray};
    let h5 = hdf5::File::open(file).ok()?;
    let ds = h5.dataset(object).ok()?;
    let Ok(list) = ds.attr("DIMENSION_LIST") else {
        // A coordinate variable is itself the scale of its one dimension (netCDF-4
        // writes no list on it): `lat` is dimension `lat`, as xarray shows it.
        return (ds.ndim() == 1 && is_scale(&ds)).then(|| {
            let name = ds.name();
            vec![name.rsplit('/').next().unwrap_or(&name).to_string()]
        });
    };
    let lists = list.read_raw::<VarLenArray<ObjectReference1>>().ok()?;
    if lists.len() != ds.ndim() {
        return None;
    }
    lists
        .iter()
        .map(|refs| {
            let r = refs.as_slice().first()?;
            match ds.dereference(r).ok()? {
                ReferencedObject::Dataset(scale) => {
                    let name = scale.name();
                    Some(name.rsplit('/').next().unwrap_or(&name).to_string())
                }
                _ => None,
            }
        })
        .collect()
}

/// `ds`'s fixed-length string attribute `name` (the kind the HDF5 dimension-scale API
/// and netCDF-4 write), without trailing NULs; `None` when absent or of another type.
fn fixed_attr(ds: &hdf5::Dataset, name: &str) -> Option<String> {
    let v = ds.attr(name).ok()?.read_raw::<hdf5::types::FixedAscii<1024>>().ok()?;
    v.first().map(|s| s.as_str().trim_end_matches('\0').to_string())
}

/// Whether `ds` is an HDF5 dimension scale (its `CLASS` attribute is
/// `DIMENSION_SCALE`): a netCDF-4 coordinate variable or bare dimension.
fn is_scale(ds: &hdf5::Dataset) -> bool {
    fixed_attr(ds, "CLASS").is_some_and(|c| c == "DIMENSION_SCALE")
}

/// Whether `ds` is a netCDF-4 dimension without a coordinate variable: a dimension
/// scale that only carries a length (netCDF writes its `NAME` as "This is a netCDF
/// dimension but not a netCDF variable"), whose values mean nothing.
fn bare_dimension(ds: &hdf5::Dataset) -> bool {
    fixed_attr(ds, "NAME").is_some_and(|n| n.starts_with("This is a netCDF dimension but not"))
}

/// Shape, stored data type (HDF5's description: `unicode (var len)`, …) and chunk
/// shape (the shape, when not chunked) of dataset `object`, whatever its type: for
/// listing datasets chunkwise cannot open (text, as netCDF-4 stores a string
/// coordinate). `None` when the file or dataset cannot be read.
#[must_use]
pub fn stored_layout(file: &Path, object: &str) -> Option<(Vec<u64>, String, Vec<u64>)> {
    let ds = hdf5::File::open(file).ok()?.dataset(object).ok()?;
    let desc = ds.dtype().ok()?.to_descriptor().ok()?.to_string();
    let shape: Vec<u64> = ds.shape().iter().map(|&n| n as u64).collect();
    let chunks = ds
        .chunk()
        .map_or_else(|| shape.clone(), |c| c.iter().map(|&n| n as u64).collect());
    Some((shape, desc, chunks))
}

/// Whether dataset `object` of `file` holds values: it exists and is not a netCDF-4
/// dimension without a coordinate variable (see [`group_datasets`]).
#[must_use]
pub fn has_values(file: &Path, object: &str) -> bool {
    hdf5::File::open(file)
        .and_then(|h5| h5.dataset(object))
        .is_ok_and(|ds| !bare_dimension(&ds))
}

/// The datasets under `group` (`/` or `""` for the root) of an HDF5/NetCDF-4 file, as
/// full paths, sorted, through nested groups; netCDF's bare dimensions (datasets that
/// only carry a dimension's length) left out. `Ok(None)` when `group` is not a group.
///
/// # Errors
/// [`Error::Format`] when the file cannot be opened.
pub fn group_datasets(file: &Path, group: &str) -> Result<Option<Vec<String>>> {
    fn walk(h5: &hdf5::File, group: &str, out: &mut Vec<String>) {
        let Ok(names) = h5
            .group(if group.is_empty() { "/" } else { group })
            .and_then(|g| g.member_names())
        else {
            return;
        };
        for m in names {
            let full = format!("{group}/{m}");
            if let Ok(ds) = h5.dataset(&full) {
                if !bare_dimension(&ds) {
                    out.push(full);
                }
            } else if h5.group(&full).is_ok() {
                walk(h5, &full, out);
            }
        }
    }
    std::fs::File::open(file).map_err(|e| Error::Io {
        path: file.to_path_buf(),
        source: e,
    })?;
    check_signature(file)?;
    let h5 = hdf5::File::open(file).map_err(|e| h5err(file, "cannot open", &e))?;
    let g = group.trim_end_matches('/');
    if h5.group(if g.is_empty() { "/" } else { g }).is_err() {
        return Ok(None);
    }
    let mut out = Vec::new();
    walk(&h5, g, &mut out);
    out.sort();
    Ok(Some(out))
}
