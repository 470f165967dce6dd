//! A box of an uncompressed array read straight from its file by byte ranges: the
//! [`BoxStream`](super::BoxStream) of netCDF-3 variables.
//!
//! Reading a block whole means the kernel copies it from the page cache into a
//! block-sized buffer (out of cache: a write to memory), and the reduction then reads
//! that buffer back (a second pass). A reduction over a block's rows reads them tile by
//! tile, so the file can instead be read in small windows — one per row being read,
//! 64 KiB each, a few hundred KiB in all — byte-swapped when read and reduced while still
//! in cache: one pass over memory instead of three.
//!
//! [`Contiguous`] maps the box's bytes (C order) to file offsets: values stored in C
//! order from `base`, or, for record variables interleaved with others, the first axis
//! `stride` bytes apart and the rest in C order within each record.

use crate::error::{Error, Result};
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// Where the bytes of a box are in a file.
#[derive(Debug, Clone)]
pub(crate) struct Contiguous {
    /// File offset of element 0 (of record 0).
    base: u64,
    /// Bytes from one index of the first axis to the next, when it is not the C-order
    /// stride (interleaved records).
    stride: Option<u64>,
    /// Bytes per element.
    es: usize,
    /// The stored shape within a record (the whole shape without a record stride).
    shape: Vec<usize>,
    /// The box within `shape`.
    region: Vec<Range<usize>>,
    /// The record range (with a stride).
    records: Range<usize>,
    /// C strides of `shape`, in elements.
    strides: Vec<usize>,
    /// Axes after `k` are whole, so the box is runs of `run` elements, one per index of
    /// the axes before `k`.
    k: usize,
    run: usize,
    /// Elements of the box per record.
    per_record: usize,
}

impl Contiguous {
    /// The box `region` of an array of `shape` whose values start at `base`; with
    /// `stride`, the first axis is records `stride` bytes apart.
    pub(crate) fn new(base: u64, stride: Option<u64>, es: usize, shape: &[usize], region: &[Range<usize>]) -> Self {
        let (records, shape, region) = match stride {
            Some(_) => (region[0].clone(), shape[1..].to_vec(), region[1..].to_vec()),
            None => (0..1, shape.to_vec(), region.to_vec()),
        };
        let nd = shape.len();
        let k = (0..nd).rev().find(|&a| region[a] != (0..shape[a])).unwrap_or(0);
        let strides = crate::grid::c_strides(&shape);
        let run = if nd == 0 { 1 } else { region[k].len() * strides[k] };
        let per_record = region.iter().map(Range::len).product();
        Contiguous {
            base,
            stride,
            es,
            shape,
            region,
            records,
            strides,
            k,
            run,
            per_record,
        }
    }

    /// Bytes in the box.
    pub(crate) fn nbytes(&self) -> usize {
        let records = if self.stride.is_some() { self.records.len() } else { 1 };
        records * self.per_record * self.es
    }

    /// The file offset of byte `b` of the box, and how many bytes from there are
    /// contiguous in the file (to the end of the run).
    pub(crate) fn locate(&self, b: usize) -> (u64, usize) {
        let (e, off) = (b / self.es, b % self.es);
        let (base, e) = match self.stride {
            Some(stride) => {
                let r = e / self.per_record.max(1);
                (
                    self.base + (self.records.start + r) as u64 * stride,
                    e % self.per_record.max(1),
                )
            }
            None => (self.base, e),
        };
        if self.shape.is_empty() {
            return (base + off as u64, self.es - off);
        }
        let (mut outer, within) = (e / self.run, e % self.run);
        let mut at = self.region[self.k].start * self.strides[self.k] + within;
        for a in (0..self.k).rev() {
            let n = self.region[a].len();
            at += (self.region[a].start + outer % n) * self.strides[a];
            outer /= n;
        }
        (base + (at * self.es + off) as u64, (self.run - within) * self.es - off)
    }
}

/// Bytes read at a time per row, and the longest read [`FileRows::read`] makes.
const WINDOW: usize = 64 << 10;

/// A window of the box's bytes read from the file, byte-swapped.
struct Window {
    /// Box byte where it starts.
    start: usize,
    len: usize,
    used: u64,
    buf: Vec<u64>,
}

impl Window {
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.buf)[..self.len]
    }
}

/// A box read from its file by byte ranges (see the module docs).
pub(crate) struct FileRows<'a> {
    file: &'a std::fs::File,
    layout: Contiguous,
    /// Big-endian values to swap to native order.
    swap: bool,
    windows: Vec<Window>,
    capacity: usize,
    clock: u64,
    /// Ranges read across two runs, gathered (rare: boxes cut inside a record's rows).
    side: Vec<Vec<u64>>,
    /// File and variable, for messages.
    what: String,
}

