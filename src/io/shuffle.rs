//! The byte shuffle of HDF5 (`H5Zshuffle.c`) and blosc: byte `b` of every element is
//! stored together, which lets floats compress. Shared by the HDF5 filter pipeline and
//! the Zarr blosc decoder, both of which undo it on the worker threads.

/// Gathers byte `b` of every element together: `out[b*n + i] = src[i*size + b]`; the
/// trailing `len % size` bytes are copied unchanged (as `H5Zshuffle.c` does).
pub fn shuffle(src: &[u8], out: &mut [u8], size: usize) {
    let n = if size > 1 { src.len() / size } else { 0 };
    for b in 0..size.min(if n > 0 { size } else { 0 }) {
        let dst = &mut out[b * n..(b + 1) * n];
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src[i * size + b];
        }
    }
    out[n * size..].copy_from_slice(&src[n * size..]);
}

/// The inverse of [`shuffle`].
pub fn unshuffle(src: &[u8], out: &mut [u8], size: usize) {
    let n = if size > 1 { src.len() / size } else { 0 };
    if n > 0 {
        match size {
            4 => unshuffle_n::<4>(src, out, n),
            8 => unshuffle_n::<8>(src, out, n),
            2 => unshuffle_n::<2>(src, out, n),
            _ => {
                for b in 0..size {
                    let s = &src[b * n..(b + 1) * n];
                    for (i, &v) in s.iter().enumerate() {
                        out[i * size + b] = v;
                    }
                }
            }
        }
    }
    out[n * size..].copy_from_slice(&src[n * size..]);
}

/// Unshuffle with a compile-time element size: one pass writing whole elements, so
/// the output is written sequentially (the strided form writes each line `size` times).
fn unshuffle_n<const S: usize>(src: &[u8], out: &mut [u8], n: usize) {
    let planes: [&[u8]; S] = std::array::from_fn(|b| &src[b * n..(b + 1) * n]);
    for (i, o) in out[..n * S].chunks_exact_mut(S).enumerate() {
        for b in 0..S {
            o[b] = planes[b][i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_inverts_shuffle_for_every_size_and_length() {
        for size in [1, 2, 3, 4, 8] {
            for len in [0, 1, 5, 63, 64, 65, 4 * 16 * 7 + 3, 4096 + 12, 100_003] {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
                let mut s = vec![0; len];
                shuffle(&src, &mut s, size);
                let mut back = vec![0xAA; len];
                unshuffle(&s, &mut back, size);
                assert_eq!(back, src, "size {size} len {len}");
            }
        }
    }
}
