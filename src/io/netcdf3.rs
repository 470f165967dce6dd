//! netCDF-3 files — classic (CDF-1), 64-bit offset (CDF-2) and 64-bit data (CDF-5) —
//! read by chunkwise itself, with no library and in every feature set.
//!
//! Much archived climate data is netCDF-3: CMIP5 output, NCEP/NCAR reanalysis, ERA5
//! from the Copernicus store's older interface, whatever `scipy.io.netcdf` or
//! `ncks -3` wrote. The format is simple enough to read directly (the "NetCDF Classic
//! Format Specification"): a big-endian header naming dimensions, attributes and
//! variables with their types and file offsets, then each variable's values,
//! uncompressed and big-endian, in C order. Variables whose first dimension is the
//! record (unlimited) dimension are stored record by record, the records of all such
//! variables interleaved: record `r` of variable `v` starts at `begin_v + r * recsize`.
//!
//! So a box is a set of positioned reads (one per record and contiguous run) straight
//! into the block's buffer, byte-swapped in cache-sized pieces: no decoding, no lock,
//! fully parallel. There are no chunks: blocks are whole records, as many as fit in
//! about 128 MiB ([`crate::grid::contiguous_chunks`]), so a block is one read per
//! record; a reduction over a block's records reads them in small windows instead
//! (`io::file_rows`), never materialising the block.
//!
//! Everything read from the header is checked against the file (counts against the
//! bytes left, dimension ids, every variable's extent against the file's length), so a
//! truncated or garbled file is a one-line error naming it, never a huge allocation or
//! a panic.

use super::{ChunkSource, buffer};
use crate::chunk::Chunk;
use crate::dtype::{Buffer, DType, Element};
use crate::error::{Error, Result};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The external types of netCDF-3 (CDF-5 adds the unsigned and 64-bit ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcType {
    /// `byte`: signed 8-bit.
    Byte,
    /// `char`: text.
    Char,
    /// `short`.
    Short,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `ubyte` (CDF-5).
    UByte,
    /// `ushort` (CDF-5).
    UShort,
    /// `uint` (CDF-5).
    UInt,
    /// `int64` (CDF-5).
    Int64,
    /// `uint64` (CDF-5).
    UInt64,
}

impl NcType {
    fn from_code(code: u32) -> Option<NcType> {
        Some(match code {
            1 => NcType::Byte,
            2 => NcType::Char,
            3 => NcType::Short,
            4 => NcType::Int,
            5 => NcType::Float,
            6 => NcType::Double,
            7 => NcType::UByte,
            8 => NcType::UShort,
            9 => NcType::UInt,
            10 => NcType::Int64,
            11 => NcType::UInt64,
            _ => return None,
        })
    }

    /// Bytes per value.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            NcType::Byte | NcType::Char | NcType::UByte => 1,
            NcType::Short | NcType::UShort => 2,
            NcType::Int | NcType::Float | NcType::UInt => 4,
            NcType::Double | NcType::Int64 | NcType::UInt64 => 8,
        }
    }

    /// The element type chunkwise reads it as (`None` for text).
    #[must_use]
    pub fn dtype(self) -> Option<DType> {
        Some(match self {
            NcType::Byte => DType::I8,
            NcType::Char => return None,
            NcType::Short => DType::I16,
            NcType::Int => DType::I32,
            NcType::Float => DType::F32,
            NcType::Double => DType::F64,
            NcType::UByte => DType::U8,
            NcType::UShort => DType::U16,
            NcType::UInt => DType::U32,
            NcType::Int64 => DType::I64,
            NcType::UInt64 => DType::U64,
        })
    }

    /// The name CDL (`ncdump -h`) gives it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            NcType::Byte => "byte",
            NcType::Char => "char",
            NcType::Short => "short",
            NcType::Int => "int",
            NcType::Float => "float",
            NcType::Double => "double",
            NcType::UByte => "ubyte",
            NcType::UShort => "ushort",
            NcType::UInt => "uint",
            NcType::Int64 => "int64",
            NcType::UInt64 => "uint64",
        }
    }
}

/// An attribute's value: text (`char`) or numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A `char` attribute, trailing NULs trimmed.
    Text(String),
    /// Numbers of one type, as f64 (exact for all but 64-bit integers beyond 2^53).
    Numbers(NcType, Vec<f64>),
}

/// A dimension: its name and length (`None` for the record dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    /// The name.
    pub name: String,
    /// The length; `None` for the record (unlimited) dimension.
    pub len: Option<u64>,
}

/// A variable as the header describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    /// The name.
    pub name: String,
    /// Its dimensions, as indices into [`Header::dims`].
    pub dims: Vec<usize>,
    /// Its attributes.
    pub attrs: Vec<(String, AttrValue)>,
    /// The stored type.
    pub ty: NcType,
    /// File offset of its values (of its first record, for a record variable).
    pub begin: u64,
}

