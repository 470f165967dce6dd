//! The Zarr reader and the `chunkwise reduce` / `info` CLI against stores written by
//! zarr-python 3 (`tests/fixtures/gen_zarr.py`) and NumPy's answers computed by the same
//! script: every codec in the fixtures, v2 and v3, edge and missing chunks, NaN fill,
//! 0-d and empty arrays, every CLI op over all axes and along axis 0, and each kind of
//! bad input (one-line error, exit code 1, no partial `--out` file).
//!
//! Fixtures: `target/fixtures/zarr` (see `common/fixtures.rs`).
#![cfg(feature = "zarr")]

mod common;

use chunkwise::io::npy::read_npy;
use chunkwise::{Array, Chunk};
use common::fixtures::{self, cli, same};

#[test]
fn reader_matches_zarr_python_for_every_case() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    fixtures::check_reader(&dir, |s| Array::from_zarr(s));
    let g = Array::from_zarr(dir.join("group.zarr/era5/t2m")).unwrap();
    same(
        &g.compute_chunk().unwrap(),
        &read_npy(&dir.join("group_t2m.npy")).unwrap(),
        0.0,
        "group path",
    );
}

#[test]
fn common_codec_chains_are_decoded_directly_and_others_through_zarrs() {
    use chunkwise::io::zarr::ZarrSource;
    let Some(dir) = fixtures::dir("zarr") else { return };
    assert!(ZarrSource::open(dir.join("v3_zstd_f32.zarr")).unwrap().direct_decode());
    assert!(
        ZarrSource::open(dir.join("group.zarr/era5/t2m"))
            .unwrap()
            .direct_decode()
    );
    for other in [
        "v3_gzip_crc_i16",
        "v3_sharded_f32",
        "v3_blosc_be_u16",
        "v2_blosc_F_f64",
        "v3_bool",
    ] {
        let src = ZarrSource::open(dir.join(format!("{other}.zarr"))).unwrap();
        assert!(!src.direct_decode(), "{other}");
    }
    // The garbled chunk of corrupt_chunk.zarr is an interior one: the direct path reports it.
    let e = Array::from_zarr(dir.join("corrupt_chunk.zarr"))
        .unwrap()
        .sum(None)
        .unwrap()
        .compute_chunk()
        .unwrap_err()
        .to_string();
    assert!(e.contains("chunk c/1/2/0") && e.contains("corrupt zstd chunk"), "{e}");
    let e = Array::from_zarr(dir.join("corrupt_blosc.zarr"))
        .unwrap()
        .sum(None)
        .unwrap()
        .compute_chunk()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("corrupt_blosc.zarr: chunk 1.1") && e.contains("blosc"),
        "{e}"
    );
}

