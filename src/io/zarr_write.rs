//! Writing Zarr v3 (and v2) arrays through `zarrs` (the `to_zarr` sink).
//!
//! The array is created under a hidden temporary directory next to the target and
//! renamed into place by [`ChunkSink::commit`], so a reader never sees a half-written
//! store and a failed run leaves nothing. Each write covers whole chunks (or shards)
//! and is encoded on the worker that produced the block; `zarrs` skips chunks that are
//! entirely the fill value, as zarr-python does.
//!
//! v3 by default. For readers that only know v2 (older zarr-python, netCDF-C's NCZarr,
//! many tools in the field), `ZarrVersion::V2` writes `.zarray` metadata — C order,
//! little-endian, `.` chunk keys, the same compressors (blosc-lz4 with byte shuffle, zstd,
//! gzip or none) — and zarrs encodes the chunks through it; sharding has no v2 form.
//!
//! [`write_group_metadata`] makes a directory of written arrays a Zarr group, with their
//! metadata consolidated into it, so they open in xarray as one dataset
//! (`Array::to_zarr_group`).

use super::ChunkSink;
use super::staging;
use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zarrs::array::codec::{BloscCodec, BloscCompressionLevel, BloscCompressor, BloscShuffleMode, GzipCodec, ZstdCodec};
use zarrs::array::{Array as ZArray, ArrayBuilder, ArraySubset, CodecOptions};
use zarrs::filesystem::FilesystemStore;

/// Writes the metadata of a Zarr group into the existing directory `dir`, whose
/// arrays `members` are already written: v3 `zarr.json` (`node_type: group`, with
/// `attributes`), or v2 `.zgroup` and, when there are attributes, `.zattrs` — what
/// zarr-python writes, so xarray's `open_zarr` opens the group as a dataset of its
/// arrays. The members' metadata is also consolidated into the group's, as xarray's
/// `to_zarr` does by default (v3 inline under `consolidated_metadata`, v2 in
/// `.zmetadata`): `open_zarr` reads one document instead of one per array, and does not
/// warn that it had to fall back to reading them one by one.
///
/// # Errors
/// [`Error::Io`] when a file cannot be read or written; [`Error::Format`] when a
/// member's metadata is not JSON.
pub fn write_group_metadata(
    dir: &Path,
    version: ZarrVersion,
    attributes: &serde_json::Map<String, serde_json::Value>,
    members: &[&str],
) -> Result<()> {
    use serde_json::{Map, Value, json};
    let write = |name: &str, v: Value| {
        let path = dir.join(name);
        std::fs::write(&path, v.to_string()).map_err(|source| Error::Io { path, source })
    };
    // A member's metadata document, when it has that file.
    let read = |rel: String| -> Result<Option<Value>> {
        let path = dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Format(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    };
    let mut meta = Map::new();
    match version {
        ZarrVersion::V3 => {
            for m in members {
                if let Some(v) = read(format!("{m}/zarr.json"))? {
                    meta.insert((*m).to_string(), v);
                }
            }
            write(
                "zarr.json",
                json!({
                    "zarr_format": 3,
                    "node_type": "group",
                    "attributes": attributes,
                    "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": meta},
                }),
            )
        }
        ZarrVersion::V2 => {
            write(".zgroup", json!({"zarr_format": 2}))?;
            meta.insert(".zgroup".into(), json!({"zarr_format": 2}));
            if !attributes.is_empty() {
                write(".zattrs", Value::Object(attributes.clone()))?;
                meta.insert(".zattrs".into(), Value::Object(attributes.clone()));
            }
            for m in members {
                for file in [".zarray", ".zattrs"] {
                    if let Some(v) = read(format!("{m}/{file}"))? {
                        meta.insert(format!("{m}/{file}"), v);
                    }
                }
            }
            write(".zmetadata", json!({"metadata": meta, "zarr_consolidated_format": 1}))
        }
    }
}

/// The compressor of a written Zarr array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZarrCodec {
    /// No compression.
    None,
    /// zstd at this level (1 is fast and what most climate stores use).
    Zstd(i32),
    /// gzip at this level (1–9).
    Gzip(u32),
    /// blosc with lz4 at this level (0–9) and byte shuffle.
    BloscLz4(u8),
}

/// Which Zarr format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZarrVersion {
    /// Zarr v2 (`.zarray`).
    V2,
    /// Zarr v3 (`zarr.json`).
    #[default]
    V3,
}

