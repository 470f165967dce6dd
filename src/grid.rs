//! Chunk grid arithmetic: per-axis chunk sizes, block index ↔ element ranges.
//!
//! A [`ChunkGrid`] is dask's `chunks` tuple of tuples: for each axis, the sizes of the
//! blocks along it, all equal except possibly the last (ragged edge) — or any sizes at
//! all after slicing or concatenation. Invariants, checked at construction:
//! the sizes along an axis sum to the axis length; no block is empty unless the axis
//! is (a zero-length axis has exactly one block, of size 0, as in dask).
//!
//! Blocks are numbered in C order: the last axis varies fastest. A [`ChunkSpec`] says how
//! to chunk a shape: one size per axis, explicit sizes, the whole axis, or `auto` (a
//! target of bytes per chunk, default 128 MiB like dask's `array.chunk-size`).
//!
//! ```
//! use chunkwise::{ChunkGrid, ChunkSpec};
//! let g = ChunkGrid::new(&[10, 7], &ChunkSpec::from([4, 7]), 4).unwrap();
//! assert_eq!(g.chunks(0), &[4, 4, 2]);
//! assert_eq!(g.num_blocks(), 3);
//! assert_eq!(g.block_ranges(&[2, 0]), vec![8..10, 0..7]);
//! ```

use crate::error::{Error, Result};
use std::ops::Range;

/// Default target size of an automatically chosen chunk (dask's `array.chunk-size`).
pub const DEFAULT_CHUNK_BYTES: usize = 128 << 20;

/// How to chunk one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxisChunks {
    /// Blocks of this many elements (the last may be smaller).
    Size(usize),
    /// One block spanning the axis (dask's `-1`).
    Full,
    /// Chosen to meet the byte target together with the other auto axes.
    Auto,
    /// Exactly these sizes (must sum to the axis length).
    Sizes(Vec<usize>),
}

/// How to chunk a whole shape: one [`AxisChunks`] per axis and a byte target for `Auto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkSpec {
    /// Per-axis rule; a spec with fewer axes than the shape is an error.
    pub axes: Vec<AxisChunks>,
    /// Bytes per chunk aimed at by `Auto` axes.
    pub target_bytes: usize,
}

impl ChunkSpec {
    /// Every axis `Auto`, with the default 128 MiB target.
    #[must_use]
    pub fn auto() -> Self {
        ChunkSpec {
            axes: Vec::new(),
            target_bytes: DEFAULT_CHUNK_BYTES,
        }
    }

    /// Every axis `Auto`, with a byte target.
    #[must_use]
    pub fn auto_bytes(target_bytes: usize) -> Self {
        ChunkSpec {
            axes: Vec::new(),
            target_bytes,
        }
    }

    /// Explicit sizes per axis (dask's tuple of tuples).
    #[must_use]
    pub fn explicit(sizes: Vec<Vec<usize>>) -> Self {
        ChunkSpec {
            axes: sizes.into_iter().map(AxisChunks::Sizes).collect(),
            target_bytes: DEFAULT_CHUNK_BYTES,
        }
    }

