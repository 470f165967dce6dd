//! Naming the files chunkwise does not read, by their first bytes.
//!
//! Geoscience data reaches users in more formats than Zarr and HDF5: ERA5 from the
//! Copernicus store arrives as GRIB by default, and a Zarr store is sometimes shipped
//! zipped. netCDF-3 files are read (`super::netcdf3`), but not by the HDF5 and Zarr
//! openers, which name them and point to it. Given such a
//! file, "not a Zarr store" or "no HDF5 signature" is true but leaves the user guessing;
//! saying what the file *is*, and how to convert it, ends the guessing. Only the
//! signatures are checked — the file is not parsed.

use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a file that is neither Zarr nor HDF5 is, with the way to a format chunkwise
/// reads: `None` for an unreadable or unrecognised file (and for HDF5 itself).
#[must_use]
pub fn foreign_format(path: &Path) -> Option<&'static str> {
    let mut sig = [0u8; 8];
    let n = std::fs::File::open(path).ok()?.read_at(&mut sig, 0).ok()?;
    describe(&sig[..n])
}

fn describe(sig: &[u8]) -> Option<&'static str> {
    Some(match sig {
        [b'C', b'D', b'F', 1, ..] => {
            "a netCDF-3 classic file, not HDF5 or Zarr: open it with `Array::from_netcdf3` \
             (the command line reads it as FILE:VAR)"
        }
        [b'C', b'D', b'F', 2, ..] => {
            "a netCDF-3 64-bit-offset file, not HDF5 or Zarr: open it with `Array::from_netcdf3` \
             (the command line reads it as FILE:VAR)"
        }
        [b'C', b'D', b'F', 5, ..] => {
            "a netCDF-3 64-bit-data (CDF-5) file, not HDF5 or Zarr: open it with `Array::from_netcdf3` \
             (the command line reads it as FILE:VAR)"
        }
        [b'G', b'R', b'I', b'B', ..] => {
            "a GRIB file, which chunkwise does not read (it reads netCDF-4/HDF5 and Zarr); \
             convert it with `grib_to_netcdf -k 4 -o OUT IN` (ecCodes) or xarray with cfgrib"
        }
        [b'P', b'K', 3, 4, ..] => {
            "a zip archive, which chunkwise does not read; if it holds a Zarr store, unzip it and give the directory"
        }
        [0x0e, 0x03, 0x13, 0x01, ..] => {
            "an HDF4 file, which chunkwise does not read (it reads HDF5); convert it with `h4toh5`"
        }
        [0x93, b'N', b'U', b'M', b'P', b'Y', ..] => {
            "a NumPy .npy file, which chunkwise writes (--out) but does not reduce; store the array as Zarr"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn signatures_name_their_formats() {
        assert!(describe(b"CDF\x01\0\0\0\0").unwrap().contains("netCDF-3 classic"));
        assert!(describe(b"CDF\x02\0\0\0\0").unwrap().contains("64-bit-offset"));
        assert!(describe(b"CDF\x05\0\0\0\0").unwrap().contains("CDF-5"));
        assert!(describe(b"GRIB\0\0\0\x02").unwrap().contains("GRIB"));
        assert!(describe(b"PK\x03\x04").unwrap().contains("zip"));
        assert!(describe(b"\x0e\x03\x13\x01").unwrap().contains("HDF4"));
        assert!(describe(b"\x93NUMPY\x01\0").unwrap().contains(".npy"));
        assert_eq!(describe(b"\x89HDF\r\n\x1a\n"), None);
        assert_eq!(describe(b"CDF"), None);
        assert_eq!(describe(b""), None);
    }
}
