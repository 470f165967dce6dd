//! `chunkwise info`: what a stored array is, without reading its data.

use crate::source::{self, Source};
use chunkwise::io::ChunkSource;
use std::path::Path;

/// Arguments of `chunkwise info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The array: `store.zarr`, `store.zarr/group/array` (Zarr v2/v3), or `file.h5:/dataset`.
    source: String,
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
fn hdf5_listing(file: &Path, group: &str) -> chunkwise::Result<()> {
    let names = chunkwise::io::hdf5::group_datasets(file, group)?.unwrap_or_default();
    println!("source      {}:{group}", file.display());
    println!("format      HDF5 group (NetCDF-4 files are HDF5)");
    let sources: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), format!("{}:{n}", file.display())))
        .collect();
    print_listing(&sources);
    Ok(())
}

/// One line per array of a group, as xarray's repr lists a dataset's variables: name,
/// dimension names where the store records them, shape, dtype, blocks, and the CF
/// decoding `chunkwise reduce` applies (or why it cannot be read).
fn print_listing(arrays: &[(String, String)]) {
    println!("arrays      {}", arrays.len());
    let width = arrays.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let dims: Vec<String> = arrays
        .iter()
        .map(|(_, src)| {
            source::dimension_names(src)
                .map(|d| format!("({})  ", d.join(", ")))
                .unwrap_or_default()
        })
        .collect();
    let dwidth = dims.iter().map(|d| d.chars().count()).max().unwrap_or(0);
    for ((name, src), dims) in arrays.iter().zip(&dims) {
        match source::open(src) {
            Ok(a) => {
                let block: Vec<usize> = a.chunks().iter().map(|c| c.first().copied().unwrap_or(0)).collect();
                let cf = match source::cf_decoding(src, a.dtype()) {
                    Ok(Some(cf)) => format!("  cf {}", cf.describe()),
                    Ok(None) => String::new(),
                    Err(e) => format!("  cf not possible: {e}"),
                };
                println!(
                    "  {name:<width$}  {dims:<dwidth$}{:?} {}  blocks {block:?}{cf}",
                    a.shape(),
                    a.dtype()
                );
            }
            // The readers' "data type … is not supported (bool, int8–64, …)": an array of
            // text (a `season` or `station` coordinate), listed as stored. Any other
            // error (corrupt metadata, a missing filter) is shown as it is.
            Err(e) => match source::stored_layout(src).filter(|_| e.to_string().contains("is not supported (bool")) {
                Some((shape, dtype, block)) => println!(
                    "  {name:<width$}  {dims:<dwidth$}{shape:?} {dtype}  blocks {block:?}  (a data type chunkwise does not read)"
                ),
                None => println!("  {name:<width$}  cannot be read: {e}"),
            },
        }
    }
}

/// What `chunkwise reduce` decodes (without `--raw`): the CF line.
fn print_cf(source: &str, dtype: chunkwise::DType) {
    match source::cf_decoding(source, dtype) {
        Ok(Some(cf)) => println!("cf decoding {} (reduce --raw reads the stored values)", cf.describe()),
        Ok(None) => println!("cf decoding none"),
        Err(e) => println!("cf decoding not possible: {e}"),
    }
}

/// The dimension names, where the store records them (`--axis` takes them).
fn print_dims(source: &str) {
    if let Some(d) = source::dimension_names(source) {
        println!("dims        ({})", d.join(", "));
    }
}

/// The last two lines: bytes in memory and on disk, with the compression ratio.
fn print_sizes(mem: usize, bytes: u64) {
    println!("in memory   {mem} bytes ({:.1} MB)", mem as f64 / 1e6);
    println!(
        "on disk     {bytes} bytes ({:.1} MB, ratio {:.2})",
        bytes as f64 / 1e6,
        mem as f64 / bytes.max(1) as f64
    );
}