/// A parsed netCDF-3 header.
#[derive(Debug, Clone)]
pub struct Header {
    /// 1 (classic), 2 (64-bit offset) or 5 (64-bit data).
    pub version: u8,
    /// Number of records written.
    pub numrecs: u64,
    /// The dimensions.
    pub dims: Vec<Dim>,
    /// Global attributes.
    pub attrs: Vec<(String, AttrValue)>,
    /// The variables, in file order.
    pub vars: Vec<Var>,
    /// Bytes from one record of a record variable to the next.
    pub recsize: u64,
    /// The file's length.
    pub file_len: u64,
}

/// Whether `path` is a regular file that starts with a netCDF-3 signature (`CDF` 1, 2
/// or 5). Directories (Zarr stores) and pipes are not opened.
#[must_use]
pub fn is_netcdf3(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let mut sig = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut sig, 0))
        .is_ok_and(|()| matches!(sig, [b'C', b'D', b'F', 1 | 2 | 5]))
}

/// Why parsing stopped: the bytes read so far ended (read more), or the header is bad.
enum Stop {
    More,
    Bad(String),
}

type Parse<T> = std::result::Result<T, Stop>;

/// A cursor over the first bytes of the file.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    /// Whether `b` is the whole file: running out is then a truncated header, not a
    /// reason to read more.
    whole: bool,
    /// The file's length: no count may promise more than it holds.
    file_len: u64,
    /// 8-byte counts (CDF-5).
    wide: bool,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Parse<&[u8]> {
        if self.b.len() - self.pos < n {
            return Err(if self.whole {
                Stop::Bad("truncated header".into())
            } else {
                Stop::More
            });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Parse<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> Parse<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }

    /// A count (NON_NEG): 4 bytes, 8 in CDF-5.
    fn count(&mut self) -> Parse<u64> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// A count of items that take at least `min_bytes` each: more than the file could
    /// hold is a corrupt header, not an allocation to attempt.
    fn items(&mut self, what: &str, min_bytes: u64) -> Parse<usize> {
        let n = self.count()?;
        if n.saturating_mul(min_bytes) > self.file_len {
            return Err(Stop::Bad(format!("corrupt header: {n} {what}")));
        }
        usize::try_from(n).map_err(|_| Stop::Bad(format!("corrupt header: {n} {what}")))
    }

    /// `n` bytes, then the padding to a multiple of 4.
    fn padded(&mut self, n: usize) -> Parse<&[u8]> {
        let s = self.take(n.next_multiple_of(4))?;
        Ok(&s[..n])
    }

    fn name(&mut self) -> Parse<String> {
        let n = self.items("bytes in a name", 1)?;
        let s = self.padded(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| Stop::Bad("corrupt header: a name that is not UTF-8".into()))
    }

    /// A list's tag and length; ABSENT (zero, zero) is an empty list.
    fn list(&mut self, tag: u32, what: &str, min_bytes: u64) -> Parse<usize> {
        let t = self.u32()?;
        let n = self.items(what, min_bytes)?;
        if t == 0 && n == 0 {
            return Ok(0);
        }
        if t != tag {
            return Err(Stop::Bad(format!("corrupt header: the {what} list has tag {t:#x}")));
        }
        Ok(n)
    }

    fn attrs(&mut self) -> Parse<Vec<(String, AttrValue)>> {
        let n = self.list(0x0C, "attributes", 12)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.name()?;
            let code = self.u32()?;
            let ty = NcType::from_code(code)
                .ok_or_else(|| Stop::Bad(format!("corrupt header: attribute '{name}' has type code {code}")))?;
            let count = self.items("attribute values", ty.size() as u64)?;
            let bytes = self.padded(count * ty.size())?;
            let value = if ty == NcType::Char {
                AttrValue::Text(String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string())
            } else {
                AttrValue::Numbers(ty, bytes.chunks_exact(ty.size()).map(|v| be_to_f64(ty, v)).collect())
            };
            out.push((name, value));
        }
        Ok(out)
    }
}

/// One big-endian value of a numeric type as f64.
fn be_to_f64(ty: NcType, v: &[u8]) -> f64 {
    let mut a = [0u8; 8];
    a[..v.len()].copy_from_slice(v);
    let (b2, b4, b8) = ([a[0], a[1]], [a[0], a[1], a[2], a[3]], a);
    match ty {
        NcType::Byte => f64::from(a[0] as i8),
        NcType::Char | NcType::UByte => f64::from(a[0]),
        NcType::Short => f64::from(i16::from_be_bytes(b2)),
        NcType::UShort => f64::from(u16::from_be_bytes(b2)),
        NcType::Int => f64::from(i32::from_be_bytes(b4)),
        NcType::UInt => f64::from(u32::from_be_bytes(b4)),
        NcType::Float => f64::from(f32::from_be_bytes(b4)),
        NcType::Double => f64::from_be_bytes(b8),
        NcType::Int64 => i64::from_be_bytes(b8) as f64,
        NcType::UInt64 => u64::from_be_bytes(b8) as f64,
    }
}

