//! `--compare dask,numpy`: the same workload run by the alternatives, on the same files,
//! interleaved run by run, and a ratio only when both engines got the same answer.
//!
//! The Python side is `benches/compare/engines.py`, embedded in the binary and written
//! next to the data, run by an interpreter from `CHUNKWISE_BENCH_PYTHON` or from a venv
//! created on first use (`<data-dir>/venv`, or `--venv`) with numpy, dask, zarr and h5py
//! from PyPI.

use super::measure::{Summary, agree};
use chunkwise::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The script, as checked in.
pub const SCRIPT: &str = include_str!("../../../../benches/compare/engines.py");

/// The engines `--compare` accepts.
pub const ENGINES: [&str; 2] = ["dask", "numpy"];

/// Workloads each engine has a version of.
pub fn supports(engine: &str, workload: &str) -> bool {
    let reductions = workload.starts_with("nanmean-") && workload != "nanmean-memory"
        || workload.starts_with("nanstd-")
        || workload.starts_with("nanmedian-")
        || workload.starts_with("wmean-")
        || workload.starts_with("coarsen-")
        || workload.starts_with("nansum-")
        || workload.starts_with("anomaly-")
        || workload == "fused-sincos";
    let issue6 = matches!(workload, "climatology-zarr3" | "overlap-mean3x3" | "matmul")
        || (engine == "dask" && workload == "rechunk-zarr3");
    reductions || issue6 || (engine == "dask" && workload == "scheduler-fanin")
}

/// An interpreter with numpy, dask, zarr and h5py: `CHUNKWISE_BENCH_PYTHON`, or the venv
/// at `venv`, created when missing.
pub fn python(venv: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CHUNKWISE_BENCH_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let py = venv.join("bin/python");
    let ready = venv.join(".chunkwise-ready");
    if ready.exists() {
        return Ok(py);
    }
    eprintln!(
        "creating a Python venv for --compare in {} (numpy, dask, zarr, h5py from PyPI)",
        venv.display()
    );
    let step = |what: &str, cmd: &mut Command| -> Result<()> {
        let st = cmd
            .status()
            .map_err(|e| Error::Value(format!("--compare needs Python 3: {what}: {e}")))?;
        if st.success() {
            Ok(())
        } else {
            Err(Error::Value(format!("--compare: {what} failed ({st})")))
        }
    };
    step(
        "python3 -m venv",
        Command::new("python3").args(["-m", "venv"]).arg(venv),
    )?;
    step(
        "pip install",
        Command::new(&py).args([
            "-m",
            "pip",
            "install",
            "-q",
            "numpy",
            "dask[array]",
            "zarr",
            "h5py",
            "xarray",
            "flox",
        ]),
    )?;
    std::fs::write(&ready, "").map_err(|e| Error::Io {
        path: ready.clone(),
        source: e,
    })?;
    Ok(py)
}

/// Writes the embedded script to `dir` (when it differs) and returns its path.
pub fn script(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("engines.py");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SCRIPT) {
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, SCRIPT))
            .map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
    }
    Ok(path)
}

/// One workload's comparison with another engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The other engine.
    pub engine: String,
    /// `other_median / chunkwise_median`, only when the results agree.
    pub ratio: Option<f64>,
    /// `chunkwise_peak_rss / other_peak_rss`, only when the results agree.
    pub rss_ratio: Option<f64>,
    /// Whether the checksums agree within the workload's tolerance.
    pub results_agree: bool,
}

/// Compares two engines' runs of a workload: no ratio unless the answers agree.
pub fn compare(engine: &str, cw: &Summary, other: &Summary, rtol: f64) -> Comparison {
    let ok = agree(cw.checksum(), other.checksum(), rtol) && other.consistent(rtol);
    Comparison {
        engine: engine.to_string(),
        ratio: ok.then(|| other.median() / cw.median()),
        rss_ratio: ok.then(|| cw.peak_rss_mb() / other.peak_rss_mb()),
        results_agree: ok,
    }
}

impl Comparison {
    /// The JSON line of `--format json`.
    pub fn to_json(&self, workload: &str) -> String {
        serde_json::json!({
            "workload": workload,
            "compare": self.engine,
            "ratio": self.ratio,
            "rss_ratio": self.rss_ratio,
            "results_agree": self.results_agree,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::measure::Record;
    use super::*;

    fn summary(walls: &[f64], rss: f64, checksum: f64) -> Summary {
        Summary {
            runs: walls
                .iter()
                .map(|&w| Record {
                    wall_s: w,
                    peak_rss_mb: rss,
                    peak_accounted_mb: None,
                    tasks: None,
                    checksum,
                })
                .collect(),
        }
    }

    #[test]
    fn a_ratio_only_when_the_results_agree() {
        let cw = summary(&[1.0, 2.0, 1.5], 100.0, 1000.0);
        let same = summary(&[4.0, 3.0, 5.0], 400.0, 1000.0 * (1.0 + 1e-7));
        let c = compare("dask", &cw, &same, 1e-5);
        assert!(c.results_agree);
        assert_eq!(c.ratio, Some(4.0 / 1.5));
        assert_eq!(c.rss_ratio, Some(0.25));
        let wrong = summary(&[4.0], 400.0, 1001.0);
        let c = compare("dask", &cw, &wrong, 1e-5);
        assert!(!c.results_agree);
        assert_eq!((c.ratio, c.rss_ratio), (None, None));
        let line: serde_json::Value = serde_json::from_str(&c.to_json("nanmean-zarr3")).unwrap();
        assert_eq!(line["ratio"], serde_json::Value::Null);
        assert_eq!(line["results_agree"], false);
    }

    #[test]
    fn the_embedded_script_knows_every_workload_we_send_it() {
        for w in super::super::workloads::WORKLOADS {
            for e in ENGINES {
                if supports(e, w.name) && w.name != "fused-sincos" && w.name != "scheduler-fanin" {
                    assert!(
                        SCRIPT.contains(&format!("\"{}\"", w.name)),
                        "{} missing from engines.py",
                        w.name
                    );
                }
            }
        }
    }
}