/// Runs the command.
///
/// # Errors
/// A missing path or something that is not a readable array.
pub fn run(args: &InfoArgs) -> chunkwise::Result<()> {
    let path = match source::parse(&args.source) {
        #[cfg(feature = "hdf5")]
        Source::Zarr(path) if path.is_file() && chunkwise::io::hdf5::is_hdf5(path) => {
            return hdf5_listing(path, "/");
        }
        Source::Zarr(path) => {
            if let Some(arrays) = chunkwise::io::zarr::group_arrays(path) {
                println!("source      {}", path.display());
                println!("format      Zarr group");
                let sources: Vec<(String, String)> = arrays
                    .iter()
                    .map(|a| (a.clone(), format!("{}/{a}", path.display())))
                    .collect();
                print_listing(&sources);
                return Ok(());
            }
            path
        }
        #[cfg(feature = "hdf5")]
        Source::Hdf5(file, dataset) => {
            if chunkwise::io::hdf5::group_datasets(file, dataset)?.is_some() {
                return hdf5_listing(file, dataset);
            }
            return hdf5_info(file, dataset);
        }
        #[cfg(not(feature = "hdf5"))]
        Source::Hdf5(..) => {
            let _ = source::open(&args.source)?;
            return Ok(());
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
    let nchunks: usize = shape.iter().zip(&chunks).map(|(&n, &c)| n.div_ceil(c.max(1))).product();
    let (bytes, present) = dir_stats(path);
    let mem = shape.iter().product::<usize>() * src.dtype().size();
    let version = meta.get("zarr_format").and_then(serde_json::Value::as_u64).unwrap_or(0);
    println!("source      {}", path.display());
    println!("format      Zarr v{version}");
    println!("shape       {shape:?}");
    print_dims(&args.source);
    println!("dtype       {}", src.dtype());
    println!("chunks      {chunks:?} ({nchunks} in the grid, {present} stored)");
    let codecs = if version == 2 {
        format!(
            "filters {} compressor {} order {}",
            meta.get("filters").map_or("null".into(), ToString::to_string),
            meta.get("compressor").map_or("null".into(), ToString::to_string),
            meta.get("order").map_or("C".into(), ToString::to_string)
        )
    } else {
        meta.get("codecs").map_or("[]".into(), ToString::to_string)
    };
    println!("codecs      {codecs}");
    println!(
        "fill value  {}",
        meta.get("fill_value").map_or("null".into(), ToString::to_string)
    );
    print_cf(&args.source, src.dtype());
    print_sizes(mem, bytes);
    Ok(())
}

#[cfg(feature = "hdf5")]
fn hdf5_info(file: &Path, dataset: &str) -> chunkwise::Result<()> {
    let src = chunkwise::io::hdf5::Hdf5Source::open(file, dataset)?;
    let shape = src.shape().to_vec();
    let mem = shape.iter().product::<usize>() * src.dtype().size();
    let (bytes, present) = src.storage();
    println!("source      {}", src.name());
    println!("format      HDF5 (NetCDF-4 files are HDF5)");
    println!("shape       {shape:?}");
    print_dims(&format!("{}:{dataset}", file.display()));
    println!("dtype       {}", src.dtype());
    match src.stored_chunks() {
        Some(chunks) => {
            let nchunks: usize = shape.iter().zip(chunks).map(|(&n, &c)| n.div_ceil(c.max(1))).product();
            let stored = present.map_or("?".into(), |p| p.to_string());
            println!("chunks      {chunks:?} ({nchunks} in the grid, {stored} stored)");
        }
        None => println!("chunks      none (contiguous or compact storage)"),
    }
    println!(
        "codecs      {}",
        if src.filters().is_empty() {
            "none".to_string()
        } else {
            src.filters().join(", ")
        }
    );
    println!("fill value  {}", src.fill_value());
    print_cf(&format!("{}:{dataset}", file.display()), src.dtype());
    println!("read path   {}", src.read_path());
    print_sizes(mem, bytes);
    Ok(())
}
