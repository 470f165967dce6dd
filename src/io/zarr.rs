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
//! The codec chains most climate stores use (zstd, or blosc, on plain little-endian
//! bytes) are decoded by chunkwise itself instead, streamed from the chunk file into the
//! block's buffer (`zarr_direct`), for any box inside one stored chunk: the
//! generic path holds the whole compressed chunk and a chunk-sized intermediate. Boxes
//! spanning several stored chunks, missing chunks and other codecs go through zarrs.

use super::ChunkSource;
use super::zarr_direct::{Direct, direct_codec};
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
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
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
            if path.is_file() {
                if let Some(what) = super::sniff::foreign_format(&path) {
                    return Err(Error::Format(format!("{shown}: {what}")));
                }
                return Err(Error::Format(format!(
                    "{shown}: a file, not a Zarr store (a directory); an HDF5/NetCDF-4 dataset is named FILE:/path/to/dataset"
                )));
            }
            return Err(Error::Format(format!(
                "{shown}: not a Zarr array (no zarr.json or .zarray)"
            )));
        }
        let store = FilesystemStore::new(&path).map_err(|e| Error::Format(format!("{shown}: {e}")))?;
        let unsupported =
            |dname: &str| Error::Format(format!("{shown}: data type '{dname}' is not supported ({SUPPORTED})"));
        let array = ZArray::open(Arc::new(store), "/").map_err(|e| {
            // A v2 text array (`<U3`, as xarray writes a string coordinate) has metadata
            // zarrs refuses; what matters is that chunkwise reads no text.
            match stored_layout(&path) {
                Some((_, dname, _)) if is_text(&dname) => unsupported(&dname),
                _ => Error::Format(format!("{shown}: invalid Zarr metadata: {e}")),
            }
        })?;
        let dname = array
            .data_type()
            .name(ZarrVersion::V3)
            .map(|c| c.into_owned())
            .unwrap_or_else(|| array.data_type().to_string());
        let dtype: DType = dname.parse().map_err(|_| unsupported(&dname))?;
        let shape: Vec<usize> = array.shape().iter().map(|&n| n as usize).collect();
        let chunks = if shape.contains(&0) || shape.is_empty() {
            shape.iter().map(|&n| n.max(1)).collect()
        } else {
            array
                .chunk_shape_usize(&vec![0; shape.len()])
                .map_err(|e| Error::Format(format!("{shown}: chunk grid: {e}")))?
        };
        // Garbled sizes are refused here, not met as an overflow while reading.
        for (what, dims) in [("an array", &shape), ("a chunk", &chunks)] {
            let bytes = dims
                .iter()
                .try_fold(dtype.size(), |a, &n| a.checked_mul(n))
                .filter(|&b| isize::try_from(b).is_ok());
            if bytes.is_none() {
                return Err(Error::Format(format!(
                    "{shown}: invalid Zarr metadata: {what} of shape {dims:?} ({dname}) is too large to address"
                )));
            }
        }
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

impl ZarrSource {
    /// The stored chunk holding all of `region`, when one does: its indices and
    /// `region` in the chunk's coordinates.
    fn chunk_of(&self, region: &[Range<usize>]) -> Option<(Vec<u64>, Vec<Range<usize>>)> {
        let idx: Vec<usize> = region.iter().zip(&self.chunks).map(|(r, &c)| r.start / c).collect();
        let inner: Vec<Range<usize>> = region
            .iter()
            .zip(&self.chunks)
            .zip(&idx)
            .map(|((r, &c), &i)| r.start - i * c..r.end - i * c)
            .collect();
        inner
            .iter()
            .zip(&self.chunks)
            .all(|(r, &c)| r.end <= c)
            .then(|| (idx.iter().map(|&i| i as u64).collect(), inner))
    }

    /// Whether a box inside one chunk (in the chunk's coordinates) is its leading part
    /// in C order: all of it, or the chunk cut short along its first axis.
    fn leading(&self, inner: &[Range<usize>]) -> bool {
        inner.iter().all(|r| r.start == 0) && inner[1..].iter().zip(&self.chunks[1..]).all(|(r, &c)| r.end == c)
    }

