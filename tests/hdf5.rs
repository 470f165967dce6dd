//! The HDF5 / NetCDF-4 reader and the CLI against files written by h5py and netCDF4-python
//! (`tests/fixtures/gen_hdf5.py`, NumPy's answers from the same script): deflate, shuffle
//! and fletcher32 in both h5py's and netCDF-C's order, big-endian data, contiguous and
//! compact layouts, scale-offset (libhdf5 fallback), missing chunks with a fill value,
//! edge chunks, 0-d and empty datasets, bool, nested groups, and bad inputs.
//!
//! Fixtures: `target/fixtures/hdf5` (see `common/fixtures.rs`).
#![cfg(all(feature = "hdf5", feature = "zarr"))]

mod common;

use chunkwise::Array;
use chunkwise::io::ChunkSource;
use chunkwise::io::hdf5::Hdf5Source;
use common::fixtures::{self, cli, same};

fn open(source: &str) -> chunkwise::Result<Array> {
    let (file, ds) = source.rsplit_once(":/").expect("file:/dataset");
    Array::from_hdf5(file, ds)
}

#[test]
fn reader_matches_h5py_for_every_case() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    fixtures::check_reader(&dir, open);
}

#[test]
fn read_paths_are_the_fast_ones_where_they_can_be() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let f = dir.join("cases.h5");
    let path = |ds: &str| Hdf5Source::open(&f, ds).unwrap().read_path();
    assert!(path("gzip_shuffle_f32").starts_with("direct chunk reads"));
    assert!(path("gzip_shuffle_fletcher_i16").starts_with("direct chunk reads"));
    assert!(path("contiguous_f64").starts_with("direct reads of contiguous"));
    assert!(path("scaleoffset_i32").contains("libhdf5"));
    assert!(path("compact_f32").contains("libhdf5"));
    let nc = Hdf5Source::open(dir.join("era5.nc"), "/surface/t2m").unwrap();
    assert!(nc.read_path().starts_with("direct chunk reads"));
    assert_eq!(nc.natural_chunks(), Some(vec![3, 9, 8]));
    assert!(nc.fill_value().as_f64().is_nan());
    // Contiguous data takes any block shape; blocks straddling rows read right.
    let a = Array::from_hdf5_chunked(&f, "contiguous_f64", vec![3, 4]).unwrap();
    let want = chunkwise::io::npy::read_npy(&dir.join("contiguous_f64.npy")).unwrap();
    same(&a.compute_chunk().unwrap(), &want, 0.0, "contiguous in 3x4 blocks");
}

#[test]
fn cli_reductions_match_numpy() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    fixtures::check_cli_reductions(&dir);
}

#[test]
fn bad_input_gives_one_line_errors_and_no_output_file() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let p = |n: &str| format!("{}/{n}", dir.display());
    let args = |src: &str, rest: &[&str]| -> Vec<String> {
        std::iter::once(p(src))
            .chain(rest.iter().map(|s| (*s).to_string()))
            .collect()
    };
    fixtures::check_bad_inputs(&[
        (args("missing.h5:/x", &["--op", "sum"]), "missing.h5"),
        (args("cases.h5:/nope", &["--op", "sum"]), "no 'nope' in /"),
        (args("cases.h5:/era5/nope/t2m", &["--op", "sum"]), "no 'nope' in /era5"),
        (args("cases.h5:/era5", &["--op", "sum"]), "is a group, not a dataset"),
        (args("cases.h5", &["--op", "sum"]), "name the dataset"),
        (args("not_hdf5.h5:/x", &["--op", "sum"]), "not an HDF5"),
        (
            args("missing.nc:t2m", &["--op", "sum"]),
            "missing.nc: no such file or directory",
        ),
        (
            args("classic.nc", &["--op", "sum"]),
            "is a netCDF-3 file: name the variable",
        ),
        (args("truncated.h5:/gzip_i64", &["--op", "sum"]), "truncated.h5"),
        (
            args("bad_chunks.h5:/garbled", &["--op", "sum"]),
            "garbled chunk at [10, 20]: corrupt deflate stream",
        ),
        (
            args("bad_chunks.h5:/checksum", &["--op", "sum"]),
            "checksum chunk at [10, 20]: fletcher32 checksum mismatch",
        ),
        (
            args("cases.h5:/bool", &["--op", "sum", "--axis", "2"]),
            "axis 2 is out of range",
        ),
        (
            args("cases.h5:/zero_len_i32", &["--op", "max"]),
            "max of an empty selection",
        ),
    ]);
}