#[test]
fn every_box_of_a_directly_decoded_store_matches_zarr_python() {
    // Boxes inside one stored chunk (whole, cut short along the first axis, interior),
    // boxes spanning chunks, and the short edge chunks, read with and without a
    // recycled buffer (which keeps a previous block's bytes): the streamed zstd and
    // blosc decoders against what zarr-python wrote.
    use chunkwise::io::ChunkSource;
    use chunkwise::io::zarr::ZarrSource;
    let Some(dir) = fixtures::dir("zarr") else { return };
    let mut checked = 0;
    for (name, entry) in fixtures::manifest(&dir) {
        let path = fixtures::source(&dir, &entry);
        let src = ZarrSource::open(&path).unwrap();
        let shape = src.shape().to_vec();
        if !src.direct_decode() || shape.is_empty() || shape.contains(&0) {
            continue;
        }
        let want = read_npy(&dir.join(format!("{name}.npy"))).unwrap();
        let stored = src.natural_chunks().unwrap();
        let mut spare = None;
        for step in [1usize, 2, 3, 5] {
            let sizes: Vec<usize> = stored.iter().map(|&c| (c * step).div_ceil(3).max(1)).collect();
            let grid = chunkwise::ChunkGrid::new(&shape, &chunkwise::ChunkSpec::from(sizes), 1).unwrap();
            for b in 0..grid.num_blocks() {
                let region = grid.block_ranges(&grid.unlinear(b));
                let got = src
                    .read_into(&region, spare.take())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                same(&got, &want.slice(&region), 0.0, &format!("{name} box {region:?}"));
                spare = Some(got.into_data());
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} boxes checked");
}

#[test]
fn streamed_blosc_reductions_are_the_bits_of_the_decoded_blocks() {
    // Along axis 0 the chunk steps read this store's blosc-lz4 chunks as a stream, block
    // by block (never decoded whole); the same data in memory, in the same blocks, goes
    // through the materialised path. Every op must give the same bits.
    use chunkwise::io::ChunkSource;
    use chunkwise::io::zarr::ZarrSource;
    use chunkwise::{ReduceOp, ReduceOptions};
    let Some(dir) = fixtures::dir("zarr") else { return };
    let path = dir.join("v2_blosc_lz4_stream_f32.zarr");
    let src = ZarrSource::open(&path).unwrap();
    for region in [[0..3, 0..300, 0..640], [6..7, 0..300, 0..640]] {
        assert!(
            src.stream(&region, region[0].len()).unwrap().is_some(),
            "{region:?} is streamed"
        );
    }
    let want = read_npy(&dir.join("v2_blosc_lz4_stream_f32.npy")).unwrap();
    let stored = Array::from_zarr(&path).unwrap();
    let memory = Array::from_ndarray(want.to_ndarray::<f32>().unwrap(), [3, 300, 640]).unwrap();
    for op in ReduceOp::ALL {
        for axes in [vec![0], vec![0, 1]] {
            let opts = ReduceOptions::default();
            let a = stored.reduce(op, axes.clone(), &opts).and_then(|r| r.compute_chunk());
            let b = memory.reduce(op, axes.clone(), &opts).and_then(|r| r.compute_chunk());
            match (a, b) {
                (Ok(a), Ok(b)) => same(&a, &b, 0.0, &format!("{} over {axes:?}", op.name())),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{}: {a:?} vs {b:?}", op.name()),
            }
        }
    }
}

#[test]
fn cli_reductions_match_numpy() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    fixtures::check_cli_reductions(&dir);
}

#[test]
fn bad_input_gives_one_line_errors_and_no_output_file() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let args = |src: &str, rest: &[&str]| -> Vec<String> {
        std::iter::once(p(src))
            .chain(rest.iter().map(|s| (*s).to_string()))
            .collect()
    };
    let no_dir = std::env::temp_dir().join("chunkwise-no-such-dir/r.npy");
    let dir_npy = std::env::temp_dir().join(format!("chunkwise-dir-{}.npy", std::process::id()));
    std::fs::create_dir_all(&dir_npy).unwrap();
    // `--device cuda` is a one-line error on a machine (or build) without a GPU.
    if chunkwise::device::cuda::CudaDevice::count() == 0 {
        fixtures::check_bad_inputs(&[(
            args("v3_bool.zarr", &["--op", "sum", "--device", "cuda"]),
            "--device cuda",
        )]);
    }
    fixtures::check_bad_inputs(&[
        (
            args("v3_bool.zarr", &["--op", "sum", "--device", "tpu"]),
            "--device tpu",
        ),
        (
            args("nope.zarr", &["--op", "sum"]),
            "nope.zarr: no such file or directory",
        ),
        (
            args("manifest.json", &["--op", "sum"]),
            "manifest.json: a file, not a Zarr store",
        ),
        (args("bad_metadata.zarr", &["--op", "sum"]), "bad_metadata.zarr"),
        (args("corrupt_chunk.zarr", &["--op", "sum"]), "corrupt_chunk.zarr"),
        (args("truncated_chunk.zarr", &["--op", "sum"]), "truncated_chunk.zarr"),
        (args("corrupt_blosc.zarr", &["--op", "sum"]), "corrupt_blosc.zarr"),
        (args("group.zarr", &["--op", "sum"]), "group"),
        (args("v3_bool.zarr", &["--op", "mode"]), "unknown op 'mode'"),
        (
            args("v3_bool.zarr", &["--op", "sum,"]),
            "--op sum,: an empty name between commas",
        ),
        // the order statistics read through the same checks
        (
            args("corrupt_chunk.zarr", &["--op", "nanmedian", "--axis", "0"]),
            "corrupt_chunk.zarr",
        ),
        (
            args("v3_bool.zarr", &["--op", "median", "--groupby", "month"]),
            "--groupby: no time coordinate",
        ),
        (
            args("clim.zarr/t2m", &["--op", "quantile", "--groupby", "month"]),
            "--op quantile needs --q",
        ),
        (
            args("v3_bool.zarr", &["--op", "nanquantile"]),
            "--op nanquantile needs --q",
        ),
        (
            args("v3_bool.zarr", &["--op", "sum", "--q", "0.5"]),
            "--q and --method go with --op quantile",
        ),
        (
            args("v3_bool.zarr", &["--op", "quantile", "--q", "1.5"]),
            "must be in [0, 1]",
        ),
        (
            args(
                "v3_bool.zarr",
                &["--op", "percentile", "--q", "50", "--method", "cubic"],
            ),
            "unknown quantile method \"cubic\"",
        ),
        (
            args("v3_bool.zarr", &["--op", "quantile", "--q", "0.5"]),
            "bool data has no linear quantiles",
        ),
        (
            args("v3_bool.zarr", &["--op", "sum", "--axis", "2"]),
            "axis 2 is out of range",
        ),
        (
            args("v3_scalar_f64.zarr", &["--op", "sum", "--axis", "0"]),
            "axis 0 is out of range",
        ),
        (
            args("v3_zero_len_i32.zarr", &["--op", "max"]),
            "max of an empty selection",
        ),
        (
            args("v3_bool.zarr", &["--op", "sum", "--out", no_dir.to_str().unwrap()]),
            "chunkwise-no-such-dir: directory does not exist",
        ),
        (
            args("v3_bool.zarr", &["--op", "sum", "--out", dir_npy.to_str().unwrap()]),
            "is a directory, not a .npy file",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "mean", "--ddof", "1"]),
            "--ddof goes with std, var, nanstd and nanvar, not mean",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "var", "--ddof=-1"]),
            "--ddof -1: must be a number ≥ 0",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "nanmedian", "--split-every", "3"]),
            "--split-every goes with the tree reductions",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "sum", "--split-every", "1"]),
            "split_every must be at least 2",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "sum", "--keepdims", "--groupby", "month"]),
            "--keepdims does not go with --groupby",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "mean", "--weights", "coslat"]),
            "no latitude coordinate",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "mean", "--axis", "time"]),
            "names no dimensions; give the axis as a number",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--sel", "lat=100:140"]),
            "selects nothing: ",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--sel", "lat=45"]),
            "equals 45; the nearest is 40 (LO:HI selects a range)",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--isel", "time=5:2"]),
            "--isel time=5:2: selects nothing",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--isel", "height=1:2"]),
            "--isel height=1:2: no dimension of that name",
        ),
        (
            args(
                "cf/era5_v3.zarr/t2m",
                &["--op", "mean", "--isel", "lat=0:2", "--sel", "lat=0:10"],
            ),
            "axis 1 is selected twice",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--isel", "time"]),
            "expected DIM=SPEC",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--sel", "lat=2001-01-01:"]),
            "is a date, but",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "mean", "--sel", "0=1:2"]),
            "the store names no dimensions, so there is no coordinate to select by",
        ),
        (
            args("cf/era5_v2.zarr/t2m", &["--op", "mean", "--axis", "0,latt"]),
            "--axis latt: no dimension of that name (the dimensions are time, lat, lon)",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "max", "--weights", "coslat"]),
            "--weights goes with sum, mean, var and std",
        ),
        (
            args("cf/era5_v3.zarr/t2m", &["--op", "mean", "--weights", &p("nope.zarr")]),
            "nope.zarr",
        ),
        (
            args("v3_zstd_f32.zarr", &["--op", "mean", "--weights", &p("v2_raw_u8.zarr")]),
            "do not broadcast",
        ),
        (
            args(
                "v3_zstd_f32.zarr",
                &["--op", "mean", "--lat-coord", &p("v2_raw_u8.zarr")],
            ),
            "--lat-coord goes with --weights coslat",
        ),
        (
            args(
                "cf/era5_v3.zarr/t2m",
                &[
                    "--op",
                    "mean",
                    "--weights",
                    "coslat",
                    "--lat-coord",
                    &p("cf/era5_v3.zarr/lon"),
                ],
            ),
            "not degrees within ±90",
        ),
    ]);
    std::fs::remove_dir(&dir_npy).unwrap();
    // Usage errors exit with 2.
    assert_eq!(cli(&["reduce", &p("v3_bool.zarr")]).0, 2);
}

