//! BLIS-style blocked GEMM: `C += A·B` for row-major `f32`/`f64` blocks.
//!
//! Why our own loops: `matrixmultiply` (the portable fallback) reaches about two thirds
//! of this machine's FMA peak per core; the block products of `matmul` are the whole
//! cost of that workload, so the product is where the time is. The structure is the
//! one BLIS and OpenBLAS use (Goto's algorithm):
//!
//! - `B` is packed a `KC × NC` slab at a time into `NR`-wide column panels (the slab
//!   stays in L3, shared by all row blocks of `A`);
//! - `A` is packed an `MC × KC` block at a time into `MR`-tall row panels (it stays in
//!   L2);
//! - a register-blocked micro-kernel multiplies one `MR`-panel by one `NR`-panel over
//!   `KC` steps with `MR × NR` accumulators held in vector registers, then adds the
//!   tile into `C`.
//!
//! Tiles on the right and bottom edges are computed whole (the packed panels are
//! padded with zeros) into a scratch tile, and only their valid part is added. The
//! summation order depends only on the shapes, so a product is bit-identical from run
//! to run and on any thread.

use std::cell::RefCell;

/// A register-blocked micro-kernel and the cache blocking it is tuned for.
pub(super) trait MicroKernel {
    type T: Copy + Default + std::ops::AddAssign + 'static;
    /// Rows of a tile (`A` panel height).
    const MR: usize;
    /// Columns of a tile (`B` panel width).
    const NR: usize;
    /// Rows of `A` packed at once (a multiple of `MR`).
    const MC: usize;
    /// Depth packed at once.
    const KC: usize;
    /// Columns of `B` packed at once (a multiple of `NR`).
    const NC: usize;
    /// `c[i * ldc + j] += Σ_p a[p * MR + i] · b[p * NR + j]` for a whole `MR × NR` tile.
    ///
    /// # Safety
    /// `a` holds `kc * MR` and `b` `kc * NR` readable elements; `c` addresses an
    /// `MR × NR` tile with row stride `ldc`; the CPU has the kernel's features.
    unsafe fn tile(kc: usize, a: *const Self::T, b: *const Self::T, c: *mut Self::T, ldc: usize);
}

thread_local! {
    /// Packing buffers, reused by every product on this thread (grown, never shrunk).
    static PACK: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A 64-byte-aligned `&mut [T]` of `len` elements carved out of `buf`.
fn aligned<T: Copy + Default>(buf: &mut Vec<u8>, len: usize) -> &mut [T] {
    let size = std::mem::size_of::<T>();
    let need = len * size + 64;
    if buf.len() < need {
        buf.resize(need, 0);
    }
    let off = buf.as_ptr().align_offset(64);
    let bytes = &mut buf[off..off + len * size];
    // SAFETY: `T` is f32 or f64 (any bit pattern valid), the slice is aligned to 64
    // bytes and holds `len * size_of::<T>()` bytes.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), len) }
}

/// `c (m×n) += a (m×k) · b (k×n)`, all row-major and contiguous.
///
/// # Safety
/// The CPU must support `K`'s instructions (the caller checks at run time).
pub(super) unsafe fn gemm<K: MicroKernel>(a: &[K::T], b: &[K::T], c: &mut [K::T], m: usize, k: usize, n: usize) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm operand sizes"
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    PACK.with(|cell| {
        let mut bufs = cell.borrow_mut();
        let (abuf, bbuf) = &mut *bufs;
        let (kmc, kkc, knc) = (K::MC, K::KC, K::NC);
        let kc_max = kkc.min(k);
        let nc_max = knc.min(n.div_ceil(K::NR) * K::NR);
        let mc_max = kmc.min(m.div_ceil(K::MR) * K::MR);
        let bpack: &mut [K::T] = aligned(bbuf, kc_max * nc_max);
        let apack: &mut [K::T] = aligned(abuf, mc_max * kc_max);
        for jc in (0..n).step_by(knc) {
            let nc = knc.min(n - jc);
            for pc in (0..k).step_by(kkc) {
                let kc = kkc.min(k - pc);
                pack_b::<K>(b, n, pc, kc, jc, nc, bpack);
                for ic in (0..m).step_by(kmc) {
                    let mc = kmc.min(m - ic);
                    pack_a::<K>(a, k, ic, mc, pc, kc, apack);
                    // SAFETY: the packed panels hold kc·MR / kc·NR elements each and
                    // every tile lies inside `c` (edge tiles go through a scratch tile).
                    unsafe { macro_block::<K>(kc, mc, nc, apack, bpack, c, n, ic, jc) };
                }
            }
        }
    });
}