/// Options of [`to_zarr`](crate::Array::to_zarr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZarrWriteOptions {
    /// Stored chunk shape; `None` uses the array's first block shape (its blocks become
    /// the stored chunks, so nothing is re-chunked).
    pub chunks: Option<Vec<usize>>,
    /// With `Some(inner)`, chunks are shards of `inner`-shaped chunks (`sharding_indexed`).
    pub shard_inner: Option<Vec<usize>>,
    /// Compressor; zstd level 1 by default.
    pub codec: ZarrCodec,
    /// Replace an existing store at the path.
    pub overwrite: bool,
    /// The format (v3 by default).
    pub version: ZarrVersion,
    /// A name per axis (v3 `dimension_names`, v2 xarray's `_ARRAY_DIMENSIONS`), so
    /// that xarray opens the array with its dimensions.
    pub dimension_names: Option<Vec<String>>,
    /// User attributes (`units`, CF's `cell_methods`, …).
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl Default for ZarrWriteOptions {
    fn default() -> Self {
        ZarrWriteOptions {
            chunks: None,
            shard_inner: None,
            codec: ZarrCodec::Zstd(1),
            overwrite: false,
            version: ZarrVersion::V3,
            dimension_names: None,
            attributes: serde_json::Map::new(),
        }
    }
}

/// NumPy's type string of a little-endian dtype (`<f4`, `|b1`).
fn v2_dtype(dtype: DType) -> String {
    let kind = match dtype {
        DType::Bool => 'b',
        DType::F32 | DType::F64 => 'f',
        DType::I8 | DType::I16 | DType::I32 | DType::I64 => 'i',
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => 'u',
    };
    let order = if dtype.size() == 1 { '|' } else { '<' };
    format!("{order}{kind}{}", dtype.size())
}

/// The `.zarray` document of a v2 array.
fn v2_metadata(shape: &[usize], chunks: &[usize], dtype: DType, codec: ZarrCodec) -> String {
    let compressor = match codec {
        ZarrCodec::None => serde_json::Value::Null,
        ZarrCodec::Zstd(l) => serde_json::json!({"id": "zstd", "level": l}),
        ZarrCodec::Gzip(l) => serde_json::json!({"id": "gzip", "level": l}),
        ZarrCodec::BloscLz4(l) => {
            serde_json::json!({"id": "blosc", "cname": "lz4", "clevel": l, "shuffle": 1, "blocksize": 0})
        }
    };
    let fill = if dtype == DType::Bool {
        serde_json::json!(false)
    } else {
        serde_json::json!(0)
    };
    serde_json::json!({
        "zarr_format": 2,
        "shape": shape,
        "chunks": chunks,
        "dtype": v2_dtype(dtype),
        "compressor": compressor,
        "fill_value": fill,
        "order": "C",
        "filters": null,
        "dimension_separator": ".",
    })
    .to_string()
}

/// A Zarr v3 array being written.
pub struct ZarrSink {
    target: PathBuf,
    tmp: PathBuf,
    array: ZArray<FilesystemStore>,
    chunks: Vec<usize>,
    dtype: DType,
    overwrite: bool,
    done: Mutex<bool>,
}

impl std::fmt::Debug for ZarrSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZarrSink({})", self.target.display())
    }
}