fn parse(b: &[u8], file_len: u64, whole: bool) -> Parse<Header> {
    let version = match b {
        [b'C', b'D', b'F', v @ (1 | 2 | 5), ..] => *v,
        _ if b.len() < 4 && !whole => return Err(Stop::More),
        _ => return Err(Stop::Bad("not a netCDF-3 file (no CDF signature)".into())),
    };
    let mut c = Cursor {
        b,
        pos: 4,
        whole,
        file_len,
        wide: version == 5,
    };
    let numrecs = c.count()?;
    let streaming = numrecs == if c.wide { u64::MAX } else { u64::from(u32::MAX) };
    let ndims = c.list(0x0A, "dimensions", 8)?;
    let mut dims = Vec::with_capacity(ndims);
    for _ in 0..ndims {
        let name = c.name()?;
        let len = c.count()?;
        dims.push(Dim {
            name,
            len: (len != 0).then_some(len),
        });
    }
    if dims.iter().filter(|d| d.len.is_none()).count() > 1 {
        return Err(Stop::Bad("corrupt header: more than one record dimension".into()));
    }
    let attrs = c.attrs()?;
    let nvars = c.list(0x0B, "variables", 24)?;
    let mut vars = Vec::with_capacity(nvars);
    for _ in 0..nvars {
        let name = c.name()?;
        let nd = c.items("dimensions of a variable", 4)?;
        let mut ids = Vec::with_capacity(nd);
        for i in 0..nd {
            let id = c.count()?;
            let id = usize::try_from(id)
                .ok()
                .filter(|&id| id < dims.len())
                .ok_or_else(|| Stop::Bad(format!("corrupt header: variable '{name}' has dimension id {id}")))?;
            if i > 0 && dims[id].len.is_none() {
                return Err(Stop::Bad(format!(
                    "corrupt header: variable '{name}' has the record dimension after its first"
                )));
            }
            ids.push(id);
        }
        let vattrs = c.attrs()?;
        let code = c.u32()?;
        let ty = NcType::from_code(code)
            .ok_or_else(|| Stop::Bad(format!("corrupt header: variable '{name}' has type code {code}")))?;
        // vsize is recomputed from the shape: it saturates for variables over 4 GiB.
        let _vsize = c.count()?;
        let begin = if version == 1 { u64::from(c.u32()?) } else { c.u64()? };
        vars.push(Var {
            name,
            dims: ids,
            attrs: vattrs,
            ty,
            begin,
        });
    }
    let mut h = Header {
        version,
        numrecs,
        dims,
        attrs,
        vars,
        recsize: 0,
        file_len,
    };
    let slabs: Vec<u64> = h
        .vars
        .iter()
        .filter(|v| h.is_record(v))
        .map(|v| h.slab_bytes(v))
        .collect();
    // One record variable is packed without padding (the netCDF library's special case).
    h.recsize = match slabs.as_slice() {
        [one] => *one,
        // Saturating: a garbled size must fail the extent checks, not overflow here.
        many => many.iter().fold(0u64, |a, s| {
            a.saturating_add(s.checked_next_multiple_of(4).unwrap_or(u64::MAX))
        }),
    };
    if streaming {
        // Written by a streaming writer that never came back to set the count: as many
        // whole records as the file holds.
        let begin = h
            .vars
            .iter()
            .filter(|v| h.is_record(v))
            .map(|v| v.begin)
            .min()
            .unwrap_or(file_len);
        h.numrecs = file_len.saturating_sub(begin).checked_div(h.recsize).unwrap_or(0);
    }
    Ok(h)
}

impl Header {
    /// Reads and checks the header of `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file when
    /// it is not netCDF-3 or its header is truncated or corrupt.
    pub fn read(path: &Path) -> Result<Header> {
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut want = len.min(64 << 10);
        loop {
            let mut b = vec![0u8; usize::try_from(want).unwrap_or(usize::MAX)];
            file.read_exact_at(&mut b, 0).map_err(io)?;
            match parse(&b, len, want == len) {
                Ok(h) => return Ok(h),
                Err(Stop::More) => want = (want * 4).min(len),
                Err(Stop::Bad(m)) => return Err(Error::Format(format!("{}: {m}", path.display()))),
            }
        }
    }

