//! The HDF5 filter pipeline (shuffle, deflate, fletcher32) in Rust.
//!
//! libhdf5 runs its filters under one global lock, so a reader that lets the library
//! decode gets one core however many workers it has (that is what limits h5py and dask
//! on HDF5). chunkwise reads the raw chunk bytes itself and runs the pipeline here, on
//! the worker threads: inflate with libdeflate (about 2.5× zlib), the byte shuffle, and
//! the Fletcher-32 check, bit-compatible with `H5Zdeflate.c`, `H5Zshuffle.c` and
//! `H5Zfletcher32.c`. Encoding is the mirror image, used by `to_hdf5` to compress
//! chunks in parallel before handing them to `H5Dwrite_chunk`.

use std::cell::RefCell;

/// HDF5 filter identifiers (`H5Zpublic.h`).
pub const DEFLATE: i32 = 1;
/// Byte shuffle.
pub const SHUFFLE: i32 = 2;
/// Fletcher-32 checksum.
pub const FLETCHER32: i32 = 3;

/// One filter of a dataset's pipeline, in the order they were applied when writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// zlib stream (`compress2`), with its level when writing.
    Deflate(u32),
    /// Byte shuffle with this element size.
    Shuffle(usize),
    /// Fletcher-32 checksum appended as 4 little-endian bytes.
    Fletcher32,
}

impl Filter {
    /// The filter for an HDF5 filter id and its client data, when chunkwise decodes it.
    #[must_use]
    pub fn from_id(id: i32, cd_values: &[u32], elem_size: usize) -> Option<Filter> {
        match id {
            DEFLATE => Some(Filter::Deflate(cd_values.first().copied().unwrap_or(6))),
            SHUFFLE => Some(Filter::Shuffle(
                cd_values.first().map_or(elem_size, |&s| s as usize).max(1),
            )),
            FLETCHER32 => Some(Filter::Fletcher32),
            _ => None,
        }
    }

    /// The pipeline chunkwise runs for a dataset's libhdf5 filters, in their order, or
    /// `None` when one of them is not shuffle, deflate or fletcher32.
    #[must_use]
    pub fn pipeline(h5: &[hdf5::filters::Filter], elem_size: usize) -> Option<Vec<Filter>> {
        h5.iter()
            .map(|f| match f {
                hdf5::filters::Filter::Deflate(l) => Some(Filter::Deflate(u32::from(*l))),
                hdf5::filters::Filter::Shuffle => Some(Filter::Shuffle(elem_size)),
                hdf5::filters::Filter::Fletcher32 => Some(Filter::Fletcher32),
                _ => None,
            })
            .collect()
    }

    /// The filter's name as h5py and `h5dump` spell it.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Filter::Deflate(l) => format!("deflate(level {l})"),
            Filter::Shuffle(_) => "shuffle".into(),
            Filter::Fletcher32 => "fletcher32".into(),
        }
    }
}

thread_local! {
    // Scratch buffers per worker: chunks are decoded one at a time per thread, so
    // reusing them keeps the allocator from mapping a fresh chunk-sized block each time.
    static SCRATCH: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static INFLATER: RefCell<Option<libdeflater::Decompressor>> = const { RefCell::new(None) };
}

fn scratch(len: usize) -> Vec<u8> {
    let mut v = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0);
    v
}

fn recycle(v: Option<Vec<u8>>) {
    if let Some(v) = v {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < 2 {
                s.push(v);
            }
        });
    }
}