/// `--ddof`, `--keepdims` and `--split-every` against the same reduction of the
/// data zarr-python reads, by the definition in f64 (nanstd with ddof 1 over axis 0 of
/// a (30, 17, 11) float32 store with NaN), and medians kept as length-1 axes.
#[test]
fn ddof_keepdims_and_split_every_on_the_command_line() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let src = dir.join("v3_zstd_f32.zarr");
    let x = read_npy(&dir.join("v3_zstd_f32.npy")).unwrap();
    let (n0, rest) = (x.shape()[0], x.shape()[1..].iter().product::<usize>());
    let want: Vec<f64> = (0..rest)
        .map(|j| {
            let v: Vec<f64> = (0..n0)
                .map(|i| x.data().get_f64(i * rest + j))
                .filter(|v| !v.is_nan())
                .collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
        })
        .collect();
    let tmp = std::env::temp_dir().join(format!("chunkwise-ddof-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for split in ["2", "3", "16"] {
        let out = tmp.join(format!("s{split}.npy"));
        let (code, _, err) = cli(&[
            "reduce",
            src.to_str().unwrap(),
            "--op",
            "nanstd",
            "--axis",
            "0",
            "--ddof",
            "1",
            "--keepdims",
            "--split-every",
            split,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let got = read_npy(&out).unwrap();
        assert_eq!(got.shape(), &[1, 17, 11], "split_every {split}");
        for (j, w) in want.iter().enumerate() {
            let g = got.data().get_f64(j);
            assert!(
                (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "split_every {split}, element {j}: {g} vs {w}"
            );
        }
    }
    let (code, out, err) = cli(&[
        "reduce",
        src.to_str().unwrap(),
        "--op",
        "nanmedian",
        "--axis",
        "0,-1",
        "--keepdims",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"shape\":[1,17,1]"), "{out}");
    std::fs::remove_dir_all(&tmp).ok();
}

/// `--isel` and `--sel` (positions, coordinate values, dates, with `--weights` and
/// `--groupby`) against the same reduction of the sliced data in f64.
#[test]
fn selections_on_the_command_line_match_the_sliced_reference() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("chunkwise-sel-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let run = |src: &str, args: &[&str]| -> Chunk {
        let out = tmp.join("r.npy");
        let mut argv = vec!["reduce", src];
        argv.extend(args);
        argv.extend(["--out", out.to_str().unwrap()]);
        let (code, _, err) = cli(&argv);
        assert_eq!(code, 0, "{args:?}: {err}");
        read_npy(&out).unwrap()
    };
    let full = |src: &str| -> ndarray::ArrayD<f64> {
        Array::from_zarr_cf(src)
            .unwrap()
            .astype(chunkwise::DType::F64)
            .compute::<f64>()
            .unwrap()
    };
    // The mean over rows (axis 0) of `x[rows, :, cols]`, NaN skipped, in f64.
    let nanmean0 = |x: &ndarray::ArrayD<f64>, rows: &[usize]| -> Vec<f64> {
        let cols = x.len() / x.shape()[0];
        let flat = x.as_slice().unwrap();
        (0..cols)
            .map(|j| {
                let v: Vec<f64> = rows
                    .iter()
                    .map(|&r| flat[r * cols + j])
                    .filter(|v| !v.is_nan())
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            })
            .collect()
    };
    let check = |got: &Chunk, want: &[f64], what: &str| {
        assert_eq!(got.data().len(), want.len(), "{what}");
        for (i, w) in want.iter().enumerate() {
            let g = got.data().get_f64(i);
            assert!(
                (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    };
    // Summer 2001 by dates (days 151..=242), in the standard and the noleap calendar,
    // and by positions.
    let summer: Vec<usize> = (151..243).collect();
    for store in ["clim.zarr", "clim_v2.zarr"] {
        let src = format!("{}/{store}/t2m", dir.display());
        let x = full(&src);
        let want = nanmean0(&x, &summer);
        let by_date = run(
            &src,
            &["--op", "nanmean", "--axis", "0", "--sel", "time=2001-06-01:2001-08-31"],
        );
        check(&by_date, &want, &format!("{store} --sel time=dates"));
        let by_pos = run(&src, &["--op", "nanmean", "--axis", "time", "--isel", "time=151:243"]);
        check(&by_pos, &want, &format!("{store} --isel"));
        // One date is one position (xarray's exact `sel`): 2001-06-15 is day 165.
        let day = run(&src, &["--op", "nanmean", "--axis", "0", "--sel", "time=2001-06-15"]);
        check(&day, &nanmean0(&x, &[165]), &format!("{store} --sel time=one date"));
        // Times of day keep their colons: a range of two datetimes, one datetime.
        let hours = run(
            &src,
            &[
                "--op",
                "nanmean",
                "--axis",
                "0",
                "--sel",
                "time=2001-06-01T00:00:2001-08-31T23:00",
            ],
        );
        check(&hours, &want, &format!("{store} --sel time=datetimes"));
        let noon = run(
            &src,
            &["--op", "nanmean", "--axis", "0", "--sel", "time=2001-06-15T00:00"],
        );
        check(
            &noon,
            &nanmean0(&x, &[165]),
            &format!("{store} --sel time=one datetime"),
        );
        // Every other day of the second year, the last three longitudes.
        let rows: Vec<usize> = (365..730).step_by(2).collect();
        let got = run(
            &src,
            &[
                "--op",
                "nanmean",
                "--axis",
                "0",
                "--isel",
                "time=365::2",
                "--isel",
                "lon=-3:",
            ],
        );
        assert_eq!(got.shape(), &[3, 3]);
        let all = nanmean0(&x, &rows);
        let want: Vec<f64> = (0..3)
            .flat_map(|i| (1..4).map(move |j| (i, j)))
            .map(|(i, j)| all[i * 4 + j])
            .collect();
        check(&got, &want, &format!("{store} --isel step and negative start"));
    }
    // Monthly means of the second year only: `--groupby month --sel time=2002-01-01:`.
    let src = format!("{}/clim.zarr/t2m", dir.display());
    let x = full(&src);
    let got = run(
        &src,
        &["--op", "nanmean", "--groupby", "month", "--sel", "time=2002-01-01:"],
    );
    let ends = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    for m in 0..12 {
        let rows: Vec<usize> = (365..730)
            .filter(|d| ends.iter().position(|&e| d % 365 < e) == Some(m))
            .collect();
        let want = nanmean0(&x, &rows);
        let slab: Vec<f64> = (m * 12..(m + 1) * 12).map(|i| got.data().get_f64(i)).collect();
        for (i, w) in want.iter().enumerate() {
            assert!(
                (slab[i].is_nan() && w.is_nan()) || (slab[i] - w).abs() <= 1e-12 * w.abs().max(1.0),
                "month {m} of 2002 [{i}]: {} vs {w}",
                slab[i]
            );
        }
    }
    // A latitude band by coordinate values (either order), area-weighted: the weights
    // are cut with the data.
    let cf = dir.join("cf/era5_v3.zarr/t2m");
    let cf = cf.to_str().unwrap();
    let x = full(cf);
    let band = [2usize, 3, 4, 5, 6]; // latitudes -40, -20, 0, 20, 40
    let want: Vec<f64> = (0..12)
        .map(|t| {
            let (mut num, mut den) = (0.0, 0.0);
            for &i in &band {
                let w = (-80.0f64 + 20.0 * i as f64).to_radians().cos();
                for j in 0..16 {
                    let v = x[[t, i, j]];
                    if !v.is_nan() {
                        num += w * v;
                        den += w;
                    }
                }
            }
            num / den
        })
        .collect();
    for bounds in ["lat=-40:40", "lat=40:-40", "lat=-45:45"] {
        let got = run(
            cf,
            &[
                "--op",
                "mean",
                "--axis",
                "lat,lon",
                "--weights",
                "coslat",
                "--sel",
                bounds,
            ],
        );
        check(&got, &want, &format!("--sel {bounds} --weights coslat"));
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `--out result.zarr`: a group with the variable (the values of `--out result.npy`,
/// the kept dimension names renamed after a grouping, the source's units and CF
/// `cell_methods`) and the coordinates of the kept dimensions, cut as the data was;
/// an earlier result is replaced; a bad extension is a one-line error.
#[test]
fn zarr_output_keeps_dimensions_units_and_cell_methods() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("chunkwise-zout-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cf = dir.join("cf/era5_v3.zarr/t2m");
    let clim = dir.join("clim.zarr/t2m");
    // (source, arguments, dimension names, units, cell_methods)
    type Case<'a> = (
        &'a std::path::Path,
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: [Case<'_>; 4] = [
        (
            &cf,
            &["--op", "nanmax", "--axis", "time"],
            &["lat", "lon"],
            Some("K"),
            Some("time: maximum"),
        ),
        (
            &cf,
            &["--op", "mean", "--axis", "lat,lon", "--weights", "coslat"],
            &["time"],
            Some("K"),
            Some("lat: lon: mean (weighted: coslat)"),
        ),
        (
            &cf,
            &["--op", "count", "--axis", "0", "--keepdims"],
            &["time", "lat", "lon"],
            None,
            None,
        ),
        (
            &clim,
            &["--op", "nanmean", "--groupby", "month"],
            &["month", "lat", "lon"],
            None,
            None,
        ),
    ];
    for (src, args, dims, units, cells) in cases {
        let src = src.to_str().unwrap();
        let (z, n) = (tmp.join("r.zarr"), tmp.join("r.npy"));
        for out in [&z, &n] {
            let mut argv = vec!["reduce", src];
            argv.extend(args);
            argv.extend(["--out", out.to_str().unwrap()]);
            let (code, _, err) = cli(&argv);
            assert_eq!(code, 0, "{args:?}: {err}");
        }
        let what = format!("{args:?}");
        // A group (what xarray's open_zarr opens) holding the variable `t2m`.
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(z.join("zarr.json")).unwrap()).unwrap();
        assert_eq!(meta["node_type"], "group", "{what}");
        let v = z.join("t2m");
        let back = Array::from_zarr(&v).unwrap().compute_chunk().unwrap();
        let want = read_npy(&n).unwrap();
        assert_eq!(back.dtype(), want.dtype(), "{what}");
        same(&back, &want, 0.0, &what);
        let names = chunkwise::io::zarr::dimension_names(&v).unwrap();
        assert_eq!(names, dims, "{what}");
        let attrs = chunkwise::io::zarr::attributes(&v).unwrap();
        assert_eq!(attrs.get("units").and_then(|v| v.as_str()), units, "{what}");
        assert_eq!(attrs.get("cell_methods").and_then(|v| v.as_str()), cells, "{what}");
        assert_eq!(attrs.get("source").and_then(|v| v.as_str()), Some(src), "{what}");
    }
    // The groups' values go with a grouped result, as xarray's coordinate holds them.
    let z = tmp.join("g.zarr");
    let argv = [
        "reduce",
        clim.to_str().unwrap(),
        "--op",
        "nanmean",
        "--groupby",
        "season",
    ];
    let (code, _, err) = cli(&[
        &argv[..],
        &["--sel", "time=2001-03-01:2001-11-30", "--out", z.to_str().unwrap()],
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    let attrs = chunkwise::io::zarr::attributes(&z.join("t2m")).unwrap();
    assert_eq!(
        attrs.get("chunkwise_groups"),
        Some(&serde_json::json!(["JJA", "MAM", "SON"]))
    );
    // The kept dimensions' coordinates, cut as the data was: latitudes of a band (the
    // source's are -80, -60, …, 80), all longitudes; the steps of an --isel with the
    // time units, so xarray decodes them to the same dates; the months of a grouping.
    let values = |p: std::path::PathBuf| -> Vec<f64> {
        let c = Array::from_zarr(&p).unwrap().compute_chunk().unwrap();
        (0..c.shape()[0]).map(|i| c.data().get_f64(i)).collect()
    };
    // (source, arguments, dimension, its coordinate values, their units)
    type Coord<'a> = (&'a std::path::Path, &'a [&'a str], &'a str, Vec<f64>, Option<&'a str>);
    let coords: [Coord<'_>; 4] = [
        (
            &cf,
            &["--axis", "time", "--sel", "lat=40:-40"],
            "lat",
            vec![-40.0, -20.0, 0.0, 20.0, 40.0],
            None,
        ),
        (
            &cf,
            &["--axis", "time", "--sel", "lat=40:-40"],
            "lon",
            (0..16).map(|i| f64::from(i) * 22.5).collect(),
            None,
        ),
        (
            &clim,
            &["--axis", "lat,lon", "--isel", "time=10:20"],
            "time",
            (10..20).map(f64::from).collect(),
            Some("days since 2001-01-01"),
        ),
        (
            &clim,
            &["--groupby", "month", "--sel", "time=2002-06-01:2002-08-31"],
            "month",
            vec![6.0, 7.0, 8.0],
            None,
        ),
    ];
    for (src, args, dim, want, units) in coords {
        let z = tmp.join("c.zarr");
        let mut argv = vec!["reduce", src.to_str().unwrap(), "--op", "nanmean"];
        argv.extend(args);
        argv.extend(["--out", z.to_str().unwrap()]);
        let (code, _, err) = cli(&argv);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(values(z.join(dim)), want, "{args:?} {dim}");
        assert_eq!(
            chunkwise::io::zarr::dimension_names(&z.join(dim)).unwrap(),
            vec![dim.to_string()]
        );
        let attrs = chunkwise::io::zarr::attributes(&z.join(dim)).unwrap();
        assert_eq!(attrs.get("units").and_then(|v| v.as_str()), units, "{args:?} {dim}");
        // No coordinate for a reduced dimension.
        assert!(!z.join(if dim == "time" { "lat" } else { "time" }).exists(), "{args:?}");
    }
    let (code, _, err) = cli(&["reduce", clim.to_str().unwrap(), "--op", "sum", "--out", "r.txt"]);
    assert_eq!(code, 1);
    assert!(err.contains("a .npy file or a .zarr store"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn info_describes_the_store() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let (code, out, err) = cli(&["info", dir.join("v3_sharded_f32.zarr").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Zarr v3") && out.contains("[20, 18]") && out.contains("float32"),
        "{out}"
    );
    assert!(out.contains("sharding_indexed"), "{out}");
    let (code, out, _) = cli(&["info", dir.join("v2_zlib_partial_i32.zarr").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Zarr v2") && out.contains("zlib") && out.contains("fill value  7"),
        "{out}"
    );
    // 3 × 3 chunks in the grid, rows 0..5 and columns 0..10 written: 2 stored.
    assert!(out.contains("(9 in the grid, 2 stored)"), "{out}");
}

/// `info --format json`: one JSON object with the same facts as the text, for scripts.
#[test]
fn info_as_json_holds_the_same_facts() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let json = |src: &str| -> serde_json::Value {
        let (code, out, err) = cli(&["info", src, "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().count(), 1, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    let partial = dir.join("v2_zlib_partial_i32.zarr");
    let j = json(partial.to_str().unwrap());
    let (_, text, _) = cli(&["info", partial.to_str().unwrap()]);
    let shape: Vec<usize> = serde_json::from_value(j["shape"].clone()).unwrap();
    assert!(text.contains(&format!("shape       {shape:?}")), "{text}");
    assert_eq!(j["format"], "Zarr v2");
    assert_eq!(j["dtype"], "int32");
    assert_eq!(
        (j["chunks_in_grid"].as_u64(), j["chunks_stored"].as_u64()),
        (Some(9), Some(2))
    );
    assert_eq!(j["fill_value"], 7);
    assert_eq!(j["codecs"]["compressor"]["id"], "zlib");
    assert_eq!(
        j["bytes_in_memory"].as_u64(),
        Some(shape.iter().product::<usize>() as u64 * 4)
    );
    assert!(j["cf_decoding"].is_null());
    // A group: its arrays, a text coordinate marked unreadable.
    let g = json(dir.join("stations_v3.zarr").to_str().unwrap());
    assert_eq!(g["format"], "Zarr group");
    let arrays = g["arrays"].as_array().unwrap();
    let names: Vec<&str> = arrays.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["station", "t"]);
    assert_eq!(
        (arrays[0]["readable"].as_bool(), arrays[1]["readable"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(arrays[1]["dims"], serde_json::json!(["time", "station"]));
    assert_eq!(arrays[1]["shape"], serde_json::json!([4, 3]));
    // CF decoding: the attributes' effect, and the text line's words.
    let src = dir.join("cf/era5_v3.zarr/t2m");
    let j = json(src.to_str().unwrap());
    let cf = &j["cf_decoding"];
    assert_eq!(cf["fill_values"], serde_json::json!([-32767.0]));
    assert_eq!(
        (cf["scale_factor"].as_f64(), cf["add_offset"].as_f64()),
        (Some(0.002), Some(280.0))
    );
    assert_eq!(cf["dtype"], "float64");
    let (_, text, _) = cli(&["info", src.to_str().unwrap()]);
    assert!(text.contains(cf["text"].as_str().unwrap()), "{cf} / {text}");
}

#[test]
fn consolidated_stores_read_as_their_arrays() {
    // zarr-python's consolidated metadata (v2 `.zmetadata`, v3 inline in the root
    // zarr.json), as xarray's to_zarr writes by default.
    let Some(dir) = fixtures::dir("zarr") else { return };
    let want = read_npy(&dir.join("group_t2m.npy")).unwrap();
    for v in [2, 3] {
        let store = dir.join(format!("consolidated_v{v}.zarr"));
        let t2m = store.join("era5/t2m");
        let got = Array::from_zarr(&t2m).unwrap().compute_chunk().unwrap();
        same(&got, &want, 0.0, &format!("consolidated v{v}"));
        let (code, out, err) = cli(&["info", store.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("arrays      2") && out.contains("era5/t2m") && out.contains("lat "),
            "{out}"
        );
        let (code, out, err) = cli(&["reduce", t2m.to_str().unwrap(), "--op", "nanmax"]);
        assert_eq!(code, 0, "{err}");
        let data = want.data();
        let max = (0..data.len())
            .map(|i| data.get_f64(i))
            .filter(|x| !x.is_nan())
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(out.trim(), format!("nanmax = {}", max as f32), "v{v}");
    }
}

#[test]
fn scalar_results_print_as_numpy_prints_them() {
    // Text output: a float32 in its shortest form, infinities as inf/-inf (not nan);
    // JSON keeps the exact f64 digits and writes non-finite values as null.
    use chunkwise::io::zarr_write::ZarrWriteOptions;
    let tmp = std::env::temp_dir().join(format!("cw-scalar-text-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let path = tmp.join("x.zarr");
    let v = vec![1.1f32, f32::INFINITY, -2.5, f32::NEG_INFINITY, f32::NAN, 0.1];
    let x = Array::from_ndarray(ndarray::Array1::from(v), vec![4]).unwrap();
    x.to_zarr(&path, &ZarrWriteOptions::default()).unwrap();
    let p = path.to_str().unwrap();
    for (op, want) in [
        ("max", "max = nan"),
        ("nanmax", "nanmax = inf"),
        ("nanmin", "nanmin = -inf"),
        ("nansum", "nansum = nan"),
        ("count", "count = 5"),
    ] {
        let (code, out, err) = cli(&["reduce", p, "--op", op]);
        assert_eq!((code, out.trim()), (0, want), "{err}");
    }
    let y = Array::from_ndarray(ndarray::Array1::from(vec![0.1f32, 22.906734, 3.0]), vec![2]).unwrap();
    let ypath = tmp.join("y.zarr");
    y.to_zarr(&ypath, &ZarrWriteOptions::default()).unwrap();
    let (code, out, err) = cli(&["reduce", ypath.to_str().unwrap(), "--op", "max"]);
    assert_eq!((code, out.trim()), (0, "max = 22.906734"), "{err}");
    let (_, out, _) = cli(&["reduce", ypath.to_str().unwrap(), "--op", "max", "--format", "json"]);
    assert!(
        out.contains(&format!("\"value\":{:?}", f64::from(22.906734f32))),
        "{out}"
    );
    let (_, out, _) = cli(&["reduce", p, "--op", "nanmax", "--format", "json"]);
    assert!(out.contains("\"value\":null"), "{out}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `chunkwise info … | head -1`: the reader is gone before the first line is
    // written. The process ends as `cat` would (SIGPIPE), never with a panic.
    let Some(dir) = fixtures::dir("zarr") else { return };
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .args(["info", dir.join("group.zarr").to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
    }
}

#[test]
fn help_shows_examples_one_per_line() {
    for (cmd, example) in [
        (
            "reduce",
            "chunkwise reduce era5.zarr/t2m --op nanmean --axis 0 --out clim.npy",
        ),
        ("info", "chunkwise info era5.zarr/t2m"),
        ("bench", "chunkwise bench --list"),
    ] {
        let (code, out, err) = cli(&[cmd, "--help"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("Examples:\n"), "{cmd}: {out}");
        assert!(
            out.lines().any(|l| l.trim() == example),
            "{cmd}: '{example}' not a line of {out}"
        );
    }
    let (code, out, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("reduce  Reduce a stored array")),
        "{out}"
    );
    let (code, _, err) = cli(&["reduce"]);
    assert_eq!(code, 2, "usage errors exit with 2: {err}");
}

#[test]
fn text_coordinates_are_listed_and_refused_by_name() {
    // xarray writes a string coordinate as v2 `<U3` or v3 `fixed_length_utf32`.
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("cw-stations-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (v, dtype) in [(2, "<U3"), (3, "fixed_length_utf32")] {
        let store = dir.join(format!("stations_v{v}.zarr"));
        let (code, out, err) = cli(&["info", store.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("station"))
            .unwrap_or("");
        assert!(
            line.contains("(station)")
                && line.contains(&format!("[3] {dtype}"))
                && line.contains("a data type chunkwise does not read"),
            "v{v}: {out}"
        );
        let (code, _, err) = cli(&["reduce", store.join("station").to_str().unwrap(), "--op", "max"]);
        assert_eq!(code, 1);
        assert!(
            err.contains(&format!("data type '{dtype}' is not supported")),
            "v{v}: {err}"
        );
        // The variable reduces; its text coordinate stays out of the output store.
        let out_path = tmp.join(format!("v{v}.zarr"));
        let (code, _, err) = cli(&[
            "reduce",
            store.join("t").to_str().unwrap(),
            "--op",
            "sum",
            "--axis",
            "time",
            "--out",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let sum = Array::from_zarr(out_path.join("t")).unwrap().compute::<f32>().unwrap();
        assert_eq!(sum.iter().copied().collect::<Vec<_>>(), [18.0, 22.0, 26.0], "v{v}");
        assert!(!out_path.join("station").exists(), "v{v}");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn memory_limit_trace_and_explain_on_the_command_line() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let src = dir.join("v3_sharded_f32.zarr");
    let src = src.to_str().unwrap();
    let want = 10.121_752_048_279_607; // NumPy's nanmean of the fixture
    // A budget that fits: same answer, the budget reported back.
    let (code, out, err) = cli(&[
        "reduce",
        src,
        "--op",
        "nanmean",
        "--memory-limit",
        "1MiB",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!((v["value"].as_f64().unwrap() - want).abs() < 1e-9, "{out}");
    assert_eq!(v["memory_limit"], 1 << 20);
    assert!(v["peak_accounted_bytes"].as_u64().unwrap() <= 1 << 20);
    assert_eq!(v["over_budget"], 0, "{out}");
    assert!(err.is_empty(), "no progress bar with --format json: {err}");
    // One too small: one line, the size it needs, the limit that would work; exit 1.
    let (code, out, err) = cli(&[
        "reduce",
        src,
        "--op",
        "nanmean",
        "--axis",
        "0",
        "--memory-limit",
        "100B",
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("memory limit of 100 B is too small") && err.contains("would work"),
        "{err}"
    );
    let (code, _, err) = cli(&["reduce", src, "--op", "sum", "--memory-limit", "lots"]);
    assert_eq!(code, 1);
    assert!(err.contains("'lots' is not a byte size"), "{err}");
    // --explain prints the plan and computes nothing; --dot writes the graph.
    let tmp = std::env::temp_dir().join(format!("chunkwise-cli-explain-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dot = tmp.join("g.dot");
    let (code, out, err) = cli(&[
        "reduce",
        src,
        "--op",
        "nanstd",
        "--axis",
        "0",
        "--explain",
        "--dot",
        dot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for key in [
        "tasks",
        "critical path",
        "largest task",
        "peak, 1 worker",
        "memory limit",
    ] {
        assert!(out.contains(key), "{key} missing from:\n{out}");
    }
    assert!(!out.contains("nanstd: result"), "--explain does not compute");
    assert!(std::fs::read_to_string(&dot).unwrap().starts_with("digraph chunkwise"));
    // --trace writes a Chrome trace with one slice per task.
    let trace = tmp.join("run.json");
    let (code, out, err) = cli(&[
        "reduce",
        src,
        "--op",
        "nanmean",
        "--format",
        "json",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let tasks = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["tasks"]
        .as_u64()
        .unwrap();
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let slices = t["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .count();
    assert_eq!(slices as u64, tasks);
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `reduce --groupby` against NumPy's per-group answers: the CF time coordinate found
/// next to the array (v3 `dimension_names`; v2 `_ARRAY_DIMENSIONS` in the noleap
/// calendar), and the explicit `--time-origin`/`--time-step` form.
#[test]
fn groupby_on_the_command_line_matches_numpy() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("cw-groupby-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src = format!("{}/clim.zarr/t2m", dir.display());
    let src2 = format!("{}/clim_v2.zarr/t2m", dir.display());
    let cases: Vec<(Vec<&str>, &str, &str, f64)> = vec![
        (
            vec![&src, "--op", "nanmean", "--groupby", "month"],
            "clim_month_nanmean.npy",
            "month",
            1e-12,
        ),
        (
            vec![&src, "--op", "nanmean", "--groupby", "season", "--axis", "0"],
            "clim_season_nanmean.npy",
            "season",
            1e-12,
        ),
        (
            vec![&src, "--op", "nansum", "--groupby", "year"],
            "clim_year_nansum.npy",
            "year",
            1e-5,
        ),
        (
            vec![
                &src,
                "--op",
                "nanmean",
                "--groupby",
                "month",
                "--time-origin",
                "2001-01-01",
                "--time-step",
                "1d",
            ],
            "clim_month_nanmean.npy",
            "origin",
            1e-12,
        ),
        (
            vec![&src2, "--op", "nanmean", "--groupby", "month"],
            "clim_v2_month_nanmean.npy",
            "v2 noleap",
            1e-12,
        ),
        (
            vec![&src, "--op", "nanmedian", "--groupby", "season"],
            "clim_season_nanmedian.npy",
            "nanmedian by season",
            1e-6,
        ),
        (
            vec![
                &src,
                "--op",
                "nanquantile",
                "--q",
                "0.9",
                "--method",
                "hazen",
                "--groupby",
                "month",
            ],
            "clim_month_nanquantile_0.9_hazen.npy",
            "nanquantile by month",
            1e-6,
        ),
    ];
    for (k, (args, want, what, rtol)) in cases.iter().enumerate() {
        let out = tmp.join(format!("g{k}.npy"));
        let o = out.display().to_string();
        let mut a = vec!["reduce"];
        a.extend(args.iter().copied());
        a.extend(["--out", &o, "--format", "json"]);
        let (code, stdout, stderr) = fixtures::cli(&a);
        assert_eq!(code, 0, "{what}: {stderr}");
        let got = read_npy(&out).unwrap().data().cast(chunkwise::DType::F64);
        let got = Chunk::new(read_npy(&out).unwrap().shape().to_vec(), got).unwrap();
        same(&got, &read_npy(&dir.join(want)).unwrap(), *rtol, what);
        if *what == "season" {
            assert!(stdout.contains(r#""groups":["DJF","JJA","MAM","SON"]"#), "{stdout}");
        }
    }
    // Without a coordinate or an origin the error says what to give.
    let lone = format!("{}/v3_zstd_f32.zarr", dir.display());
    let (code, _, stderr) = fixtures::cli(&["reduce", &lone, "--op", "mean", "--groupby", "month"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--time-origin") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, _, stderr) = fixtures::cli(&["reduce", &src, "--op", "mean", "--groupby", "week"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("unknown --groupby 'week'"), "{stderr}");
    std::fs::remove_dir_all(&tmp).ok();
}

/// `reduce --groupby` where some groups have no time step: xarray's `groupby` keeps
/// only the groups present, in its sorted order, and so does the command line (365
/// days of the year over non-leap years, three months of a summer, three seasons of
/// March–November). Answers and group values from xarray 2026.9 (`gen_zarr.py`).
#[test]
fn groupby_keeps_only_the_groups_present_as_xarray() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("cw-groupby-present-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src = format!("{}/clim.zarr/t2m", dir.display());
    let groups: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("clim_xr_groups.json")).unwrap()).unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("doy_nanmean", &["--op", "nanmean", "--groupby", "dayofyear"]),
        (
            "jja_month_nanmean",
            &[
                "--op",
                "nanmean",
                "--groupby",
                "month",
                "--sel",
                "time=2001-06-01:2001-08-31",
            ],
        ),
        (
            "mar_nov_season_nanmean",
            &[
                "--op",
                "nanmean",
                "--groupby",
                "season",
                "--sel",
                "time=2001-03-01:2001-11-30",
            ],
        ),
        (
            "dec_jan_year_nansum",
            &["--op", "nansum", "--groupby", "year", "--isel", "time=334:396"],
        ),
    ];
    for (name, args) in cases {
        let z = tmp.join(format!("{name}.zarr"));
        let mut argv = vec!["reduce", &src];
        argv.extend(args);
        argv.extend(["--out", z.to_str().unwrap(), "--format", "json"]);
        let (code, stdout, stderr) = cli(&argv);
        assert_eq!(code, 0, "{name}: {stderr}");
        let want = read_npy(&dir.join(format!("clim_xr_{name}.npy"))).unwrap();
        let got = Array::from_zarr(z.join("t2m")).unwrap().compute_chunk().unwrap();
        assert_eq!(got.shape(), want.shape(), "{name}");
        let got = Chunk::new(got.shape().to_vec(), got.data().cast(chunkwise::DType::F64)).unwrap();
        same(&got, &want, 1e-6, name);
        let values = &groups[name];
        let attrs = chunkwise::io::zarr::attributes(&z.join("t2m")).unwrap();
        assert_eq!(attrs.get("chunkwise_groups"), Some(values), "{name}");
        // Numbered groups are the grouped dimension's coordinate, as xarray's.
        let by = args[3];
        if let Some(ints) = values
            .as_array()
            .unwrap()
            .iter()
            .map(serde_json::Value::as_i64)
            .collect::<Option<Vec<i64>>>()
        {
            let c = Array::from_zarr(z.join(by)).unwrap().compute::<i64>().unwrap();
            assert_eq!(c.iter().copied().collect::<Vec<i64>>(), ints, "{name}");
        } else {
            assert!(!z.join(by).exists(), "{name}: season names are not a Zarr coordinate");
        }
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(
            json["groups"].as_array().map(Vec::len),
            values.as_array().map(Vec::len),
            "{name}: {stdout}"
        );
    }
    let (code, stdout, _) = cli(&[
        "reduce",
        &src,
        "--op",
        "nanmean",
        "--groupby",
        "month",
        "--sel",
        "time=2001-06-01:2001-08-31",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains(r#""groups":["Jun","Jul","Aug"]"#), "{stdout}");
    std::fs::remove_dir_all(&tmp).ok();
}

/// `--op a,b,c`: several ops computed in one run give what each gives alone (the
/// options that go with some ops applying to those; bit for bit but for variances,
/// see below), read the store once, print a JSON line each, and write one `.zarr`
/// group with a variable each.
#[test]
fn several_ops_in_one_run_match_single_runs_and_read_once() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let tmp = std::env::temp_dir().join(format!("cw-multi-op-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cf = dir.join("cf/era5_v3.zarr/t2m");
    let cf = cf.to_str().unwrap();
    let clim = dir.join("clim.zarr/t2m");
    let clim = clim.to_str().unwrap();
    let cases: [(&str, &str, &[&str]); 5] = [
        (cf, "nanmean,nanstd,nanmax,count", &["--axis", "time"]),
        (cf, "nanmean,median,nanquantile", &["--axis", "lat,lon", "--q", "0.9"]),
        (
            clim,
            "nanmean,nanmax",
            &["--groupby", "month", "--sel", "time=2001-06-01:2001-08-31"],
        ),
        (cf, "mean,std", &["--axis", "lat,lon", "--weights", "coslat"]),
        (
            cf,
            "nanmean,nanvar",
            &["--ddof", "1", "--axis", "0,2", "--split-every", "3"],
        ),
    ];
    let bytes_read = |line: &str| -> u64 {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["bytes_read"].as_u64().unwrap()
    };
    for (src, ops, extra) in cases {
        let z = tmp.join("m.zarr");
        let mut argv = vec![
            "reduce",
            src,
            "--op",
            ops,
            "--out",
            z.to_str().unwrap(),
            "--format",
            "json",
        ];
        argv.extend(extra);
        let (code, stdout, stderr) = cli(&argv);
        assert_eq!(code, 0, "{ops} {extra:?}: {stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), ops.split(',').count(), "{stdout}");
        for (op, line) in ops.split(',').zip(&lines) {
            assert!(line.contains(&format!("\"op\":\"{op}\"")), "{line}");
            // The op alone, with the options that go with it.
            let n = tmp.join(format!("{op}.npy"));
            let mut alone = vec![
                "reduce",
                src,
                "--op",
                op,
                "--out",
                n.to_str().unwrap(),
                "--format",
                "json",
            ];
            let mut skip = false;
            for a in extra {
                let takes = match *a {
                    "--ddof" => ["std", "var", "nanstd", "nanvar"].contains(&op),
                    "--q" => op.contains("quantile"),
                    _ => true,
                };
                if skip {
                    skip = false;
                    continue;
                }
                if takes {
                    alone.push(a);
                } else {
                    skip = true;
                }
            }
            let (code, single, stderr) = cli(&alone);
            assert_eq!(code, 0, "{op} alone {alone:?}: {stderr}");
            // Each line says where its result went: the store's variable, the file.
            let out_of = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap()["out"].clone();
            let var = z.join(format!("t2m_{op}"));
            assert_eq!(out_of(line), var.to_str().unwrap(), "{line}");
            assert_eq!(out_of(single.trim()), n.to_str().unwrap(), "{single}");
            let got = Array::from_zarr(z.join(format!("t2m_{op}")))
                .unwrap()
                .compute_chunk()
                .unwrap();
            // Alone, a reduction streams the stored chunks through its own chunk step;
            // beside others it reduces the shared, decoded blocks. Sums, means,
            // extremes, counts and order statistics come out the same bits either way;
            // variances take each block's mean first (two passes) and merge blocks by
            // Chan's formula, so they may round differently in the last bits.
            let moment = ["std", "var", "nanstd", "nanvar"].contains(&op);
            let rtol = if moment { 1e-13 } else { 0.0 };
            same(&got, &read_npy(&n).unwrap(), rtol, &format!("{op} of {ops} {extra:?}"));
            // One pass: the run read no more than one op alone reads.
            assert_eq!(bytes_read(line), bytes_read(single.trim()), "{op} of {ops}: {line}");
        }
    }
    for (args, err) in [
        (
            vec!["--op", "nanmean,nanmax", "--out", "x.npy"],
            "a .npy file holds one result",
        ),
        (vec!["--op", "nanmean,nanmean"], "nanmean twice"),
        (
            vec!["--op", "nanmean,max", "--ddof", "1"],
            "--ddof goes with std, var, nanstd and nanvar, not nanmean, max",
        ),
        (vec!["--op", "nanmean,max", "--q", "0.5"], "--q and --method go with"),
        (
            vec!["--op", "nanmean,max", "--weights", "coslat"],
            "--weights goes with sum, mean, var and std (or their nan-names), not max",
        ),
        (vec!["--op", "nanmean,bogus"], "unknown op 'bogus'"),
    ] {
        let mut argv = vec!["reduce", cf];
        argv.extend(args.iter().copied());
        let (code, _, stderr) = cli(&argv);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            stderr.contains(err) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
    assert!(!std::path::Path::new("x.npy").exists());
    std::fs::remove_dir_all(&tmp).ok();
}

/// Stores xarray wrote with CF encodings — int16 packed with `scale_factor`/`add_offset`
/// and a `_FillValue` (v2: the array's `fill_value`; v3: an attribute), float32 with a
/// 1e20 `_FillValue` (v3: base64 of the float64, xarray's encoding) — decoded through
/// the library (`Array::from_zarr_cf`) bit for bit as
/// `xarray.open_zarr` decodes them, and every CLI reduction equal to NumPy's on
/// xarray's values.
#[test]
fn cf_encoded_stores_decode_as_xarray_decodes_them() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let cf = dir.join("cf");
    assert!(cf.join("manifest.json").is_file(), "no CF fixtures in {}", cf.display());
    fixtures::check_reader(&cf, |s| Array::from_zarr_cf(s));
    fixtures::check_cli_reductions(&cf);
    fixtures::check_weighted_cli(&cf);
    // Without CF attributes (and without xarray's `_ARRAY_DIMENSIONS`, so a v2
    // fill_value is not a mask) a store is read as stored.
    let plain = dir.join("v2_zlib_partial_i32.zarr");
    let a = Array::from_zarr(&plain).unwrap();
    let attrs = chunkwise::io::zarr::cf_attrs(&plain, a.dtype()).unwrap();
    assert_eq!(chunkwise::io::cf::CfDecoding::new(a.dtype(), &attrs).unwrap(), None);
    same(
        &Array::from_zarr_cf(&plain).unwrap().compute_chunk().unwrap(),
        &a.compute_chunk().unwrap(),
        0.0,
        "no CF attributes: as stored",
    );
    let (code, out, _) = cli(&["info", plain.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("cf decoding none"), "{out}");
    let (code, out, _) = cli(&["info", cf.join("era5_v3.zarr/sst").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("cf decoding 1e20 → NaN → float32"), "{out}");
    // A group: its arrays, one line each.
    let (code, out, err) = cli(&["info", cf.join("era5_v2.zarr").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("arrays      5"), "{out}");
    // Dimension names: shown by info, and taken by --axis as numbers are.
    for store in ["era5_v2.zarr", "era5_v3.zarr"] {
        let src = cf.join(store).join("t2m");
        let src = src.to_str().unwrap();
        let (_, info, _) = cli(&["info", src]);
        assert!(info.contains("dims        (time, lat, lon)"), "{info}");
        let by = |axis: &str| cli(&["reduce", src, "--op", "nanstd", "--axis", axis, "--format", "json"]).1;
        let (named, numbered) = (by("lat,lon"), by("1,2"));
        assert!(named.contains("\"shape\":[12]"), "{named}");
        let strip = |s: &str| s.split(",\"elapsed_s\"").next().unwrap().to_string();
        assert_eq!(strip(&named), strip(&numbered));
    }
    assert!(out.contains("lat   (lat)             [9] float64  blocks [9]"), "{out}");
    assert!(
        out.contains(
            "refl  (time, lat, lon)  [12, 9, 16] int8  blocks [4, 9, 16]  cf as uint8, 255 → NaN, × 0.5, - 32 → float64"
        ),
        "_Unsigned reads the bytes as uint8 and wraps the fill value -1 to 255: {out}"
    );
    assert!(
        out.contains("sst   (time, lat, lon)  [12, 9, 16] float32  blocks [6, 9, 16]  cf 1e20 → NaN → float32"),
        "{out}"
    );
    assert!(
        out.contains(
            "t2m   (time, lat, lon)  [12, 9, 16] int16  blocks [5, 9, 8]  cf -32767 → NaN, × 0.002, + 280 → float64"
        ),
        "{out}"
    );
    // An attribute that is not a number: one line naming it (no silent raw read), and
    // --raw still reads the stored values.
    let bad = std::env::temp_dir().join(format!("cw-cf-bad-{}.zarr", std::process::id()));
    std::fs::create_dir_all(&bad).unwrap();
    for f in std::fs::read_dir(cf.join("era5_v2.zarr/t2m")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), bad.join(f.file_name())).unwrap();
    }
    std::fs::write(
        bad.join(".zattrs"),
        r#"{"scale_factor": "0.002", "add_offset": 280.0, "_ARRAY_DIMENSIONS": ["time", "lat", "lon"]}"#,
    )
    .unwrap();
    let b = bad.to_str().unwrap();
    let (code, _, err) = cli(&["reduce", b, "--op", "mean"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("scale_factor is not a number"), "{err}");
    let (code, _, err) = cli(&["reduce", b, "--op", "mean", "--raw"]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&bad).unwrap();
}

/// `'mf/era5_*.zarr/t2m'`: two yearly Zarr v3 stores (written by xarray, each counting
/// time from its own first day) read as one array: equal to xarray's answers on the
/// concatenated stores, the blocks being each store's own chunks.
#[test]
fn several_stores_read_as_one_like_open_mfdataset() {
    let Some(dir) = fixtures::dir("zarr") else { return };
    let mf = dir.join("mf");
    let pattern = format!("{}/era5_*.zarr/t2m", mf.display());
    let tmp = std::env::temp_dir().join(format!("cw-zarr-mf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (name, args) in [
        ("nanmean_time", vec!["--op", "nanmean", "--axis", "time"]),
        ("month_nanmean", vec!["--op", "nanmean", "--groupby", "month"]),
    ] {
        let (out, want) = (tmp.join(format!("{name}.npy")), mf.join(format!("{name}.npy")));
        fixtures::check_reduce_matches(&pattern, &args, &out, &want, 1e-12);
    }
    let (code, out, err) = cli(&["info", &pattern, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["shape"], serde_json::json!([730, 4, 5]));
    // 365 = 11 × 31 + 24 per store: 12 blocks each, none across the two.
    assert_eq!(j["blocks"], serde_json::json!([31, 4, 5]));
    let (_, text, _) = cli(&["info", &pattern]);
    assert!(text.contains("(24 blocks, none across two files)"), "{text}");
    // A pattern over the variables of one store is not a split dataset.
    let (code, _, err) = cli(&["reduce", &format!("{}/era5_2001.zarr/*", mf.display()), "--op", "max"]);
    assert_eq!(code, 1);
    assert!(err.contains("are two variables of one store"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Zarr v3 lets a dimension be unnamed (`"dimension_names": [null, "lat"]`): the named
/// ones still work as `--axis` names, the unnamed one is `dim_0` (xarray's name).
#[test]
fn an_unnamed_dimension_leaves_the_others_named() {
    let dir = std::env::temp_dir().join(format!("cw-dimnull-{}.zarr", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("zarr.json"),
        r#"{"zarr_format": 3, "node_type": "array", "shape": [4, 3], "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 1.5, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "dimension_names": [null, "lat"], "attributes": {}}"#,
    )
    .unwrap();
    let src = dir.to_str().unwrap();
    let (code, out, err) = cli(&["reduce", src, "--op", "sum", "--axis", "lat", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""shape":[4]"#), "{out}");
    let (code, out, err) = cli(&["reduce", src, "--op", "sum", "--axis", "dim_0", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""shape":[3]"#), "{out}");
    let (_, out, _) = cli(&["info", src]);
    assert!(out.contains("dims        (dim_0, lat)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sizes no store can hold (a garbled `.zarray`, as a fuzzer made it) are refused when
/// the store is opened, in one line, not met as an overflow while reading; a name with a
/// newline in an error is printed escaped, on one line.
#[test]
fn sizes_too_large_to_address_are_refused_in_one_line() {
    let dir = std::env::temp_dir().join(format!("cw-huge-{}.zarr", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (shape, chunks, what) in [
        (
            "[7, 5]",
            "[3, 9223372036854775808]",
            "a chunk of shape [3, 9223372036854775808]",
        ),
        (
            "[4294967296, 4294967296]",
            "[1, 1]",
            "an array of shape [4294967296, 4294967296]",
        ),
    ] {
        std::fs::write(
            dir.join(".zarray"),
            format!(
                r#"{{"shape": {shape}, "chunks": {chunks}, "dtype": ">i8", "fill_value": null, "order": "C",
                    "filters": null, "compressor": null, "zarr_format": 2}}"#
            ),
        )
        .unwrap();
        for args in [vec!["info"], vec!["reduce", "--op", "median"]] {
            let mut a = args.clone();
            a.insert(1, dir.to_str().unwrap());
            let (code, _, err) = cli(&a);
            assert_eq!(code, 1, "{err}");
            assert!(err.contains(what) && err.contains("too large"), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let (code, _, err) = cli(&["reduce", "nowhere/fl\ng.zarr", "--op", "sum"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fl\\ng"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
