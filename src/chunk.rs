//! One materialised block, and the values tasks pass to each other.
//!
//! A [`Chunk`] is a shape plus a typed [`Buffer`] in C order on the host. It is not
//! `Clone`: copying a block can be large and can fail, so it is an explicit
//! [`Chunk::try_clone`]. A task's output is a [`Value`]: a chunk, a reduction
//! [`Partial`] (with its shape), or an arbitrary Rust value from a custom graph task.
//!
//! ```
//! use chunkwise::Chunk;
//! let c = Chunk::from_ndarray(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn());
//! assert_eq!(c.shape(), &[2, 2]);
//! assert_eq!(c.to_ndarray::<f32>().unwrap()[[1, 0]], 3.0);
//! ```

use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use crate::ops::Partial;
use ndarray::{ArrayD, IxDyn};
use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

/// One block of an array: a shape and its data in C order.
#[derive(Debug, PartialEq)]
pub struct Chunk {
    shape: Vec<usize>,
    data: Buffer,
}

impl Chunk {
    /// A chunk from a shape and matching data.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the data length is not the shape's size.
    pub fn new(shape: Vec<usize>, data: Buffer) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::InvalidArgument(format!(
                "chunk of shape {shape:?} needs {n} elements, got {}",
                data.len()
            )));
        }
        Ok(Chunk { shape, data })
    }

    /// Copies an ndarray (any layout) into a C-order chunk.
    #[must_use]
    pub fn from_ndarray<T: Element>(a: ArrayD<T>) -> Self {
        let shape = a.shape().to_vec();
        let data = if a.is_standard_layout() {
            a.into_raw_vec_and_offset().0
        } else {
            a.iter().copied().collect()
        };
        Chunk {
            shape,
            data: T::into_buffer(data),
        }
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The dtype.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The data, C order.
    #[must_use]
    pub fn data(&self) -> &Buffer {
        &self.data
    }

    /// Takes the data out.
    #[must_use]
    pub fn into_data(self) -> Buffer {
        self.data
    }

    /// Bytes held.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.data.nbytes()
    }

    /// An explicit copy.
    ///
    /// # Errors
    /// See [`Buffer::try_clone`].
    pub fn try_clone(&self) -> Result<Chunk> {
        Ok(Chunk {
            shape: self.shape.clone(),
            data: self.data.try_clone()?,
        })
    }

    /// Same data, new shape of the same size (reshape of C-order data).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the sizes differ.
    pub fn reshaped(self, shape: Vec<usize>) -> Result<Chunk> {
        Chunk::new(shape, self.data)
    }

    /// Copies into an ndarray of `T`.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `T` is not the chunk's dtype.
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let v = T::slice_of(&self.data).ok_or(Error::DTypeMismatch {
            requested: T::DTYPE,
            actual: self.dtype(),
        })?;
        Ok(ArrayD::from_shape_vec(IxDyn(&self.shape), v.to_vec()).expect("shape checked at construction"))
    }

    /// Moves into an ndarray of `T` without copying.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `T` is not the chunk's dtype.
    pub fn into_ndarray<T: Element>(self) -> Result<ArrayD<T>> {
        let actual = self.dtype();
        let v = T::vec_of(self.data).map_err(|_| Error::DTypeMismatch {
            requested: T::DTYPE,
            actual,
        })?;
        Ok(ArrayD::from_shape_vec(IxDyn(&self.shape), v).expect("shape checked at construction"))
    }
}

/// Calls `f(src_offset, dst_offset, run)` for each contiguous run (along the last axis)
/// when copying the box `ranges` of a C-order array of shape `src_shape` into the box at
/// `dst_start` of a C-order array of shape `dst_shape`.
pub(crate) fn for_each_run(
    src_shape: &[usize],
    ranges: &[Range<usize>],
    dst_shape: &[usize],
    dst_start: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let nd = src_shape.len();
    if nd == 0 {
        f(0, 0, 1);
        return;
    }
    if ranges.iter().any(|r| r.is_empty()) {
        return;
    }
    let ss = crate::grid::c_strides(src_shape);
    let ds = crate::grid::c_strides(dst_shape);
    let run = ranges[nd - 1].len();
    let outer: Vec<usize> = ranges[..nd - 1].iter().map(|r| r.len()).collect();
    for idx in crate::grid::IndexIter::new(&outer) {
        let mut so = ranges[nd - 1].start;
        let mut dof = dst_start[nd - 1];
        for a in 0..nd - 1 {
            so += (ranges[a].start + idx[a]) * ss[a];
            dof += (dst_start[a] + idx[a]) * ds[a];
        }
        f(so, dof, run);
    }
}