    /// One rule per axis.
    #[must_use]
    pub fn per_axis(axes: Vec<AxisChunks>) -> Self {
        ChunkSpec {
            axes,
            target_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

impl From<&[usize]> for ChunkSpec {
    fn from(s: &[usize]) -> Self {
        ChunkSpec::per_axis(s.iter().map(|&n| AxisChunks::Size(n)).collect())
    }
}
impl From<Vec<usize>> for ChunkSpec {
    fn from(s: Vec<usize>) -> Self {
        ChunkSpec::from(s.as_slice())
    }
}
impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(s: [usize; N]) -> Self {
        ChunkSpec::from(&s[..])
    }
}

/// One piece of a block of one grid inside a block of another, along one axis:
/// `(other block, range in this block, range in the other block)`.
pub type Overlap = (usize, Range<usize>, Range<usize>);

/// Per-axis chunk sizes over a shape, with precomputed offsets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChunkGrid {
    chunks: Vec<Vec<usize>>,
    offsets: Vec<Vec<usize>>,
}

/// The block shape for data stored contiguously in C order (netCDF-3, contiguous HDF5):
/// whole trailing axes and as many indices of the first axis that is not whole as fit
/// in `target_bytes` (at least one), so each block is one contiguous run of the file,
/// or one per record — not dask's balanced blocks, which would cut every row into short
/// reads. A (365, 721, 1440) float32 field in 128 MiB gets (32, 721, 1440).
#[must_use]
pub fn contiguous_chunks(shape: &[usize], itemsize: usize, target_bytes: usize) -> Vec<usize> {
    let mut out = shape.to_vec();
    let mut inner = itemsize.max(1);
    for a in (0..shape.len()).rev() {
        let whole = inner.saturating_mul(shape[a].max(1));
        if whole > target_bytes {
            out[a] = (target_bytes / inner).clamp(1, shape[a].max(1));
            for o in &mut out[..a] {
                *o = 1;
            }
            break;
        }
        inner = whole;
    }
    out
}

/// Blocks of `size` along an axis of `len` (the last one smaller; one block of 0 for
/// an empty axis).
#[must_use]
pub fn regular_chunks(len: usize, size: usize) -> Vec<usize> {
    sizes_for(len, size)
}

fn sizes_for(len: usize, size: usize) -> Vec<usize> {
    if len == 0 {
        return vec![0];
    }
    let size = size.clamp(1, len);
    let mut v = vec![size; len / size];
    if !len.is_multiple_of(size) {
        v.push(len % size);
    }
    v
}

/// The most blocks one grid may have: planning a graph costs ~94 bytes a task, so a
/// billion blocks already needs ~100 GB; more comes from garbled metadata or chunks
/// chosen far too small, and is refused by [`ChunkGrid::new`].
pub const MAX_BLOCKS: u64 = 1 << 30;

impl ChunkGrid {
    /// Chunks `shape` (elements of `itemsize` bytes) by `spec`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when the spec has the wrong number of axes, a size of 0
    /// for a non-empty axis, explicit sizes that do not sum to the axis length, or more
    /// than [`MAX_BLOCKS`] blocks.
    pub fn new(shape: &[usize], spec: &ChunkSpec, itemsize: usize) -> Result<Self> {
        let auto_all = spec.axes.is_empty();
        if !auto_all && spec.axes.len() != shape.len() {
            return Err(Error::InvalidChunks(format!(
                "{} chunk sizes given for a {}-dimensional shape {shape:?}",
                spec.axes.len(),
                shape.len()
            )));
        }
        let rule = |i: usize| if auto_all { &AxisChunks::Auto } else { &spec.axes[i] };
        // Counted before any list of sizes is made: a garbled shape in a file's metadata
        // (10^11 rows in blocks of 5) is an error, not an allocation that aborts.
        let mut blocks: u128 = 1;
        let mut count = |i: usize, len: usize, size: usize| {
            let n = if len == 0 { 1 } else { len.div_ceil(size.clamp(1, len)) };
            blocks = blocks.saturating_mul(n as u128);
            if blocks > u128::from(MAX_BLOCKS) {
                return Err(Error::InvalidChunks(format!(
                    "shape {shape:?} makes more than {MAX_BLOCKS} blocks (axis {i}: {n} blocks of {size}); use larger chunks"
                )));
            }
            Ok(())
        };
        let mut chunks: Vec<Option<Vec<usize>>> = vec![None; shape.len()];
        for (i, &len) in shape.iter().enumerate() {
            chunks[i] = match rule(i) {
                AxisChunks::Size(0) if len > 0 => {
                    return Err(Error::InvalidChunks(format!(
                        "chunk size 0 on axis {i} of length {len}"
                    )));
                }
                AxisChunks::Size(s) => {
                    count(i, len, *s)?;
                    Some(sizes_for(len, *s))
                }
                AxisChunks::Full => Some(sizes_for(len, len)),
                AxisChunks::Sizes(v) => {
                    count(i, v.len(), 1)?;
                    Some(v.clone())
                }
                AxisChunks::Auto => None,
            };
        }
        // Auto axes share what the fixed axes leave of the byte budget.
        let auto_axes: Vec<usize> = (0..shape.len()).filter(|&i| chunks[i].is_none()).collect();
        if !auto_axes.is_empty() {
            let fixed: f64 = chunks
                .iter()
                .flatten()
                .map(|c| c.iter().copied().max().unwrap_or(1).max(1) as f64)
                .product();
            let mut budget = (spec.target_bytes.max(1) as f64 / itemsize.max(1) as f64 / fixed).max(1.0);
            let mut open: Vec<usize> = auto_axes.clone();
            let mut size = vec![0usize; shape.len()];
            // Axes shorter than their fair share take their whole length; the rest split.
            loop {
                let share = budget.powf(1.0 / open.len().max(1) as f64);
                let (small, big): (Vec<usize>, Vec<usize>) =
                    open.iter().partition(|&&i| (shape[i].max(1) as f64) <= share);
                if small.is_empty() {
                    for &i in &big {
                        size[i] = (share.floor() as usize).max(1);
                    }
                    break;
                }
                for &i in &small {
                    size[i] = shape[i].max(1);
                    budget /= shape[i].max(1) as f64;
                }
                budget = budget.max(1.0);
                open = big;
                if open.is_empty() {
                    break;
                }
            }
            for &i in &auto_axes {
                let len = shape[i];
                if len == 0 {
                    chunks[i] = Some(vec![0]);
                    continue;
                }
                // Even out: as many blocks as needed, then equal sizes.
                let n = len.div_ceil(size[i].max(1));
                count(i, len, len.div_ceil(n))?;
                chunks[i] = Some(sizes_for(len, len.div_ceil(n)));
            }
        }
        let chunks: Vec<Vec<usize>> = chunks.into_iter().map(|c| c.unwrap_or_default()).collect();
        Self::from_chunks(shape, chunks)
    }

