#!/usr/bin/env python3
"""The other side of `chunkwise bench --compare`: one workload, one engine, one run,
one JSON line {"wall_s", "peak_rss_mb", "checksum"} on stdout.

    engines.py WORKLOAD --engine dask|numpy --threads N [--zarr3 P] [--zarr2 P]
               [--h5 P] [--source P] [--size-n N] [--size NAME]

The workloads mirror chunkwise's (src/bin/chunkwise/bench/workloads.rs) on the same
files; the timed region is what a user would write: open, build, compute. The checksum
is the sum of the result's non-NaN elements in float64, as chunkwise computes it, so
the parent can check both engines got the same answer before it prints a ratio.
dask runs its threaded scheduler with --threads workers; NumPy reads the whole array
(as `x[:]`) and reduces it in one call.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np


def peak_rss_mb():
    """This process's own high-water RSS. VmHWM belongs to the address space exec
    created; getrusage's ru_maxrss is not used because Linux carries it across
    fork+exec, so a child of a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000.0


def open_dask(args, which):
    import dask.array as da
    if which == "zarr3":
        return da.from_zarr(args.zarr3)
    if which == "zarr2":
        return da.from_zarr(args.zarr2)
    if which == "hdf5":
        import h5py
        d = h5py.File(args.h5, "r")["t2m"]
        return da.from_array(d, chunks=d.chunks)
    if which == "source":
        src = args.source
        if ":" in src and not os.path.isdir(src):
            f, ds = src.rsplit(":", 1)
            with open(f, "rb") as fh:
                netcdf3 = fh.read(3) == b"CDF"
            if netcdf3:
                # What an xarray user writes; netCDF-3 has no chunks, so dask's "auto".
                import xarray as xr
                return xr.open_dataset(f, chunks={})[ds.lstrip("/")].data
            import h5py
            d = h5py.File(f, "r")["/" + ds.lstrip("/")]
            return da.from_array(d, chunks=d.chunks or "auto")
        return da.from_zarr(src)
    raise SystemExit(f"unknown source {which}")


def open_numpy(args, which):
    if which == "hdf5":
        import h5py
        return h5py.File(args.h5, "r")["t2m"][:]
    import zarr
    path = {"zarr3": args.zarr3, "zarr2": args.zarr2, "source": args.source}[which]
    return zarr.open(path, mode="r")[:]


def inc(i):
    return i + 1


def nanmean0(xp, x):
    return xp.nanmean(x, axis=0)


def nanstd0(xp, x):
    return xp.nanstd(x, axis=0)


def nansum_all(xp, x):
    return xp.nansum(x)


def nanmedian0(xp, x):
    return xp.nanmedian(x, axis=0)


def wmean12(xp, x):
    """The area-weighted mean over (lat, lon) per time step, a missing value's weight
    left out of the denominator (what xarray's `weighted(coslat).mean(...)` computes)."""
    w = np.cos(np.deg2rad(np.linspace(90.0, -90.0, x.shape[1])))[:, None]
    valid = ~xp.isnan(x)
    return (xp.where(valid, x, 0) * w).sum(axis=(1, 2)) / (valid * w).sum(axis=(1, 2))