impl Chunk {
    /// Copies the box `ranges` out of this chunk.
    #[must_use]
    pub fn slice(&self, ranges: &[Range<usize>]) -> Chunk {
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        if ranges.iter().zip(&self.shape).all(|(r, &n)| r.start == 0 && r.end == n) {
            return self.try_clone().expect("infallible copy");
        }
        let zero = vec![0; shape.len()];
        let data = crate::dispatch_buffer!(&self.data, v, T => {
            let mut out: Vec<T> = Vec::with_capacity(shape.iter().product());
            for_each_run(&self.shape, ranges, &shape, &zero, |s, _d, n| out.extend_from_slice(&v[s..s + n]));
            T::into_buffer(out)
        });
        Chunk { shape, data }
    }

    /// Writes whole chunks into this one, each at its start, in parallel on the current
    /// rayon pool. The boxes must not overlap (the blocks of one grid never do); a box
    /// outside this chunk is an error, not a panic.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when a dtype differs; [`Error::InvalidArgument`] when a box
    /// does not fit.
    pub(crate) fn write_blocks_parallel(&mut self, blocks: &[(Vec<usize>, &Chunk)]) -> Result<()> {
        use rayon::prelude::*;
        for (start, c) in blocks {
            let fits = start.len() == self.shape.len()
                && c.shape.len() == self.shape.len()
                && start
                    .iter()
                    .zip(&c.shape)
                    .zip(&self.shape)
                    .all(|((&s, &n), &m)| s + n <= m);
            if !fits {
                return Err(Error::InvalidArgument(format!(
                    "block of shape {:?} at {start:?} does not fit an array of shape {:?}",
                    c.shape, self.shape
                )));
            }
        }
        /// The destination's base pointer, shared by the writers of disjoint boxes.
        struct Dst<T>(*mut T);
        // SAFETY: every writer touches only its own box (checked to fit, disjoint by
        // the caller's contract), so sharing the pointer across threads is sound.
        unsafe impl<T: Send> Sync for Dst<T> {}
        let dst_shape = self.shape.clone();
        crate::dispatch_buffer!(&mut self.data, d, T => {
            let dst = Dst(d.as_mut_ptr());
            let dst = &dst;
            blocks.par_iter().try_for_each(|(start, c)| {
                let s = T::slice_of(&c.data).ok_or_else(|| Error::Unsupported("copy between chunks of different dtypes".into()))?;
                let full: Vec<Range<usize>> = c.shape.iter().map(|&n| 0..n).collect();
                for_each_run(&c.shape, &full, &dst_shape, start, |so, dof, n| {
                    // SAFETY: the run lies inside this block's box, which fits the
                    // destination and overlaps no other block's box.
                    unsafe { std::ptr::copy_nonoverlapping(s[so..so + n].as_ptr(), dst.0.add(dof), n) }
                });
                Ok(())
            })
        })
    }

    /// The start of this chunk's element storage, for writers of disjoint boxes
    /// (`src/scheduler/sink.rs`); the heap buffer does not move with the chunk.
    pub(crate) fn base_ptr(&mut self) -> *mut u8 {
        crate::dispatch_buffer!(&mut self.data, d, T => d.as_mut_ptr().cast::<u8>())
    }

    /// Writes the box `ranges` of `src` into this chunk at `dst_start`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the dtypes differ.
    pub fn write_box(&mut self, dst_start: &[usize], src: &Chunk, ranges: &[Range<usize>]) -> Result<()> {
        let dst_shape = self.shape.clone();
        crate::dispatch_buffer!(&mut self.data, d, T => {
            let s = T::slice_of(&src.data).ok_or_else(|| Error::Unsupported("copy between chunks of different dtypes".into()))?;
            for_each_run(&src.shape, ranges, &dst_shape, dst_start, |so, dof, n| d[dof..dof + n].copy_from_slice(&s[so..so + n]));
            Ok(())
        })
    }
}

/// What a task produces.
pub enum Value {
    /// A block of an array.
    Chunk(Chunk),
    /// A block shared with its owner (an in-memory source hands out its blocks without
    /// copying them).
    Shared(Arc<Chunk>),
    /// A reduction partial and its (keepdims) shape.
    Partial(Partial, Vec<usize>),
    /// Per-group reduction partials (a group-by's chunk and combine steps).
    Grouped(crate::ops::GroupedPartial),
    /// A reduction partial kept in GPU memory (the GPU's own accounting holds its
    /// bytes), and its (keepdims) shape. Never constructed without the `cuda` feature.
    DevicePartial(crate::device::cuda::DevicePartial, Vec<usize>),
    /// A value from a custom graph task.
    Any(Arc<dyn Any + Send + Sync>),
    /// An output block already copied into its array in place (see
    /// `src/scheduler/sink.rs`), and the bytes it holds there.
    Written(usize),
}

