//! Several stored arrays read as one, laid end to end along the first axis: a
//! multi-file dataset (one netCDF file or Zarr store per year, as ERA5 and CMIP data
//! are delivered), the role of xarray's `open_mfdataset`.
//!
//! Concatenating at the source, rather than with [`Array::concatenate`] over one array
//! per file, keeps the array a storage read: its blocks are each part's own stored
//! chunks ([`ConcatSource::chunks`] lists them, so no block straddles two files), and a
//! reduction over it takes the same fused decode-and-reduce paths as over one file
//! ([`ChunkSource::stream`], reused buffers). Every read that falls in one part is that
//! part's read of the shifted box; a box across parts (a re-chunked read) is read piece
//! by piece and joined.
//!
//! From Rust (the CLI's `'era5_*.zarr/t2m'` does this, plus per-file CF decoding and the
//! checks that the files are one dataset):
//!
//! ```no_run
//! # #[cfg(feature = "zarr")]
//! # fn main() -> chunkwise::Result<()> {
//! use chunkwise::io::{ChunkSource, concat::ConcatSource, zarr::ZarrSource};
//! use chunkwise::{Array, ChunkSpec};
//! use std::sync::Arc;
//! let parts = ["era5_2001.zarr/t2m", "era5_2002.zarr/t2m"]
//!     .iter()
//!     .map(|p| Ok(Arc::new(ZarrSource::open(p)?) as Arc<dyn ChunkSource>))
//!     .collect::<chunkwise::Result<Vec<_>>>()?;
//! let joined = ConcatSource::new(parts)?;
//! let blocks = ChunkSpec::explicit(joined.chunks());
//! let t2m = Array::from_source(Arc::new(joined), blocks)?;
//! let clim = t2m.nanmean([0])?;
//! # let _ = clim;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "zarr"))]
//! # fn main() {}
//! ```
//!
//! [`Array::concatenate`]: crate::Array::concatenate

use super::ChunkSource;
use crate::chunk::Chunk;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use crate::grid::{ChunkGrid, ChunkSpec};
use std::ops::Range;
use std::sync::Arc;

/// Arrays of one dtype and one shape off the first axis, read as their concatenation
/// along it.
#[derive(Debug)]
pub struct ConcatSource {
    parts: Vec<Arc<dyn ChunkSource>>,
    /// Where each part starts along axis 0 (one more entry: the total length).
    starts: Vec<usize>,
    shape: Vec<usize>,
    dtype: DType,
}