    /// Decodes the box `region` inside one stored chunk itself (see the module docs),
    /// into `spare`'s allocation when the box is a leading part of the chunk (in C
    /// order: the chunk cut short along its first axis, or all of it). `Ok(None)` when
    /// the chunk file does not exist (with the allocation, for the caller to fill).
    fn read_direct<T: bytemuck::Pod>(
        &self,
        codec: Direct,
        idx: &[u64],
        inner: &[Range<usize>],
        spare: Option<Vec<T>>,
    ) -> Result<std::result::Result<Vec<T>, Option<Vec<T>>>> {
        let key = self.array.chunk_key(idx);
        let file = self.path.join(key.as_str());
        let whole: usize = self.chunks.iter().product();
        let n: usize = inner.iter().map(|r| r.len()).product();
        let leading = self.leading(inner);
        let (mut buf, spare) = if leading {
            (super::buffer(spare, whole), None)
        } else {
            (bytemuck::zeroed_vec(whole), spare)
        };
        let found = super::zarr_direct::decode_file(codec, &file, bytemuck::cast_slice_mut(&mut buf))
            .map_err(|e| Error::Format(format!("{}: chunk {}: {e}", self.path.display(), key.as_str())))?;
        if !found {
            return Ok(Err(if leading { Some(buf) } else { spare }));
        }
        if leading {
            buf.truncate(n);
            return Ok(Ok(buf));
        }
        let shape: Vec<usize> = inner.iter().map(|r| r.len()).collect();
        let mut out = super::buffer(spare, n);
        crate::chunk::for_each_run(&self.chunks, inner, &shape, &vec![0; shape.len()], |s, d, len| {
            out[d..d + len].copy_from_slice(&buf[s..s + len]);
        });
        Ok(Ok(out))
    }

