//! Blocked linear algebra: `matmul`, `dot`, `tensordot`.
//!
//! `a (m×k) · b (k×n)`: `b` is rechunked along `k` to `a`'s column blocks; output block
//! `(i, j)` is a sum over the contracted blocks. Stacks of matrices (`(..., m, k) @
//! (..., k, n)`) add batch axes in front: a block holds several matrices, multiplied one
//! by one, and an operand of length 1 on a batch axis is broadcast by index (never
//! copied). The contracted blocks are taken in
//! groups of up to [`K_GROUP`]: one task accumulates a group's products into one
//! buffer (`c += a_ik · b_kj`, through a packed GEMM), and when there are several
//! groups their partial blocks are summed with the engine's tree reduction (dask's
//! plan, with fewer and larger partials). Floats accumulate in their own type as BLAS
//! does (the group sum in f64); integers in wrapping int64/uint64.

use super::Array;
use crate::chunk::{Chunk, Value};
use crate::device::cpu::gemm::Gemm;
use crate::dtype::{Buffer, DType, Element, Kind};
use crate::error::{Error, Result};
use crate::expr::{BlockOp, ExprKind};
use crate::grid::{ChunkGrid, normalize_axis};
use std::sync::Arc;

/// Contracted blocks folded by one task.
pub const K_GROUP: usize = 8;

/// Partial products over groups of contracted blocks: output grid
/// `([groups,] batch..., m, n)`; the operands are `(batch..., m, k)` and
/// `(batch..., k, n)` with the same number of batch axes, each batch axis either
/// aligned with the output's chunks or of length 1 (broadcast).
#[derive(Debug)]
struct ProductOp {
    a_grid: ChunkGrid,
    b_grid: ChunkGrid,
    out_grid: ChunkGrid,
    groups: bool,
    /// Batch axes (leading; 0 for a plain matrix product).
    batch: usize,
    acc: DType,
}

/// Where an output block reads: its group, batch block index and `(i, j)`.
struct Place {
    g: usize,
    batch: Vec<usize>,
    i: usize,
    j: usize,
}

impl ProductOp {
    fn place(&self, b: usize) -> Place {
        let idx = self.out_grid.unlinear(b);
        let (g, rest) = if self.groups {
            (idx[0], &idx[1..])
        } else {
            (0, &idx[..])
        };
        Place {
            g,
            batch: rest[..self.batch].to_vec(),
            i: rest[self.batch],
            j: rest[self.batch + 1],
        }
    }
    fn ks(&self, g: usize) -> std::ops::Range<usize> {
        let kb = self.a_grid.nblocks()[self.batch + 1];
        g * K_GROUP..((g + 1) * K_GROUP).min(kb)
    }
    /// An operand's block index: the output's batch blocks (block 0 along a broadcast
    /// axis) and the two matrix block indices.
    fn operand_block(grid: &ChunkGrid, batch: &[usize], r: usize, c: usize) -> usize {
        let mut idx: Vec<usize> = batch
            .iter()
            .enumerate()
            .map(|(d, &bi)| if grid.axis_len(d) == 1 { 0 } else { bi })
            .collect();
        idx.extend([r, c]);
        grid.linear(&idx)
    }
}

/// `c += Σ a · b` over the (a, b) block pairs in `inputs`, batch element by batch
/// element: `out_batch` is the output block's batch shape, and a batch axis where an
/// operand's block has length 1 is broadcast.
fn run<T: Element + Gemm>(inputs: &[&Value], c: &mut Buffer, out_batch: &[usize], m: usize, n: usize) -> Result<()> {
    let mut out = T::vec_of(std::mem::replace(c, Buffer::Bool(Vec::new())))
        .map_err(|_| Error::Unsupported("matmul accumulator of another dtype".into()))?;
    let nb = out_batch.len();
    for pair in inputs.chunks(2) {
        let (a, b) = (pair[0].as_chunk()?, pair[1].as_chunk()?);
        let k = a.shape()[nb + 1];
        let (av, bv) = (
            T::slice_of(a.data()).ok_or_else(|| Error::Unsupported("matmul block of another dtype".into()))?,
            T::slice_of(b.data()).ok_or_else(|| Error::Unsupported("matmul block of another dtype".into()))?,
        );
        for (e, pos) in crate::grid::IndexIter::new(out_batch).enumerate() {
            let (mut ea, mut eb) = (0, 0);
            for (d, &p) in pos.iter().enumerate() {
                let (na, nbd) = (a.shape()[d], b.shape()[d]);
                ea = ea * na + if na == 1 { 0 } else { p };
                eb = eb * nbd + if nbd == 1 { 0 } else { p };
            }
            T::gemm_acc(
                &av[ea * m * k..(ea + 1) * m * k],
                &bv[eb * k * n..(eb + 1) * k * n],
                &mut out[e * m * n..(e + 1) * m * n],
                m,
                k,
                n,
            );
        }
    }
    *c = T::into_buffer(out);
    Ok(())
}