impl ZarrSink {
    /// Stages a new array of `shape` and `dtype` for `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory is missing or the target exists (without
    /// `overwrite`); [`Error::InvalidArgument`] for chunk shapes that do not fit.
    pub fn create(
        path: impl AsRef<Path>,
        shape: &[usize],
        dtype: DType,
        chunks: &[usize],
        opts: &ZarrWriteOptions,
    ) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        staging::check_target(&target, opts.overwrite)?;
        let shown = target.display().to_string();
        if chunks.len() != shape.len() || chunks.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "{shown}: chunk shape {chunks:?} does not fit an array of shape {shape:?}"
            )));
        }
        if let Some(inner) = &opts.shard_inner
            && (inner.len() != chunks.len() || inner.iter().zip(chunks).any(|(&i, &c)| i == 0 || c % i != 0))
        {
            return Err(Error::InvalidArgument(format!(
                "{shown}: inner chunks {inner:?} must divide the shard shape {chunks:?}"
            )));
        }
        let tmp = staging::temp_sibling(&target);
        std::fs::create_dir(&tmp).map_err(|e| Error::Io {
            path: tmp.clone(),
            source: e,
        })?;
        if let Some(d) = &opts.dimension_names
            && d.len() != shape.len()
        {
            staging::discard(&tmp);
            return Err(Error::InvalidArgument(format!(
                "{shown}: {} dimension names for an array of {} axes",
                d.len(),
                shape.len()
            )));
        }
        if opts.version == ZarrVersion::V2 && opts.shard_inner.is_some() {
            staging::discard(&tmp);
            return Err(Error::InvalidArgument(format!(
                "{shown}: Zarr v2 has no sharding (write v3, or leave shard_inner out)"
            )));
        }
        let built = (|| -> std::result::Result<ZArray<FilesystemStore>, String> {
            let store = Arc::new(FilesystemStore::new(&tmp).map_err(|e| e.to_string())?);
            if opts.version == ZarrVersion::V2 {
                std::fs::write(tmp.join(".zarray"), v2_metadata(shape, chunks, dtype, opts.codec))
                    .map_err(|e| e.to_string())?;
                let mut attrs = opts.attributes.clone();
                if let Some(d) = &opts.dimension_names {
                    attrs.insert("_ARRAY_DIMENSIONS".into(), serde_json::json!(d));
                }
                if !attrs.is_empty() {
                    std::fs::write(tmp.join(".zattrs"), serde_json::Value::Object(attrs).to_string())
                        .map_err(|e| e.to_string())?;
                }
                return ZArray::open(store, "/").map_err(|e| e.to_string());
            }
            let u64s = |v: &[usize]| v.iter().map(|&n| n as u64).collect::<Vec<u64>>();
            let fill: zarrs::array::builder::ArrayBuilderFillValue = match dtype {
                DType::Bool => zarrs::array::FillValue::from(false).into(),
                DType::F32 => 0f32.into(),
                DType::F64 => 0f64.into(),
                DType::I8 => 0i8.into(),
                DType::I16 => 0i16.into(),
                DType::I32 => 0i32.into(),
                DType::I64 => 0i64.into(),
                DType::U8 => 0u8.into(),
                DType::U16 => 0u16.into(),
                DType::U32 => 0u32.into(),
                DType::U64 => 0u64.into(),
            };
            let mut b = ArrayBuilder::new(u64s(shape), u64s(chunks), dtype.name(), fill);
            let codec: Option<Arc<dyn zarrs::array::codec::api::BytesToBytesCodecTraits>> = match opts.codec {
                ZarrCodec::None => None,
                ZarrCodec::Zstd(l) => Some(Arc::new(ZstdCodec::new(l, false))),
                ZarrCodec::Gzip(l) => Some(Arc::new(GzipCodec::new(l).map_err(|e| e.to_string())?)),
                ZarrCodec::BloscLz4(l) => Some(Arc::new(
                    BloscCodec::new(
                        BloscCompressor::LZ4,
                        BloscCompressionLevel::try_from(l).map_err(|e| format!("{e:?}"))?,
                        None,
                        BloscShuffleMode::Shuffle,
                        Some(dtype.size()),
                    )
                    .map_err(|e| e.to_string())?,
                )),
            };
            b.bytes_to_bytes_codecs(codec.into_iter().collect());
            if let Some(inner) = &opts.shard_inner {
                b.subchunk_shape(u64s(inner));
            }
            b.dimension_names(opts.dimension_names.clone());
            b.attributes(opts.attributes.clone());
            let a = b.build(store, "/").map_err(|e| e.to_string())?;
            // Without zarrs's `_zarrs` attribute (a JSON object naming the writer):
            // xarray copies attributes into a dataset, and netCDF cannot store an
            // object, so `xr.open_zarr(out).to_netcdf(…)` failed on it.
            let meta = zarrs::array::ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
            a.store_metadata_opt(&meta).map_err(|e| e.to_string())?;
            Ok(a)
        })();
        let array = match built {
            Ok(a) => a,
            Err(e) => {
                staging::discard(&tmp);
                return Err(Error::Format(format!("{shown}: creating the Zarr array: {e}")));
            }
        };
        Ok(ZarrSink {
            target,
            tmp,
            array,
            chunks: chunks.to_vec(),
            dtype,
            overwrite: opts.overwrite,
            done: Mutex::new(false),
        })
    }
}

impl ChunkSink for ZarrSink {
    fn name(&self) -> String {
        self.target.display().to_string()
    }
    fn chunks(&self) -> &[usize] {
        &self.chunks
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn write(&self, region: &[Range<usize>], block: &Chunk) -> Result<()> {
        if region.iter().any(|r| r.is_empty()) {
            return Ok(());
        }
        let ranges: Vec<Range<u64>> = region.iter().map(|r| r.start as u64..r.end as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        // One encode thread per call: blocks are already written in parallel.
        let opts = CodecOptions::default().with_concurrent_target(1);
        crate::dispatch_buffer!(block.data(), v, T => self.array.store_array_subset_opt(&subset, &v[..], &opts))
            .map_err(|e| Error::Format(format!("{}: writing elements {region:?}: {e}", self.target.display())))
    }
    fn commit(&self) -> Result<()> {
        let mut done = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*done {
            if !self.overwrite && self.target.exists() {
                staging::discard(&self.tmp);
                return Err(Error::Io {
                    path: self.target.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "appeared while writing"),
                });
            }
            staging::publish(&self.tmp, &self.target)?;
            *done = true;
        }
        Ok(())
    }
    fn abort(&self) {
        staging::discard(&self.tmp);
    }
}
