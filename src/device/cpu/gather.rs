//! Copying selected elements between blocks: the kernel under slicing, `take`, flips,
//! halos and concatenation.
//!
//! A selection is given per axis as pairs `(destination index, source index)`; the
//! elements copied are the Cartesian product of those lists. Along the last axis,
//! pairs that advance together by one are copied as one `memcpy`, so a plain slice
//! (step 1) moves whole rows and only strided or reordered selections pay per element.

use crate::grid::c_strides;

/// Copies `dst[d_0, d_1, …] = src[s_0, s_1, …]` for every combination of the per-axis
/// pairs `(d_a, s_a)` in `pairs[a]`. Both arrays are C order with the given shapes.
///
/// # Panics
/// When a pair indexes outside its array (the callers build pairs from the same grids).
pub fn gather_pairs<T: Copy>(
    src: &[T],
    src_shape: &[usize],
    dst: &mut [T],
    dst_shape: &[usize],
    pairs: &[Vec<(usize, usize)>],
) {
    let nd = src_shape.len();
    if nd == 0 {
        dst[0] = src[0];
        return;
    }
    if pairs.iter().any(Vec::is_empty) {
        return;
    }
    let ss = c_strides(src_shape);
    let ds = c_strides(dst_shape);
    // Runs along the last axis: (dst start, src start, length).
    let last = &pairs[nd - 1];
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for &(d, s) in last {
        match runs.last_mut() {
            Some((d0, s0, n)) if *d0 + *n == d && *s0 + *n == s => *n += 1,
            _ => runs.push((d, s, 1)),
        }
    }
    let outer: Vec<usize> = pairs[..nd - 1].iter().map(Vec::len).collect();
    for idx in crate::grid::IndexIter::new(&outer) {
        let mut so = 0;
        let mut dof = 0;
        for a in 0..nd - 1 {
            let (d, s) = pairs[a][idx[a]];
            so += s * ss[a];
            dof += d * ds[a];
        }
        for &(d, s, n) in &runs {
            if n == 1 {
                dst[dof + d] = src[so + s];
            } else {
                dst[dof + d..dof + d + n].copy_from_slice(&src[so + s..so + s + n]);
            }
        }
    }
}

/// Permutes the axes of a C-order block: output axis `k` is input axis `perm[k]`.
/// Returns the permuted data in C order.
#[must_use]
pub fn permute<T: Copy>(src: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let view = ndarray::ArrayView::from_shape(ndarray::IxDyn(shape), src).expect("shape matches data");
    let p = view.permuted_axes(ndarray::IxDyn(perm));
    if p.is_standard_layout() {
        return p
            .as_slice()
            .map(<[T]>::to_vec)
            .unwrap_or_else(|| p.iter().copied().collect());
    }
    p.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_rows_and_strided_columns() {
        // 3 × 4 source, pick rows [2, 0] and columns [1, 2, 3] then column 0 reversed.
        let src: Vec<i32> = (0..12).collect();
        let mut dst = vec![0; 2 * 4];
        let pairs = vec![vec![(0, 2), (1, 0)], vec![(0, 1), (1, 2), (2, 3), (3, 0)]];
        gather_pairs(&src, &[3, 4], &mut dst, &[2, 4], &pairs);
        assert_eq!(dst, vec![9, 10, 11, 8, 1, 2, 3, 0]);
    }

    #[test]
    fn permutes_axes() {
        let src: Vec<i32> = (0..6).collect();
        assert_eq!(permute(&src, &[2, 3], &[1, 0]), vec![0, 3, 1, 4, 2, 5]);
    }
}