impl<'a> FileRows<'a> {
    /// A reader of the box `layout` of `file` for a reduction reading `rows` rows side by
    /// side.
    pub(crate) fn new(file: &'a std::fs::File, layout: Contiguous, swap: bool, rows: usize, what: String) -> Self {
        FileRows {
            file,
            layout,
            swap,
            windows: Vec::new(),
            capacity: rows + 2,
            clock: 0,
            side: Vec::new(),
            what,
        }
    }

    fn past_end(&self, start: usize, len: usize) -> Error {
        Error::Format(format!(
            "{}: bytes {start}..{} past the box's {}",
            self.what,
            start + len,
            self.layout.nbytes()
        ))
    }

    /// Reads `out.len()` bytes of the box from byte `start`, which lie in one run.
    fn read_run(&self, start: usize, out: &mut [u8]) -> Result<()> {
        let (addr, _) = self.layout.locate(start);
        self.file.read_exact_at(out, addr).map_err(|e| {
            Error::Format(format!(
                "{}: {e} reading {} bytes at offset {addr}",
                self.what,
                out.len()
            ))
        })?;
        if self.swap {
            super::netcdf3::from_big_endian(out, self.layout.es);
        }
        Ok(())
    }

    /// The window holding bytes `s..s + len`, reading one from `s` when none does;
    /// `None` when the range crosses a run (no window can hold it).
    fn window(&mut self, s: usize, len: usize) -> Result<Option<usize>> {
        self.clock += 1;
        if let Some(i) = self
            .windows
            .iter()
            .position(|w| w.start <= s && s + len <= w.start + w.len)
        {
            self.windows[i].used = self.clock;
            return Ok(Some(i));
        }
        let (_, avail) = self.layout.locate(s);
        if avail < len {
            return Ok(None);
        }
        // Whole elements, at least the range.
        let n = avail.min(WINDOW.max(len).next_multiple_of(self.layout.es));
        let i = if self.windows.len() < self.capacity {
            self.windows.push(Window {
                start: 0,
                len: 0,
                used: 0,
                buf: Vec::new(),
            });
            self.windows.len() - 1
        } else {
            (0..self.windows.len())
                .min_by_key(|&i| self.windows[i].used)
                .unwrap_or(0)
        };
        let mut buf = std::mem::take(&mut self.windows[i].buf);
        buf.resize(n.div_ceil(8), 0);
        // Marked empty until read, so a failed read leaves no stale window.
        self.windows[i].len = 0;
        self.read_run(s, &mut bytemuck::cast_slice_mut(&mut buf)[..n])?;
        self.windows[i] = Window {
            start: s,
            len: n,
            used: self.clock,
            buf,
        };
        Ok(Some(i))
    }
}