/// Undoes the pipeline on one stored chunk, writing exactly `out.len()` bytes.
///
/// `mask` is the chunk's filter mask: bit `i` set means filter `i` was skipped when
/// this chunk was written. Filters are undone last-applied first; the step that
/// produces the final bytes writes straight into `out`.
///
/// # Errors
/// A message naming what is wrong (checksum mismatch, corrupt or truncated deflate
/// stream, wrong decoded size); the caller adds the file and chunk.
pub fn decode(pipeline: &[Filter], mask: u32, raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    let active: Vec<Filter> = pipeline
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) == 0)
        .map(|(_, f)| *f)
        .collect();
    let mut owned: Option<Vec<u8>> = None;
    let mut len = raw.len();
    for k in (0..active.len()).rev() {
        let src: &[u8] = match &owned {
            Some(v) => &v[..len],
            None => &raw[..len],
        };
        if active[k] == Filter::Fletcher32 {
            len = verify_fletcher32(src)?.len();
            continue;
        }
        let earlier = &active[..k];
        // Size of this step's output: the element bytes plus the checksums that filters
        // applied before it appended.
        let want = out.len() + 4 * earlier.iter().filter(|f| **f == Filter::Fletcher32).count();
        let step = |src: &[u8], dst: &mut [u8]| -> Result<(), String> {
            match active[k] {
                Filter::Deflate(_) => inflate(src, dst),
                Filter::Shuffle(size) => {
                    if src.len() != dst.len() {
                        return Err(format!(
                            "shuffled chunk holds {} bytes, expected {}",
                            src.len(),
                            dst.len()
                        ));
                    }
                    unshuffle(src, dst, size);
                    Ok(())
                }
                Filter::Fletcher32 => unreachable!("handled above"),
            }
        };
        if earlier.is_empty() {
            step(src, out)?;
            recycle(owned);
            return Ok(());
        }
        let mut next = scratch(want);
        step(src, &mut next)?;
        recycle(owned.replace(next));
        len = want;
    }
    let src: &[u8] = match &owned {
        Some(v) => &v[..len],
        None => &raw[..len],
    };
    if src.len() != out.len() {
        return Err(format!("chunk holds {} bytes, expected {}", src.len(), out.len()));
    }
    out.copy_from_slice(src);
    recycle(owned);
    Ok(())
}

/// Inflates a zlib stream into exactly `out.len()` bytes.
fn inflate(src: &[u8], out: &mut [u8]) -> Result<(), String> {
    INFLATER.with(|d| {
        let mut d = d.borrow_mut();
        let d = d.get_or_insert_with(libdeflater::Decompressor::new);
        match d.zlib_decompress(src, out) {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => Err(format!("deflate stream holds {n} bytes, expected {}", out.len())),
            Err(libdeflater::DecompressionError::InsufficientSpace) => Err(format!(
                "deflate stream holds more than the {} bytes of a chunk",
                out.len()
            )),
            Err(libdeflater::DecompressionError::BadData) => {
                Err("corrupt deflate stream (truncated or garbled chunk)".into())
            }
        }
    })
}