impl BlockOp for ProductOp {
    fn name(&self) -> String {
        "matmul".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        let p = self.place(b);
        self.ks(p.g)
            .flat_map(|k| {
                [
                    (0, Self::operand_block(&self.a_grid, &p.batch, p.i, k)),
                    (1, Self::operand_block(&self.b_grid, &p.batch, k, p.j)),
                ]
            })
            .collect()
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let p = self.place(b);
        let off = usize::from(self.groups);
        let oidx = self.out_grid.unlinear(b);
        let out_batch: Vec<usize> = (0..self.batch)
            .map(|d| self.out_grid.chunks(off + d)[oidx[off + d]])
            .collect();
        let m = self.a_grid.chunks(self.batch)[p.i];
        let n = self.b_grid.chunks(self.batch + 1)[p.j];
        let len = out_batch.iter().product::<usize>() * m * n;
        let mut c = Buffer::zeros(self.acc, len);
        match self.acc {
            DType::F32 => run::<f32>(inputs, &mut c, &out_batch, m, n)?,
            DType::F64 => run::<f64>(inputs, &mut c, &out_batch, m, n)?,
            DType::I64 => run::<i64>(inputs, &mut c, &out_batch, m, n)?,
            DType::U64 => run::<u64>(inputs, &mut c, &out_batch, m, n)?,
            d => return Err(Error::Unsupported(format!("matmul in {d}"))),
        }
        let mut shape = if self.groups { vec![1] } else { vec![] };
        shape.extend(out_batch);
        shape.extend([m, n]);
        Ok(Value::Chunk(Chunk::new(shape, c)?))
    }
}

