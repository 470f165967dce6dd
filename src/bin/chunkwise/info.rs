//! `chunkwise info`: what a stored array is, without reading its data.
//!
//! Each fact is gathered once into a [`Report`] and printed either as aligned text lines
//! (for people) or as one JSON object (`--format json`, for scripts: `jq .shape`), so
//! the two forms cannot disagree.

use crate::reduce::Format;
use crate::source::{self, Source};
use chunkwise::io::ChunkSource;
use serde_json::{Value, json};
use std::path::Path;

/// Arguments of `chunkwise info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The array: `store.zarr`, `store.zarr/group/array` (Zarr v2/v3), `file.h5:/dataset`
    /// or `file.nc:var`; a pattern (`'era5_*.nc:t2m'`) joins its files along the first axis.
    source: String,
    /// Output format: aligned lines, or one JSON object (`jq .shape`).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// The facts about an array or a group, in the order they are shown: a text label and
/// line, and the JSON member with the same content.
#[derive(Default)]
struct Report {
    facts: Vec<(&'static str, &'static str, String, Value)>,
    /// A group's members, each as a text line and a JSON object.
    members: Option<Vec<(String, Value)>>,
}

impl Report {
    fn fact(&mut self, key: &'static str, label: &'static str, text: impl Into<String>, json: Value) {
        self.facts.push((key, label, text.into(), json));
    }

    fn print(&self, format: Format) {
        match format {
            Format::Text => {
                // Facts with no label are JSON-only (the text folds them into another line).
                for (_, label, text, _) in self.facts.iter().filter(|f| !f.1.is_empty()) {
                    println!("{label:<12}{text}");
                }
                if let Some(m) = &self.members {
                    println!("{:<12}{}", "arrays", m.len());
                    for (line, _) in m {
                        println!("{line}");
                    }
                }
            }
            Format::Json => {
                let mut obj = serde_json::Map::new();
                for (key, _, _, json) in &self.facts {
                    obj.insert((*key).to_string(), json.clone());
                }
                if let Some(m) = &self.members {
                    obj.insert(
                        "arrays".into(),
                        Value::Array(m.iter().map(|(_, j)| j.clone()).collect()),
                    );
                }
                println!("{}", Value::Object(obj));
            }
        }
    }
}

fn dir_stats(p: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut chunks = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                // A nested array or group is not part of this array's chunks.
                if d != p || !chunkwise::io::zarr::is_zarr(&path) {
                    stack.push(path);
                }
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            if !matches!(
                name.as_str(),
                "zarr.json" | ".zarray" | ".zattrs" | ".zgroup" | ".zmetadata"
            ) {
                chunks += 1;
            }
        }
    }
    (bytes, chunks)
}

/// The datasets of an HDF5/NetCDF-4 file or group, one line each.
#[cfg(feature = "hdf5")]
fn hdf5_listing(file: &Path, group: &str) -> chunkwise::Result<Report> {
    let names = chunkwise::io::hdf5::group_datasets(file, group)?.unwrap_or_default();
    let mut r = Report::default();
    let shown = format!("{}:{group}", file.display());
    r.fact("source", "source", shown.clone(), json!(shown));
    r.fact(
        "format",
        "format",
        "HDF5 group (NetCDF-4 files are HDF5)",
        json!("HDF5 group"),
    );
    let sources: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), format!("{}:{n}", file.display())))
        .collect();
    r.members = Some(listing(&sources));
    Ok(r)
}

/// The variables of a netCDF-3 file, one line each.
fn nc3_listing(file: &Path) -> chunkwise::Result<Report> {
    let header = chunkwise::io::netcdf3::Header::read(file)?;
    let mut r = Report::default();
    let shown = file.display().to_string();
    r.fact("source", "source", shown.clone(), json!(shown));
    let format = format!("netCDF-3 {}", header.kind());
    r.fact("format", "format", format.clone(), json!(format));
    let sources: Vec<(String, String)> = header
        .vars
        .iter()
        .map(|v| (v.name.clone(), format!("{}:{}", file.display(), v.name)))
        .collect();
    r.members = Some(listing(&sources));
    Ok(r)
}

