//! chunkwise's own netCDF-3 reader (`chunkwise::io::netcdf3`, every feature set) and the
//! CLI against files written by netCDF-C through netCDF4-python and by xarray
//! (`tests/fixtures/gen_netcdf3.py`): the classic, 64-bit offset and CDF-5 formats, every
//! numeric type, record variables interleaved and alone, CF decoding, several yearly
//! files as one, and bad inputs.
//!
//! Fixtures: `target/fixtures/netcdf3` (see `common/fixtures.rs`).

mod common;

use chunkwise::Array;
use chunkwise::io::netcdf3::Netcdf3Source;
use common::fixtures::{self, cli};

fn open(source: &str) -> chunkwise::Result<Array> {
    let (file, var) = source.rsplit_once(':').expect("file:var");
    Array::from_netcdf3(file, var)
}

fn open_cf(source: &str) -> chunkwise::Result<Array> {
    let (file, var) = source.rsplit_once(':').expect("file:var");
    Array::from_netcdf3_cf(file, var)
}

#[test]
fn reader_matches_netcdf_c_for_every_case() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    fixtures::check_reader(&dir, open);
}

#[test]
fn cli_reductions_match_numpy() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    fixtures::check_cli_reductions(&dir);
}

/// int16 packed with scale/offset and a `_FillValue`, a float32 `missing_value`, a byte
/// variable read as unsigned (`_Unsigned = "true"`) with a fill value and a scale:
/// decoded as `xarray.open_dataset` decodes them, dtype included, and every CLI
/// reduction of them equals NumPy's on xarray's values.
#[test]
fn cf_encoded_variables_decode_as_xarray_decodes_them() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    let cf = dir.join("cf");
    fixtures::check_reader(&cf, open_cf);
    fixtures::check_cli_reductions(&cf);
}

/// Record variables interleaved with others are read record by record; a file's only
/// record variable is one contiguous run (its records are not padded).
#[test]
fn record_layouts_are_read_as_netcdf_lays_them_out() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    let t2m = Netcdf3Source::open(dir.join("classic.nc"), "t2m").unwrap();
    assert!(t2m.layout().contains("interleaved with 4 other"), "{}", t2m.layout());
    assert_eq!(t2m.header().kind(), "classic");
    assert_eq!(t2m.header().numrecs, 23);
    let z = Netcdf3Source::open(dir.join("offset64.nc"), "/z").unwrap();
    assert_eq!(z.layout(), "contiguous");
    assert_eq!(z.header().kind(), "64-bit offset");
    let r8 = Netcdf3Source::open(dir.join("cdf5.nc"), "r8").unwrap();
    assert_eq!(r8.header().kind(), "64-bit data (CDF-5)");
    // Blocks are whole records; a reduction reads a block's records through the file
    // in windows (a stream), the same bytes as the block read whole.
    assert_eq!(t2m.natural_chunks(), Some(vec![23, 7, 5]));
    use chunkwise::io::ChunkSource;
    for region in [vec![0..23, 0..7, 0..5], vec![3..11, 2..6, 1..4]] {
        let whole = t2m.read(&region).unwrap();
        let want: Vec<f32> = (0..whole.data().len())
            .map(|i| whole.data().get_f64(i) as f32)
            .collect();
        let mut stream = t2m.stream(&region, region[0].len()).unwrap().expect("a stream");
        let mut got = vec![0u8; want.len() * 4];
        stream.read(0, &mut got).unwrap();
        let got: Vec<f32> = got
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter().zip(&want).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())),
            "{region:?}"
        );
    }
    // Blocks that cut records and rows read the same values.
    let a = Array::from_source(std::sync::Arc::new(t2m), vec![4, 3, 2]).unwrap();
    let want = chunkwise::io::npy::read_npy(&dir.join("classic_t2m.npy")).unwrap();
    fixtures::same(&a.compute_chunk().unwrap(), &want, 0.0, "t2m in 4x3x2 blocks");
}

/// `info` lists a file's variables (text ones marked) and describes one.
#[test]
fn info_lists_variables_and_describes_one() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    let file = dir.join("classic.nc");
    let (code, out, err) = cli(&["info", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("format      netCDF-3 classic"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("t2m") && l.contains("(time, lat, lon)") && l.contains("[23, 7, 5] float32")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("station") && l.contains("char") && l.contains("a data type chunkwise does not read")),
        "{out}"
    );
    let src = format!("{}:t2m", file.display());
    let (code, out, err) = cli(&["info", &src, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["format"], "netCDF-3 classic");
    assert_eq!(j["shape"], serde_json::json!([23, 7, 5]));
    assert_eq!(j["dims"], serde_json::json!(["time", "lat", "lon"]));
    assert_eq!(j["dtype"], "float32");
    assert_eq!(j["chunks"], serde_json::Value::Null);
    assert_eq!(j["bytes_on_disk"], 23 * 7 * 5 * 4);
    let packed = format!("{}:t2m", dir.join("cf/packed.nc").display());
    let (code, out, err) = cli(&["info", &packed]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cf decoding -32767 → NaN, × 0.01, + 280 → float64"),
        "{out}"
    );
}

/// Yearly netCDF-3 files (NCEP/NCAR reanalysis style), each packed with its own scale
/// and counting time from its own year, read as one: xarray's answers on their
/// concatenation, a monthly climatology included.
#[test]
fn several_files_read_as_one_like_open_mfdataset() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    let mf = dir.join("mf");
    let pattern = format!("{}/air.*.nc:air", mf.display());
    let tmp = std::env::temp_dir().join(format!("cw-nc3-mf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (name, args) in [
        ("nanmean_time", vec!["--op", "nanmean", "--axis", "time"]),
        ("month_nanmean", vec!["--op", "nanmean", "--groupby", "month"]),
    ] {
        let (out, want) = (tmp.join(format!("{name}.npy")), mf.join(format!("{name}.npy")));
        fixtures::check_reduce_matches(&pattern, &args, &out, &want, 1e-12);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn bad_input_gives_one_line_errors_and_no_output_file() {
    let Some(dir) = fixtures::dir("netcdf3") else { return };
    let p = |n: &str| format!("{}/{n}", dir.display());
    let sum = |src: &str| vec![p(src), "--op".to_string(), "sum".to_string()];
    fixtures::check_bad_inputs(&[
        (sum("truncated.nc:t2m"), "the file is truncated"),
        (sum("short_header.nc:t2m"), "short_header.nc: truncated header"),
        (sum("garbled.nc:t2m"), "garbled.nc: corrupt header"),
        (
            sum("classic.nc:nope"),
            "no variable 'nope' (the file holds: time, lat, lon",
        ),
        (sum("classic.nc:/era5/t2m"), "a netCDF-3 file has no groups"),
        (sum("classic.nc:station"), "datatype char (text) is not supported"),
        (sum("classic.nc"), "is a netCDF-3 file: name the variable"),
        (sum("classic.nc:"), "is a netCDF-3 file: name the variable"),
        (sum("missing.nc:t2m"), "missing.nc: no such file or directory"),
    ]);
}