    /// The format's name, as `ncdump -k` prints it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.version {
            1 => "classic",
            2 => "64-bit offset",
            _ => "64-bit data (CDF-5)",
        }
    }

    /// The variable named `name` (a leading `/` ignored).
    #[must_use]
    pub fn var(&self, name: &str) -> Option<&Var> {
        let name = name.trim_start_matches('/');
        self.vars.iter().find(|v| v.name == name)
    }

    /// Whether `v` is stored record by record.
    #[must_use]
    pub fn is_record(&self, v: &Var) -> bool {
        v.dims.first().is_some_and(|&d| self.dims[d].len.is_none())
    }

    /// The shape of `v` (the record dimension as long as the records written).
    #[must_use]
    pub fn shape(&self, v: &Var) -> Vec<u64> {
        v.dims
            .iter()
            .map(|&d| self.dims[d].len.unwrap_or(self.numrecs))
            .collect()
    }

    /// The dimension names of `v`.
    #[must_use]
    pub fn dim_names(&self, v: &Var) -> Vec<String> {
        v.dims.iter().map(|&d| self.dims[d].name.clone()).collect()
    }

    /// Bytes of one record of `v` (all of `v` when it is not a record variable).
    fn slab_bytes(&self, v: &Var) -> u64 {
        let skip = usize::from(self.is_record(v));
        v.dims[skip.min(v.dims.len())..]
            .iter()
            .map(|&d| self.dims[d].len.unwrap_or(0))
            .fold(v.ty.size() as u64, u64::saturating_mul)
    }

    /// The byte just past `v`'s last value; `None` when it overflows.
    fn end(&self, v: &Var) -> Option<u64> {
        let slab = self.slab_bytes(v);
        if self.is_record(v) {
            match self.numrecs {
                0 => Some(v.begin),
                n => (n - 1)
                    .checked_mul(self.recsize)?
                    .checked_add(slab)?
                    .checked_add(v.begin),
            }
        } else {
            v.begin.checked_add(slab)
        }
    }
}

/// One variable of a netCDF-3 file, read by positioned reads.
#[derive(Debug)]
pub struct Netcdf3Source {
    path: PathBuf,
    var: String,
    file: std::fs::File,
    header: Header,
    shape: Vec<usize>,
    dtype: DType,
    begin: u64,
    /// Bytes between records, when the variable's records are interleaved with other
    /// variables' (`None`: its values are one contiguous run).
    stride: Option<u64>,
}