/// One variable of a netCDF-3 file.
fn nc3_info(file: &Path, var: &str) -> chunkwise::Result<Report> {
    use chunkwise::io::netcdf3::AttrValue;
    let src = chunkwise::io::netcdf3::Netcdf3Source::open(file, var)?;
    let named = format!("{}:{var}", file.display());
    let shape = src.shape().to_vec();
    let mut r = Report::default();
    r.fact("source", "source", src.name(), json!(src.name()));
    let format = format!("netCDF-3 {}", src.header().kind());
    r.fact("format", "format", format.clone(), json!(format));
    r.fact("shape", "shape", format!("{shape:?}"), json!(shape));
    dims_fact(&mut r, &named);
    r.fact("dtype", "dtype", src.dtype().to_string(), json!(src.dtype().name()));
    r.fact(
        "chunks",
        "chunks",
        format!(
            "none ({}); read in blocks of {:?}",
            src.layout(),
            src.natural_chunks().unwrap_or_default()
        ),
        Value::Null,
    );
    r.fact(
        "codecs",
        "codecs",
        "none (netCDF-3 stores values uncompressed, big-endian)",
        json!([]),
    );
    let fill = src.var().attrs.iter().find(|(k, _)| k == "_FillValue").map(|(_, v)| v);
    let (text, j) = match fill {
        Some(AttrValue::Numbers(_, v)) if v.len() == 1 && v[0].is_nan() => ("NaN".to_string(), json!("NaN")),
        Some(AttrValue::Numbers(_, v)) if v.len() == 1 => (v[0].to_string(), json!(v[0])),
        Some(v) => (format!("{v:?}"), json!(format!("{v:?}"))),
        None => ("none (no _FillValue attribute)".to_string(), Value::Null),
    };
    r.fact("fill_value", "fill value", text, j);
    cf_fact(&mut r, &named, src.dtype());
    let path = "direct positioned reads, byte-swapped on the workers";
    r.fact("read_path", "read path", path, json!(path));
    sizes_fact(&mut r, src.stored_bytes() as usize, src.stored_bytes());
    Ok(r)
}

/// One line per array of a group, as xarray's repr lists a dataset's variables: name,
/// dimension names where the store records them, shape, dtype, blocks, and the CF
/// decoding `chunkwise reduce` applies (or why it cannot be read).
fn listing(arrays: &[(String, String)]) -> Vec<(String, Value)> {
    let width = arrays.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let dims: Vec<Option<Vec<String>>> = arrays.iter().map(|(_, src)| source::dimension_names(src)).collect();
    let dims_text: Vec<String> = dims
        .iter()
        .map(|d| d.as_ref().map(|d| format!("({})  ", d.join(", "))).unwrap_or_default())
        .collect();
    let dwidth = dims_text.iter().map(|d| d.chars().count()).max().unwrap_or(0);
    let mut out = Vec::new();
    for (((name, src), dims), dtext) in arrays.iter().zip(&dims).zip(&dims_text) {
        let mut j = serde_json::Map::new();
        j.insert("name".into(), json!(name));
        j.insert("dims".into(), json!(dims));
        let line = match source::open(src) {
            Ok(a) => {
                let block: Vec<usize> = a.chunks().iter().map(|c| c.first().copied().unwrap_or(0)).collect();
                let (cf_text, cf_json) = cf(src, a.dtype());
                j.insert("shape".into(), json!(a.shape()));
                j.insert("dtype".into(), json!(a.dtype().name()));
                j.insert("blocks".into(), json!(block));
                j.insert("cf_decoding".into(), cf_json);
                j.insert("readable".into(), json!(true));
                let cf_text = cf_text.map(|t| format!("  cf {t}")).unwrap_or_default();
                format!(
                    "  {name:<width$}  {dtext:<dwidth$}{:?} {}  blocks {block:?}{cf_text}",
                    a.shape(),
                    a.dtype()
                )
            }
            // The readers' "data type … is not supported (bool, int8–64, …)": an array of
            // text (a `season` or `station` coordinate), listed as stored. Any other
            // error (corrupt metadata, a missing filter) is shown as it is.
            Err(e) => {
                j.insert("readable".into(), json!(false));
                match source::stored_layout(src).filter(|_| e.to_string().contains("is not supported (bool")) {
                    Some((shape, dtype, block)) => {
                        j.insert("shape".into(), json!(shape));
                        j.insert("dtype".into(), json!(dtype));
                        j.insert("blocks".into(), json!(block));
                        j.insert("error".into(), json!("a data type chunkwise does not read"));
                        format!(
                            "  {name:<width$}  {dtext:<dwidth$}{shape:?} {dtype}  blocks {block:?}  (a data type chunkwise does not read)"
                        )
                    }
                    None => {
                        j.insert("error".into(), json!(e.to_string()));
                        format!("  {name:<width$}  cannot be read: {e}")
                    }
                }
            }
        };
        out.push((line, Value::Object(j)));
    }
    out
}

