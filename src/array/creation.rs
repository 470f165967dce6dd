//! Creating arrays: from ndarray or a [`ChunkSource`], constants, ranges, random.
//!
//! Constant, range and random arrays are `Map` nodes with no inputs whose program
//! *generates* each element from its global index. They cost no memory until a block
//! is needed, and fuse into their consumers: `Array::random_uniform(..).sin().sum()`
//! never materialises the random block. Random values depend only on the seed and the
//! element's flat index, so they are identical whatever the chunking or thread count.

use super::Array;
use crate::chunk::Chunk;
use crate::dtype::{DType, Element, Scalar};
use crate::error::{Error, Result};
use crate::expr::ExprKind;
use crate::grid::{ChunkGrid, ChunkSpec};
use crate::io::ChunkSource;
use crate::io::memory::MemorySource;
use crate::ops::{Generator, InstOp, Program};
use std::sync::Arc;

impl Array {
    /// A chunked array over an in-memory ndarray (copied once, shared by all blocks).
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit the shape.
    pub fn from_ndarray<T: Element, D: ndarray::Dimension>(
        a: ndarray::Array<T, D>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let chunk = Chunk::from_ndarray(a.into_dyn());
        let grid = ChunkGrid::new(chunk.shape(), &chunks.into(), T::DTYPE.size())?;
        let src = MemorySource::split(chunk, grid.clone())?;
        Ok(Array::from_expr(ExprKind::Source(Arc::new(src)), grid, T::DTYPE))
    }

    /// An array over the values of `chunk` (any dtype), split into blocks by `chunks`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit the shape.
    pub fn from_chunk(chunk: Chunk, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let dtype = chunk.dtype();
        let grid = ChunkGrid::new(chunk.shape(), &chunks.into(), dtype.size())?;
        let src = MemorySource::split(chunk, grid.clone())?;
        Ok(Array::from_expr(ExprKind::Source(Arc::new(src)), grid, dtype))
    }

    /// A lazy array over a Zarr (v2 or v3) array directory, one block per stored chunk
    /// (per shard for sharded arrays), so no stored chunk is decoded twice.
    ///
    /// # Errors
    /// As [`ZarrSource::open`](crate::io::zarr::ZarrSource::open): a missing path, a
    /// directory with no Zarr array, invalid metadata, an unsupported dtype.
    #[cfg(feature = "zarr")]
    pub fn from_zarr(path: impl AsRef<std::path::Path>) -> Result<Array> {
        let src = crate::io::zarr::ZarrSource::open(path)?;
        let chunks = ChunkSpec::from(src.natural_chunks().unwrap_or_default());
        Array::from_source(Arc::new(src), chunks)
    }

    /// A lazy array over an HDF5 or NetCDF-4 dataset (`dataset` is `/group/var`), one
    /// block per stored chunk; contiguous datasets get blocks of whole trailing axes of
    /// about 128 MiB ([`crate::grid::contiguous_chunks`]), compact ones automatic blocks
    /// (use [`Array::from_hdf5_chunked`] to choose).
    ///
    /// # Errors
    /// As [`Hdf5Source::open`](crate::io::hdf5::Hdf5Source::open): a missing file, a
    /// path that names nothing or a group, a non-numeric datatype.
    #[cfg(feature = "hdf5")]
    pub fn from_hdf5(file: impl AsRef<std::path::Path>, dataset: &str) -> Result<Array> {
        let src = crate::io::hdf5::Hdf5Source::open(file, dataset)?;
        let chunks = src.natural_chunks().map_or_else(ChunkSpec::auto, ChunkSpec::from);
        Array::from_source(Arc::new(src), chunks)
    }

    /// [`Array::from_zarr`] decoded as `xarray.open_zarr` decodes it: `_FillValue` and
    /// `missing_value` → NaN, `scale_factor`/`add_offset` applied (see
    /// [`crate::io::cf`]); the stored array as it is when it has no CF attributes.
    ///
    /// # Errors
    /// As [`Array::from_zarr`]; a CF attribute that is not a number.
    #[cfg(feature = "zarr")]
    pub fn from_zarr_cf(path: impl AsRef<std::path::Path>) -> Result<Array> {
        let a = Array::from_zarr(path.as_ref())?;
        let attrs = crate::io::zarr::cf_attrs(path.as_ref(), a.dtype())?;
        a.decoded(&attrs)
    }