impl Array {
    /// The matrix product (`a @ b`, `np.matmul`). A 1-D left operand is a row and a
    /// 1-D right operand a column, and that axis is dropped from the result; operands
    /// of more than two axes are stacks of matrices in their last two axes, with the
    /// leading (batch) axes broadcast against each other as NumPy does. The result
    /// dtype is NumPy's (promoted; bool stays bool).
    ///
    /// # Errors
    /// 0-D operands, contracted lengths that differ, or batch shapes that do not
    /// broadcast.
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        let (an, bn) = (self.ndim(), other.ndim());
        if an == 0 || bn == 0 {
            return Err(Error::InvalidArgument(format!(
                "matmul of a 0-D array (shapes {:?} and {:?}); use multiply for scalars",
                self.shape(),
                other.shape()
            )));
        }
        let mut a = if an == 1 { self.expand_dims(0)? } else { self.clone() };
        let mut b = if bn == 1 { other.expand_dims(1)? } else { other.clone() };
        let (ash, bsh) = (a.shape(), b.shape());
        let (am, ak) = (ash[ash.len() - 2], ash[ash.len() - 1]);
        let (bk, bnn) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
        if ak != bk {
            return Err(Error::InvalidArgument(format!(
                "matmul: shapes {:?} and {:?} do not align ({ak} != {bk})",
                self.shape(),
                other.shape(),
            )));
        }
        let batch_shape = super::broadcast_shapes(&[&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]]).map_err(|_| {
            Error::InvalidArgument(format!(
                "matmul: the stacks of shapes {:?} and {:?} do not broadcast",
                self.shape(),
                other.shape()
            ))
        })?;
        let nb = batch_shape.len();
        // The same number of batch axes on both sides (new leading axes of length 1).
        while a.ndim() < nb + 2 {
            a = a.expand_dims(0)?;
        }
        while b.ndim() < nb + 2 {
            b = b.expand_dims(0)?;
        }
        let out = DType::promote(a.dtype(), b.dtype());
        let acc = match out.kind() {
            Kind::Float => out,
            Kind::Unsigned => DType::U64,
            _ => DType::I64,
        };
        let (a, b) = (a.astype(acc), b.astype(acc));
        let ash = a.shape();
        // Output batch chunks: those of an operand that spans the axis; the other
        // operand follows them there, and b's row blocks follow a's column blocks.
        let batch_chunks: Vec<Vec<usize>> = (0..nb)
            .map(|d| {
                if ash[d] == batch_shape[d] {
                    a.chunks()[d].clone()
                } else {
                    b.chunks()[d].clone()
                }
            })
            .collect();
        let follow = |x: &Array, tail: [Vec<usize>; 2]| -> Result<Array> {
            let sh = x.shape();
            let mut chunks: Vec<Vec<usize>> = (0..nb)
                .map(|d| if sh[d] == 1 { vec![1] } else { batch_chunks[d].clone() })
                .collect();
            chunks.extend(tail);
            Ok(x.rechunk_to(ChunkGrid::from_chunks(&sh, chunks)?))
        };
        let a = follow(&a, [a.chunks()[nb].clone(), a.chunks()[nb + 1].clone()])?;
        let b = follow(&b, [a.chunks()[nb + 1].clone(), b.chunks()[nb + 1].clone()])?;
        let kb = a.grid().nblocks()[nb + 1];
        let ng = kb.div_ceil(K_GROUP).max(1);
        let mut out_shape = batch_shape.clone();
        out_shape.extend([am, bnn]);
        let mut out_chunks = batch_chunks;
        out_chunks.extend([a.chunks()[nb].clone(), b.chunks()[nb + 1].clone()]);
        let result = if ak == 0 {
            Array::zeros(&out_shape, acc, crate::ChunkSpec::explicit(out_chunks))?
        } else if ng == 1 {
            product(&a, &b, ChunkGrid::from_chunks(&out_shape, out_chunks)?, false, nb, acc)
        } else {
            let mut gshape = vec![ng];
            gshape.extend(&out_shape);
            let mut gchunks = vec![vec![1; ng]];
            gchunks.extend(out_chunks);
            product(&a, &b, ChunkGrid::from_chunks(&gshape, gchunks)?, true, nb, acc).sum(0)?
        };
        let mut result = result.astype(out);
        if bn == 1 {
            result = result.squeeze(Some(&[result.ndim() as isize - 1]))?;
        }
        if an == 1 {
            let row = result.ndim() as isize - if bn == 1 { 1 } else { 2 };
            result = result.squeeze(Some(&[row]))?;
        }
        Ok(result)
    }

    /// `np.dot` for 1-D and 2-D arrays (the same as [`Array::matmul`] there; a 1-D·1-D
    /// product is a 0-D array).
    ///
    /// # Errors
    /// As [`Array::matmul`].
    pub fn dot(&self, other: &Array) -> Result<Array> {
        self.matmul(other)
    }

    /// `np.tensordot(a, b, axes=(a_axes, b_axes))`: sums products over the paired axes;
    /// the result has `a`'s other axes then `b`'s. Computed as a transpose and reshape
    /// of each operand to a matrix and one blocked matmul.
    ///
    /// # Errors
    /// Axes out of range, of different counts or lengths.
    pub fn tensordot(&self, other: &Array, a_axes: &[isize], b_axes: &[isize]) -> Result<Array> {
        if a_axes.len() != b_axes.len() {
            return Err(Error::InvalidArgument(
                "tensordot: axis lists of different lengths".into(),
            ));
        }
        let (an, bn) = (self.ndim(), other.ndim());
        let ca: Vec<usize> = a_axes.iter().map(|&x| normalize_axis(x, an)).collect::<Result<_>>()?;
        let cb: Vec<usize> = b_axes.iter().map(|&x| normalize_axis(x, bn)).collect::<Result<_>>()?;
        let (ash, bsh) = (self.shape(), other.shape());
        for (&x, &y) in ca.iter().zip(&cb) {
            if ash[x] != bsh[y] {
                return Err(Error::InvalidArgument(format!(
                    "tensordot: axis {x} of length {} pairs with axis {y} of length {}",
                    ash[x], bsh[y]
                )));
            }
        }
        let fa: Vec<usize> = (0..an).filter(|x| !ca.contains(x)).collect();
        let fb: Vec<usize> = (0..bn).filter(|y| !cb.contains(y)).collect();
        let perm_a: Vec<isize> = fa.iter().chain(&ca).map(|&x| x as isize).collect();
        let perm_b: Vec<isize> = cb.iter().chain(&fb).map(|&x| x as isize).collect();
        let m: usize = fa.iter().map(|&x| ash[x]).product();
        let k: usize = ca.iter().map(|&x| ash[x]).product();
        let n: usize = fb.iter().map(|&y| bsh[y]).product();
        let a2 = self.permute_axes(&perm_a)?.reshape(&[m as isize, k as isize])?;
        let b2 = other.permute_axes(&perm_b)?.reshape(&[k as isize, n as isize])?;
        let out_shape: Vec<isize> = fa
            .iter()
            .map(|&x| ash[x] as isize)
            .chain(fb.iter().map(|&y| bsh[y] as isize))
            .collect();
        a2.matmul(&b2)?.reshape(&out_shape)
    }
}