/// What `chunkwise reduce` decodes (without `--raw`): the text (`None` when nothing is
/// decoded) and the JSON form (`null` then; an object of the attributes' effect, or
/// `{"error": …}` when the attributes cannot be used).
fn cf(source: &str, dtype: chunkwise::DType) -> (Option<String>, Value) {
    match source::cf_decoding(source, dtype) {
        Ok(Some(cf)) => (
            Some(cf.describe()),
            json!({
                "fill_values": cf.fills.iter().map(|&(v, _)| v).collect::<Vec<f64>>(),
                "scale_factor": cf.scale,
                "add_offset": cf.offset,
                "read_as": cf.view.map(chunkwise::DType::name),
                "dtype": cf.dtype.name(),
                "text": cf.describe(),
            }),
        ),
        Ok(None) => (None, Value::Null),
        Err(e) => (Some(format!("not possible: {e}")), json!({ "error": e.to_string() })),
    }
}

/// The CF fact: what `chunkwise reduce` decodes (without `--raw`).
fn cf_fact(r: &mut Report, source: &str, dtype: chunkwise::DType) {
    let (text, json) = cf(source, dtype);
    let text = match text {
        Some(t) if t.starts_with("not possible") => t,
        Some(t) => format!("{t} (reduce --raw reads the stored values)"),
        None => "none".into(),
    };
    r.fact("cf_decoding", "cf decoding", text, json);
}

/// The dimension names, where the store records them (`--axis` takes them).
fn dims_fact(r: &mut Report, source: &str) {
    if let Some(d) = source::dimension_names(source) {
        r.fact("dims", "dims", format!("({})", d.join(", ")), json!(d));
    }
}

/// Bytes the array takes in memory.
fn memory_fact(r: &mut Report, mem: usize) {
    r.fact(
        "bytes_in_memory",
        "in memory",
        format!("{mem} bytes ({:.1} MB)", mem as f64 / 1e6),
        json!(mem),
    );
}

/// The last two facts: bytes in memory and on disk, with the compression ratio.
fn sizes_fact(r: &mut Report, mem: usize, bytes: u64) {
    memory_fact(r, mem);
    r.fact(
        "bytes_on_disk",
        "on disk",
        format!(
            "{bytes} bytes ({:.1} MB, ratio {:.2})",
            bytes as f64 / 1e6,
            mem as f64 / bytes.max(1) as f64
        ),
        json!(bytes),
    );
}

/// The chunk grid fact: stored chunk shape, how many the grid has, how many are stored.
fn chunks_fact(r: &mut Report, shape: &[usize], chunks: &[usize], present: Option<usize>) {
    let nchunks: usize = shape.iter().zip(chunks).map(|(&n, &c)| n.div_ceil(c.max(1))).product();
    let stored = present.map_or("?".into(), |p| p.to_string());
    r.fact(
        "chunks",
        "chunks",
        format!("{chunks:?} ({nchunks} in the grid, {stored} stored)"),
        json!(chunks),
    );
    r.fact("chunks_in_grid", "", String::new(), json!(nchunks));
    r.fact("chunks_stored", "", String::new(), json!(present));
}

/// Runs the command.
///
/// # Errors
/// A missing path or something that is not a readable array.
pub fn run(args: &InfoArgs) -> chunkwise::Result<()> {
    report(args)?.print(args.format);
    Ok(())
}

