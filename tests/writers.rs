//! `to_zarr` and `to_hdf5`: round trips (a property test over random shapes, dtypes,
//! block and stored chunkings and codecs), what other readers see (libhdf5 decoding the
//! chunks chunkwise compressed), atomic publication (a failing computation leaves no
//! output and no temporary behind), and refusing to overwrite unless asked.
#![cfg(feature = "zarr")]

mod common;

use chunkwise::io::ChunkSource;
use chunkwise::io::memory::MemorySource;
use chunkwise::io::zarr_write::{ZarrCodec, ZarrVersion, ZarrWriteOptions};
use chunkwise::{Array, Chunk, DType, Error, Result};
use common::fixtures::same;
use common::*;
use proptest::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DTYPES: &[DType] = &DType::ALL;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chunkwise-writers-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Nothing but `keep` in `dir`: no staged temporaries left over.
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = keep.iter().map(|s| (*s).to_string()).collect();
    want.sort();
    assert_eq!(names, want, "directory {}", dir.display());
}

/// A source whose block at `bad` fails, to check nothing is published after an error.
#[derive(Debug)]
struct Failing {
    inner: MemorySource,
    bad_start: usize,
}

impl ChunkSource for Failing {
    fn name(&self) -> String {
        "failing".into()
    }
    fn shape(&self) -> &[usize] {
        self.inner.shape()
    }
    fn dtype(&self) -> DType {
        self.inner.dtype()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    fn read(&self, region: &[Range<usize>]) -> Result<Chunk> {
        if region[0].start == self.bad_start {
            return Err(Error::msg("simulated read failure"));
        }
        self.inner.read(region)
    }
}

fn failing_array() -> Array {
    let x = data(&[40, 6], DType::F64, 3, 0.0);
    let c = Chunk::from_ndarray(x);
    let src = Failing {
        inner: MemorySource::new(c),
        bad_start: 30,
    };
    Array::from_source(Arc::new(src), vec![10, 6]).unwrap()
}

fn codec(i: usize) -> ZarrCodec {
    [
        ZarrCodec::None,
        ZarrCodec::Zstd(1),
        ZarrCodec::Gzip(5),
        ZarrCodec::BloscLz4(5),
    ][i % 4]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// random array → to_zarr (random stored chunks, shards and codec) → from_zarr → identical.
    #[test]
    fn zarr_round_trip_is_identical(
        dims in prop::collection::vec((0usize..9, 1usize..5, 1usize..6), 0..4),
        dt in 0usize..11, ci in 0usize..4, shard in any::<bool>(), v2 in any::<bool>(), seed in any::<u64>(),
    ) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        let blocks: Vec<usize> = dims.iter().map(|d| d.1).collect();
        let stored: Vec<usize> = dims.iter().map(|d| d.2).collect();
        let dtype = DTYPES[dt];
        let x = data(&shape, dtype, seed, 0.1);
        let a = array(&x, dtype, &blocks);
        let dir = scratch(&format!("prop-{seed}"));
        let path = dir.join("a.zarr");
        // Zarr v2 has no sharding.
        let sharded = shard && !v2 && !shape.is_empty();
        let opts = ZarrWriteOptions {
            chunks: Some(if sharded { stored.iter().map(|c| c * 2).collect() } else { stored.clone() }),
            shard_inner: sharded.then(|| stored.clone()),
            codec: codec(ci),
            overwrite: false,
            version: if v2 { ZarrVersion::V2 } else { ZarrVersion::V3 },
            dimension_names: Some((0..shape.len()).map(|i| format!("d{i}")).collect()),
            attributes: serde_json::json!({"units": "K", "cell_methods": "time: mean"}).as_object().unwrap().clone(),
        };
        a.to_zarr(&path, &opts).unwrap();
        prop_assert_eq!(path.join(".zarray").is_file(), v2);
        // Dimension names and attributes as xarray reads them (v2: `_ARRAY_DIMENSIONS`).
        prop_assert_eq!(chunkwise::io::zarr::dimension_names(&path), opts.dimension_names.clone());
        let attrs = chunkwise::io::zarr::attributes(&path).unwrap();
        prop_assert_eq!(attrs.get("units"), Some(&serde_json::json!("K")));
        prop_assert_eq!(attrs.get("cell_methods"), Some(&serde_json::json!("time: mean")));
        let back = Array::from_zarr(&path).unwrap();
        prop_assert_eq!(back.dtype(), dtype);
        prop_assert_eq!(back.shape(), shape.clone());
        same(&back.compute_chunk().unwrap(), &a.compute_chunk().unwrap(), 0.0, "round trip");
        only(&dir, &["a.zarr"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn zarr_write_is_atomic_and_refuses_to_overwrite() {
    let dir = scratch("zarr-atomic");
    let path = dir.join("x.zarr");
    let err = failing_array()
        .to_zarr(&path, &ZarrWriteOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("simulated read failure"), "{err}");
    only(&dir, &[]);

    let a = Array::arange(0.0, 60.0, 1.0, [7]).unwrap();
    a.to_zarr(&path, &ZarrWriteOptions::default()).unwrap();
    let err = a.to_zarr(&path, &ZarrWriteOptions::default()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    // A failed overwrite keeps the old store intact.
    let overwrite = ZarrWriteOptions {
        overwrite: true,
        ..ZarrWriteOptions::default()
    };
    assert!(failing_array().to_zarr(&path, &overwrite).is_err());
    assert_eq!(Array::from_zarr(&path).unwrap().shape(), vec![60]);
    let b = (&a * 2.0).rechunk(vec![25]).unwrap();
    b.to_zarr(&path, &overwrite).unwrap();
    let back = Array::from_zarr(&path).unwrap();
    assert_eq!(back.chunks()[0], vec![25, 25, 10]);
    assert_eq!(back.sum(None).unwrap().compute_scalar::<f64>().unwrap(), 2.0 * 1770.0);
    only(&dir, &["x.zarr"]);
    // Blocks not aligned to the stored chunks are re-chunked before writing.
    let c = Array::arange(0.0, 60.0, 1.0, [7]).unwrap();
    let opts = ZarrWriteOptions {
        chunks: Some(vec![10]),
        ..ZarrWriteOptions::default()
    };
    c.to_zarr(dir.join("y.zarr"), &opts).unwrap();
    let y = Array::from_zarr(dir.join("y.zarr")).unwrap();
    same(
        &y.compute_chunk().unwrap(),
        &c.compute_chunk().unwrap(),
        0.0,
        "realigned",
    );
    let missing = dir.join("no/such/dir/z.zarr");
    let err = c.to_zarr(&missing, &ZarrWriteOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `Array::to_zarr_group`: the arrays of a group (v2 and v3) read back with their
/// names and attributes, the group's own attributes, all published together — a
/// failing member leaves nothing (or the old group) — and bad member names refused.
#[test]
fn zarr_group_write_is_atomic_and_reads_back() {
    let dir = scratch("zarr-group");
    let path = dir.join("g.zarr");
    let x = Array::arange(0.0, 24.0, 1.0, [5]).unwrap().reshape(&[4, 6]).unwrap();
    let lat = Array::arange(-30.0, 31.0, 20.0, [4]).unwrap();
    let named = |names: &[&str], units: &str| ZarrWriteOptions {
        dimension_names: Some(names.iter().map(ToString::to_string).collect()),
        attributes: serde_json::Map::from_iter([("units".to_string(), serde_json::json!(units))]),
        ..ZarrWriteOptions::default()
    };
    let group = serde_json::Map::from_iter([("title".to_string(), serde_json::json!("test"))]);
    for version in [ZarrVersion::V3, ZarrVersion::V2] {
        let members = [
            ("t2m", &x, named(&["lat", "lon"], "K")),
            ("lat", &lat, named(&["lat"], "degrees_north")),
        ];
        Array::to_zarr_group(&path, &members, &group, version, true).unwrap();
        only(&dir, &["g.zarr"]);
        for (name, a, dims, units) in [
            ("t2m", &x, vec!["lat", "lon"], "K"),
            ("lat", &lat, vec!["lat"], "degrees_north"),
        ] {
            let back = Array::from_zarr(path.join(name)).unwrap().compute_chunk().unwrap();
            same(&back, &a.compute_chunk().unwrap(), 0.0, name);
            assert_eq!(chunkwise::io::zarr::dimension_names(&path.join(name)).unwrap(), dims);
            let attrs = chunkwise::io::zarr::attributes(&path.join(name)).unwrap();
            assert_eq!(
                attrs.get("units").and_then(|v| v.as_str()),
                Some(units),
                "{version:?} {name}"
            );
            // Only the attributes given: no writer's object that netCDF cannot store.
            assert!(
                attrs.keys().all(|k| k == "units" || k == "_ARRAY_DIMENSIONS"),
                "{version:?} {name}: {attrs:?}"
            );
        }
        assert_eq!(
            chunkwise::io::zarr::group_arrays(&path).unwrap(),
            vec!["lat".to_string(), "t2m".to_string()],
            "{version:?}"
        );
        let meta = match version {
            ZarrVersion::V3 => path.join("zarr.json"),
            ZarrVersion::V2 => path.join(".zattrs"),
        };
        let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(meta).unwrap()).unwrap();
        let attrs = if version == ZarrVersion::V3 {
            &meta["attributes"]
        } else {
            &meta
        };
        assert_eq!(attrs["title"], "test", "{version:?}");
        // Every member's metadata consolidated into the group's, as xarray writes it.
        let json = |p: std::path::PathBuf| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        for name in ["t2m", "lat"] {
            match version {
                ZarrVersion::V3 => {
                    let inline = &meta["consolidated_metadata"];
                    assert_eq!(inline["kind"], "inline");
                    assert_eq!(
                        inline["metadata"][name],
                        json(path.join(name).join("zarr.json")),
                        "{name}"
                    );
                }
                ZarrVersion::V2 => {
                    let all = json(path.join(".zmetadata"));
                    assert_eq!(all["zarr_consolidated_format"], 1);
                    let m = &all["metadata"];
                    assert_eq!(m[".zattrs"]["title"], "test");
                    assert_eq!(m[".zgroup"]["zarr_format"], 2);
                    for file in [".zarray", ".zattrs"] {
                        assert_eq!(
                            m[format!("{name}/{file}")],
                            json(path.join(name).join(file)),
                            "{name}/{file}"
                        );
                    }
                }
            }
        }
    }
    // Not without overwrite; a failing member keeps the old group whole.
    let members = [("t2m", &x, ZarrWriteOptions::default())];
    let err = Array::to_zarr_group(&path, &members, &group, ZarrVersion::V3, false).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let bad = failing_array();
    let members = [
        ("t2m", &x, ZarrWriteOptions::default()),
        ("bad", &bad, ZarrWriteOptions::default()),
    ];
    let err = Array::to_zarr_group(&path, &members, &group, ZarrVersion::V3, true).unwrap_err();
    assert!(err.to_string().contains("simulated read failure"), "{err}");
    only(&dir, &["g.zarr"]);
    assert!(path.join("lat").exists() && !path.join("bad").exists());
    let fresh = dir.join("h.zarr");
    assert!(Array::to_zarr_group(&fresh, &members, &group, ZarrVersion::V3, true).is_err());
    only(&dir, &["g.zarr"]);
    // Member names are single path components, each once.
    for name in ["", ".hidden", "a/b", "t2m"] {
        let members = [
            ("t2m", &x, ZarrWriteOptions::default()),
            (name, &lat, ZarrWriteOptions::default()),
        ];
        let err = Array::to_zarr_group(&fresh, &members, &group, ZarrVersion::V3, true).unwrap_err();
        assert!(err.to_string().contains(&format!("member name '{name}'")), "{err}");
    }
    only(&dir, &["g.zarr"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "hdf5")]
mod hdf5_writer {
    use super::*;
    use chunkwise::io::hdf5::write::Hdf5WriteOptions;

    /// Reads a dataset through libhdf5 itself (its own filter pipeline), as f64.
    fn library_read(file: &Path, ds: &str) -> Vec<f64> {
        let f = hdf5::File::open(file).unwrap();
        let d = f.dataset(ds).unwrap();
        d.read_raw::<f64>().unwrap()
    }

    #[test]
    fn hdf5_round_trips_through_our_reader_and_libhdf5() {
        let dir = scratch("h5");
        let file = dir.join("out.h5");
        // (shape, block shape, stored chunks, options)
        type Case = (&'static [usize], &'static [usize], Option<Vec<usize>>, Hdf5WriteOptions);
        let cases: [Case; 5] = [
            (&[23, 9], &[5, 4], None, Hdf5WriteOptions::default()),
            (
                &[30, 7, 5],
                &[7, 7, 5],
                Some(vec![4, 3, 5]),
                Hdf5WriteOptions {
                    fletcher32: true,
                    ..Hdf5WriteOptions::default()
                },
            ),
            (
                &[17],
                &[6],
                Some(vec![5]),
                Hdf5WriteOptions {
                    deflate: None,
                    shuffle: false,
                    ..Hdf5WriteOptions::default()
                },
            ),
            (&[], &[], None, Hdf5WriteOptions::default()),
            (&[0, 4], &[2, 4], None, Hdf5WriteOptions::default()),
        ];
        for (i, (shape, blocks, chunks, opts)) in cases.into_iter().enumerate() {
            for (j, dtype) in [DType::F32, DType::I16, DType::U64, DType::Bool]
                .into_iter()
                .enumerate()
            {
                let x = data(shape, dtype, (i * 10 + j) as u64, 0.1);
                let a = array(&x, dtype, blocks);
                let name = format!("/g{i}/sub/d{j}");
                let opts = Hdf5WriteOptions {
                    chunks: chunks.clone(),
                    ..opts.clone()
                };
                a.to_hdf5(&file, &name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
                let back = Array::from_hdf5(&file, &name).unwrap();
                assert_eq!(back.dtype(), dtype, "{name}");
                let want = a.compute_chunk().unwrap();
                same(&back.compute_chunk().unwrap(), &want, 0.0, &name);
                if dtype != DType::Bool {
                    let lib = library_read(&file, &name);
                    let wf: Vec<f64> = (0..want.data().len()).map(|k| want.data().get_f64(k)).collect();
                    assert_eq!(lib.len(), wf.len(), "{name}");
                    for (k, (l, w)) in lib.iter().zip(&wf).enumerate() {
                        assert!(l == w || (l.is_nan() && w.is_nan()), "{name}[{k}]: libhdf5 {l} vs {w}");
                    }
                }
            }
        }
        only(&dir, &["out.h5"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hdf5_write_is_atomic_and_refuses_to_overwrite() {
        let dir = scratch("h5-atomic");
        let file = dir.join("f.h5");
        // A new file: nothing appears when the computation fails.
        assert!(
            failing_array()
                .to_hdf5(&file, "x", &Hdf5WriteOptions::default())
                .is_err()
        );
        only(&dir, &[]);
        let a = Array::arange(0.0, 50.0, 1.0, [8]).unwrap();
        a.to_hdf5(&file, "x", &Hdf5WriteOptions::default()).unwrap();
        // An existing file: the failed dataset is not linked in; the others are intact.
        assert!(
            failing_array()
                .to_hdf5(&file, "y", &Hdf5WriteOptions::default())
                .is_err()
        );
        let f = hdf5::File::open(&file).unwrap();
        assert_eq!(f.member_names().unwrap(), vec!["x".to_string()]);
        drop(f);
        let err = a.to_hdf5(&file, "x", &Hdf5WriteOptions::default()).unwrap_err();
        assert!(err.to_string().contains("dataset exists"), "{err}");
        let overwrite = Hdf5WriteOptions {
            overwrite: true,
            ..Hdf5WriteOptions::default()
        };
        (&a + 1.0).to_hdf5(&file, "x", &overwrite).unwrap();
        let back = Array::from_hdf5(&file, "x").unwrap();
        assert_eq!(back.sum(None).unwrap().compute_scalar::<f64>().unwrap(), 1225.0 + 50.0);
        only(&dir, &["f.h5"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
