//! Zarr v2 and v3 arrays on the local filesystem, through `zarrs` (feature `zarr`).
//!
//! A [`ZarrSource`] opens the array directory itself (`store.zarr` when the store root
//! is an array, `store.zarr/group/array` otherwise): a store is recognised by its
//! metadata files (`zarr.json`, or `.zarray` for v2), whatever the directory is called.
//! Every codec `zarrs` reads by default is supported (blosc, zstd, gzip/zlib, crc32c,
//! transpose, sharding, both endiannesses, C/F order, both chunk-key separators);
//! chunks that were never written read as the fill value.
//!
//! Blocks are read with `retrieve_array_subset_into`, which decodes exactly the stored
//! chunks a box touches into the caller's (reused) buffer; the array's default blocks
//! are the stored chunks (a whole shard for sharded arrays), so no stored chunk is
//! decoded twice. Decoding happens in the tasks on the worker threads.
//!
//! The codec chains most climate stores use are decoded here instead, because the
//! generic path costs a chunk-sized intermediate buffer and a copy per chunk: Zarr v3
//! `bytes` (little-endian) + `zstd` or `blosc`, and Zarr v2 C-order little-endian with a
//! `zstd` or `blosc` compressor and no filters, for a box that is exactly one stored
//! chunk. The chunk file is read into a per-worker buffer and decompressed straight
//! into the block. Anything else (edge chunks, missing chunks, other codecs) goes
//! through zarrs.

use super::ChunkSource;
use crate::chunk::Chunk;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::{Array as ZArray, ArraySubset};
use zarrs::filesystem::FilesystemStore;
use zarrs::plugin::{ExtensionName, ZarrVersion};

/// A Zarr array opened for reading.
pub struct ZarrSource {
    path: PathBuf,
    array: ZArray<FilesystemStore>,
    shape: Vec<usize>,
    dtype: DType,
    chunks: Vec<usize>,
    /// The compressor when whole chunks are decoded here (see the module docs).
    direct: Option<Direct>,
}

impl std::fmt::Debug for ZarrSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZarrSource({})", self.path.display())
    }
}

/// Whether a directory holds Zarr array or group metadata.
#[must_use]
pub fn is_zarr(path: &Path) -> bool {
    ["zarr.json", ".zarray", ".zgroup"]
        .iter()
        .any(|m| path.join(m).is_file())
}