    /// A grid from explicit sizes, checked against `shape`.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] when sizes do not sum to the axis length or contain an
    /// empty block on a non-empty axis.
    pub fn from_chunks(shape: &[usize], chunks: Vec<Vec<usize>>) -> Result<Self> {
        if chunks.len() != shape.len() {
            return Err(Error::InvalidChunks(format!(
                "{} axes of chunks for shape {shape:?}",
                chunks.len()
            )));
        }
        for (i, (c, &len)) in chunks.iter().zip(shape).enumerate() {
            let sum: usize = c.iter().sum();
            if sum != len {
                return Err(Error::InvalidChunks(format!(
                    "chunks {c:?} on axis {i} sum to {sum}, not the axis length {len}"
                )));
            }
            if c.is_empty() || (len > 0 && c.contains(&0)) {
                return Err(Error::InvalidChunks(format!(
                    "chunks {c:?} on axis {i}: empty blocks are only allowed on a zero-length axis (as one block of 0)"
                )));
            }
            if len == 0 && c.len() != 1 {
                return Err(Error::InvalidChunks(format!(
                    "a zero-length axis ({i}) has exactly one block of size 0, not {c:?}"
                )));
            }
        }
        Ok(Self::from_chunks_unchecked(chunks))
    }

    fn from_chunks_unchecked(chunks: Vec<Vec<usize>>) -> Self {
        let offsets = chunks
            .iter()
            .map(|c| {
                let mut o = Vec::with_capacity(c.len() + 1);
                let mut acc = 0;
                o.push(0);
                for &s in c {
                    acc += s;
                    o.push(acc);
                }
                o
            })
            .collect();
        ChunkGrid { chunks, offsets }
    }

    /// A grid with one block covering `shape`.
    #[must_use]
    pub fn single(shape: &[usize]) -> Self {
        Self::from_chunks_unchecked(shape.iter().map(|&n| vec![n]).collect())
    }

    /// Number of axes.
    #[must_use]
    pub fn ndim(&self) -> usize {
        self.chunks.len()
    }

    /// The array shape.
    #[must_use]
    pub fn shape(&self) -> Vec<usize> {
        self.offsets.iter().map(|o| *o.last().unwrap_or(&0)).collect()
    }

    /// Length of one axis.
    #[must_use]
    pub fn axis_len(&self, axis: usize) -> usize {
        *self.offsets[axis].last().unwrap_or(&0)
    }

    /// Total number of elements.
    #[must_use]
    pub fn size(&self) -> usize {
        self.shape().iter().product()
    }

    /// Block sizes along `axis`.
    #[must_use]
    pub fn chunks(&self, axis: usize) -> &[usize] {
        &self.chunks[axis]
    }