fn product(a: &Array, b: &Array, grid: ChunkGrid, groups: bool, batch: usize, acc: DType) -> Array {
    let op = ProductOp {
        a_grid: a.grid().clone(),
        b_grid: b.grid().clone(),
        out_grid: grid.clone(),
        groups,
        batch,
        acc,
    };
    Array::from_expr(
        ExprKind::Blocks {
            op: Arc::new(op),
            inputs: vec![a.clone(), b.clone()],
        },
        grid,
        acc,
    )
}

/// Tall-skinny QR, step 1: each row block `A_i` (m_i × n) → `[Q_i; R_i]` stacked
/// ((m_i + n) × n).
#[derive(Debug)]
struct BlockQrOp {
    n: usize,
}

impl BlockOp for BlockQrOp {
    fn name(&self) -> String {
        "tsqr-block".into()
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        vec![(0, b)]
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let c = super::first_input(inputs, "tsqr")?;
        let m = c.shape()[0];
        let a = c
            .data()
            .as_slice::<f64>()
            .ok_or_else(|| Error::Unsupported("tsqr of a non-f64 block".into()))?;
        let (mut q, r) = crate::device::cpu::qr::householder_qr(a, m, self.n);
        q.extend_from_slice(&r);
        Ok(Value::Chunk(Chunk::new(vec![m + self.n, self.n], Buffer::F64(q))?))
    }
}

/// Step 2: the stacked `R_i` (k·n × n) → `[Q2; R]` ((k·n + n) × n).
#[derive(Debug)]
struct StackQrOp {
    n: usize,
    rows: Vec<usize>,
}

impl BlockOp for StackQrOp {
    fn name(&self) -> String {
        "tsqr-stack".into()
    }
    fn deps(&self, _b: usize) -> Vec<(usize, usize)> {
        (0..self.rows.len()).map(|i| (0, i)).collect()
    }
    fn compute(&self, _b: usize, inputs: &[&Value]) -> Result<Value> {
        let n = self.n;
        let mut stack = Vec::with_capacity(self.rows.len() * n * n);
        for (v, &m) in inputs.iter().zip(&self.rows) {
            let d = v
                .as_chunk()?
                .data()
                .as_slice::<f64>()
                .ok_or_else(|| Error::Unsupported("tsqr: f64 expected".into()))?;
            stack.extend_from_slice(&d[m * n..(m + n) * n]);
        }
        let k = self.rows.len();
        let (mut q, r) = crate::device::cpu::qr::householder_qr(&stack, k * n, n);
        q.extend_from_slice(&r);
        Ok(Value::Chunk(Chunk::new(vec![k * n + n, n], Buffer::F64(q))?))
    }
}

/// Step 3: `Q` block i = `Q_i · Q2[i n .. (i + 1) n]`; or `R` (the tail of step 2).
#[derive(Debug)]
struct TsqrOutOp {
    n: usize,
    rows: Vec<usize>,
    /// Output Q (else R).
    q: bool,
}