impl Netcdf3Source {
    /// Opens variable `var` (a leading `/` allowed) of netCDF-3 file `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Format`] when it is not a
    /// netCDF-3 file, has no such variable (the message lists those it has), holds text,
    /// or is shorter than the variable's values.
    pub fn open(path: impl AsRef<Path>, var: &str) -> Result<Netcdf3Source> {
        let path = path.as_ref().to_path_buf();
        let header = Header::read(&path)?;
        let name = var.trim_start_matches('/');
        let shown = format!("{}:{name}", path.display());
        if name.contains('/') {
            return Err(Error::Format(format!(
                "{shown}: a netCDF-3 file has no groups (its variables: {})",
                var_list(&header)
            )));
        }
        let v = header.var(name).ok_or_else(|| {
            Error::Format(format!(
                "{shown}: no variable '{name}' (the file holds: {})",
                var_list(&header)
            ))
        })?;
        let dtype = v.ty.dtype().ok_or_else(|| {
            Error::Format(format!(
                "{shown}: datatype char (text) is not supported (bool, int8–64, uint8–64, float32/64)"
            ))
        })?;
        header.end(v).filter(|&e| e <= header.file_len).ok_or_else(|| {
            Error::Format(format!(
                "{shown}: the file is truncated: its {} bytes end before the variable's values do (at byte {})",
                header.file_len,
                header.end(v).map_or("beyond 2^64".into(), |e| e.to_string())
            ))
        })?;
        let shape = header
            .shape(v)
            .iter()
            .map(|&n| usize::try_from(n).map_err(|_| Error::Format(format!("{shown}: dimension of {n} elements"))))
            .collect::<Result<Vec<_>>>()?;
        let record = header.is_record(v);
        let stride = (record && header.recsize != header.slab_bytes(v)).then_some(header.recsize);
        let file = std::fs::File::open(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok(Netcdf3Source {
            var: name.to_string(),
            begin: v.begin,
            path,
            file,
            header,
            shape,
            dtype,
            stride,
        })
    }

    /// The parsed header of the file.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The variable as the header describes it.
    #[must_use]
    pub fn var(&self) -> &Var {
        self.header.var(&self.var).unwrap_or(&self.header.vars[0])
    }

    /// How the values are laid out, for `chunkwise info`.
    #[must_use]
    pub fn layout(&self) -> String {
        let others = self
            .header
            .vars
            .iter()
            .filter(|v| self.header.is_record(v))
            .count()
            .saturating_sub(1);
        match self.stride {
            Some(s) => format!(
                "records of {} bytes, interleaved with {others} other record variable(s) ({s} bytes apart)",
                self.header.slab_bytes(self.var())
            ),
            None => "contiguous".into(),
        }
    }

    /// Bytes of the variable's values in the file.
    #[must_use]
    pub fn stored_bytes(&self) -> u64 {
        self.shape.iter().product::<usize>() as u64 * self.dtype.size() as u64
    }

    /// Reads `region` of axes `shape` stored contiguously from byte `base` into `out`
    /// (C order): one positioned read per contiguous run.
    fn read_box(&self, base: u64, shape: &[usize], region: &[Range<usize>], out: &mut [u8]) -> Result<()> {
        let es = self.dtype.size();
        let nd = shape.len();
        // Axes after `k` are whole, so each index of the axes before it is one run.
        let k = (0..nd).rev().find(|&a| region[a] != (0..shape[a])).unwrap_or(0);
        let strides = crate::grid::c_strides(shape);
        let run = if nd == 0 { 1 } else { region[k].len() * strides[k] } * es;
        let outer: Vec<usize> = region[..k.min(nd)].iter().map(Range::len).collect();
        let mut o = 0;
        for idx in crate::grid::IndexIter::new(&outer) {
            let mut at = if nd == 0 { 0 } else { region[k].start * strides[k] };
            for a in 0..idx.len() {
                at += (region[a].start + idx[a]) * strides[a];
            }
            // In pieces that stay in cache between the read and the byte swap.
            let mut done = 0;
            while done < run {
                let len = (run - done).min(PIECE.next_multiple_of(es));
                let addr = base + (at * es + done) as u64;
                let dst = &mut out[o + done..o + done + len];
                self.file.read_exact_at(dst, addr).map_err(|e| {
                    Error::Format(format!(
                        "{}:{} elements {region:?}: {e} reading {len} bytes at offset {addr}",
                        self.path.display(),
                        self.var
                    ))
                })?;
                from_big_endian(dst, es);
                done += len;
            }
            o += run;
        }
        Ok(())
    }

    fn read_typed<T: Element + bytemuck::Pod>(&self, region: &[Range<usize>], spare: Option<Vec<T>>) -> Result<Vec<T>> {
        let n: usize = region.iter().map(Range::len).product();
        let mut out: Vec<T> = buffer(spare, n);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
        match self.stride {
            None => self.read_box(self.begin, &self.shape, region, bytes)?,
            Some(stride) => {
                let per = bytes.len() / region[0].len().max(1);
                for (r, dst) in region[0].clone().zip(bytes.chunks_exact_mut(per.max(1))) {
                    self.read_box(self.begin + r as u64 * stride, &self.shape[1..], &region[1..], dst)?;
                }
            }
        }
        Ok(out)
    }
}

/// Bytes read at a time: the byte swap that follows each read finds them in cache.
const PIECE: usize = 256 << 10;

/// Byte-swaps `es`-byte big-endian values to native order in place (nothing on a
/// big-endian host). `b` starts at an element of a buffer of such elements, so it is
/// aligned for them; if it were not, the values are swapped one by one.
pub(crate) fn from_big_endian(b: &mut [u8], es: usize) {
    if cfg!(target_endian = "big") {
        return;
    }
    fn swap<T: bytemuck::Pod>(b: &mut [u8], f: impl Fn(T) -> T) -> bool {
        match bytemuck::try_cast_slice_mut::<u8, T>(b) {
            Ok(v) => {
                v.iter_mut().for_each(|x| *x = f(*x));
                true
            }
            Err(_) => false,
        }
    }
    let done = match es {
        2 => swap(b, u16::swap_bytes),
        4 => swap(b, u32::swap_bytes),
        8 => swap(b, u64::swap_bytes),
        _ => true,
    };
    if !done {
        b.chunks_exact_mut(es).for_each(<[u8]>::reverse);
    }
}

/// The variables of a header, for messages (at most 20 named).
fn var_list(h: &Header) -> String {
    let names: Vec<&str> = h.vars.iter().map(|v| v.name.as_str()).collect();
    match names.len() {
        0 => "no variables".into(),
        n if n > 20 => format!("{}, … ({n} variables)", names[..20].join(", ")),
        _ => names.join(", "),
    }
}

impl ChunkSource for Netcdf3Source {
    fn name(&self) -> String {
        format!("{}:{}", self.path.display(), self.var)
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    /// No stored chunks: blocks of whole records (whole trailing axes), each one read
    /// per record ([`crate::grid::contiguous_chunks`]).
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(crate::grid::contiguous_chunks(
            &self.shape,
            self.dtype.size(),
            crate::grid::DEFAULT_CHUNK_BYTES,
        ))
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        self.read_into(region, None)
    }
    /// Rows read from the file in small windows, reduced while in cache
    /// (`io::file_rows`).
    fn stream(&self, region: &[Range<usize>], rows: usize) -> Result<Option<Box<dyn super::BoxStream + '_>>> {
        if region.iter().any(Range::is_empty) {
            return Ok(None);
        }
        let layout = super::file_rows::Contiguous::new(self.begin, self.stride, self.dtype.size(), &self.shape, region);
        let what = format!("{}:{} elements {region:?}", self.path.display(), self.var);
        let rows = super::file_rows::FileRows::new(&self.file, layout, true, rows, what);
        Ok(Some(Box::new(rows)))
    }
    fn read_into(&self, region: &[Range<usize>], spare: Option<Buffer>) -> Result<Chunk> {
        let shape: Vec<usize> = region.iter().map(Range::len).collect();
        if shape.contains(&0) {
            return Chunk::new(shape, Buffer::zeros(self.dtype, 0));
        }
        fn reuse<T: Element>(spare: Option<Buffer>) -> Option<Vec<T>> {
            spare.and_then(|b| T::vec_of(b).ok())
        }
        let data = match self.dtype {
            DType::I8 => Buffer::I8(self.read_typed(region, reuse::<i8>(spare))?),
            DType::I16 => Buffer::I16(self.read_typed(region, reuse::<i16>(spare))?),
            DType::I32 => Buffer::I32(self.read_typed(region, reuse::<i32>(spare))?),
            DType::I64 => Buffer::I64(self.read_typed(region, reuse::<i64>(spare))?),
            DType::U8 => Buffer::U8(self.read_typed(region, reuse::<u8>(spare))?),
            DType::U16 => Buffer::U16(self.read_typed(region, reuse::<u16>(spare))?),
            DType::U32 => Buffer::U32(self.read_typed(region, reuse::<u32>(spare))?),
            DType::U64 => Buffer::U64(self.read_typed(region, reuse::<u64>(spare))?),
            DType::F32 => Buffer::F32(self.read_typed(region, reuse::<f32>(spare))?),
            DType::F64 => Buffer::F64(self.read_typed(region, reuse::<f64>(spare))?),
            DType::Bool => unreachable!("netCDF-3 has no boolean type"),
        };
        Chunk::new(shape, data)
    }
}