    /// All block sizes (dask's `.chunks`).
    #[must_use]
    pub fn all_chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// Number of blocks along each axis.
    #[must_use]
    pub fn nblocks(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    /// Total number of blocks.
    #[must_use]
    pub fn num_blocks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// Element range of block `i` along `axis`.
    #[must_use]
    pub fn range(&self, axis: usize, i: usize) -> Range<usize> {
        self.offsets[axis][i]..self.offsets[axis][i + 1]
    }

    /// Elements decoded per element of the array when every block of this grid is read
    /// from a store whose chunks have shape `stored` (a block decodes the whole stored
    /// chunks it touches): 1 when blocks are unions of stored chunks, the number of
    /// blocks sharing each stored chunk when they cut it.
    #[must_use]
    pub fn decode_factor(&self, stored: &[usize]) -> f64 {
        let mut factor = 1.0;
        for (a, &c) in stored.iter().enumerate().take(self.ndim()) {
            let n = self.axis_len(a);
            if n == 0 || c == 0 {
                return 1.0;
            }
            let decoded: usize = (0..self.chunks[a].len())
                .map(|i| {
                    let r = self.range(a, i);
                    (r.end.div_ceil(c) * c).min(n) - r.start / c * c
                })
                .sum();
            factor *= decoded as f64 / n as f64;
        }
        factor
    }

    /// Element ranges of a block, one per axis.
    #[must_use]
    pub fn block_ranges(&self, idx: &[usize]) -> Vec<Range<usize>> {
        idx.iter().enumerate().map(|(a, &i)| self.range(a, i)).collect()
    }

    /// Shape of a block.
    #[must_use]
    pub fn block_shape(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter().enumerate().map(|(a, &i)| self.chunks[a][i]).collect()
    }

    /// First element of a block.
    #[must_use]
    pub fn block_offset(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter().enumerate().map(|(a, &i)| self.offsets[a][i]).collect()
    }

    /// C-order block number of a block index.
    #[must_use]
    pub fn linear(&self, idx: &[usize]) -> usize {
        idx.iter().zip(&self.chunks).fold(0, |acc, (&i, c)| acc * c.len() + i)
    }

    /// Whether block `b` (C order) has shape `shape`, without allocating (graph rewrites
    /// ask this of a million tasks).
    #[must_use]
    pub fn block_shape_is(&self, mut b: usize, shape: &[usize]) -> bool {
        if shape.len() != self.ndim() {
            return false;
        }
        for a in (0..self.ndim()).rev() {
            let n = self.chunks[a].len();
            if n == 0 || self.chunks[a][b % n] != shape[a] {
                return false;
            }
            b /= n;
        }
        true
    }

    /// Elements in block `b` (C order), without allocating.
    #[must_use]
    pub fn block_len(&self, mut b: usize) -> usize {
        let mut len = 1;
        for a in (0..self.ndim()).rev() {
            let n = self.chunks[a].len();
            if n == 0 {
                return 0;
            }
            len *= self.chunks[a][b % n];
            b /= n;
        }
        len
    }

    /// Whether the array's shape is `shape`, without allocating.
    #[must_use]
    pub fn shape_is(&self, shape: &[usize]) -> bool {
        shape.len() == self.ndim() && (0..self.ndim()).all(|a| self.axis_len(a) == shape[a])
    }

    /// Block index of a C-order block number.
    #[must_use]
    pub fn unlinear(&self, mut n: usize) -> Vec<usize> {
        let mut idx = vec![0; self.ndim()];
        for a in (0..self.ndim()).rev() {
            let k = self.chunks[a].len();
            idx[a] = n % k;
            n /= k;
        }
        idx
    }

    /// The block along `axis` holding element `e` (`e` < axis length).
    #[must_use]
    pub fn locate(&self, axis: usize, e: usize) -> usize {
        let o = &self.offsets[axis];
        o.partition_point(|&x| x <= e)
            .saturating_sub(1)
            .min(self.chunks[axis].len() - 1)
    }

    /// Bytes of the largest block for an element size.
    #[must_use]
    pub fn max_block_bytes(&self, itemsize: usize) -> usize {
        self.chunks
            .iter()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .product::<usize>()
            * itemsize
    }

    /// For each block of `self` along `axis`, the blocks of `other` (same axis length)
    /// it overlaps and the overlapping element range, in `self`'s block coordinates and
    /// `other`'s: `(other_block, range_in_self_block, range_in_other_block)`.
    #[must_use]
    pub fn overlaps(&self, other: &ChunkGrid, axis: usize) -> Vec<Vec<Overlap>> {
        (0..self.chunks[axis].len())
            .map(|i| {
                let r = self.range(axis, i);
                if r.is_empty() {
                    return vec![(0, 0..0, 0..0)];
                }
                let first = other.locate(axis, r.start);
                let last = other.locate(axis, r.end - 1);
                (first..=last)
                    .map(|j| {
                        let o = other.range(axis, j);
                        let s = r.start.max(o.start);
                        let e = r.end.min(o.end);
                        (j, s - r.start..e - r.start, s - o.start..e - o.start)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Iterates every index of a shape in C order (a small odometer; no allocation per step).
pub struct IndexIter {
    shape: Vec<usize>,
    cur: Vec<usize>,
    done: bool,
}

impl IndexIter {
    /// All indices of `shape`; none when any axis is 0.
    #[must_use]
    pub fn new(shape: &[usize]) -> Self {
        IndexIter {
            shape: shape.to_vec(),
            cur: vec![0; shape.len()],
            done: shape.contains(&0),
        }
    }
}

impl Iterator for IndexIter {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        if self.done {
            return None;
        }
        let out = self.cur.clone();
        let mut a = self.shape.len();
        loop {
            if a == 0 {
                self.done = true;
                break;
            }
            a -= 1;
            self.cur[a] += 1;
            if self.cur[a] < self.shape[a] {
                break;
            }
            self.cur[a] = 0;
        }
        Some(out)
    }
}

/// C-order strides (in elements) of a contiguous shape.
#[must_use]
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1];
    }
    s
}

/// Normalises an axis (negative counts from the end).
///
/// # Errors
/// [`Error::AxisOutOfRange`] outside `-ndim..ndim`.
pub fn normalize_axis(axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    if axis < -n || axis >= n {
        return Err(Error::AxisOutOfRange { axis, ndim });
    }
    Ok(if axis < 0 { (axis + n) as usize } else { axis as usize })
}

/// Normalises a set of axes: each in range, none repeated; sorted.
///
/// # Errors
/// [`Error::AxisOutOfRange`] or [`Error::DuplicateAxis`].
pub fn normalize_axes(axes: &[isize], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = normalize_axis(a, ndim)?;
        if out.contains(&a) {
            return Err(Error::DuplicateAxis(a));
        }
        out.push(a);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn grids_of_more_than_max_blocks_are_refused_before_any_allocation() {
        // A garbled HDF5 dataspace: 3.5e11 rows in the file's chunks of 5.
        let e = ChunkGrid::new(&[352_187_318_285, 8], &ChunkSpec::from([5, 8]), 8).unwrap_err();
        assert!(
            e.to_string()
                .contains("more than 1073741824 blocks (axis 0: 70437463657 blocks of 5)"),
            "{e}"
        );
        // Over several axes together, and by automatic chunking of an absurd shape.
        assert!(ChunkGrid::new(&[1 << 16, 1 << 16], &ChunkSpec::from([1, 1]), 1).is_err());
        assert!(ChunkGrid::new(&[1 << 62, 1 << 40], &ChunkSpec::auto(), 8).is_err());
        // Large but plannable grids still work.
        let g = ChunkGrid::new(&[1 << 40], &ChunkSpec::from([1 << 20]), 1).unwrap();
        assert_eq!(g.num_blocks(), 1 << 20);
    }
    #[test]
    fn contiguous_chunks_are_whole_trailing_axes() {
        let mib = 1 << 20;
        assert_eq!(contiguous_chunks(&[365, 721, 1440], 4, 128 * mib), vec![32, 721, 1440]);
        // A record larger than the target: one record, rows of it.
        assert_eq!(contiguous_chunks(&[3, 20000, 20000], 8, 128 * mib), vec![1, 838, 20000]);
        assert_eq!(contiguous_chunks(&[10, 4], 4, 128 * mib), vec![10, 4]);
        assert_eq!(contiguous_chunks(&[0, 4], 4, 64), vec![0, 4]);
        assert_eq!(contiguous_chunks(&[], 8, 64), Vec::<usize>::new());
        assert_eq!(contiguous_chunks(&[100], 8, 64), vec![8]);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auto_meets_target() {
        let g = ChunkGrid::new(&[365, 721, 1440], &ChunkSpec::auto_bytes(40 << 20), 4).unwrap();
        assert!(g.max_block_bytes(4) <= 40 << 20, "{:?}", g.all_chunks());
        assert!(g.max_block_bytes(4) > 10 << 20, "{:?}", g.all_chunks());
        let small = ChunkGrid::new(&[10, 10], &ChunkSpec::auto(), 8).unwrap();
        assert_eq!(small.num_blocks(), 1);
    }

    #[test]
    fn zero_length_axis_has_one_empty_block() {
        let g = ChunkGrid::new(&[0, 5], &ChunkSpec::from([3, 2]), 4).unwrap();
        assert_eq!(g.chunks(0), &[0]);
        assert_eq!(g.chunks(1), &[2, 2, 1]);
        assert!(ChunkGrid::new(&[4], &ChunkSpec::from([0]), 4).is_err());
        assert!(ChunkGrid::from_chunks(&[4], vec![vec![2, 1]]).is_err());
    }

    #[test]
    fn axes_normalise() {
        assert_eq!(normalize_axes(&[-1, 0], 3).unwrap(), vec![0, 2]);
        assert!(matches!(normalize_axis(3, 3), Err(Error::AxisOutOfRange { .. })));
        assert!(matches!(normalize_axes(&[1, -2], 3), Err(Error::DuplicateAxis(1))));
    }

    fn shape_and_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        prop::collection::vec((0usize..40, 1usize..12), 0..5).prop_map(|v| v.into_iter().unzip())
    }

    proptest! {
        #[test]
        fn blocks_tile_the_shape((shape, sizes) in shape_and_chunks()) {
            let g = ChunkGrid::new(&shape, &ChunkSpec::from(sizes.clone()), 4).unwrap();
            prop_assert_eq!(g.shape(), shape.clone());
            let mut covered = 0usize;
            for n in 0..g.num_blocks() {
                let idx = g.unlinear(n);
                prop_assert_eq!(g.linear(&idx), n);
                let r = g.block_ranges(&idx);
                covered += r.iter().map(|r| r.len()).product::<usize>();
                for (a, r) in r.iter().enumerate() {
                    prop_assert!(r.len() <= sizes[a].max(1));
                    if !r.is_empty() {
                        prop_assert_eq!(g.locate(a, r.start), idx[a]);
                        prop_assert_eq!(g.locate(a, r.end - 1), idx[a]);
                    }
                }
            }
            prop_assert_eq!(covered, shape.iter().product::<usize>());
        }

        #[test]
        fn overlaps_partition_each_block(len in 1usize..200, a in 1usize..50, b in 1usize..50) {
            let ga = ChunkGrid::new(&[len], &ChunkSpec::from([a]), 1).unwrap();
            let gb = ChunkGrid::new(&[len], &ChunkSpec::from([b]), 1).unwrap();
            for (i, parts) in ga.overlaps(&gb, 0).iter().enumerate() {
                let mut next = 0;
                for (j, rs, ro) in parts {
                    prop_assert_eq!(rs.start, next);
                    prop_assert_eq!(rs.len(), ro.len());
                    prop_assert_eq!(ga.range(0, i).start + rs.start, gb.range(0, *j).start + ro.start);
                    next = rs.end;
                }
                prop_assert_eq!(next, ga.chunks(0)[i]);
            }
        }

        #[test]
        fn auto_never_exceeds_target(shape in prop::collection::vec(1usize..3000, 1..4), kib in 1usize..4096) {
            let g = ChunkGrid::new(&shape, &ChunkSpec::auto_bytes(kib << 10), 8).unwrap();
            prop_assert_eq!(g.shape(), shape);
            // Each auto block is within the target, unless a single element is larger.
            prop_assert!(g.max_block_bytes(8) <= (kib << 10).max(8) * 2);
        }
    }
}
