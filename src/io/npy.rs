//! NumPy `.npy` files (format 1.0) for small results: `chunkwise reduce --out`.
//!
//! [`write_npy`] writes to a temporary name next to the target and renames it into
//! place once complete, so a failed or interrupted run never leaves a partial file.
//! [`read_npy`] reads what it writes (and little-endian C-order files from NumPy).

use crate::chunk::Chunk;
use crate::dtype::{Buffer, DType};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

fn descr(d: DType) -> &'static str {
    match d {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// The bytes of a chunk in little-endian order.
pub(crate) fn le_bytes(b: &Buffer) -> Vec<u8> {
    match b {
        Buffer::Bool(v) => v.iter().map(|&x| u8::from(x)).collect(),
        Buffer::I8(v) => bytemuck::cast_slice(v).to_vec(),
        Buffer::U8(v) => v.clone(),
        Buffer::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// Writes `c` as a `.npy` file, atomically (temporary name, then rename).
///
/// # Errors
/// [`Error::Io`] naming the path when the directory is missing or not writable.
pub fn write_npy(path: &Path, c: &Chunk) -> Result<()> {
    let shape = match c.shape() {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(c.dtype())
    );
    // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + c.nbytes());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&le_bytes(c.data()));
    super::staging::check_target(path, true)?;
    let tmp = super::staging::temp_sibling(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(())
}

/// Reads a little-endian, C-order `.npy` file of a supported dtype.
///
/// # Errors
/// [`Error::Io`] for a missing file; [`Error::Format`] for anything else it cannot read.
pub fn read_npy(path: &Path) -> Result<Chunk> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let bad = |m: &str| Error::Format(format!("{}: not a readable .npy file: {m}", path.display()));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown version")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        Some(
            header[i + key.len() + 2..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start(),
        )
    };
    let d = field("descr").ok_or_else(|| bad("no descr"))?;
    let d = d.trim_start_matches('\'');
    let d = &d[..d.find('\'').ok_or_else(|| bad("bad descr"))?];
    let dtype = DType::ALL
        .into_iter()
        .find(|&t| descr(t) == d || descr(t).replace('|', "<") == d)
        .ok_or_else(|| bad(&format!("unsupported dtype {d}")))?;
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran order"));
    }
    let s = field("shape").ok_or_else(|| bad("no shape"))?;
    let close = s.find(')').ok_or_else(|| bad("bad shape"))?;
    let s = s
        .get(1..close)
        .filter(|_| s.starts_with('('))
        .ok_or_else(|| bad("bad shape"))?;
    let shape: Vec<usize> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let data = &bytes[start + hlen..];
    if data.len() != n * dtype.size() {
        return Err(bad(&format!("{} data bytes for {n} elements of {dtype}", data.len())));
    }
    macro_rules! le {
        ($t:ty, $v:ident) => {
            Buffer::$v(
                data.chunks_exact(std::mem::size_of::<$t>())
                    .map(|c| {
                        let mut b = [0u8; std::mem::size_of::<$t>()];
                        b.copy_from_slice(c);
                        <$t>::from_le_bytes(b)
                    })
                    .collect(),
            )
        };
    }
    let buf = match dtype {
        DType::Bool => Buffer::Bool(data.iter().map(|&b| b != 0).collect()),
        DType::I8 => le!(i8, I8),
        DType::I16 => le!(i16, I16),
        DType::I32 => le!(i32, I32),
        DType::I64 => le!(i64, I64),
        DType::U8 => Buffer::U8(data.to_vec()),
        DType::U16 => le!(u16, U16),
        DType::U32 => le!(u32, U32),
        DType::U64 => le!(u64, U64),
        DType::F32 => le!(f32, F32),
        DType::F64 => le!(f64, F64),
    };
    Chunk::new(shape, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_atomic_write() {
        let dir = std::env::temp_dir().join(format!("chunkwise-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for c in [
            Chunk::new(vec![2, 3], Buffer::F64(vec![1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0])).unwrap(),
            Chunk::new(vec![], Buffer::I64(vec![-7])).unwrap(),
            Chunk::new(vec![3], Buffer::Bool(vec![true, false, true])).unwrap(),
            Chunk::new(vec![2], Buffer::U64(vec![u64::MAX, 1])).unwrap(),
        ] {
            let p = dir.join("x.npy");
            write_npy(&p, &c).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!((bytes.len() - c.nbytes()) % 64, 0, "header padded to 64 bytes");
            let back = read_npy(&p).unwrap();
            assert_eq!(back.shape(), c.shape());
            assert_eq!(format!("{:?}", back.data()), format!("{:?}", c.data()));
        }
        let missing = dir.join("no/such/dir/x.npy");
        let e = write_npy(&missing, &Chunk::new(vec![], Buffer::I64(vec![1])).unwrap()).unwrap_err();
        assert!(e.to_string().contains("no/such/dir: directory does not exist"), "{e}");
        assert!(
            std::fs::read_dir(&dir).unwrap().all(|f| !f
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("chunkwise-tmp"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