#[test]
fn info_describes_the_dataset() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let (code, out, err) = cli(&["info", &format!("{}/era5.nc:/surface/t2m", dir.display())]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "[11, 9, 16]",
        "float32",
        "[3, 9, 8] (8 in the grid",
        "fletcher32, shuffle, deflate(4)",
        "fill value  nan",
        "direct chunk reads",
    ] {
        assert!(out.contains(want), "'{want}' not in {out}");
    }
    let (code, out, err) = cli(&[
        "info",
        &format!("{}/era5.nc:/surface/t2m", dir.display()),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["codecs"], serde_json::json!(["fletcher32", "shuffle", "deflate(4)"]));
    assert_eq!(j["fill_value"], "NaN");
    assert_eq!(j["dims"], serde_json::json!(["time", "lat", "lon"]));
    assert_eq!(j["chunks"], serde_json::json!([3, 9, 8]));
    assert_eq!(j["read_path"], "direct chunk reads, filters decoded in parallel");
    let (code, out, _) = cli(&["info", &format!("{}/cases.h5:/partial_fill7_i32", dir.display())]);
    assert_eq!(code, 0);
    // 3 × 3 chunks in the grid, rows 0..5 and columns 0..10 written: 2 stored.
    assert!(
        out.contains("(9 in the grid, 2 stored)") && out.contains("fill value  7"),
        "{out}"
    );
}