fn report(args: &InfoArgs) -> chunkwise::Result<Report> {
    if let Some(parts) = source::expand(&args.source)? {
        return pattern_report(&args.source, &parts);
    }
    let path = match source::parse(&args.source) {
        #[cfg(feature = "hdf5")]
        Source::Zarr(path) if path.is_file() && chunkwise::io::hdf5::is_hdf5(path) => {
            return hdf5_listing(path, "/");
        }
        Source::Zarr(path) => {
            if let Some(arrays) = chunkwise::io::zarr::group_arrays(path) {
                let mut r = Report::default();
                let shown = path.display().to_string();
                r.fact("source", "source", shown.clone(), json!(shown));
                r.fact("format", "format", "Zarr group", json!("Zarr group"));
                let sources: Vec<(String, String)> = arrays
                    .iter()
                    .map(|a| (a.clone(), format!("{}/{a}", path.display())))
                    .collect();
                r.members = Some(listing(&sources));
                return Ok(r);
            }
            path
        }
        Source::Nc3(file, var) if var.is_empty() => return nc3_listing(file),
        Source::Nc3(file, var) => return nc3_info(file, var),
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => {
            if chunkwise::io::hdf5::group_datasets(file, dataset)?.is_some() {
                return hdf5_listing(file, dataset);
            }
            return hdf5_info(file, dataset);
        }
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => {
            // Fails, saying the binary was built without the hdf5 feature.
            let _ = source::open(&args.source)?;
            return Err(chunkwise::Error::Unsupported("HDF5 needs the hdf5 feature".into()));
        }
    };
    if path.is_file() {
        // Not a Zarr directory: let the opener explain (an HDF5 file without a dataset).
        let _ = source::open(&args.source)?;
    }
    let src = chunkwise::io::zarr::ZarrSource::open(path)?;
    let meta = serde_json::to_value(src.zarr().metadata()).unwrap_or_default();
    let shape = src.shape().to_vec();
    let chunks = src.natural_chunks().unwrap_or_default();
    let (bytes, present) = dir_stats(path);
    let mem = shape.iter().product::<usize>() * src.dtype().size();
    let version = meta.get("zarr_format").and_then(Value::as_u64).unwrap_or(0);
    let mut r = Report::default();
    let shown = path.display().to_string();
    r.fact("source", "source", shown.clone(), json!(shown));
    r.fact(
        "format",
        "format",
        format!("Zarr v{version}"),
        json!(format!("Zarr v{version}")),
    );
    r.fact("shape", "shape", format!("{shape:?}"), json!(shape));
    dims_fact(&mut r, &args.source);
    r.fact("dtype", "dtype", src.dtype().to_string(), json!(src.dtype().name()));
    chunks_fact(&mut r, &shape, &chunks, Some(present));
    let (codecs_text, codecs_json) = if version == 2 {
        let get = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
        let order = meta.get("order").cloned().unwrap_or(json!("C"));
        (
            format!(
                "filters {} compressor {} order {order}",
                get("filters"),
                get("compressor")
            ),
            json!({ "filters": get("filters"), "compressor": get("compressor"), "order": order }),
        )
    } else {
        let c = meta.get("codecs").cloned().unwrap_or(json!([]));
        (c.to_string(), c)
    };
    r.fact("codecs", "codecs", codecs_text, codecs_json);
    let fill = meta.get("fill_value").cloned().unwrap_or(Value::Null);
    r.fact("fill_value", "fill value", fill.to_string(), fill);
    cf_fact(&mut r, &args.source, src.dtype());
    sizes_fact(&mut r, mem, bytes);
    Ok(r)
}

/// A fill value as Zarr metadata writes one: a number, or `"NaN"`, `"Infinity"`,
/// `"-Infinity"`.
#[cfg(feature = "hdf5")]
fn scalar_json(s: chunkwise::Scalar) -> Value {
    match s {
        chunkwise::Scalar::Bool(b) => json!(b),
        chunkwise::Scalar::Int(i) => json!(i),
        chunkwise::Scalar::UInt(u) => json!(u),
        chunkwise::Scalar::Float(f) if f.is_nan() => json!("NaN"),
        chunkwise::Scalar::Float(f) if f.is_infinite() => json!(if f > 0.0 { "Infinity" } else { "-Infinity" }),
        chunkwise::Scalar::Float(f) => json!(f),
    }
}

