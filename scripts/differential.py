#!/usr/bin/env python3
"""Differential testing of `chunkwise reduce` against NumPy on random requests.

The test suite checks every op over every axis of every fixture; this draws random
combinations of what the command line accepts — op, axes (negative ones too),
`--isel` slices with steps and negative bounds, `--keepdims`, `--ddof`, `--q` with any
of NumPy's 13 `--method`s — over the Zarr fixtures zarr-python wrote (`--format hdf5`:
h5py's `cases.h5`; `--format netcdf3`: the netCDF-C files, raw values), and compares the
`--out` result with NumPy's on the array the reference library reads: same shape, same dtype (the
CLI's contract: mean/std/var and their nan-variants in float64), values equal (exact for
integers, NaN where NumPy has NaN, rtol 2e-5 for float32 data, 1e-9 otherwise). Each
disagreement is printed with the command that shows it; exit status 1 if any.

    bash scripts/test.sh       # writes target/fixtures and the fixture venv, builds the binary
    target/fixture-venv/bin/python scripts/differential.py --cases 800 --seed 3
    target/fixture-venv/bin/python scripts/differential.py --format netcdf3 --cases 500
    target/fixture-venv/bin/python scripts/differential.py --against xarray --cases 300

With `--against xarray`: `--sel` time ranges (open or reversed), `--isel` by dimension
name and `--groupby` month/season/year/dayofyear over the daily `clim.zarr` fixture,
against xarray's `sel`, `isel` and `groupby("time.G")` reductions.

It found (2026-12-07): `nanvar`/`nanstd` with `--ddof` at or past the count gave inf
where NumPy gives NaN (fixed, and covered by `tests/reductions.rs`); a `--keepdims`
median of an empty array failed ("reshape of an empty array"; fixed, covered by
`tests/indexing.rs`).
"""

import argparse
import os
import random
import subprocess
import sys
import warnings

import numpy as np
import zarr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORES = [
    "v2_blosc_C_f32.zarr", "v2_blosc_F_f64.zarr", "v2_gzip_be_i64.zarr", "v2_raw_u8.zarr",
    "v2_zlib_partial_i32.zarr", "v2_zstd_i32.zarr", "v3_blosc_be_u16.zarr", "v3_blosc_f64.zarr",
    "v3_bool.zarr", "v3_gzip_crc_i16.zarr", "v3_sharded_f32.zarr", "v3_transpose_f64.zarr",
    "v3_zstd_f32.zarr", "v3_empty_fill_nan.zarr",
]
OPS = [
    "sum", "mean", "min", "max", "prod", "std", "var", "nansum", "nanmean", "nanmin", "nanmax",
    "nanstd", "nanvar", "argmin", "argmax", "count", "any", "all", "median", "nanmedian",
    "quantile", "nanquantile", "percentile", "nanpercentile",
]
METHODS = [
    "linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf", "averaged_inverted_cdf",
    "closest_observation", "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
    "normal_unbiased",
]
MOMENTS = ("mean", "std", "var", "nanmean", "nanstd", "nanvar")


def request(rng, a, store, out):
    """A random command line over `a`, and the part of `a` it reduces."""
    op = rng.choice(OPS)
    nd = a.ndim
    cmd = ["reduce", store, "--op", op, "--out", out]
    x, kw, axes = a, {}, None
    if nd and rng.random() < 0.4:
        ax = rng.randrange(nd)
        n = a.shape[ax]
        lo, hi, step = rng.randint(-n - 1, n + 1), rng.randint(-n - 1, n + 1), rng.choice([1, 1, 2, 3])
        cmd += ["--isel", f"{ax}={lo}:{hi}:{step}"]
        idx = [slice(None)] * nd
        idx[ax] = slice(lo, hi, step)
        x = x[tuple(idx)]
    if nd and rng.random() < 0.7:
        axes = sorted(rng.sample(range(nd), rng.randint(1, nd)))
        if op in ("argmin", "argmax") and len(axes) not in (1, nd):
            axes = [axes[0]]
        cmd += ["--axis", ",".join(str(v - nd if rng.random() < 0.3 else v) for v in axes)]
    if rng.random() < 0.3 and op not in ("argmin", "argmax"):
        cmd.append("--keepdims")
        kw["keepdims"] = True
    if op in ("std", "var", "nanstd", "nanvar") and rng.random() < 0.5:
        kw["ddof"] = rng.choice([0, 1, 2, 5, 30])
        cmd += ["--ddof", str(kw["ddof"])]
    if "quantile" in op or "percentile" in op:
        kw["q"] = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0]) * (100.0 if "percentile" in op else 1.0)
        kw["method"] = rng.choice(METHODS)
        cmd += ["--q", str(kw["q"]), "--method", kw["method"]]
    return op, cmd, x, (tuple(axes) if axes is not None else None), kw