impl ZarrSource {
    /// Opens the Zarr array in directory `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the path does not exist; [`Error::Format`] when it holds no
    /// Zarr array, its metadata is invalid, or its dtype is not one chunkwise supports.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(Error::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let v3_group = std::fs::read_to_string(path.join("zarr.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|j| j.get("node_type").and_then(|n| n.as_str()) == Some("group"));
        if v3_group || (!path.join("zarr.json").is_file() && !path.join(".zarray").is_file()) {
            if v3_group || path.join(".zgroup").is_file() {
                let mut children: Vec<String> = std::fs::read_dir(&path)
                    .map(|rd| {
                        rd.flatten()
                            .filter(|e| is_zarr(&e.path()))
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                children.sort();
                return Err(Error::Format(format!(
                    "{shown}: is a Zarr group, not an array (it holds: {})",
                    if children.is_empty() {
                        "nothing".into()
                    } else {
                        children.join(", ")
                    }
                )));
            }
            return Err(Error::Format(format!(
                "{shown}: not a Zarr array (no zarr.json or .zarray)"
            )));
        }
        let store = FilesystemStore::new(&path).map_err(|e| Error::Format(format!("{shown}: {e}")))?;
        let array = ZArray::open(Arc::new(store), "/")
            .map_err(|e| Error::Format(format!("{shown}: invalid Zarr metadata: {e}")))?;
        let dname = array
            .data_type()
            .name(ZarrVersion::V3)
            .map(|c| c.into_owned())
            .unwrap_or_else(|| array.data_type().to_string());
        let dtype: DType = dname.parse().map_err(|_| {
            Error::Format(format!(
                "{shown}: data type '{dname}' is not supported (bool, int8–64, uint8–64, float32/64)"
            ))
        })?;
        let shape: Vec<usize> = array.shape().iter().map(|&n| n as usize).collect();
        let chunks = if shape.contains(&0) || shape.is_empty() {
            shape.iter().map(|&n| n.max(1)).collect()
        } else {
            array
                .chunk_shape_usize(&vec![0; shape.len()])
                .map_err(|e| Error::Format(format!("{shown}: chunk grid: {e}")))?
        };
        let direct = if dtype == DType::Bool {
            None
        } else {
            direct_codec(&serde_json::to_value(array.metadata()).unwrap_or_default())
        };
        Ok(ZarrSource {
            path,
            array,
            shape,
            dtype,
            chunks,
            direct,
        })
    }

    /// The underlying `zarrs` array (metadata, codecs).
    #[must_use]
    pub fn zarr(&self) -> &ZArray<FilesystemStore> {
        &self.array
    }

    /// Whether whole chunks are decoded by chunkwise itself (zstd or blosc chains, see
    /// the module docs) rather than through zarrs' generic codec chain.
    #[must_use]
    pub fn direct_decode(&self) -> bool {
        self.direct.is_some()
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_typed<T: Element + zarrs::array::ElementOwned>(&self, region: &[Range<usize>]) -> Result<Vec<T>> {
        let ranges: Vec<Range<u64>> = region.iter().map(|r| r.start as u64..r.end as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        // One decode thread per call: blocks are already decoded in parallel, one per
        // worker, and zarrs' own fan-out would oversubscribe the cores.
        let opts = zarrs::array::CodecOptions::default().with_concurrent_target(1);
        self.array
            .retrieve_array_subset_opt::<Vec<T>>(&subset, &opts)
            .map_err(|e| Error::Format(format!("{}: reading elements {region:?}: {e}", self.path.display())))
    }
}

/// A compressor decoded by chunkwise itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    Zstd,
    Blosc,
}

/// The compressor when the metadata describes one of the chains decoded here: v3
/// `bytes` (little-endian or unspecified) + `zstd`/`blosc` on a regular grid with no
/// storage transformers, or v2 C order, little-endian (or one-byte) dtype, no filters,
/// and a `zstd`/`blosc` compressor.
fn direct_codec(meta: &serde_json::Value) -> Option<Direct> {
    let s = |p: &str| meta.pointer(p).and_then(serde_json::Value::as_str);
    let by_name = |n: Option<&str>| match n {
        Some("zstd") => Some(Direct::Zstd),
        Some("blosc") => Some(Direct::Blosc),
        _ => None,
    };
    match meta.get("zarr_format").and_then(serde_json::Value::as_u64) {
        Some(3) => {
            let codecs = meta.get("codecs").and_then(serde_json::Value::as_array)?;
            let [bytes, comp] = codecs.as_slice() else { return None };
            let little = bytes
                .pointer("/configuration/endian")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|e| e == "little");
            let plain = s("/chunk_grid/name") == Some("regular")
                && meta
                    .get("storage_transformers")
                    .and_then(serde_json::Value::as_array)
                    .is_none_or(Vec::is_empty)
                && bytes.get("name").and_then(serde_json::Value::as_str) == Some("bytes")
                && little;
            if plain {
                by_name(comp.get("name").and_then(serde_json::Value::as_str))
            } else {
                None
            }
        }
        Some(2) => {
            let dtype = s("/dtype")?;
            let plain = s("/order").is_none_or(|o| o == "C")
                && meta.get("filters").is_none_or(serde_json::Value::is_null)
                && (dtype.starts_with('<') || dtype.starts_with('|'));
            if plain { by_name(s("/compressor/id")) } else { None }
        }
        _ => None,
    }
}

thread_local! {
    static RAW: std::cell::RefCell<(Vec<u8>, Option<zstd::bulk::Decompressor<'static>>)> =
        const { std::cell::RefCell::new((Vec::new(), None)) };
}

/// Decompresses a blosc buffer into `out` (single-threaded: blocks are already decoded
/// in parallel, one per worker), returning the decoded size.
fn blosc_decompress(src: &[u8], out: &mut [u8]) -> std::result::Result<usize, String> {
    let mut nbytes = 0usize;
    // SAFETY: `src` is a live slice of `src.len()` bytes; `nbytes` a live out-parameter.
    let ok = unsafe { blosc_src::blosc_cbuffer_validate(src.as_ptr().cast(), src.len(), &mut nbytes) };
    if ok != 0 {
        return Err("corrupt blosc chunk (bad header)".into());
    }
    if nbytes != out.len() {
        return Err(format!("blosc chunk holds {nbytes} bytes, expected {}", out.len()));
    }
    // SAFETY: the header was validated for `src`; blosc writes at most `out.len()` bytes
    // into `out`, which does not overlap `src`; the context API takes no global lock.
    let n = unsafe { blosc_src::blosc_decompress_ctx(src.as_ptr().cast(), out.as_mut_ptr().cast(), out.len(), 1) };
    if n <= 0 {
        return Err("corrupt blosc chunk".into());
    }
    Ok(n as usize)
}

impl ZarrSource {
    /// The stored chunk's indices when `region` is exactly one whole stored chunk.
    fn whole_chunk(&self, region: &[Range<usize>]) -> Option<Vec<u64>> {
        region
            .iter()
            .zip(&self.chunks)
            .map(|(r, &c)| (r.start % c == 0 && r.len() == c).then_some((r.start / c) as u64))
            .collect()
    }

    /// Reads and decompresses one whole chunk into `out`; `Ok(false)` when the chunk
    /// file does not exist (the caller fills).
    fn read_direct_chunk(&self, codec: Direct, idx: &[u64], out: &mut [u8]) -> Result<bool> {
        let key = self.array.chunk_key(idx);
        let file = self.path.join(key.as_str());
        let what = || format!("{}: chunk {}", self.path.display(), key.as_str());
        RAW.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (raw, dec) = &mut *cell;
            raw.clear();
            match std::fs::File::open(&file) {
                Ok(mut f) => {
                    use std::io::Read;
                    f.read_to_end(raw)
                        .map_err(|e| Error::Format(format!("{}: {e}", what())))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(Error::Format(format!("{}: {e}", what()))),
            }
            let n = match codec {
                Direct::Zstd => {
                    let dec = match dec {
                        Some(d) => d,
                        None => dec.insert(
                            zstd::bulk::Decompressor::new()
                                .map_err(|e| Error::Format(format!("{}: zstd: {e}", what())))?,
                        ),
                    };
                    dec.decompress_to_buffer(raw.as_slice(), out)
                        .map_err(|e| Error::Format(format!("{}: corrupt zstd chunk: {e}", what())))?
                }
                Direct::Blosc => blosc_decompress(raw, out).map_err(|e| Error::Format(format!("{}: {e}", what())))?,
            };
            if n != out.len() {
                return Err(Error::Format(format!(
                    "{}: chunk holds {n} bytes, expected {}",
                    what(),
                    out.len()
                )));
            }
            Ok(true)
        })
    }

    /// Decodes a box straight into `spare`'s allocation (or a fresh zeroed one).
    fn read_pod<T: Element + bytemuck::Pod>(&self, region: &[Range<usize>], spare: Option<Vec<T>>) -> Result<Vec<T>> {
        let n: usize = region.iter().map(|r| r.len()).product();
        let mut out = super::buffer(spare, n);
        if let Some(codec) = self.direct
            && let Some(idx) = self.whole_chunk(region)
            && self.read_direct_chunk(codec, &idx, bytemuck::cast_slice_mut(&mut out))?
        {
            return Ok(out);
        }
        let ranges: Vec<Range<u64>> = region.iter().map(|r| r.start as u64..r.end as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let shape: Vec<u64> = region.iter().map(|r| r.len() as u64).collect();
        let opts = zarrs::array::CodecOptions::default().with_concurrent_target(1);
        let fail = |e: &dyn std::fmt::Display| {
            Error::Format(format!("{}: reading elements {region:?}: {e}", self.path.display()))
        };
        let bytes = unsafe_cell_slice::UnsafeCellSlice::new(bytemuck::cast_slice_mut::<T, u8>(&mut out));
        // SAFETY: this is the only view of `out`'s bytes, and it covers all of them.
        let mut view = unsafe {
            zarrs::array::ArrayBytesFixedDisjointView::new(
                bytes,
                std::mem::size_of::<T>(),
                &shape,
                ArraySubset::new_with_shape(shape.clone()),
            )
        }
        .map_err(|e| fail(&e))?;
        self.array
            .retrieve_array_subset_into_opt(&subset, (&mut view).into(), &opts)
            .map_err(|e| fail(&e))?;
        Ok(out)
    }
}

impl ChunkSource for ZarrSource {
    fn name(&self) -> String {
        self.path.display().to_string()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.chunks.clone())
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        self.read_into(region, None)
    }
    fn read_into(&self, region: &[Range<usize>], spare: Option<Buffer>) -> Result<Chunk> {
        let shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        if shape.contains(&0) {
            return Chunk::new(shape, Buffer::zeros(self.dtype, 0));
        }
        fn reuse<T: Element>(spare: Option<Buffer>) -> Option<Vec<T>> {
            spare.and_then(|b| T::vec_of(b).ok())
        }
        let data = match self.dtype {
            DType::Bool => Buffer::Bool(self.read_typed::<bool>(region)?),
            DType::I8 => Buffer::I8(self.read_pod(region, reuse(spare))?),
            DType::I16 => Buffer::I16(self.read_pod(region, reuse(spare))?),
            DType::I32 => Buffer::I32(self.read_pod(region, reuse(spare))?),
            DType::I64 => Buffer::I64(self.read_pod(region, reuse(spare))?),
            DType::U8 => Buffer::U8(self.read_pod(region, reuse(spare))?),
            DType::U16 => Buffer::U16(self.read_pod(region, reuse(spare))?),
            DType::U32 => Buffer::U32(self.read_pod(region, reuse(spare))?),
            DType::U64 => Buffer::U64(self.read_pod(region, reuse(spare))?),
            DType::F32 => Buffer::F32(self.read_pod(region, reuse(spare))?),
            DType::F64 => Buffer::F64(self.read_pod(region, reuse(spare))?),
        };
        Chunk::new(shape, data)
    }
}

/// The user attributes of the Zarr array or group at `path` (`zarr.json`'s
/// `attributes` for v3, `.zattrs` for v2; empty when there are none).
///
/// # Errors
/// [`Error::Format`] when a metadata file exists but is not valid JSON.
pub fn attributes(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let read = |f: &Path| -> Result<Option<serde_json::Value>> {
        match std::fs::read_to_string(f) {
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| Error::Format(format!("{}: invalid JSON: {e}", f.display()))),
            Err(_) => Ok(None),
        }
    };
    if let Some(j) = read(&path.join("zarr.json"))? {
        return Ok(j
            .get("attributes")
            .and_then(|a| a.as_object())
            .cloned()
            .unwrap_or_default());
    }
    Ok(read(&path.join(".zattrs"))?
        .and_then(|a| a.as_object().cloned())
        .unwrap_or_default())
}

/// The dimension names of the Zarr array at `path`: v3's `dimension_names`, or the
/// `_ARRAY_DIMENSIONS` attribute xarray writes in v2.
#[must_use]
pub fn dimension_names(path: &Path) -> Option<Vec<String>> {
    let names = |v: &serde_json::Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|n| n.as_str().map(ToString::to_string))
            .collect()
    };
    if let Some(j) = std::fs::read_to_string(path.join("zarr.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        && let Some(n) = j.get("dimension_names").and_then(names)
    {
        return Some(n);
    }
    attributes(path).ok()?.get("_ARRAY_DIMENSIONS").and_then(names)
}