#[cfg(feature = "hdf5")]
fn hdf5_info(file: &Path, dataset: &str) -> chunkwise::Result<Report> {
    let src = chunkwise::io::hdf5::Hdf5Source::open(file, dataset)?;
    let shape = src.shape().to_vec();
    let mem = shape.iter().product::<usize>() * src.dtype().size();
    let (bytes, present) = src.storage();
    let named = format!("{}:{dataset}", file.display());
    let mut r = Report::default();
    r.fact("source", "source", src.name(), json!(src.name()));
    r.fact("format", "format", "HDF5 (NetCDF-4 files are HDF5)", json!("HDF5"));
    r.fact("shape", "shape", format!("{shape:?}"), json!(shape));
    dims_fact(&mut r, &named);
    r.fact("dtype", "dtype", src.dtype().to_string(), json!(src.dtype().name()));
    match src.stored_chunks() {
        Some(chunks) => chunks_fact(&mut r, &shape, chunks, present),
        None => {
            let blocks = src
                .natural_chunks()
                .map_or_else(String::new, |b| format!("; read in blocks of {b:?}"));
            r.fact(
                "chunks",
                "chunks",
                format!("none (contiguous or compact storage{blocks})"),
                Value::Null,
            );
        }
    }
    let filters = src.filters();
    r.fact(
        "codecs",
        "codecs",
        if filters.is_empty() {
            "none".to_string()
        } else {
            filters.join(", ")
        },
        json!(filters),
    );
    r.fact(
        "fill_value",
        "fill value",
        src.fill_value().to_string(),
        scalar_json(src.fill_value()),
    );
    cf_fact(&mut r, &named, src.dtype());
    r.fact("read_path", "read path", src.read_path(), json!(src.read_path()));
    sizes_fact(&mut r, mem, bytes);
    Ok(r)
}

/// Several files read as one (a SOURCE pattern): the joined array, and each file.
fn pattern_report(pattern: &str, parts: &[String]) -> chunkwise::Result<Report> {
    let stored = source::open(pattern)?;
    let decoded = source::open_decoded(pattern, false)?;
    let mut r = Report::default();
    r.fact("source", "source", pattern, json!(pattern));
    r.fact(
        "format",
        "format",
        format!(
            "{} files joined along the first axis (as xarray's open_mfdataset)",
            parts.len()
        ),
        json!(format!("{} files", parts.len())),
    );
    let shape = stored.shape();
    r.fact("shape", "shape", format!("{shape:?}"), json!(shape));
    dims_fact(&mut r, pattern);
    r.fact(
        "dtype",
        "dtype",
        stored.dtype().to_string(),
        json!(stored.dtype().name()),
    );
    let block: Vec<usize> = stored
        .chunks()
        .iter()
        .map(|c| c.first().copied().unwrap_or(0))
        .collect();
    let nblocks: usize = stored.chunks().iter().map(Vec::len).product();
    r.fact(
        "blocks",
        "blocks",
        format!("{block:?} ({nblocks} blocks, none across two files)"),
        json!(block),
    );
    let decodings: Vec<Option<String>> = parts
        .iter()
        .map(|p| {
            source::open(p)
                .ok()
                .and_then(|a| source::cf_decoding(p, a.dtype()).ok().flatten())
                .map(|cf| cf.describe())
        })
        .collect();
    let (text, j) = if decodings.iter().all(|d| d == &decodings[0]) {
        match &decodings[0] {
            Some(d) => (format!("{d} (every file)"), json!(d)),
            None => ("none".to_string(), Value::Null),
        }
    } else {
        (
            format!("each file by its own attributes → {}", decoded.dtype()),
            json!(decodings),
        )
    };
    r.fact("cf_decoding", "cf decoding", text, j);
    let mut total = 0;
    let mut files = Vec::new();
    let mut lines = Vec::new();
    for p in parts {
        let a = source::open(p)?;
        let file = match source::parse(p) {
            Source::Hdf5(f, _) | Source::Nc3(f, _) => f.to_path_buf(),
            Source::Zarr(z) => z.to_path_buf(),
        };
        let bytes = if file.is_dir() {
            dir_stats(&file).0
        } else {
            std::fs::metadata(&file).map_or(0, |m| m.len())
        };
        total += bytes;
        lines.push(format!("{} {:?}", file.display(), a.shape()));
        files.push(json!({ "source": p, "shape": a.shape(), "bytes": bytes }));
    }
    let shown = if lines.len() > 4 {
        format!("{}, {}, …, {}", lines[0], lines[1], lines[lines.len() - 1])
    } else {
        lines.join(", ")
    };
    r.fact("files", "files", format!("{}: {shown}", lines.len()), json!(files));
    memory_fact(&mut r, shape.iter().product::<usize>() * stored.dtype().size());
    r.fact(
        "bytes_of_files",
        "on disk",
        format!(
            "{total} bytes ({:.1} MB) in the files, every variable counted",
            total as f64 / 1e6
        ),
        json!(total),
    );
    Ok(r)
}