    /// [`Array::from_hdf5`] decoded as `xarray.open_dataset` decodes a NetCDF-4
    /// variable (see [`Array::from_zarr_cf`]).
    ///
    /// # Errors
    /// As [`Array::from_hdf5`]; a CF attribute that is not a number.
    #[cfg(feature = "hdf5")]
    pub fn from_hdf5_cf(file: impl AsRef<std::path::Path>, dataset: &str) -> Result<Array> {
        let a = Array::from_hdf5(file.as_ref(), dataset)?;
        let attrs = crate::io::hdf5::cf_attrs(file.as_ref(), dataset)?;
        a.decoded(&attrs)
    }

    /// The array decoded by `attrs`, or itself when they decode nothing.
    fn decoded(self, attrs: &crate::io::cf::CfAttrs) -> Result<Array> {
        match crate::io::cf::CfDecoding::new(self.dtype(), attrs)? {
            Some(cf) => self.decode_cf(&cf),
            None => Ok(self),
        }
    }

    /// [`Array::from_hdf5`] with the block shape chosen by the caller (best a multiple
    /// of the stored chunks, so no stored chunk is decoded twice).
    ///
    /// # Errors
    /// As [`Array::from_hdf5`], and [`Error::InvalidChunks`] when `chunks` does not fit.
    #[cfg(feature = "hdf5")]
    pub fn from_hdf5_chunked(
        file: impl AsRef<std::path::Path>,
        dataset: &str,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let src = crate::io::hdf5::Hdf5Source::open(file, dataset)?;
        Array::from_source(Arc::new(src), chunks)
    }

    /// A lazy array over variable `var` of a netCDF-3 file (classic, 64-bit offset or
    /// CDF-5; read by chunkwise itself, in every feature set). netCDF-3 has no chunks:
    /// blocks are whole records, as many as fit in about 128 MiB
    /// ([`crate::grid::contiguous_chunks`]).
    ///
    /// # Errors
    /// As [`Netcdf3Source::open`](crate::io::netcdf3::Netcdf3Source::open): a missing
    /// file, no such variable, text, a truncated or corrupt file.
    pub fn from_netcdf3(file: impl AsRef<std::path::Path>, var: &str) -> Result<Array> {
        let src = crate::io::netcdf3::Netcdf3Source::open(file, var)?;
        let chunks = src.natural_chunks().map_or_else(ChunkSpec::auto, ChunkSpec::from);
        Array::from_source(Arc::new(src), chunks)
    }

    /// [`Array::from_netcdf3`] decoded as `xarray.open_dataset` decodes the variable
    /// (see [`Array::from_zarr_cf`]).
    ///
    /// # Errors
    /// As [`Array::from_netcdf3`]; a CF attribute that is not a number.
    pub fn from_netcdf3_cf(file: impl AsRef<std::path::Path>, var: &str) -> Result<Array> {
        let a = Array::from_netcdf3(file.as_ref(), var)?;
        let attrs = crate::io::netcdf3::cf_attrs(file.as_ref(), var)?;
        a.decoded(&attrs)
    }

    /// A lazy array whose blocks are read from `source`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit the shape.
    pub fn from_source(source: Arc<dyn ChunkSource>, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let grid = ChunkGrid::new(source.shape(), &chunks.into(), source.dtype().size()).map_err(|e| match e {
            Error::InvalidChunks(m) => Error::InvalidChunks(format!("{}: {m}", source.name())),
            e => e,
        })?;
        let dtype = source.dtype();
        Ok(Array::from_expr(ExprKind::Source(source), grid, dtype))
    }

    fn generated(shape: &[usize], dtype: DType, op: InstOp, chunks: ChunkSpec) -> Result<Array> {
        let grid = ChunkGrid::new(shape, &chunks, dtype.size())?;
        let mut p = Program::new(0);
        p.push(op, dtype);
        Ok(Array::from_expr(
            ExprKind::Map {
                program: Arc::new(p),
                inputs: Vec::new(),
            },
            grid,
            dtype,
        ))
    }