    /// Decodes a box straight into `spare`'s allocation (or a fresh zeroed one).
    fn read_pod<T: Element + bytemuck::Pod>(&self, region: &[Range<usize>], spare: Option<Vec<T>>) -> Result<Vec<T>> {
        let n: usize = region.iter().map(|r| r.len()).product();
        let mut spare = spare;
        if let Some(codec) = self.direct
            && !region.is_empty()
            && let Some((idx, inner)) = self.chunk_of(region)
        {
            match self.read_direct(codec, &idx, &inner, spare)? {
                Ok(v) => return Ok(v),
                Err(back) => spare = back,
            }
        }
        let mut out = super::buffer(spare, n);
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
    fn stream(&self, region: &[Range<usize>], rows: usize) -> Result<Option<Box<dyn super::BoxStream + '_>>> {
        if self.direct != Some(Direct::Blosc) || region.is_empty() || self.dtype == DType::Bool {
            return Ok(None);
        }
        let Some((idx, inner)) = self.chunk_of(region) else {
            return Ok(None);
        };
        if !self.leading(&inner) {
            return Ok(None);
        }
        let key = self.array.chunk_key(&idx);
        let what = format!("{}: chunk {}", self.path.display(), key.as_str());
        let nbytes = self.chunks.iter().product::<usize>() * self.dtype.size();
        let rows = super::zarr_direct::BloscRows::open(&self.path.join(key.as_str()), nbytes, rows, what.clone())
            .map_err(|e| Error::Format(format!("{what}: {e}")))?;
        Ok(rows.map(|r| Box::new(r) as Box<dyn super::BoxStream>))
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
    // v3 allows null for an unnamed dimension: the others keep their names (and
    // `--axis lat` works), the unnamed one is `dim_K` as xarray names such axes.
    let names = |v: &serde_json::Value| -> Option<Vec<String>> {
        let v = v.as_array()?;
        if !v.is_empty() && v.iter().all(serde_json::Value::is_null) {
            return None;
        }
        v.iter()
            .enumerate()
            .map(|(i, n)| match n {
                serde_json::Value::Null => Some(format!("dim_{i}")),
                n => n.as_str().map(ToString::to_string),
            })
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

/// The data types chunkwise reads, for messages.
const SUPPORTED: &str = "bool, int8–64, uint8–64, float32/64";

/// Whether a stored data type name is text: NumPy's `<U`/`|S`/`|O` in v2, zarr-python's
/// `string`, `fixed_length_utf32` or `fixed_length_ascii`-style names in v3.
fn is_text(dtype: &str) -> bool {
    let code = dtype.trim_start_matches(['<', '>', '|', '=']);
    code.starts_with('U')
        || code.starts_with('S')
        || code == "O"
        || ["str", "utf", "ascii", "bytes"].iter().any(|t| dtype.contains(t))
}

/// What the metadata of the Zarr array at `path` says of it, read as plain JSON: shape,
/// data type as stored (`float32`, `fixed_length_utf32`, `<U3`, …) and chunk shape. For
/// listing arrays chunkwise cannot open (text coordinates, as xarray writes a
/// `season` or `station` coordinate), which zarrs's own validation may refuse. `None`
/// when there is no readable array metadata.
#[must_use]
pub fn stored_layout(path: &Path) -> Option<(Vec<u64>, String, Vec<u64>)> {
    let json = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path.join(name)).ok()?).ok()
    };
    let u64s =
        |v: &serde_json::Value| -> Option<Vec<u64>> { v.as_array()?.iter().map(serde_json::Value::as_u64).collect() };
    if let Some(j) = json("zarr.json").filter(|j| j.get("node_type").and_then(|n| n.as_str()) == Some("array")) {
        let dtype = match &j["data_type"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.get("name")?.as_str()?.to_string(),
        };
        let chunks = u64s(&j["chunk_grid"]["configuration"]["chunk_shape"])?;
        return Some((u64s(&j["shape"])?, dtype, chunks));
    }
    let j = json(".zarray")?;
    let dtype = match &j["dtype"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some((u64s(&j["shape"])?, dtype, u64s(&j["chunks"])?))
}

/// The CF attributes xarray would decode the Zarr array at `path` with (see
/// [`crate::io::cf`]): its attributes, and for a v2 array xarray opens (one with
/// `_ARRAY_DIMENSIONS`) the array's `fill_value` as `_FillValue`.
///
/// # Errors
/// [`Error::Format`] when a metadata file exists but is not valid JSON.
pub fn cf_attrs(path: &Path, stored: DType) -> Result<crate::io::cf::CfAttrs> {
    use crate::io::cf::{AttrType, CfAttr, CfAttrs, json_attr, json_fill_v3};
    let attrs = attributes(path)?;
    // An attribute that is there but not a number is an error, not a silent raw read.
    let get = |name: &str| -> Result<Option<CfAttr>> {
        match attrs.get(name).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => {
                let a = if name == "_FillValue" {
                    json_fill_v3(v, stored)
                } else {
                    json_attr(v)
                };
                a.map(Some).ok_or_else(|| {
                    Error::Format(format!("{}: CF attribute {name} is not a number: {v}", path.display()))
                })
            }
        }
    };
    let mut cf = CfAttrs {
        fill_value: get("_FillValue")?,
        missing_value: get("missing_value")?,
        scale_factor: get("scale_factor")?,
        add_offset: get("add_offset")?,
        // xarray compares the value with the string "true" (a JSON `true` is not it).
        unsigned: attrs
            .get("_Unsigned")
            .map(|v| v.as_str().unwrap_or_default().to_string()),
    };
    let zarray = path.join(".zarray");
    if attrs.contains_key("_ARRAY_DIMENSIONS") && zarray.is_file() {
        let text = std::fs::read_to_string(&zarray).map_err(|e| Error::Io {
            path: zarray.clone(),
            source: e,
        })?;
        let meta: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Format(format!("{}: invalid JSON: {e}", zarray.display())))?;
        // xarray reads a v2 array's fill_value as a scalar of the array's own type.
        if let Some(fill) = meta.get("fill_value").filter(|v| !v.is_null()).and_then(json_attr) {
            let ty = match stored {
                DType::F32 => AttrType::F32,
                DType::F64 => AttrType::F64,
                _ => AttrType::Int,
            };
            cf.fill_value = Some(CfAttr::typed(fill.values, ty));
        }
    }
    Ok(cf)
}

/// The arrays under the Zarr group at `path`, as paths relative to it (`era5/t2m`),
/// sorted, through nested groups; `None` when `path` is not a group.
#[must_use]
pub fn group_arrays(path: &Path) -> Option<Vec<String>> {
    fn node(path: &Path) -> Option<&'static str> {
        if let Some(j) = std::fs::read_to_string(path.join("zarr.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        {
            return match j.get("node_type").and_then(|n| n.as_str()) {
                Some("group") => Some("group"),
                Some("array") => Some("array"),
                _ => None,
            };
        }
        if path.join(".zarray").is_file() {
            Some("array")
        } else if path.join(".zgroup").is_file() {
            Some("group")
        } else {
            None
        }
    }
    fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            match node(&root.join(&child)) {
                Some("array") => out.push(child),
                Some(_) => walk(root, &child, out),
                None => {}
            }
        }
    }
    if node(path)? != "group" {
        return None;
    }
    let mut out = Vec::new();
    walk(path, "", &mut out);
    out.sort();
    Some(out)
}