/// Every `MR × NR` tile of one `mc × nc` block of `C`.
///
/// # Safety
/// As [`gemm`]; `apack`/`bpack` hold the packed panels of this block.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn macro_block<K: MicroKernel>(
    kc: usize,
    mc: usize,
    nc: usize,
    apack: &[K::T],
    bpack: &[K::T],
    c: &mut [K::T],
    ldc: usize,
    ic: usize,
    jc: usize,
) {
    let (mr, nr) = (K::MR, K::NR);
    let mut scratch = [K::T::default(); 128];
    debug_assert!(mr * nr <= scratch.len());
    for (jp, j0) in (0..nc).step_by(nr).enumerate() {
        let nv = nr.min(nc - j0);
        let bp = bpack[jp * kc * nr..].as_ptr();
        for (ip, i0) in (0..mc).step_by(mr).enumerate() {
            let mv = mr.min(mc - i0);
            let ap = apack[ip * kc * mr..].as_ptr();
            let origin = (ic + i0) * ldc + jc + j0;
            if mv == mr && nv == nr {
                // SAFETY: the full tile starting at `origin` lies inside `c`.
                unsafe { K::tile(kc, ap, bp, c.as_mut_ptr().add(origin), ldc) };
            } else {
                scratch[..mr * nr].fill(K::T::default());
                // SAFETY: the scratch tile is MR × NR with stride NR.
                unsafe { K::tile(kc, ap, bp, scratch.as_mut_ptr(), nr) };
                for i in 0..mv {
                    let row = &mut c[origin + i * ldc..origin + i * ldc + nv];
                    for (cv, &s) in row.iter_mut().zip(&scratch[i * nr..i * nr + nv]) {
                        *cv += s;
                    }
                }
            }
        }
    }
}

/// Packs `b[pc..pc+kc, jc..jc+nc]` as `NR`-wide panels, each `kc` rows of `NR`
/// values, zero-padded on the right.
fn pack_b<K: MicroKernel>(b: &[K::T], ldb: usize, pc: usize, kc: usize, jc: usize, nc: usize, out: &mut [K::T]) {
    let nr = K::NR;
    for (jp, j0) in (0..nc).step_by(nr).enumerate() {
        let nv = nr.min(nc - j0);
        let panel = &mut out[jp * kc * nr..(jp + 1) * kc * nr];
        for p in 0..kc {
            let src = &b[(pc + p) * ldb + jc + j0..][..nv];
            let dst = &mut panel[p * nr..(p + 1) * nr];
            dst[..nv].copy_from_slice(src);
            dst[nv..].fill(K::T::default());
        }
    }
}

/// Packs `a[ic..ic+mc, pc..pc+kc]` as `MR`-tall panels, each `kc` columns of `MR`
/// values, zero-padded at the bottom.
fn pack_a<K: MicroKernel>(a: &[K::T], lda: usize, ic: usize, mc: usize, pc: usize, kc: usize, out: &mut [K::T]) {
    let mr = K::MR;
    for (ip, i0) in (0..mc).step_by(mr).enumerate() {
        let mv = mr.min(mc - i0);
        let panel = &mut out[ip * kc * mr..(ip + 1) * kc * mr];
        if mv < mr {
            panel.fill(K::T::default());
        }
        for i in 0..mv {
            let row = &a[(ic + i0 + i) * lda + pc..][..kc];
            for (p, &v) in row.iter().enumerate() {
                panel[p * mr + i] = v;
            }
        }
    }
}