impl BlockOp for TsqrOutOp {
    fn name(&self) -> String {
        if self.q { "tsqr-q".into() } else { "tsqr-r".into() }
    }
    fn deps(&self, b: usize) -> Vec<(usize, usize)> {
        if self.q { vec![(0, b), (1, 0)] } else { vec![(1, 0)] }
    }
    fn compute(&self, b: usize, inputs: &[&Value]) -> Result<Value> {
        let n = self.n;
        let f64s = |v: &Value| -> Result<Vec<f64>> {
            Ok(v.as_chunk()?
                .data()
                .as_slice::<f64>()
                .ok_or_else(|| Error::Unsupported("tsqr: f64 expected".into()))?
                .to_vec())
        };
        let k = self.rows.len();
        if !self.q {
            let s = f64s(
                inputs
                    .first()
                    .ok_or_else(|| Error::Unsupported("tsqr: input missing".into()))?,
            )?;
            return Ok(Value::Chunk(Chunk::new(
                vec![n, n],
                Buffer::F64(s[k * n * n..].to_vec()),
            )?));
        }
        let [qi, q2] = inputs else {
            return Err(Error::Unsupported("tsqr: two inputs expected".into()));
        };
        let m = self.rows[b];
        let qi = f64s(qi)?;
        let q2 = f64s(q2)?;
        let mut out = vec![0.0; m * n];
        f64::gemm_acc(&qi[..m * n], &q2[b * n * n..(b + 1) * n * n], &mut out, m, n, n);
        Ok(Value::Chunk(Chunk::new(vec![m, n], Buffer::F64(out))?))
    }
}

impl Array {
    /// Tall-skinny QR of a 2-D array (`m ≥ n`, `n` small enough that an `n × n` block
    /// and the stack of every row block's `R` fit in memory): `(Q, R)` with `Q` (m × n,
    /// orthonormal columns, chunked as the rows of `self`) and `R` (n × n, upper
    /// triangular), computed in float64. Each row block is factored on its own, the
    /// stacked `R`s once more, and each `Q` block is its own `Q` times its slice of the
    /// second `Q` (the direct TSQR of Benson, Gleich and Demmel, as dask's `tsqr`).
    ///
    /// # Errors
    /// Not 2-D, or wider than tall.
    pub fn tsqr(&self) -> Result<(Array, Array)> {
        if self.ndim() != 2 {
            return Err(Error::InvalidArgument(format!(
                "tsqr needs a 2-D array, got {:?}",
                self.shape()
            )));
        }
        let (m, n) = (self.shape()[0], self.shape()[1]);
        if m < n || n == 0 {
            return Err(Error::InvalidArgument(format!(
                "tsqr needs a tall-skinny array (rows >= columns > 0), got {m} × {n}"
            )));
        }
        // Every row block at least n rows; columns whole.
        let mut rows = self.chunks()[0].clone();
        if rows.iter().any(|&r| r < n) {
            let size = rows.iter().copied().max().unwrap_or(n).max(n);
            rows = crate::grid::regular_chunks(m, size);
            if rows.len() > 1 && rows[rows.len() - 1] < n {
                let last = rows.pop().unwrap_or(0);
                if let Some(l) = rows.last_mut() {
                    *l += last;
                }
            }
        }
        let x = self
            .astype(DType::F64)
            .rechunk_to(ChunkGrid::from_chunks(&[m, n], vec![rows.clone(), vec![n]])?);
        let k = rows.len();
        let g1 = ChunkGrid::from_chunks(&[m + k * n, n], vec![rows.iter().map(|r| r + n).collect(), vec![n]])?;
        let s1 = Array::from_block_op(BlockQrOp { n }, vec![x.clone()], g1, DType::F64);
        let g2 = ChunkGrid::single(&[k * n + n, n]);
        let s2 = Array::from_block_op(StackQrOp { n, rows: rows.clone() }, vec![s1.clone()], g2, DType::F64);
        let q = Array::from_block_op(
            TsqrOutOp {
                n,
                rows: rows.clone(),
                q: true,
            },
            vec![s1.clone(), s2.clone()],
            x.grid().clone(),
            DType::F64,
        );
        let r = Array::from_block_op(
            TsqrOutOp { n, rows, q: false },
            vec![s1, s2],
            ChunkGrid::single(&[n, n]),
            DType::F64,
        );
        Ok((q, r))
    }
}