/// The attributes of variable `var` of `path` (`""` or `/` for the global ones);
/// `Ok(None)` when there is no such variable.
///
/// # Errors
/// As [`Header::read`].
pub fn attributes(path: &Path, var: &str) -> Result<Option<Vec<(String, AttrValue)>>> {
    let h = Header::read(path)?;
    if var.trim_start_matches('/').is_empty() {
        return Ok(Some(h.attrs));
    }
    Ok(h.var(var).map(|v| v.attrs.clone()))
}

/// A text attribute of variable `var` (or the file: `""`); `Ok(None)` when absent.
///
/// # Errors
/// As [`Header::read`]; [`Error::Format`] when the attribute holds numbers.
pub fn string_attr(path: &Path, var: &str, key: &str) -> Result<Option<String>> {
    let attrs = attributes(path, var)?.unwrap_or_default();
    match attrs.into_iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, AttrValue::Text(s))) => Ok(Some(s)),
        Some(_) => Err(Error::Format(format!(
            "{}:{var}: attribute '{key}' is not text",
            path.display()
        ))),
    }
}

/// The CF attributes of variable `var` (see [`crate::io::cf`]), each with its stored type.
///
/// # Errors
/// As [`Header::read`]; [`Error::Format`] when a CF attribute is text.
pub fn cf_attrs(path: &Path, var: &str) -> Result<crate::io::cf::CfAttrs> {
    use crate::io::cf::{AttrType, CfAttr, CfAttrs};
    let Some(attrs) = attributes(path, var)? else {
        return Ok(CfAttrs::default());
    };
    let get = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let read = |key: &str| -> Result<Option<CfAttr>> {
        match get(key) {
            None => Ok(None),
            Some(AttrValue::Numbers(ty, values)) => {
                let t = match ty {
                    NcType::Float => AttrType::F32,
                    NcType::Double => AttrType::F64,
                    _ => AttrType::Int,
                };
                Ok(Some(CfAttr::typed(values.clone(), t)))
            }
            Some(AttrValue::Text(_)) => Err(Error::Format(format!(
                "{}:{var}: attribute '{key}' is not a number",
                path.display()
            ))),
        }
    };
    Ok(CfAttrs {
        fill_value: read("_FillValue")?,
        missing_value: read("missing_value")?,
        scale_factor: read("scale_factor")?,
        add_offset: read("add_offset")?,
        // xarray compares the value with the string "true"; a number is ignored.
        unsigned: get("_Unsigned").map(|v| match v {
            AttrValue::Text(s) => s.clone(),
            AttrValue::Numbers(..) => String::new(),
        }),
    })
}

