//! NumPy broadcasting over chunked arrays, and chunk unification.
//!
//! Inputs of an elementwise op must agree on chunks along every axis they share (dask's
//! `unify_chunks`). When they do not, each axis gets the common refinement of the
//! inputs' block boundaries — every block of the result lies inside one block of every
//! input — and inputs are rechunked to it (a source re-reads with the new grid instead).

use super::Array;
use crate::error::{Error, Result};
use crate::grid::ChunkGrid;

/// The broadcast shape of several shapes (NumPy rules).
///
/// # Errors
/// [`Error::Broadcast`] when two shapes disagree on an axis where neither is 1.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let nd = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; nd];
    for s in shapes {
        let pad = nd - s.len();
        for (i, &n) in s.iter().enumerate() {
            let o = &mut out[pad + i];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                let first = shapes[0].to_vec();
                return Err(Error::Broadcast {
                    a: first,
                    b: s.to_vec(),
                });
            }
        }
    }
    Ok(out)
}

fn refine(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = Vec::new();
    let mut acc = 0;
    for &x in a {
        acc += x;
        cuts.push(acc);
    }
    acc = 0;
    for &x in b {
        acc += x;
        cuts.push(acc);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len());
    let mut prev = 0;
    for c in cuts {
        if c > prev {
            out.push(c - prev);
            prev = c;
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// Broadcast shape, the unified output grid, and the inputs rechunked to it.
///
/// # Errors
/// [`Error::Broadcast`] for incompatible shapes.
pub(crate) fn align(inputs: &[&Array]) -> Result<(Vec<Array>, ChunkGrid)> {
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|a| a.shape()).collect();
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let shape = broadcast_shapes(&refs)?;
    let nd = shape.len();
    let mut chunks: Vec<Option<Vec<usize>>> = vec![None; nd];
    for a in inputs {
        let pad = nd - a.ndim();
        for ax in 0..a.ndim() {
            let len = a.grid().axis_len(ax);
            if len != shape[pad + ax] {
                continue; // broadcast along this axis
            }
            let c = a.grid().chunks(ax);
            chunks[pad + ax] = Some(match &chunks[pad + ax] {
                None => c.to_vec(),
                Some(prev) if prev.as_slice() == c => prev.clone(),
                Some(prev) => refine(prev, c),
            });
        }
    }
    let chunks: Vec<Vec<usize>> = chunks
        .into_iter()
        .zip(&shape)
        .map(|(c, &n)| c.unwrap_or_else(|| vec![n]))
        .collect();
    let grid = ChunkGrid::from_chunks(&shape, chunks.clone())?;
    let mut out = Vec::with_capacity(inputs.len());
    for a in inputs {
        let pad = nd - a.ndim();
        let want: Vec<Vec<usize>> = (0..a.ndim())
            .map(|ax| {
                if a.grid().axis_len(ax) == shape[pad + ax] {
                    chunks[pad + ax].clone()
                } else {
                    a.grid().chunks(ax).to_vec()
                }
            })
            .collect();
        if want.as_slice() == a.chunks() {
            out.push((*a).clone());
        } else {
            out.push(a.rechunk_to(ChunkGrid::from_chunks(&a.shape(), want)?));
        }
    }
    Ok((out, grid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(broadcast_shapes(&[&[3, 1, 5], &[4, 1]]).unwrap(), vec![3, 4, 5]);
        assert_eq!(broadcast_shapes(&[&[], &[2]]).unwrap(), vec![2]);
        assert!(broadcast_shapes(&[&[3], &[4]]).is_err());
        assert_eq!(refine(&[4, 4, 2], &[5, 5]), vec![4, 1, 3, 2]);
    }
}
