//! The benchmark machinery (`chunkwise bench`): the generated field is deterministic
//! (its checksum is fixed here, and two generations are byte-identical), every run
//! prints parseable JSON lines, `--compare` refuses to print a ratio when the other
//! engine's answer disagrees (a stub interpreter stands in for Python), and a nanmean
//! run with its floor (a store's decode pass, the in-memory field's plain read) gets a
//! floor-ratio line.
#![cfg(feature = "zarr")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bench(args: &[&str], env: &[(&str, &Path)]) -> (i32, Vec<serde_json::Value>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chunkwise"));
    c.arg("bench").args(args).env("CHUNKWISE_THREADS", "2");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run chunkwise bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `chunkwise bench FILTER --size tiny --repeat N --data-dir DIR --format json EXTRA…`.
fn bench_tiny(
    filter: &str,
    repeat: &str,
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> (i32, Vec<serde_json::Value>, String) {
    let d = dir.to_str().unwrap();
    let mut args = vec![
        filter,
        "--size",
        "tiny",
        "--repeat",
        repeat,
        "--data-dir",
        d,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    bench(&args, env)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chunkwise-bench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The tiny field's nanmean(axis=0), summed: fixed, so a change to the generator (or to
/// the reduction) that alters the data shows up here.
const TINY_NANMEAN_CHECKSUM: f64 = 2_986_598.667_175_293;

#[test]
fn the_generated_field_is_deterministic_and_json_lines_parse() {
    let (a, b) = (scratch("gen-a"), scratch("gen-b"));
    let mut sums = Vec::new();
    for dir in [&a, &b] {
        let (code, lines, err) = bench_tiny("nanmean-zarr", "2", dir, &[], &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(lines.len(), 2, "nanmean-zarr3 and nanmean-zarr2");
        for l in &lines {
            assert_eq!(l["engine"], "chunkwise");
            assert_eq!(l["runs"], 2);
            for k in ["min_s", "median_s", "max_s", "gb_per_s", "peak_rss_mb", "checksum"] {
                assert!(l[k].as_f64().is_some(), "{k} in {l}");
            }
            assert!(l["min_s"].as_f64() <= l["median_s"].as_f64());
            assert!(l["peak_rss_mb"].as_f64().unwrap() > 1.0);
            sums.push(l["checksum"].as_f64().unwrap());
        }
    }
    // Zarr v3 and v2 hold the same field; both generations are the same field.
    assert!(sums.iter().all(|&s| s == TINY_NANMEAN_CHECKSUM), "{sums:?}");
    let (fa, fb) = (files(&a.join("tiny")), files(&b.join("tiny")));
    assert!(!fa.is_empty());
    assert!(fa == fb, "two generations differ");
    assert!(fa.iter().any(|(p, _)| p.ends_with("t2m_zarr2.zarr/.zarray")));
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

#[cfg(unix)]
#[test]
fn compare_prints_no_ratio_when_the_results_disagree() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("compare");
    // A stand-in for Python: answers every workload with the same (wrong) checksum.
    let stub = dir.join("python");
    std::fs::write(
        &stub,
        "#!/bin/sh\necho '{\"wall_s\": 0.5, \"peak_rss_mb\": 100.0, \"checksum\": 1.0}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, lines, err) = bench_tiny(
        "nanmean-zarr3",
        "1",
        &dir,
        &["--compare", "dask"],
        &[("CHUNKWISE_BENCH_PYTHON", &stub)],
    );
    assert_eq!(code, 1, "disagreement is an error: {err}");
    assert!(err.contains("results disagree: nanmean-zarr3"), "{err}");
    let cmp = lines
        .iter()
        .find(|l| l["compare"] == "dask")
        .expect("a comparison line");
    assert_eq!(cmp["results_agree"], false);
    assert!(cmp["ratio"].is_null() && cmp["rss_ratio"].is_null(), "{cmp}");
    assert!(lines.iter().any(|l| l["engine"] == "dask" && l["checksum"] == 1.0));
    // The embedded script was written next to the data for the interpreter to run.
    assert!(dir.join("engines.py").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_nanmean_and_its_floor_give_a_floor_ratio_line() {
    let dir = scratch("floor");
    // A store's nanmean and its read-and-decode pass; the in-memory nanmean and a plain
    // read of the same bytes.
    for (filter, nanmean, floor) in [
        ("zarr2", "nanmean-zarr2", "decode-zarr2"),
        ("memory", "nanmean-memory", "read-memory"),
    ] {
        let (code, lines, err) = bench_tiny(filter, "1", &dir, &[], &[]);
        assert_eq!(code, 0, "{err}");
        let median = |w: &str| {
            lines
                .iter()
                .find(|l| l["workload"] == w && l["engine"] == "chunkwise")
                .and_then(|l| l["median_s"].as_f64())
                .unwrap_or_else(|| panic!("no {w} line in {lines:?}"))
        };
        let (n, f) = (median(nanmean), median(floor));
        let line = lines
            .iter()
            .find(|l| l["floor"] == floor)
            .unwrap_or_else(|| panic!("no floor line in {lines:?}"));
        assert_eq!(line["workload"], nanmean);
        assert_eq!(line["floor_ratio"].as_f64(), Some(n / f));
        assert_eq!(lines.len(), 3, "{lines:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let dir = scratch("bad");
    let d = dir.to_str().unwrap();
    for (args, want) in [
        (vec!["no-such-workload", "--data-dir", d], "no workload matches"),
        (vec!["--compare", "spark", "--data-dir", d], "--compare spark"),
        (
            vec!["fused", "--memory-limit", "lots", "--data-dir", d],
            "'lots' is not a byte size",
        ),
        (vec!["fused", "--device", "tpu", "--data-dir", d], "--device tpu"),
    ] {
        let args: Vec<&str> = args.into_iter().chain(["--format", "json"]).collect();
        let (code, _, err) = bench(&args, &[]);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The matmul, map_overlap and rechunk workloads on the tiny size give the answers
/// computed here directly (matmul and the 3×3 mean from their formulas; the rechunked
/// store's sum is the field's sum).
#[test]
fn array_api_workloads_give_the_direct_answers() {
    let dir = scratch("api");
    let d = dir.to_str().unwrap();
    let get = |name: &str| -> f64 {
        let (code, lines, err) = bench(
            &[
                "--size",
                "tiny",
                "--repeat",
                "1",
                "--data-dir",
                d,
                "--format",
                "json",
                name,
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        lines
            .iter()
            .find(|l| l["workload"] == name)
            .unwrap_or_else(|| panic!("{name} in {lines:?}"))["checksum"]
            .as_f64()
            .unwrap()
    };
    // The rechunked store written and read back holds the field (nansum-zarr3 returns
    // float32, as NumPy's nansum of float32 does).
    let (rechunked, field) = (get("rechunk-zarr3"), get("nansum-zarr3"));
    assert!(
        (rechunked - field).abs() <= 1e-6 * field.abs(),
        "{rechunked} vs {field}"
    );
    // sum(a @ b) = Σ_k (Σ_i a_ik)(Σ_j b_kj), n = 400.
    let n = 400usize;
    let a = |i: usize, j: usize| ((31 * i + 17 * j) % 101) as f64 / 101.0 - 0.5;
    let b = |i: usize, j: usize| ((13 * i + 29 * j) % 97) as f64 / 97.0 - 0.5;
    let want: f64 = (0..n)
        .map(|k| (0..n).map(|i| a(i, k)).sum::<f64>() * (0..n).map(|j| b(k, j)).sum::<f64>())
        .sum();
    assert!(
        (get("matmul") - want).abs() < 1e-9 * want.abs(),
        "{} vs {want}",
        get("matmul")
    );
    // The mean of the 3×3 mean with symmetric padding, n = 1000.
    let n = 1000isize;
    let x = |i: isize, j: isize| {
        let r = |p: isize| {
            if p < 0 {
                -p - 1
            } else if p >= n {
                2 * n - 1 - p
            } else {
                p
            }
        };
        ((7 * r(i) + 3 * r(j)) % 101) as f64
    };
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..n {
            let mut s = 0.0;
            for di in -1..=1 {
                for dj in -1..=1 {
                    s += x(i + di, j + dj);
                }
            }
            total += s / 9.0;
        }
    }
    let want = total / (n * n) as f64;
    assert!(
        (get("overlap-mean3x3") - want).abs() < 1e-5 * want,
        "{} vs {want}",
        get("overlap-mean3x3")
    );
    std::fs::remove_dir_all(&dir).ok();
}