/// Compresses `src` as a zlib stream at `level` (1–9; HDF5's deflate filter).
#[must_use]
pub fn deflate(src: &[u8], level: u32) -> Vec<u8> {
    let lvl = libdeflater::CompressionLvl::new(level.clamp(1, 12) as i32).unwrap_or_default();
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0; c.zlib_compress_bound(src.len())];
    let n = c.zlib_compress(src, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

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

/// HDF5's Fletcher-32 (`H5_checksum_fletcher32`): 16-bit big-endian words, sums
/// folded every 360 words.
#[must_use]
pub fn fletcher32(data: &[u8]) -> u32 {
    let (mut s1, mut s2) = (0u32, 0u32);
    let mut words = data.chunks_exact(2);
    loop {
        let mut k = 0;
        for w in words.by_ref() {
            s1 += u32::from(w[0]) << 8 | u32::from(w[1]);
            s2 += s1;
            k += 1;
            if k == 360 {
                break;
            }
        }
        if k == 0 {
            break;
        }
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if data.len() % 2 == 1 {
        s1 += u32::from(data[data.len() - 1]) << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    (s2 << 16) | s1
}

/// Checks and strips the trailing checksum. Like libhdf5, also accepts the
/// byte-swapped sum written by releases before 1.6.3.
fn verify_fletcher32(data: &[u8]) -> Result<&[u8], String> {
    if data.len() < 4 {
        return Err("chunk too short for its fletcher32 checksum".into());
    }
    let (body, tail) = data.split_at(data.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let sum = fletcher32(body);
    let b = sum.to_le_bytes();
    let reversed = u32::from_le_bytes([b[1], b[0], b[3], b[2]]);
    if stored == sum || stored == reversed {
        Ok(body)
    } else {
        Err(format!(
            "fletcher32 checksum mismatch (stored {stored:#010x}, computed {sum:#010x})"
        ))
    }
}

/// Applies the pipeline for writing one chunk (the inverse of [`decode`]).
#[must_use]
pub fn encode(pipeline: &[Filter], data: &[u8]) -> Vec<u8> {
    let mut cur = data.to_vec();
    for f in pipeline {
        cur = match *f {
            Filter::Shuffle(size) => {
                let mut out = vec![0; cur.len()];
                shuffle(&cur, &mut out, size);
                out
            }
            Filter::Deflate(level) => deflate(&cur, level),
            Filter::Fletcher32 => {
                let sum = fletcher32(&cur);
                cur.extend_from_slice(&sum.to_le_bytes());
                cur
            }
        };
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 % 17)
            .collect()
    }

    #[test]
    fn shuffle_roundtrips_with_leftover_bytes() {
        for size in [1, 2, 3, 4, 8] {
            for n in [0, 1, 7, 64, 1001] {
                let src = sample(n);
                let mut s = vec![0; n];
                shuffle(&src, &mut s, size);
                let mut back = vec![0; n];
                unshuffle(&s, &mut back, size);
                assert_eq!(back, src, "size {size} n {n}");
            }
        }
        // Known layout: bytes of two u16 elements gathered by byte position.
        let mut s = vec![0; 5];
        shuffle(&[1, 2, 3, 4, 9], &mut s, 2);
        assert_eq!(s, [1, 3, 2, 4, 9]);
    }

    #[test]
    fn fletcher32_matches_reference_values() {
        // Values from the reference algorithm (`H5checksum.c`).
        assert_eq!(fletcher32(&[]), 0);
        assert_eq!(fletcher32(&[0x01, 0x02]), 0x0102_0102);
        // Worked by hand: words 0x6162, 0x6364 then the odd byte 0x65 as 0x6500, with
        // the 16-bit folds of H5checksum.c.
        assert_eq!(fletcher32(b"abcde"), 0x4ff0_29c7);
    }

    #[test]
    fn pipelines_roundtrip_and_detect_damage() {
        let data = sample(40_000);
        let pipes: [&[Filter]; 6] = [
            &[],
            &[Filter::Deflate(1)],
            &[Filter::Shuffle(4), Filter::Deflate(4)],
            &[Filter::Shuffle(4), Filter::Deflate(1), Filter::Fletcher32],
            &[Filter::Shuffle(8), Filter::Fletcher32],
            &[Filter::Fletcher32, Filter::Shuffle(4), Filter::Deflate(9)],
        ];
        for p in pipes {
            let enc = encode(p, &data);
            let mut out = vec![0; data.len()];
            decode(p, 0, &enc, &mut out).unwrap();
            assert_eq!(out, data, "{p:?}");
            if !p.is_empty() {
                let mut bad = enc.clone();
                let k = bad.len() / 2;
                bad[k] ^= 0x5a;
                bad.truncate(bad.len() - 3);
                assert!(decode(p, 0, &bad, &mut out).is_err(), "{p:?}");
            }
        }
        // A skipped filter (mask bit set) is not undone.
        let p = [Filter::Shuffle(4), Filter::Deflate(1)];
        let enc = encode(&p[..1], &data);
        let mut out = vec![0; data.len()];
        decode(&p, 0b10, &enc, &mut out).unwrap();
        assert_eq!(out, data);
    }
}