impl super::BoxStream for FileRows<'_> {
    fn read(&mut self, start: usize, out: &mut [u8]) -> Result<()> {
        if start + out.len() > self.layout.nbytes() {
            return Err(self.past_end(start, out.len()));
        }
        let mut o = 0;
        while o < out.len() {
            let (_, avail) = self.layout.locate(start + o);
            let m = avail.min(out.len() - o);
            self.read_run(start + o, &mut out[o..o + m])?;
            o += m;
        }
        Ok(())
    }

    fn with_ranges(&mut self, starts: &[usize], len: usize, f: &mut dyn FnMut(&[&[u8]]) -> Result<()>) -> Result<()> {
        if let Some(&s) = starts.iter().find(|&&s| s + len > self.layout.nbytes()) {
            return Err(self.past_end(s, len));
        }
        // One window per range at most, each used after every window outside this call,
        // so none pushes out another while they are gathered.
        let mut found = Vec::with_capacity(starts.len());
        for &s in starts {
            let w = if len == 0 || starts.len() > self.capacity {
                None
            } else {
                self.window(s, len)?
            };
            found.push(w);
        }
        self.side.resize_with(starts.len(), Vec::new);
        for (k, (&s, w)) in starts.iter().zip(&found).enumerate() {
            if w.is_none() {
                let mut side = std::mem::take(&mut self.side[k]);
                side.resize(len.div_ceil(8), 0);
                super::BoxStream::read(self, s, &mut bytemuck::cast_slice_mut(&mut side)[..len])?;
                self.side[k] = side;
            }
        }
        let slices: Vec<&[u8]> = starts
            .iter()
            .zip(&found)
            .enumerate()
            .map(|(k, (&s, w))| match w {
                Some(i) => {
                    let w = &self.windows[*i];
                    &w.bytes()[s - w.start..s - w.start + len]
                }
                None => &bytemuck::cast_slice(&self.side[k])[..len],
            })
            .collect();
        f(&slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::BoxStream;

    /// Bytes of the box in C order, computed element by element.
    fn expected(shape: &[usize], region: &[Range<usize>], stride: Option<usize>, es: usize) -> Vec<(usize, u64)> {
        let strides = crate::grid::c_strides(shape);
        let lens: Vec<usize> = region.iter().map(Range::len).collect();
        let mut out = Vec::new();
        for idx in crate::grid::IndexIter::new(&lens) {
            let mut at = 0u64;
            for a in 0..shape.len() {
                let i = region[a].start + idx[a];
                at += match (a, stride) {
                    (0, Some(st)) => (i * st) as u64,
                    (_, Some(_)) => (i * strides[a] * es) as u64,
                    (_, None) => (i * strides[a] * es) as u64,
                };
            }
            out.push((out.len() * es, at));
        }
        out
    }

    #[test]
    fn locate_maps_every_element_of_boxes_and_records() {
        let shape = [5, 4, 6];
        for region in [
            vec![0..5, 0..4, 0..6],
            vec![1..4, 0..4, 0..6],
            vec![1..4, 1..3, 0..6],
            vec![0..5, 2..3, 1..5],
            vec![2..3, 0..4, 5..6],
        ] {
            for stride in [None, Some(4 * 24 + 12)] {
                // With a stride, each record is (4, 6) in C order within its record.
                let c = Contiguous::new(100, stride.map(|s| s as u64), 4, &shape, &region);
                let want = expected(&shape, &region, stride, 4);
                assert_eq!(c.nbytes(), want.len() * 4);
                for (b, at) in want {
                    let (addr, avail) = c.locate(b);
                    assert_eq!(addr, 100 + at, "{region:?} {stride:?} byte {b}");
                    assert!(avail >= 4 && avail % 4 == 0);
                }
            }
        }
        // 0-d.
        let c = Contiguous::new(8, None, 8, &[], &[]);
        assert_eq!((c.nbytes(), c.locate(0)), (8, (8, 8)));
    }

    #[test]
    fn ranges_read_through_windows_equal_the_file() {
        // Big-endian u32 values 0..n in a file; a (3, 5000) array as 3 records of
        // 5000 values 20,016 bytes apart (interleaved with 16 other bytes).
        let (recs, n, stride) = (3usize, 5000usize, 20_016usize);
        let mut bytes = vec![0u8; 40 + recs * stride];
        for r in 0..recs {
            for i in 0..n {
                let at = 40 + r * stride + i * 4;
                bytes[at..at + 4].copy_from_slice(&((r * n + i) as u32).to_be_bytes());
            }
        }
        let p = std::env::temp_dir().join(format!("cw-file-rows-{}", std::process::id()));
        std::fs::write(&p, &bytes).unwrap();
        let file = std::fs::File::open(&p).unwrap();
        let region = [0..3, 100..4900];
        let layout = Contiguous::new(40, Some(stride as u64), 4, &[3, n], &region);
        let mut rows = FileRows::new(&file, layout, true, 3, "t".into());
        let value = |r: usize, c: usize| (r * n + 100 + c) as u32;
        let row = 4800 * 4;
        for t in (0..4800).step_by(2048) {
            let l = 2048.min(4800 - t);
            let starts: Vec<usize> = (0..3).map(|r| r * row + t * 4).collect();
            rows.with_ranges(&starts, l * 4, &mut |s| {
                for (r, b) in s.iter().enumerate() {
                    let v: &[u32] = bytemuck::cast_slice(b);
                    assert!(v.iter().enumerate().all(|(c, &x)| x == value(r, t + c)));
                }
                Ok(())
            })
            .unwrap();
        }
        assert!(rows.windows.len() <= 5);
        // A range across two records is gathered; one past the end is refused.
        let mut out = vec![0u8; 16];
        rows.read(row - 8, &mut out).unwrap();
        let v: Vec<u32> = out
            .chunks(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(v, [value(0, 4798), value(0, 4799), value(1, 0), value(1, 1)]);
        rows.with_ranges(&[row - 8], 16, &mut |s| {
            assert_eq!(bytemuck::cast_slice::<u8, u32>(s[0]), v.as_slice());
            Ok(())
        })
        .unwrap();
        assert!(rows.read(3 * row - 4, &mut out).is_err());
        std::fs::remove_file(p).ok();
    }
}