/// The dimension names of variable `var`; `None` when the file or variable cannot be read.
#[must_use]
pub fn dimension_names(path: &Path, var: &str) -> Option<Vec<String>> {
    let h = Header::read(path).ok()?;
    let v = h.var(var)?;
    Some(h.dim_names(v))
}

/// Whether `path` has variable `var`.
#[must_use]
pub fn has_values(path: &Path, var: &str) -> bool {
    Header::read(path).is_ok_and(|h| h.var(var).is_some())
}

/// The variables of `path`, in file order.
///
/// # Errors
/// As [`Header::read`].
pub fn variables(path: &Path) -> Result<Vec<String>> {
    Ok(Header::read(path)?.vars.into_iter().map(|v| v.name).collect())
}

/// Shape, stored type (CDL's name) and block shape (the whole variable: it has no chunks)
/// of variable `var`, whatever its type; `None` when it cannot be read.
#[must_use]
pub fn stored_layout(path: &Path, var: &str) -> Option<(Vec<u64>, String, Vec<u64>)> {
    let h = Header::read(path).ok()?;
    let v = h.var(var)?;
    let shape = h.shape(v);
    Some((shape.clone(), v.ty.name().to_string(), shape))
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one-axis regions
mod tests {
    use super::*;

    /// A classic (CDF-1) file: `numrecs`, dimensions (length 0 = record), variables
    /// (name, dimension ids, type code, begin), then `data`.
    fn classic(numrecs: u32, dims: &[(&str, u32)], vars: &[(&str, &[u32], u32, u32)], data: &[u8]) -> Vec<u8> {
        fn name(b: &mut Vec<u8>, s: &str) {
            b.extend((s.len() as u32).to_be_bytes());
            b.extend(s.as_bytes());
            b.resize(b.len().next_multiple_of(4), 0);
        }
        let mut b = b"CDF\x01".to_vec();
        b.extend(numrecs.to_be_bytes());
        b.extend(10u32.to_be_bytes());
        b.extend((dims.len() as u32).to_be_bytes());
        for (n, len) in dims {
            name(&mut b, n);
            b.extend(len.to_be_bytes());
        }
        b.extend([0u8; 8]); // no global attributes
        b.extend(11u32.to_be_bytes());
        b.extend((vars.len() as u32).to_be_bytes());
        for (n, ids, ty, begin) in vars {
            name(&mut b, n);
            b.extend((ids.len() as u32).to_be_bytes());
            for id in *ids {
                b.extend(id.to_be_bytes());
            }
            b.extend([0u8; 8]);
            b.extend(ty.to_be_bytes());
            b.extend(0u32.to_be_bytes());
            b.extend(begin.to_be_bytes());
        }
        b.extend(data);
        b
    }

    fn parsed(bytes: &[u8]) -> std::result::Result<Header, String> {
        match parse(bytes, bytes.len() as u64, true) {
            Ok(h) => Ok(h),
            Err(Stop::Bad(m)) => Err(m),
            Err(Stop::More) => Err("more".into()),
        }
    }

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("cw-nc3-{}-{name}.nc", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn one_record_variable_is_unpadded_and_streaming_counts_come_from_the_length() {
        // int16 (time, x=3): 6-byte records, packed; the header's count is STREAMING.
        let head = classic(u32::MAX, &[("time", 0), ("x", 3)], &[("v", &[0, 1], 3, 0)], &[]);
        let begin = head.len() as u32;
        let values: Vec<i16> = (0..12).map(|i| i * 7 - 30).collect();
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let bytes = classic(u32::MAX, &[("time", 0), ("x", 3)], &[("v", &[0, 1], 3, begin)], &data);
        let h = parsed(&bytes).unwrap();
        assert_eq!((h.numrecs, h.recsize), (4, 6));
        let p = temp("stream", &bytes);
        let src = Netcdf3Source::open(&p, "v").unwrap();
        assert_eq!(src.shape(), &[4, 3]);
        assert_eq!(src.layout(), "contiguous");
        let c = src.read(&[1..3, 1..3]).unwrap();
        let got: Vec<f64> = (0..4).map(|i| c.data().get_f64(i)).collect();
        let want: Vec<f64> = [4, 5, 7, 8].iter().map(|&i| f64::from(values[i])).collect();
        assert_eq!(got, want);
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn interleaved_records_are_padded_to_four_bytes() {
        // byte (time, x=3) and float (time): records of 4 + 4 bytes.
        let dims = [("time", 0), ("x", 3)];
        let head = classic(2, &dims, &[("b", &[0, 1], 1, 0), ("f", &[0], 5, 0)], &[]);
        let begin = head.len() as u32;
        let mut data = Vec::new();
        for r in 0..2u8 {
            data.extend([r, r + 10, r + 20, 0]);
            data.extend((f32::from(r) + 0.5).to_be_bytes());
        }
        let vars: [(&str, &[u32], u32, u32); 2] = [("b", &[0, 1], 1, begin), ("f", &[0], 5, begin + 4)];
        let bytes = classic(2, &dims, &vars, &data);
        assert_eq!(parsed(&bytes).unwrap().recsize, 8);
        let p = temp("interleaved", &bytes);
        let b = Netcdf3Source::open(&p, "b").unwrap().read(&[0..2, 0..3]).unwrap();
        assert_eq!(
            (0..6).map(|i| b.data().get_f64(i)).collect::<Vec<_>>(),
            [0., 10., 20., 1., 11., 21.]
        );
        let f = Netcdf3Source::open(&p, "f").unwrap().read(&[0..2]).unwrap();
        assert_eq!((0..2).map(|i| f.data().get_f64(i)).collect::<Vec<_>>(), [0.5, 1.5]);
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn record_sizes_past_u64_fail_the_extent_check() {
        // Two double record variables of 2^64 values per record (a fuzzer's header):
        // their padded sizes saturate rather than overflow, and opening either is an
        // error naming its extent.
        let dims = [("t", 0), ("x", u32::MAX), ("y", u32::MAX)];
        let vars: [(&str, &[u32], u32, u32); 2] = [("a", &[0, 1, 2], 6, 64), ("b", &[0, 1, 2], 6, 64)];
        let bytes = classic(1, &dims, &vars, &[0; 16]);
        assert_eq!(parsed(&bytes).unwrap().recsize, u64::MAX);
        let p = temp("huge-records", &bytes);
        for v in ["a", "b"] {
            let e = Netcdf3Source::open(&p, v).unwrap_err().to_string();
            assert!(e.contains(&*p.display().to_string()), "{e}");
        }
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn corrupt_headers_are_named_not_allocated() {
        let ok = classic(0, &[("x", 2)], &[("v", &[0], 5, 64)], &[0; 8]);
        assert!(parsed(&ok).is_ok());
        // A dimension id past the list.
        let e = parsed(&classic(0, &[("x", 2)], &[("v", &[3], 5, 64)], &[])).unwrap_err();
        assert!(e.contains("variable 'v' has dimension id 3"), "{e}");
        // The record dimension second.
        let e = parsed(&classic(1, &[("x", 2), ("t", 0)], &[("v", &[0, 1], 5, 64)], &[])).unwrap_err();
        assert!(e.contains("record dimension after its first"), "{e}");
        // Two record dimensions.
        let e = parsed(&classic(1, &[("t", 0), ("u", 0)], &[], &[])).unwrap_err();
        assert!(e.contains("more than one record dimension"), "{e}");
        // An unknown type.
        let e = parsed(&classic(0, &[("x", 2)], &[("v", &[0], 99, 64)], &[])).unwrap_err();
        assert!(e.contains("type code 99"), "{e}");
        // A count of two billion dimensions in a file of a few bytes.
        let mut huge = ok.clone();
        huge[12..16].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        let e = parsed(&huge).unwrap_err();
        assert!(e.contains("corrupt header: 2147483647 dimensions"), "{e}");
        // A wrong list tag; a cut header; no signature.
        let mut tag = ok.clone();
        tag[8..12].copy_from_slice(&12u32.to_be_bytes());
        assert!(parsed(&tag).unwrap_err().contains("has tag 0xc"));
        assert_eq!(parsed(&ok[..20]).unwrap_err(), "truncated header");
        assert!(parsed(b"CDF\x03abcd").unwrap_err().contains("no CDF signature"));
        // Values past the end of the file: refused when the variable is opened.
        let p = temp("short", &classic(0, &[("x", 2)], &[("v", &[0], 6, 80)], &[0; 4]));
        let e = Netcdf3Source::open(&p, "v").unwrap_err().to_string();
        assert!(e.contains("the file is truncated"), "{e}");
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn a_header_larger_than_the_first_read_is_read_whole() {
        let names: Vec<String> = (0..3000).map(|i| format!("dimension_number_{i:05}")).collect();
        let dims: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 1)).collect();
        let head = classic(0, &dims, &[("v", &[2999], 6, 0)], &[]);
        assert!(head.len() > 64 << 10);
        let begin = head.len() as u32;
        let bytes = classic(0, &dims, &[("v", &[2999], 6, begin)], &2.25f64.to_be_bytes());
        let p = temp("big", &bytes);
        let src = Netcdf3Source::open(&p, "v").unwrap();
        assert_eq!(src.read(&[0..1]).unwrap().data().get_f64(0), 2.25);
        std::fs::remove_file(p).ok();
    }
}
