//! Honest measurement: every timed run in a fresh process.
//!
//! Peak RSS is a per-process high-water mark, so a run that shares its process with a
//! warm-up or with the previous run would report their peak, not its own. The parent
//! therefore re-runs this binary once per run (`chunkwise bench --run-one NAME …`); the
//! child builds the workload, times the compute alone, and prints one JSON line with
//! its wall time, its own peak RSS (`VmHWM` from `/proc/self/status`, the counter
//! `/usr/bin/time -v` reports), the engine's peak accounted bytes, the task count and
//! the result's checksum. The other engines' runs (`--compare`) are Python children that
//! print the same fields.

use chunkwise::{Error, Result};
use std::process::Command;

/// One run of one engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Seconds of the timed region.
    pub wall_s: f64,
    /// Peak RSS of the process, MB (10^6 bytes).
    pub peak_rss_mb: f64,
    /// chunkwise's peak accounted bytes, MB (`None` for other engines).
    pub peak_accounted_mb: Option<f64>,
    /// Tasks run (chunkwise).
    pub tasks: Option<usize>,
    /// Sum of the result's non-NaN elements.
    pub checksum: f64,
}

impl Record {
    /// The child's JSON line.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "wall_s": self.wall_s,
            "peak_rss_mb": self.peak_rss_mb,
            "peak_accounted_mb": self.peak_accounted_mb,
            "tasks": self.tasks,
            "checksum": self.checksum,
        })
        .to_string()
    }

    /// Parses a child's last stdout line.
    pub fn parse(what: &str, out: &str) -> Result<Record> {
        let line = out
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::Value(format!("{what}: no result line ({e}); it printed: {}", out.trim())))?;
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        Ok(Record {
            wall_s: num("wall_s").ok_or_else(|| Error::Value(format!("{what}: no wall_s in {line}")))?,
            peak_rss_mb: num("peak_rss_mb").unwrap_or(f64::NAN),
            peak_accounted_mb: num("peak_accounted_mb"),
            tasks: v.get("tasks").and_then(serde_json::Value::as_u64).map(|n| n as usize),
            checksum: num("checksum").unwrap_or(f64::NAN),
        })
    }
}

/// This process's peak RSS in MB, from `/proc/self/status` (NaN where unreadable).
pub fn own_peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb * 1024.0 / 1e6)
}

/// Runs a child and parses its record; its stderr is shown on failure.
pub fn run_child(what: &str, cmd: &mut Command) -> Result<Record> {
    let out = cmd
        .output()
        .map_err(|e| Error::Value(format!("{what}: cannot start: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(Error::Value(format!("{what} failed: {last}")));
    }
    Record::parse(what, &stdout)
}

/// Runs of one engine on one workload, summarised.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The runs, in order.
    pub runs: Vec<Record>,
}

impl Summary {
    fn sorted(&self) -> Vec<f64> {
        let mut t: Vec<f64> = self.runs.iter().map(|r| r.wall_s).collect();
        t.sort_by(f64::total_cmp);
        t
    }
    /// Fastest run.
    pub fn min(&self) -> f64 {
        self.sorted()[0]
    }
    /// Median run (the upper one of an even count).
    pub fn median(&self) -> f64 {
        let t = self.sorted();
        t[t.len() / 2]
    }
    /// Slowest run.
    pub fn max(&self) -> f64 {
        *self.sorted().last().unwrap_or(&f64::NAN)
    }
    /// Highest peak RSS of the runs.
    pub fn peak_rss_mb(&self) -> f64 {
        self.runs.iter().map(|r| r.peak_rss_mb).fold(f64::NAN, f64::max)
    }
    /// Highest peak accounted MB (chunkwise).
    pub fn peak_accounted_mb(&self) -> Option<f64> {
        self.runs.iter().filter_map(|r| r.peak_accounted_mb).reduce(f64::max)
    }
    /// The first run's checksum.
    pub fn checksum(&self) -> f64 {
        self.runs.first().map_or(f64::NAN, |r| r.checksum)
    }
    /// Whether every run's checksum agrees with the first within `rtol`.
    pub fn consistent(&self, rtol: f64) -> bool {
        self.runs.iter().all(|r| agree(r.checksum, self.checksum(), rtol))
    }
}

/// Two checksums agree within a relative tolerance (both NaN counts as agreeing).
pub fn agree(a: f64, b: f64, rtol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= rtol * a.abs().max(b.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_lines_are_errors() {
        let r = Record {
            wall_s: 1.5,
            peak_rss_mb: 300.0,
            peak_accounted_mb: Some(199.3),
            tasks: Some(51),
            checksum: 2083.25,
        };
        assert_eq!(Record::parse("x", &format!("noise\n{}\n", r.to_json())).unwrap(), r);
        let e = Record::parse("dask", "Traceback ...").unwrap_err().to_string();
        assert!(e.starts_with("dask: no result line"), "{e}");
    }

    #[test]
    fn summary_statistics() {
        let rec = |w: f64, c: f64| Record {
            wall_s: w,
            peak_rss_mb: w * 100.0,
            peak_accounted_mb: None,
            tasks: None,
            checksum: c,
        };
        let s = Summary {
            runs: vec![rec(3.0, 1.0), rec(1.0, 1.0), rec(2.0, 1.0 + 1e-9)],
        };
        assert_eq!((s.min(), s.median(), s.max()), (1.0, 2.0, 3.0));
        assert_eq!(s.peak_rss_mb(), 300.0);
        assert!(s.consistent(1e-6) && !s.consistent(0.0));
        assert!(agree(f64::NAN, f64::NAN, 0.0) && !agree(1.0, 1.1, 0.05));
    }
}