    /// An array filled with `value` cast to `dtype`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit the shape.
    pub fn full(
        shape: &[usize],
        value: impl Into<Scalar>,
        dtype: DType,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        Array::generated(shape, dtype, InstOp::Const(value.into()), chunks.into())
    }

    /// Zeros.
    ///
    /// # Errors
    /// As [`Array::full`].
    pub fn zeros(shape: &[usize], dtype: DType, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        Array::full(shape, 0i64, dtype, chunks)
    }

    /// Ones.
    ///
    /// # Errors
    /// As [`Array::full`].
    pub fn ones(shape: &[usize], dtype: DType, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        Array::full(shape, 1i64, dtype, chunks)
    }

    /// An array of the same shape, chunks and dtype filled with `value`
    /// (`zeros_like`, `ones_like`, `full_like`; `empty_like` is `zeros_like` here: lazily
    /// generated zeros cost nothing until computed).
    #[must_use = "arrays are lazy"]
    pub fn full_like(&self, value: impl Into<Scalar>) -> Array {
        let spec = ChunkSpec::explicit(self.chunks().to_vec());
        Array::full(&self.shape(), value, self.dtype(), spec).expect("chunks of an existing array fit its shape")
    }

    /// Zeros like `self`.
    pub fn zeros_like(&self) -> Array {
        self.full_like(0i64)
    }

    /// Ones like `self`.
    pub fn ones_like(&self) -> Array {
        self.full_like(1i64)
    }

    /// `[start, stop)` by `step`, as NumPy's `arange`: int64 when all three are integers,
    /// float64 otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero step.
    pub fn arange(
        start: impl Into<Scalar>,
        stop: impl Into<Scalar>,
        step: impl Into<Scalar>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let (start, stop, step) = (start.into(), stop.into(), step.into());
        let ints = [start, stop, step].iter().all(|s| matches!(s, Scalar::Int(_)));
        let (n, dtype) = if ints {
            let (Scalar::Int(a), Scalar::Int(b), Scalar::Int(s)) = (start, stop, step) else {
                unreachable!()
            };
            if s == 0 {
                return Err(Error::InvalidArgument("arange step must not be zero".into()));
            }
            let n = if s > 0 {
                (b - a + s - 1).div_euclid(s)
            } else {
                (a - b - s - 1).div_euclid(-s)
            };
            (n.max(0) as usize, DType::I64)
        } else {
            let s = step.as_f64();
            if s == 0.0 || !s.is_finite() {
                return Err(Error::InvalidArgument("arange step must be finite and non-zero".into()));
            }
            (
                ((stop.as_f64() - start.as_f64()) / s).ceil().max(0.0) as usize,
                DType::F64,
            )
        };
        Array::generated(
            &[n],
            dtype,
            InstOp::Gen(Generator::Arange { start, step }),
            chunks.into(),
        )
    }

    /// `num` evenly spaced float64 values from `start` to `stop` inclusive (`np.linspace`).
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit.
    pub fn linspace(start: f64, stop: f64, num: usize, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let step = if num > 1 {
            (stop - start) / (num - 1) as f64
        } else {
            0.0
        };
        let last = if num > 0 { num as u64 - 1 } else { 0 };
        let stop_v = if num == 1 { start } else { stop };
        Array::generated(
            &[num],
            DType::F64,
            InstOp::Gen(Generator::Linspace {
                start,
                step,
                last,
                stop: stop_v,
            }),
            chunks.into(),
        )
    }

    /// Uniform random float64 values in `[low, high)`, a pure function of `seed` and the
    /// element's index.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit.
    pub fn random_uniform(
        shape: &[usize],
        low: f64,
        high: f64,
        seed: u64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        Array::generated(
            shape,
            DType::F64,
            InstOp::Gen(Generator::Uniform { seed, low, high }),
            chunks.into(),
        )
    }

    /// Normal random float64 values, a pure function of `seed` and the element's index.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when `chunks` does not fit.
    pub fn random_normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        seed: u64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        Array::generated(
            shape,
            DType::F64,
            InstOp::Gen(Generator::Normal { seed, mean, std }),
            chunks.into(),
        )
    }
}