def sources(fmt, fixtures):
    """SOURCE → the array its reference implementation reads, for one format's fixtures."""
    if fmt == "zarr":
        return {os.path.join(fixtures, "zarr", s): zarr.open(os.path.join(fixtures, "zarr", s), mode="r")[...]
                for s in STORES}
    out = {}
    if fmt == "hdf5":
        import h5py

        path = os.path.join(fixtures, "hdf5", "cases.h5")
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biuf":
                    out[f"{path}:/{name}"] = obj[...]
            f.visititems(visit)
        return out
    import netCDF4

    d = os.path.join(fixtures, "netcdf3")
    for file in ("classic.nc", "offset64.nc", "cdf5.nc"):
        with netCDF4.Dataset(os.path.join(d, file)) as nc:
            nc.set_auto_maskandscale(False)
            for v in nc.variables.values():
                if v.dtype.kind in "biuf":
                    out[f"{os.path.join(d, file)}:{v.name}"] = np.asarray(v[...])
    return out


def numpy_answer(op, x, axis, kw):
    if op in ("argmin", "argmax"):
        # One axis, or all of them (the flat index).
        one = axis is not None and len(axis) == 1
        return getattr(np, op)(x, axis=axis[0]) if one else getattr(np, op)(x)
    if op == "count":
        valid = ~np.isnan(x) if x.dtype.kind == "f" else np.ones_like(x, dtype=bool)
        return np.asarray(np.sum(valid, axis=axis, **kw), dtype=np.int64)
    if op in MOMENTS:
        return getattr(np, op)(x, axis=axis, dtype=np.float64, **kw)
    if op in ("sum", "prod", "nansum", "nanprod") and x.dtype == np.float32:
        # chunkwise accumulates float32 in float64 and rounds once.
        return getattr(np, op)(x.astype(np.float64), axis=axis, **kw).astype(np.float32)
    return getattr(np, op)(x, axis=axis, **kw)


XR_OPS = ["nanmean", "nansum", "nanmax", "nanmin", "nanstd", "nanvar", "count", "mean", "sum", "max", "min",
          "std", "var", "median", "nanmedian", "quantile", "nanquantile"]