impl ConcatSource {
    /// The parts, in order.
    ///
    /// # Errors
    /// No parts, a 0-d part, or parts whose dtypes or shapes off the first axis differ
    /// (naming the first part that differs from the first).
    pub fn new(parts: Vec<Arc<dyn ChunkSource>>) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::InvalidArgument("nothing to concatenate".into()))?;
        let (dtype, s0) = (first.dtype(), first.shape().to_vec());
        if s0.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: a 0-d array cannot be concatenated along its first axis",
                first.name()
            )));
        }
        let mut starts = vec![0];
        for p in &parts {
            let s = p.shape();
            if p.dtype() != dtype {
                return Err(Error::InvalidArgument(format!(
                    "{} is {}, but {} is {dtype}: the parts must have one data type",
                    p.name(),
                    p.dtype(),
                    first.name()
                )));
            }
            if s.len() != s0.len() || s[1..] != s0[1..] {
                return Err(Error::InvalidArgument(format!(
                    "{} has shape {s:?}, {} has {s0:?}: the parts must agree on every axis but the first",
                    p.name(),
                    first.name()
                )));
            }
            starts.push(starts[starts.len() - 1] + s[0]);
        }
        let mut shape = s0;
        shape[0] = starts[parts.len()];
        Ok(ConcatSource {
            parts,
            starts,
            shape,
            dtype,
        })
    }

    /// The parts.
    #[must_use]
    pub fn parts(&self) -> &[Arc<dyn ChunkSource>] {
        &self.parts
    }

    /// Block sizes per axis that follow each part's stored chunks: along the first axis
    /// every part's own chunking, one after the other (a block never spans two parts);
    /// along the others the first part's. A part without stored chunks (contiguous
    /// HDF5) gets the automatic blocks reading it alone would.
    #[must_use]
    pub fn chunks(&self) -> Vec<Vec<usize>> {
        let grid = |p: &Arc<dyn ChunkSource>| {
            let spec = p.natural_chunks().map_or_else(ChunkSpec::auto, ChunkSpec::from);
            ChunkGrid::new(p.shape(), &spec, p.dtype().size())
                .or_else(|_| ChunkGrid::new(p.shape(), &ChunkSpec::auto(), p.dtype().size()))
                .ok()
        };
        let grids: Vec<Option<ChunkGrid>> = self.parts.iter().map(grid).collect();
        let along = |g: &Option<ChunkGrid>, axis: usize, n: usize| {
            g.as_ref().map_or_else(|| vec![n], |g| g.chunks(axis).to_vec())
        };
        let mut axis0: Vec<usize> = self
            .parts
            .iter()
            .zip(&grids)
            .filter(|(p, _)| p.shape()[0] > 0)
            .flat_map(|(p, g)| along(g, 0, p.shape()[0]))
            .collect();
        if axis0.is_empty() {
            axis0 = along(&grids[0], 0, 0);
        }
        let mut out = vec![axis0];
        for axis in 1..self.shape.len() {
            out.push(along(&grids[0], axis, self.shape[axis]));
        }
        out
    }

    /// The part that holds all of `r` (a range along axis 0) and `r` in its own
    /// coordinates, or `None` when `r` spans parts.
    fn locate(&self, r: &Range<usize>) -> Option<(usize, Range<usize>)> {
        let i = self.starts[1..].partition_point(|&end| end <= r.start);
        let i = i.min(self.parts.len() - 1);
        let (lo, hi) = (self.starts[i], self.starts[i + 1]);
        (r.start >= lo && r.end <= hi).then(|| (i, r.start - lo..r.end - lo))
    }

    fn shifted(region: &[Range<usize>], r0: Range<usize>) -> Vec<Range<usize>> {
        let mut v = region.to_vec();
        v[0] = r0;
        v
    }

    /// A box spanning several parts: each part's piece, appended (axis 0 is the
    /// outermost in C order, so the pieces are contiguous runs of the result).
    fn read_across(&self, region: &[Range<usize>]) -> Result<Chunk> {
        let r = &region[0];
        let mut data: Option<Buffer> = None;
        for (i, p) in self.parts.iter().enumerate() {
            let (lo, hi) = (self.starts[i].max(r.start), self.starts[i + 1].min(r.end));
            if lo >= hi {
                continue;
            }
            let piece = p
                .read(&Self::shifted(region, lo - self.starts[i]..hi - self.starts[i]))?
                .into_data();
            data = Some(match data {
                None => piece,
                Some(mut acc) => {
                    crate::dispatch_buffer!(&mut acc, v, T => {
                        let more = T::vec_of(piece)
                            .map_err(|_| Error::Format(format!("{}: a part changed its data type", p.name())))?;
                        v.extend_from_slice(&more);
                    });
                    acc
                }
            });
        }
        let shape: Vec<usize> = region.iter().map(ExactSizeIterator::len).collect();
        match data {
            Some(d) => Chunk::new(shape, d),
            None => self.parts[0]
                .read(&Self::shifted(region, 0..0))
                .and_then(|c| Chunk::new(shape, c.into_data())),
        }
    }
}