def coarsen4(xp, x):
    """4x4 box nanmeans over (lat, lon), the remainder trimmed (dask's coarsen)."""
    if xp is np:
        t, n, m = x.shape
        x = x[:, : n // 4 * 4, : m // 4 * 4]
        return np.nanmean(x.reshape(t, n // 4, 4, m // 4, 4), axis=(2, 4))
    return xp.coarsen(np.nanmean, x, {1: 4, 2: 4}, trim_excess=True)


def anomaly(xp, x):
    return xp.nanstd(x - xp.nanmean(x, axis=0), axis=(1, 2))


REDUCTIONS = {
    "nanmean-zarr3": ("zarr3", nanmean0),
    "nanmean-zarr2": ("zarr2", nanmean0),
    "nanmean-hdf5": ("hdf5", nanmean0),
    "nanstd-zarr3": ("zarr3", nanstd0),
    "nanmedian-zarr3": ("zarr3", nanmedian0),
    "nansum-zarr3": ("zarr3", nansum_all),
    "anomaly-zarr3": ("zarr3", anomaly),
    "wmean-zarr3": ("zarr3", wmean12),
    "coarsen-zarr3": ("zarr3", coarsen4),
    "nanmean-source": ("source", nanmean0),
    "nanstd-source": ("source", nanstd0),
    "anomaly-source": ("source", anomaly),
}


# (n, chunk) per size, as chunkwise's workloads.rs.
MATMUL_N = {"tiny": (400, 100), "small": (2000, 500), "medium": (8000, 2000), "large": (12000, 2000)}
OVERLAP_N = {"tiny": (1000, 250), "small": (4000, 1000), "medium": (10000, 2000), "large": (20000, 2000)}


def matmul_inputs(n):
    i, j = np.indices((n, n), dtype=np.int64)
    a = ((31 * i + 17 * j) % 101) / 101.0 - 0.5
    b = ((13 * i + 29 * j) % 97) / 97.0 - 0.5
    return a, b


def mean3x3(b):
    """The 3x3 mean of the interior of an extended block (the border is trimmed)."""
    out = np.zeros_like(b)
    n, m = b.shape
    if n < 3 or m < 3:
        return out
    acc = np.zeros((n - 2, m - 2), dtype=b.dtype)
    for di in range(3):
        for dj in range(3):
            acc += b[di:n - 2 + di, dj:m - 2 + dj]
    out[1:-1, 1:-1] = acc / np.float32(9)
    return out


def month_of_day(n):
    days = np.datetime64("2001-01-01") + np.arange(n).astype("timedelta64[D]")
    return days


def extra(args, w):
    """The issue-6 workloads: climatology, rechunk, map_overlap, matmul."""
    import dask.array as da
    if w == "climatology-zarr3":
        import xarray as xr
        import zarr  # noqa: F401
        t = time.perf_counter()
        if args.engine == "dask":
            # What an xarray user writes (flox does the groupby when installed).
            x = da.from_zarr(args.zarr3)
            ds = xr.DataArray(x, dims=("time", "lat", "lon"), coords={"time": month_of_day(x.shape[0])})
            r = ds.groupby("time.month").mean(skipna=True).compute().values
        else:
            x = open_numpy(args, "zarr3")
            months = month_of_day(x.shape[0]).astype("datetime64[M]").astype(int) % 12
            r = np.stack([np.nanmean(x[months == m], axis=0) for m in range(12)])
        return time.perf_counter() - t, np.asarray(r)
    if w == "rechunk-zarr3":
        import tempfile
        import zarr
        out = tempfile.mkdtemp(prefix="cw-rechunk-", dir=os.path.dirname(args.zarr3))
        path = os.path.join(out, "out.zarr")
        t = time.perf_counter()
        x = da.from_zarr(args.zarr3)
        x.rechunk((x.shape[0], 64, 64)).to_zarr(path)
        wall = time.perf_counter() - t
        r = np.asarray(np.nansum(zarr.open_array(path, mode="r")[...].astype(np.float64)))
        import shutil
        shutil.rmtree(out, ignore_errors=True)
        return wall, r
    if w == "overlap-mean3x3":
        n, c = OVERLAP_N[args.size]
        i, j = np.indices((n, n), dtype=np.int64)
        x = ((7 * i + 3 * j) % 101).astype(np.float32)
        del i, j
        t = time.perf_counter()
        if args.engine == "dask":
            r = da.from_array(x, chunks=(c, c)).map_overlap(mean3x3, depth=1, boundary="reflect", dtype=np.float32).mean().compute()
        else:
            p = np.pad(x, 1, mode="symmetric")
            r = mean3x3(p)[1:-1, 1:-1].mean(dtype=np.float64)
        return time.perf_counter() - t, np.asarray(r)
    if w == "matmul":
        n, c = MATMUL_N[args.size]
        a, b = matmul_inputs(n)
        t = time.perf_counter()
        if args.engine == "dask":
            r = (da.from_array(a, chunks=(c, c)) @ da.from_array(b, chunks=(c, c))).compute()
        else:
            r = a @ b
        return time.perf_counter() - t, np.asarray(r)
    return None


def run(args):
    w = args.workload
    if args.engine == "dask":
        import dask
        dask.config.set(scheduler="threads", num_workers=args.threads)
        import dask.array as da
    if w in REDUCTIONS:
        which, f = REDUCTIONS[w]
        import h5py  # noqa: F401  (imports are not part of the timed region)
        import zarr  # noqa: F401
        t = time.perf_counter()
        if args.engine == "dask":
            r = f(da, open_dask(args, which)).compute()
        else:
            r = f(np, open_numpy(args, which))
        return time.perf_counter() - t, np.asarray(r)
    e = extra(args, w)
    if e is not None:
        return e
    if w == "fused-sincos":
        n = args.size_n
        t = time.perf_counter()
        if args.engine == "dask":
            x = da.random.random((n, n), chunks=(2000, 2000)) * 20 - 10
            r = (da.sin(x) ** 2 + da.cos(x) ** 2).sum().compute()
        else:
            x = np.random.default_rng(42).random((n, n)) * 20 - 10
            r = (np.sin(x) ** 2 + np.cos(x) ** 2).sum()
        return time.perf_counter() - t, np.asarray(r)
    if w == "scheduler-fanin" and args.engine == "dask":
        # 100,000 independent inc(i) tasks and one sum, as a raw graph wrapped in a
        # Delayed (dask's collection path: conversion, cull, order, threaded scheduler).
        from dask.delayed import Delayed
        n = 100_000
        dsk = {("inc", i): (inc, i) for i in range(n)}
        dsk["total"] = (sum, [("inc", i) for i in range(n)])
        t = time.perf_counter()
        r = Delayed("total", dsk).compute()
        return time.perf_counter() - t, np.asarray(r)
    raise SystemExit(f"workload {w} has no {args.engine} version")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--engine", choices=["dask", "numpy"], required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--zarr3")
    p.add_argument("--zarr2")
    p.add_argument("--h5")
    p.add_argument("--source")
    p.add_argument("--size-n", type=int, default=20000)
    p.add_argument("--size", default="medium")
    args = p.parse_args()
    wall, r = run(args)
    r = r.astype(np.float64)
    checksum = float(np.nansum(r))
    print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_rss_mb(), "checksum": checksum}))


if __name__ == "__main__":
    sys.exit(main())