impl Value {
    /// Host bytes this value holds (custom values count as 0: the engine cannot see
    /// inside; device partials count on their GPU's account).
    #[must_use]
    pub fn nbytes(&self) -> usize {
        match self {
            Value::DevicePartial(..) => 0,
            Value::Chunk(c) => c.nbytes(),
            Value::Shared(c) => c.nbytes(),
            Value::Partial(p, _) => p.nbytes(),
            Value::Grouped(g) => g.nbytes(),
            Value::Any(_) => 0,
            Value::Written(n) => *n,
        }
    }

    /// The chunk inside, or an error naming what it was.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the value is not a chunk (a lowering bug).
    pub fn as_chunk(&self) -> Result<&Chunk> {
        match self {
            Value::Chunk(c) => Ok(c),
            Value::Shared(c) => Ok(c),
            _ => Err(Error::Unsupported("expected a chunk".into())),
        }
    }

    /// An explicit copy into fresh memory: what moving a value to another device costs
    /// (a shared block is copied too). Custom values are opaque and shared, not copied.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a partial held on a GPU (it moves by download, not copy).
    pub fn copy(&self) -> Result<Value> {
        let chunk = |c: &Chunk| -> Result<Chunk> {
            Ok(Chunk {
                shape: c.shape.clone(),
                data: c.data.try_clone()?,
            })
        };
        Ok(match self {
            Value::Chunk(c) => Value::Chunk(chunk(c)?),
            Value::Shared(c) => Value::Chunk(chunk(c)?),
            Value::Partial(p, s) => Value::Partial(p.copy(), s.clone()),
            Value::Grouped(g) => Value::Grouped(crate::ops::GroupedPartial {
                groups: g.groups.clone(),
                parts: g.parts.iter().map(crate::ops::Partial::copy).collect(),
                shape: g.shape.clone(),
            }),
            Value::DevicePartial(..) => {
                return Err(Error::Unsupported(
                    "a GPU partial is moved by downloading it, not copied".into(),
                ));
            }
            Value::Any(a) => Value::Any(Arc::clone(a)),
            Value::Written(n) => Value::Written(*n),
        })
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Chunk(c) => write!(f, "Chunk({:?}, {})", c.shape, c.dtype()),
            Value::Shared(c) => write!(f, "Shared({:?}, {})", c.shape, c.dtype()),
            Value::Partial(_, s) => write!(f, "Partial({s:?})"),
            Value::Grouped(g) => write!(f, "Grouped({} groups, {:?})", g.groups.len(), g.shape),
            Value::DevicePartial(p, s) => write!(f, "DevicePartial({s:?}, {} device bytes)", p.nbytes()),
            Value::Any(_) => f.write_str("Any"),
            Value::Written(n) => write!(f, "Written({n} bytes)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_written_in_parallel_land_in_their_boxes() {
        // A 5×7 array from a 2×2 grid of ragged blocks.
        let mut out = Chunk::new(vec![5, 7], Buffer::zeros(DType::I32, 35)).expect("shape");
        let block = |r: usize, c: usize, base: i32| {
            Chunk::new(vec![r, c], Buffer::I32((0..(r * c) as i32).map(|v| base + v).collect())).expect("block")
        };
        let parts = [block(3, 4, 0), block(3, 3, 100), block(2, 4, 200), block(2, 3, 300)];
        let starts = [vec![0, 0], vec![0, 4], vec![3, 0], vec![3, 4]];
        let blocks: Vec<(Vec<usize>, &Chunk)> = starts.iter().cloned().zip(parts.iter()).collect();
        out.write_blocks_parallel(&blocks).expect("fits");
        let got = out.into_ndarray::<i32>().expect("i32");
        assert_eq!(got[[0, 0]], 0);
        assert_eq!(got[[2, 3]], 11);
        assert_eq!(got[[1, 5]], 104);
        assert_eq!(got[[4, 2]], 206);
        assert_eq!(got[[4, 6]], 305);
        let mut small = Chunk::new(vec![2, 2], Buffer::zeros(DType::I32, 4)).expect("shape");
        let err = small
            .write_blocks_parallel(&[(vec![1, 0], &parts[0])])
            .expect_err("does not fit");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}