impl ChunkSource for ConcatSource {
    fn name(&self) -> String {
        match self.parts.as_slice() {
            [one] => one.name(),
            [first, .., last] => format!("{} … {} ({} parts)", first.name(), last.name(), self.parts.len()),
            [] => String::new(),
        }
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    /// The parts' common chunk shape when blocks of it never straddle two parts (every
    /// part but the last a whole number of chunks long); otherwise `None`, and the grid
    /// to use is [`ConcatSource::chunks`].
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        let c = self.parts[0].natural_chunks()?;
        let n = self.parts.len();
        let aligned = self.parts.iter().enumerate().all(|(i, p)| {
            p.natural_chunks().as_ref() == Some(&c) && (i + 1 == n || c[0] == 0 || p.shape()[0].is_multiple_of(c[0]))
        });
        aligned.then_some(c)
    }

    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        match self.locate(&region[0]) {
            Some((i, r0)) => self.parts[i].read(&Self::shifted(region, r0)),
            None => self.read_across(region),
        }
    }

    fn read_shared(&self, region: &[Range<usize>]) -> Result<Arc<Chunk>> {
        match self.locate(&region[0]) {
            Some((i, r0)) => self.parts[i].read_shared(&Self::shifted(region, r0)),
            None => Ok(Arc::new(self.read_across(region)?)),
        }
    }

    fn in_memory(&self) -> bool {
        self.parts.iter().all(|p| p.in_memory())
    }

    fn reads_shared(&self, region: &[Range<usize>]) -> bool {
        self.locate(&region[0])
            .is_some_and(|(i, r0)| self.parts[i].reads_shared(&Self::shifted(region, r0)))
    }

    fn read_into(&self, region: &[Range<usize>], spare: Option<Buffer>) -> Result<Chunk> {
        match self.locate(&region[0]) {
            Some((i, r0)) => self.parts[i].read_into(&Self::shifted(region, r0), spare),
            None => self.read_across(region),
        }
    }

    fn stream(&self, region: &[Range<usize>], rows: usize) -> Result<Option<Box<dyn super::BoxStream + '_>>> {
        match self.locate(&region[0]) {
            Some((i, r0)) => self.parts[i].stream(&Self::shifted(region, r0), rows),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Array;
    use crate::io::memory::MemorySource;
    use ndarray::{ArrayD, IxDyn};

    fn memory<T: crate::Element>(a: ArrayD<T>, chunks: &[usize]) -> Arc<dyn ChunkSource> {
        let grid = ChunkGrid::new(a.shape(), &ChunkSpec::from(chunks.to_vec()), T::DTYPE.size()).unwrap();
        Arc::new(MemorySource::split(Chunk::from_ndarray(a), grid).unwrap())
    }

    fn part(rows: usize, first: f64, chunk: usize) -> (Arc<dyn ChunkSource>, ArrayD<f64>) {
        let a = ArrayD::from_shape_fn(IxDyn(&[rows, 3, 4]), |i| first + (i[0] * 12 + i[1] * 4 + i[2]) as f64);
        (memory(a.clone(), &[chunk, 2, 4]), a)
    }

    #[test]
    fn parts_read_as_their_concatenation_on_any_grid() {
        let (a, ra) = part(5, 0.0, 2);
        let (b, rb) = part(0, 100.0, 2);
        let (c, rc) = part(4, 1000.0, 3);
        let want = ndarray::concatenate(ndarray::Axis(0), &[ra.view(), rb.view(), rc.view()]).unwrap();
        let s = Arc::new(ConcatSource::new(vec![a, b, c]).unwrap());
        assert_eq!(s.shape(), &[9, 3, 4]);
        // Each part's own chunks along axis 0: no block spans two parts.
        assert_eq!(s.chunks(), vec![vec![2, 2, 1, 3, 1], vec![2, 1], vec![4]]);
        assert_eq!(
            s.natural_chunks(),
            None,
            "5 rows are not a whole number of 2-row chunks"
        );
        for spec in [
            ChunkSpec::explicit(s.chunks()),
            ChunkSpec::from(vec![4, 3, 4]),
            ChunkSpec::from(vec![1, 1, 1]),
        ] {
            let got = Array::from_source(s.clone(), spec).unwrap().compute::<f64>().unwrap();
            assert_eq!(got, want);
        }
        // Reads across the boundary, and of nothing.
        let across = s.read(&[3..7, 1..3, 0..2]).unwrap().to_ndarray::<f64>().unwrap();
        assert_eq!(across, want.slice(ndarray::s![3..7, 1..3, 0..2]).into_dyn());
        assert_eq!(s.read(&[5..5, 0..3, 0..4]).unwrap().shape(), &[0, 3, 4]);
    }

    #[test]
    fn parts_must_agree_off_the_first_axis() {
        let (a, _) = part(2, 0.0, 1);
        let other = memory(ArrayD::<f64>::zeros(IxDyn(&[2, 3, 5])), &[1, 3, 5]);
        let e = ConcatSource::new(vec![a.clone(), other]).unwrap_err().to_string();
        assert!(e.contains("[2, 3, 5]") && e.contains("every axis but the first"), "{e}");
        let f32s = memory(ArrayD::<f32>::zeros(IxDyn(&[2, 3, 4])), &[1, 3, 4]);
        let e = ConcatSource::new(vec![a, f32s]).unwrap_err().to_string();
        assert!(e.contains("one data type"), "{e}");
        assert!(ConcatSource::new(Vec::new()).is_err());
    }

    #[test]
    fn aligned_parts_keep_their_chunk_shape() {
        let (a, _) = part(4, 0.0, 2);
        let (b, _) = part(3, 0.0, 2);
        let s = ConcatSource::new(vec![a, b]).unwrap();
        assert_eq!(s.natural_chunks(), Some(vec![2, 2, 4]));
        assert_eq!(s.chunks()[0], vec![2, 2, 2, 1]);
    }
}