/// `file.nc:t2m` (no `/` after the colon, as netCDF users write it) names the same
/// variable as `file.nc:/t2m`, in `reduce` and `info` alike; `info` on a netCDF-3 file
/// says what it is.
#[test]
fn variables_are_named_with_or_without_the_leading_slash() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let f = |s: &str| format!("{}/{s}", dir.display());
    let tmp = std::env::temp_dir().join(format!("cw-h5-noslash-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut runs = Vec::new();
    for (i, var) in ["era5.nc:/surface/t2m", "era5.nc:surface/t2m"].iter().enumerate() {
        let out = tmp.join(format!("{i}.npy"));
        let reduced = cli(&[
            "reduce",
            &f(var),
            "--op",
            "nanmean",
            "--axis",
            "0",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(reduced.0, 0, "{var}: {}", reduced.2);
        let (code, scalar, err) = cli(&["reduce", &f(var), "--op", "max"]);
        assert_eq!(code, 0, "{var}: {err}");
        runs.push((std::fs::read(&out).unwrap(), scalar, cli(&["info", &f(var)])));
    }
    assert!(
        runs[0] == runs[1],
        "the two namings differ: {:?} / {:?}",
        runs[0].1,
        runs[1].1
    );
    let _ = std::fs::remove_dir_all(&tmp);
    // A netCDF-3 file named like a netCDF-4 one is read by the netCDF-3 reader; the
    // HDF5 opener names what it is.
    let (code, out, err) = cli(&["info", &f("classic.nc")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("netCDF-3 64-bit offset") && out.contains("t2m"), "{out}");
    let e = Array::from_hdf5(f("classic.nc"), "/t2m").unwrap_err().to_string();
    assert!(
        e.contains("a netCDF-3 64-bit-offset file, not HDF5") && e.contains("from_netcdf3"),
        "{e}"
    );
}

/// A variable in a subgroup over a dimension defined at the root (`/surface/t2m` over
/// `lat`, whose coordinate variable is `/lat`): netCDF's scoping finds the coordinate
/// in the group above, for `--weights coslat` and `--sel` alike.
#[test]
fn coordinates_are_found_in_the_groups_above() {
    use chunkwise::io::npy::read_npy;
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let tmp = std::env::temp_dir().join(format!("cw-h5-scoped-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let var = format!("{}/era5.nc:/surface/t2m", dir.display());
    let run = |name: &str, rest: &[&str]| {
        let out = tmp.join(format!("{name}.npy"));
        let mut args = vec!["reduce", &var, "--op", "mean", "--out", out.to_str().unwrap()];
        args.extend_from_slice(rest);
        let (code, _, err) = cli(&args);
        assert_eq!(code, 0, "{name}: {err}");
        read_npy(&out).unwrap()
    };
    let lat = format!("{}/era5.nc:/lat", dir.display());
    same(
        &run("coslat", &["--axis", "lat,lon", "--weights", "coslat"]),
        &run(
            "named",
            &["--axis", "lat,lon", "--weights", "coslat", "--lat-coord", &lat],
        ),
        0.0,
        "--weights coslat finds /lat",
    );
    // lat is -90, -67.5, …, 90: 0 ≤ lat ≤ 40 is positions 4 and 5.
    same(
        &run("sel", &["--axis", "time", "--sel", "lat=0:40"]),
        &run("isel", &["--axis", "time", "--isel", "lat=4:6"]),
        0.0,
        "--sel lat finds /lat",
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn text_variables_are_listed_and_refused_by_name() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let file = format!("{}/stations.nc", dir.display());
    let (code, out, err) = cli(&["info", &file]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("/station"))
        .unwrap_or("");
    assert!(
        line.contains("(station)")
            && line.contains("[3] unicode")
            && line.contains("a data type chunkwise does not read"),
        "{out}"
    );
    let (code, _, err) = cli(&["reduce", &format!("{file}:/station"), "--op", "max"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("datatype unicode") && err.contains("is not supported"),
        "{err}"
    );
    let (code, out, err) = cli(&["reduce", &format!("{file}:/t"), "--op", "sum"]);
    assert_eq!((code, out.trim()), (0, "sum = 66.0"), "{err}");
}

/// `reduce --groupby month` on a NetCDF-4 file: the CF `time` variable next to the data
/// (units as netCDF's fixed-length string attribute, 6-hourly) gives the months.
#[test]
fn groupby_month_from_a_netcdf_time_variable() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let out = std::env::temp_dir().join(format!("cw-h5-groupby-{}.npy", std::process::id()));
    let o = out.display().to_string();
    let src = format!("{}/clim.nc:/t2m", dir.display());
    let (code, _, stderr) = fixtures::cli(&["reduce", &src, "--op", "nanmean", "--groupby", "month", "--out", &o]);
    assert_eq!(code, 0, "{stderr}");
    let got = chunkwise::io::npy::read_npy(&out).unwrap();
    fixtures::same(
        &got,
        &chunkwise::io::npy::read_npy(&dir.join("clim_month_nanmean.npy")).unwrap(),
        1e-12,
        "netcdf months",
    );
    std::fs::remove_file(&out).ok();
}

/// A CF-encoded variable read and decoded through the library (`Array::from_hdf5_cf`).
fn open_cf(source: &str) -> chunkwise::Result<Array> {
    let (file, ds) = source.rsplit_once(":/").expect("file:/dataset");
    Array::from_hdf5_cf(file, ds)
}

/// Packed int16 with float64 or float32 scale/offset, int32 packing, a float32
/// `_FillValue` of 1e20 with a `missing_value` (netCDF4-python wrote them): decoded
/// bit for bit as `xarray.open_dataset` decodes them (dtype included), and every CLI
/// reduction of the decoded values equals NumPy's on xarray's.
#[test]
fn cf_encoded_variables_decode_as_xarray_decodes_them() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let cf = dir.join("cf");
    assert!(cf.join("manifest.json").is_file(), "no CF fixtures in {}", cf.display());
    fixtures::check_reader(&cf, open_cf);
    fixtures::check_cli_reductions(&cf);
    fixtures::check_weighted_cli(&cf);
}

/// `--raw` reduces the stored integers; `info` says what decoding applies, and lists a
/// file's variables.
#[test]
fn raw_reads_stored_values_and_info_shows_the_decoding() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let src = format!("{}/cf/packed.nc:/t2m", dir.display());
    let stored = open(&src).unwrap().compute::<i16>().unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let (code, out, err) = cli(args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(out.trim()).unwrap()
    };
    let raw = json(&["reduce", &src, "--op", "min", "--raw", "--format", "json"]);
    assert_eq!(raw["value"], -32767, "the fill value is a stored value");
    assert_eq!(raw["dtype"], "int16");
    let n = json(&["reduce", &src, "--op", "count", "--raw", "--format", "json"]);
    assert_eq!(n["value"], stored.len());
    let decoded = json(&["reduce", &src, "--op", "count", "--format", "json"]);
    let holes = stored.iter().filter(|&&v| v == -32767).count();
    assert!(holes > 0);
    assert_eq!(decoded["value"], stored.len() - holes);
    assert_eq!(decoded["dtype"], "int64");
    let (code, out, err) = cli(&["info", &src]);
    assert_eq!(code, 0, "{err}");
    // netCDF-4's dimension scales name the axes, and --axis takes the names.
    assert!(out.contains("dims        (time, lat, lon)"), "{out}");
    let npy = |axis: &str| {
        let out = std::env::temp_dir().join(format!("chunkwise-dims-{}-{axis}.npy", std::process::id()));
        let (code, _, err) = cli(&[
            "reduce",
            &src,
            "--op",
            "nanmax",
            "--axis",
            axis,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let c = chunkwise::io::npy::read_npy(&out).unwrap();
        std::fs::remove_file(&out).unwrap();
        c
    };
    let (named, numbered) = (npy("time,lon"), npy("0,-1"));
    assert_eq!(named.shape(), &[9]);
    fixtures::same(&named, &numbered, 0.0, "--axis time,lon");
    // --sel by the float32 latitude coordinate is --isel of the same rows; netCDF's bare
    // `time` dimension (no coordinate variable) has no values to select by.
    let json = |extra: &[&str]| {
        let mut argv = vec!["reduce", &src, "--op", "nanmean", "--format", "json"];
        argv.extend(extra);
        let (code, out, err) = cli(&argv);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["value"].clone()
    };
    assert_eq!(json(&["--sel", "lat=40:-40"]), json(&["--isel", "lat=2:7"]));
    assert_ne!(json(&["--sel", "lat=40:-40"]), json(&[]));
    let (code, _, err) = cli(&["reduce", &src, "--op", "nanmean", "--sel", "time=0:3"]);
    assert_eq!(code, 1);
    assert!(err.contains("no coordinate array 'time'"), "{err}");
    assert!(
        out.contains("cf decoding -32767 → NaN, × 0.002, + 280 → float64"),
        "{out}"
    );
    let (_, out, _) = cli(&["info", &format!("{}/era5.nc:/surface/t2m", dir.display())]);
    assert!(
        out.contains("cf decoding none"),
        "a NaN _FillValue decodes nothing: {out}"
    );
    // A file (or group) instead of a dataset: its variables, one line each, without
    // netCDF's bare dimensions.
    let (code, out, err) = cli(&["info", &format!("{}/cf/packed.nc", dir.display())]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "arrays      8",
        // Dimension names as xarray lists them; a coordinate variable is its own dimension.
        "/lat    (lat)             [9] float32  blocks [9]",
        "/q      (time, lat, lon)  [12, 9, 16] int32  blocks [5, 9, 8]  cf -2147483647 → NaN, × 1e-6, + 0.01 → float64",
        "/sst    (time, lat, lon)  [12, 9, 16] float32  blocks [6, 9, 16]  cf -999, 1e20 → NaN → float32",
        "/u10    (time, lat, lon)  [12, 9, 16] int16  blocks [5, 9, 8]  cf × 0.01, - 2.5 → float32",
        // _Unsigned: the bytes as uint8, the fill value -1 as 255; bare flags stay integers.
        "/refl   (time, lat, lon)  [12, 9, 16] int8  blocks [4, 9, 16]  cf as uint8, 255 → NaN, × 0.5, - 32 → float32",
        "/flags  (time, lat, lon)  [12, 9, 16] int8  blocks [12, 3, 16]  cf as uint8 → uint8",
    ] {
        assert!(out.contains(want), "'{want}' not in {out}");
    }
    let (code, out, _) = cli(&["info", &format!("{}/era5.nc:/surface", dir.display())]);
    assert_eq!(code, 0);
    assert!(
        out.contains("arrays      1") && out.contains("/surface/t2m  (time, lat, lon)  [11, 9, 16] float32"),
        "{out}"
    );
}

/// `'mf/era5_*.nc:t2m'`: three yearly files, each packed with its own scale and offset
/// and counting time from its own first day (as xarray writes them), read as one array
/// along time — equal to xarray's answers on the concatenated files for a mean over
/// time, a monthly climatology (times joined across files), a `--sel` that spans two
/// files, and an area-weighted mean per step; `--out .zarr` carries the joined times.
#[test]
fn several_files_read_as_one_like_open_mfdataset() {
    use chunkwise::io::npy::read_npy;
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let mf = dir.join("mf");
    let pattern = format!("{}/era5_*.nc:t2m", mf.display());
    let tmp = std::env::temp_dir().join(format!("cw-h5-mf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (name, args) in [
        ("nanmean_time", vec!["--op", "nanmean", "--axis", "time"]),
        ("month_nanmean", vec!["--op", "nanmean", "--groupby", "month"]),
        (
            "winter_nanmax",
            vec![
                "--op",
                "nanmax",
                "--axis",
                "time",
                "--sel",
                "time=2001-12-15:2002-01-15",
            ],
        ),
        ("gmst", vec!["--op", "mean", "--axis", "lat,lon", "--weights", "coslat"]),
    ] {
        let (out, want) = (tmp.join(format!("{name}.npy")), mf.join(format!("{name}.npy")));
        fixtures::check_reduce_matches(&pattern, &args, &out, &want, 1e-12);
    }
    // The whole decoded array, through the library's view of the same files.
    let (code, out, err) = cli(&["reduce", &pattern, "--op", "nansum", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = read_npy(&mf.join("t2m.npy")).unwrap();
    let want: f64 = (0..all.data().len())
        .map(|i| all.data().get_f64(i))
        .filter(|v| !v.is_nan())
        .sum();
    let v = got["value"].as_f64().unwrap();
    assert!((v - want).abs() <= 1e-9 * want.abs(), "{v} vs {want}");
    // The joined time axis goes with the result into Zarr: 1095 days from 2001-01-01.
    let store = tmp.join("g.zarr");
    let (code, _, err) = cli(&[
        "reduce",
        &pattern,
        "--op",
        "mean",
        "--axis",
        "lat,lon",
        "--out",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let time = Array::from_zarr(store.join("time")).unwrap().compute::<i64>().unwrap();
    assert_eq!(
        time.iter().copied().collect::<Vec<_>>(),
        (0..1095).collect::<Vec<i64>>()
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Files that are not one dataset are refused by name: another grid, other units, a
/// pattern matching nothing, files named without their variable, a variable that does
/// not run along the files' record dimension.
#[test]
fn files_that_are_not_one_dataset_are_refused() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let p = |n: &str| format!("{}/mf/{n}", dir.display());
    fixtures::check_bad_inputs(&[
        (
            vec![p("grid_?.nc:t2m"), "--op".into(), "max".into()],
            "disagree on coordinate 'lat'",
        ),
        (
            vec![p("units_?.nc:t2m"), "--op".into(), "max".into()],
            "disagree on 'units' ('K' in",
        ),
        (
            vec![p("nope_*.nc:t2m"), "--op".into(), "max".into()],
            "no file matches the pattern",
        ),
        (
            vec![p("era5_*.nc"), "--op".into(), "max".into()],
            "name the variable as",
        ),
        // lat is in every file, the same: joined, a sum over it would triple.
        (
            vec![p("era5_*.nc:lat"), "--op".into(), "sum".into()],
            "every file has the same 'lat' values",
        ),
    ]);
    // info: the joined array and each file, as text and JSON.
    let (code, out, err) = cli(&["info", &p("era5_*.nc:t2m"), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["shape"], serde_json::json!([1095, 5, 6]));
    assert_eq!(j["files"].as_array().unwrap().len(), 3);
    assert_eq!(j["cf_decoding"].as_array().unwrap().len(), 3, "packed per file: {j}");
    let (_, text, _) = cli(&["info", &p("era5_*.nc:t2m")]);
    assert!(
        text.contains("3 files joined along the first axis") && text.contains("none across two files"),
        "{text}"
    );
}

/// A dataspace whose size passes its own maximum (a garbled header; libhdf5 1.10 opens
/// it, 1.14 and h5py refuse it) is refused by name, not read as 27 GB of fill values.
#[test]
fn a_dataspace_past_its_maximum_is_refused() {
    let Some(dir) = fixtures::dir("hdf5") else { return };
    let mut bytes = std::fs::read(dir.join("cases.h5")).unwrap();
    // `/scaleoffset_i32` is the one (16, 12) dataset: its dims and maxdims, as u64 LE.
    let pat: Vec<u8> = [16u64, 12, 16, 12].iter().flat_map(|v| v.to_le_bytes()).collect();
    let at = bytes
        .windows(pat.len())
        .position(|w| w == pat.as_slice())
        .expect("the (16, 12) dataspace in cases.h5");
    bytes[at..at + 8].copy_from_slice(&570_425_360u64.to_le_bytes());
    let path = std::env::temp_dir().join(format!("cw-dataspace-{}.h5", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let src = format!("{}:/scaleoffset_i32", path.display());
    for args in [vec!["info", src.as_str()], vec!["reduce", src.as_str(), "--op", "sum"]] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("corrupt dataspace: axis 0 has 570425360 elements, more than its maximum of 16"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    std::fs::remove_file(path).ok();
}