def against_xarray(args, rng):
    """`--sel` time ranges (open, reversed), `--isel` by name and `--groupby` over the
    daily `clim.zarr` fixture against xarray's `sel`/`isel`/`groupby("time.G")`."""
    import xarray as xr

    store = os.path.join(args.fixtures, "zarr", "clim.zarr")
    da = xr.open_zarr(store, consolidated=False).t2m.load()
    out = os.path.join(args.work, "x.npy")

    def date():
        return f"{rng.choice([2000, 2001, 2002, 2003])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"

    bad = 0
    for _ in range(args.cases):
        op, g = rng.choice(XR_OPS), rng.choice([None, "month", "season", "year", "dayofyear"])
        cmd = ["reduce", store + "/t2m", "--op", op, "--out", out]
        x = da
        if rng.random() < 0.6:
            a, b = ("" if rng.random() < 0.2 else date()), ("" if rng.random() < 0.2 else date())
            cmd += ["--sel", f"time={a}:{b}"]
            lo, hi = a or None, b or None
            if lo and hi and lo > hi:
                lo, hi = hi, lo
            x = x.sel(time=slice(lo, hi))
        if rng.random() < 0.3:
            i = rng.randrange(da.sizes["lat"])
            cmd += ["--isel", f"lat={i}:{i + 1}"]
            x = x.isel(lat=slice(i, i + 1))
        cmd += ["--groupby", g] if g else ["--axis", rng.choice(["time", "0"])]
        if x.sizes["time"] == 0:
            continue
        skipna = op.startswith("nan") or op == "count"
        name = op[3:] if op.startswith("nan") else op
        red = x.groupby(f"time.{g}") if g else x
        if name == "quantile":
            q, method = rng.choice([0.0, 0.25, 0.9, 1.0]), rng.choice(["linear", "nearest", "hazen"])
            cmd += ["--q", str(q), "--method", method]
            want = red.quantile(q, dim="time", skipna=skipna, method=method).values
        else:
            want = (red.count(dim="time") if op == "count" else getattr(red, name)(dim="time", skipna=skipna)).values
        if os.path.exists(out):
            os.remove(out)
        p = subprocess.run([args.bin] + cmd, capture_output=True, text=True)
        shown = "chunkwise " + " ".join(cmd)
        if p.returncode != 0:
            print(f"chunkwise refuses ({p.stderr.strip()[:120]}), xarray answers {want.shape}: {shown}")
            bad += 1
            continue
        got = np.load(out)
        if got.shape != want.shape or not np.allclose(got.astype("f8"), want.astype("f8"), rtol=2e-5, equal_nan=True):
            bad += 1
            print(f"differs: {shown}\n  got  {got.shape} {got.ravel()[:4]}\n  want {want.shape} {want.ravel()[:4]}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/chunkwise"))
    ap.add_argument("--fixtures", default=os.environ.get("CHUNKWISE_FIXTURES", os.path.join(ROOT, "target/fixtures")))
    ap.add_argument("--work", default=os.path.join(ROOT, "target/differential"))
    ap.add_argument("--against", choices=["numpy", "xarray"], default="numpy")
    ap.add_argument("--format", choices=["zarr", "hdf5", "netcdf3"], default="zarr",
                    help="whose fixtures (read by zarr-python, h5py or netCDF4-python) the requests run on")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    os.makedirs(args.work, exist_ok=True)
    if args.against == "xarray":
        bad = against_xarray(args, random.Random(args.seed))
        print(f"{args.cases} requests, {bad} disagreements with xarray")
        sys.exit(1 if bad else 0)
    out = os.path.join(args.work, "r.npy")
    rng = random.Random(args.seed)
    arrays = sources(args.format, args.fixtures)
    names = sorted(arrays)
    bad = 0
    for _ in range(args.cases):
        name = rng.choice(names)
        a = arrays[name]
        op, cmd, x, axis, kw = request(rng, a, name, out)
        try:
            want, numpy_error = np.asarray(numpy_answer(op, x, axis, kw)), None
        except (ValueError, TypeError, IndexError) as e:
            want, numpy_error = None, str(e)
        if os.path.exists(out):
            os.remove(out)
        p = subprocess.run([args.bin] + cmd, capture_output=True, text=True)
        shown = "chunkwise " + " ".join(cmd)
        if numpy_error is not None:
            if p.returncode == 0:
                print(f"NumPy refuses ({numpy_error[:80]}), chunkwise answers: {shown}")
                bad += 1
            continue
        if p.returncode != 0:
            # An empty --isel is refused by design (NumPy would reduce nothing).
            if "selects nothing" in p.stderr and x.size == 0:
                continue
            print(f"chunkwise refuses ({p.stderr.strip()[:120]}), NumPy answers {want.dtype} {want.shape}: {shown}")
            bad += 1
            continue
        got = np.load(out)
        # The same type whatever its byte order (NumPy keeps a big-endian store's).
        same = got.shape == want.shape and got.dtype.str[1:] == want.dtype.str[1:]
        if same and (got.dtype.kind == "f" or want.dtype.kind == "f"):
            rtol = 2e-5 if np.float32 in (got.dtype, x.dtype) else 1e-9
            same = np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=0, equal_nan=True)
        elif same:
            same = np.array_equal(got, want)
        if not same:
            bad += 1
            print(f"differs: {shown}\n  got  {got.dtype} {got.shape} {got.ravel()[:4]}\n  want {want.dtype} {want.shape} {want.ravel()[:4]}")
    print(f"{args.cases} requests, {bad} disagreements with NumPy")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
