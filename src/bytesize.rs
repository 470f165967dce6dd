//! Byte sizes as people write them (`256MiB`, `2GB`, `1.5 GiB`) and as we print them.
//!
//! Memory limits come from users on the command line and in configuration, and come back
//! in error messages ("a limit of at least 84 MiB would work"), so parsing and printing
//! live together and round-trip. Binary units (KiB, MiB, GiB, TiB) are powers of 1024,
//! decimal units (kB, MB, GB, TB) powers of 1000, as in dask's `parse_bytes`; a bare
//! number is bytes. Physical memory is read from the OS for the default budget.

use crate::error::{Error, Result};

const UNITS: [(&str, f64); 11] = [
    ("b", 1.0),
    ("kb", 1e3),
    ("mb", 1e6),
    ("gb", 1e9),
    ("tb", 1e12),
    ("kib", 1024.0),
    ("mib", 1_048_576.0),
    ("gib", 1_073_741_824.0),
    ("tib", 1_099_511_627_776.0),
    ("k", 1e3),
    ("", 1.0),
];

/// Parses `256MiB`, `2GB`, `1.5 GiB`, `1000000`.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the text when it is not a size.
pub fn parse_size(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let bad = || Error::InvalidArgument(format!("'{s}' is not a byte size (e.g. 512MiB, 2GB, 1000000)"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let (_, scale) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
    let v = n * scale;
    if !v.is_finite() || v >= usize::MAX as f64 {
        return Err(bad());
    }
    Ok(v.round() as usize)
}

/// `1.5 GiB`, `84.0 MiB`, `512 B`: binary units, one decimal.
#[must_use]
pub fn format_size(n: usize) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Physical memory of this machine in bytes (`/proc/meminfo`'s MemTotal; a cgroup
/// limit, when lower, wins), or `None` where it cannot be read.
#[must_use]
pub fn physical_memory() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<usize>().ok())?
        * 1024;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    Some(cgroup.map_or(total, |c| c.min(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_bare() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("64kib").unwrap(), 65536);
        for bad in ["", "MiB", "12 parsecs", "1e400GB", "-5MB"] {
            let e = parse_size(bad).unwrap_err().to_string();
            assert!(e.contains("is not a byte size"), "{bad}: {e}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(84 << 20), "84.0 MiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
        assert_eq!(parse_size(&format_size(84 << 20)).unwrap(), 84 << 20);
    }

    #[test]
    fn physical_memory_is_plausible() {
        if let Some(m) = physical_memory() {
            assert!(m > 64 << 20, "{m}");
        }
    }
}
