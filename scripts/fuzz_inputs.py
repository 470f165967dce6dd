#!/usr/bin/env python3
"""Mutation fuzzing of the command line's readers: garbled copies of the test fixtures.

Each case copies a fixture written by the reference implementations (zarr-python,
h5py, netCDF-C), damages it (random bytes, a 32- or 64-bit field set to an extreme,
a cut, or, for Zarr metadata, one JSON value replaced), and runs `chunkwise info` and
`chunkwise reduce` on it. Every run must end with exit code 0 or 1, and a failure must
be one line on stderr: a panic, a crash, a second line or a run of more than 30 s is
reported and the damaged input kept under the work directory. Not part of the test
suite (it takes minutes); run it after changing a reader:

    bash scripts/test.sh                    # writes target/fixtures, builds the binary
    python3 scripts/fuzz_inputs.py netcdf3 --cases 2000 --seed 1
    python3 scripts/fuzz_inputs.py zarr --cases 500
    python3 scripts/fuzz_inputs.py hdf5 --cases 500
    python3 scripts/fuzz_inputs.py cli --cases 2000     # random flags on good fixtures

A debug binary (the default, `target/debug/chunkwise`) also catches integer overflow.
What it found when first run (2026-12-07) is fixed and covered by tests: an overflow
summing garbled netCDF-3 record sizes, chunk and array shapes too large to address,
grids of 10^10 blocks, libhdf5's error stack printed from worker threads, a crash in
libhdf5 on a garbled fill-value message, a dataspace larger than its maximum.
"""

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = ["sum", "nanmean", "max", "argmin", "median", "std", "any"]


def run(binary, args, keep, label, stats):
    """Runs one command; returns 1 when it broke the contract (and keeps the input).

    Exit codes 0, 1 (a user error: one line on stderr) and 2 (usage, clap's message)
    keep it; anything else, a panic, or a user error of several lines breaks it."""
    try:
        p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        print("TIMEOUT", label, args)
        keep()
        return 1
    stats[(args[0], p.returncode)] = stats.get((args[0], p.returncode), 0) + 1
    err = p.stderr
    if p.returncode not in (0, 1, 2) or "panicked" in err or (p.returncode == 1 and err.count("\n") > 1):
        print("BROKEN", p.returncode, label, args, err[:400].replace("\n", " | "))
        keep()
        return 1
    return 0


def damage(data, rng, head):
    """Damages bytes, mostly in the first `head` bytes (headers)."""
    n = len(data)
    if n == 0:
        return data
    span = max(1, min(n, head))
    kind = rng.random()
    if kind < 0.5:
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(span)
            data[i] = rng.randrange(256)
    elif kind < 0.7 and span > 4:
        i = rng.randrange(0, span - 4)
        data[i : i + 4] = struct.pack(">I", rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)]))
    elif kind < 0.85:
        data = data[: rng.randrange(n)]
    elif span > 8:
        i = rng.randrange(0, span - 8)
        data[i : i + 8] = struct.pack(">Q", rng.choice([0, 1 << 62, (1 << 64) - 1, rng.randrange(1 << 64)]))
    return data


def names_of(binary, path):
    """The variables `chunkwise info` lists in a fixture (the first word of each row)."""
    out = subprocess.run([binary, "info", path], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()[3:] if line.startswith("  ")]


def fuzz_files(args, rng, fixtures, suffix, head, sep):
    work = args.work
    stats, broken = {}, 0
    names = {f: names_of(args.bin, f) or ["x"] for f in fixtures}
    for case in range(args.cases):
        src = rng.choice(fixtures)
        data = damage(bytearray(open(src, "rb").read()), rng, head(os.path.getsize(src)))
        path = os.path.join(work, "case" + suffix)
        open(path, "wb").write(data)
        var = rng.choice(names[src])

        def keep(data=data, case=case):
            open(os.path.join(work, f"broken{case}{suffix}"), "wb").write(data)

        for cmd in (["info", path], ["reduce", path + sep + var, "--op", rng.choice(OPS)]):
            broken += run(args.bin, cmd, keep, os.path.basename(src), stats)
    return broken, stats


def fuzz_zarr(args, rng):
    root = os.path.join(args.fixtures, "zarr")
    stores = [s for s in sorted(os.listdir(root)) if s.endswith(".zarr") and s.startswith(("v2_", "v3_", "stations", "consolidated"))]
    stats, broken = {}, 0
    dst = os.path.join(args.work, "case.zarr")
    for case in range(args.cases):
        s = rng.choice(stores)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(os.path.join(root, s), dst)
        files = [os.path.join(d, f) for d, _, fs in os.walk(dst) for f in fs]
        meta = [f for f in files if f.endswith((".zarray", "zarr.json", ".zmetadata", ".zattrs"))]
        chunks = [f for f in files if f not in meta and not f.endswith(".zgroup")]
        target = rng.choice(meta) if meta and (rng.random() < 0.6 or not chunks) else rng.choice(chunks)
        data = bytearray(open(target, "rb").read())
        if target in meta and rng.random() < 0.5:
            data = replace_json_value(data, rng)
        else:
            data = damage(data, rng, len(data))
        open(target, "wb").write(data)

        def keep(case=case):
            shutil.copytree(dst, os.path.join(args.work, f"broken{case}.zarr"), dirs_exist_ok=True)

        op = rng.choice(OPS)
        for cmd in (["info", dst], ["reduce", dst, "--op", op], ["reduce", dst, "--op", op, "--axis", "0"]):
            broken += run(args.bin, cmd, keep, s, stats)
    return broken, stats


def replace_json_value(data, rng):
    """One leaf of a JSON document replaced by an extreme or ill-typed value."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    leaves = []

    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + (k,))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + (i,))
        else:
            leaves.append(path)

    walk(doc, ())
    if not leaves:
        return data
    path = rng.choice(leaves)
    o = doc
    for k in path[:-1]:
        o = o[k]
    o[path[-1]] = rng.choice([None, -1, 0, 1, 2**63, -(2**40), 1e300, "x", "", [], {}, [0], True, "<f4", "NaN", 3.5, 10**20])
    return json.dumps(doc).encode()


def fuzz_cli(args, rng):
    """Random argument lists over valid fixtures: every flag with good, odd and bad values."""
    f = args.fixtures
    sources = [
        f"{f}/zarr/v2_blosc_C_f32.zarr", f"{f}/zarr/v3_zstd_f32.zarr", f"{f}/zarr/clim.zarr",
        f"{f}/zarr/clim_v2.zarr", f"{f}/zarr/stations_v3.zarr", f"{f}/zarr/v3_scalar_f64.zarr",
        f"{f}/zarr/v3_zero_len_i32.zarr", f"{f}/zarr/v3_bool.zarr", f"{f}/zarr/group.zarr",
        f"{f}/netcdf3/classic.nc:t2m", f"{f}/netcdf3/cf/packed.nc:t2m", f"{f}/netcdf3/classic.nc:flag",
        f"{f}/hdf5/era5.nc:/surface/t2m", f"{f}/hdf5/clim.nc:t2m", f"{f}/hdf5/cases.h5:/gzip_shuffle_f32",
    ]
    ops = ["sum", "mean", "min", "max", "prod", "std", "var", "nansum", "nanmean", "nanmin", "nanmax",
           "nanstd", "nanvar", "argmin", "argmax", "count", "any", "all", "median", "nanmedian",
           "quantile", "nanquantile", "percentile", "nanpercentile", "nanmean,nanstd", "nope", "", "sum,,max"]
    flags = {
        "--axis": ["0", "1", "2", "-1", "5", "time", "lat", "lon", "nope", "0,0", "0,1", "", "1,-1", "99999999999999999999"],
        "--q": ["0.5", "0", "1", "1.5", "-1", "nan", "50", "0.1,0.9", "x"],
        "--method": ["linear", "lower", "nearest", "hazen", "nope"],
        "--groupby": ["month", "season", "year", "dayofyear", "hour", "nope"],
        "--time-origin": ["2001-01-01", "2001-13-40", "x", "0001-01-01"],
        "--time-step": ["1d", "6h", "30min", "0d", "-1d", "x", "1000000000000d"],
        "--calendar": ["standard", "noleap", "360_day", "all_leap", "julian", "x"],
        "--ddof": ["0", "1", "2", "-1", "1000", "x"],
        "--split-every": ["2", "1", "0", "100", "x"],
        "--weights": ["coslat", "nope", f"{f}/zarr/v3_zstd_f32.zarr"],
        "--isel": ["0=1:3", "0=-1", "0=5:1", "0=::2", "0=::-1", "0=::0", "lat=0:2", "nope=1", "0=99999", "0=x", "="],
        "--sel": ["time=2001-01-01:2001-03-01", "lat=10:60", "lat=60:10", "lat=:", "lat=x", "nope=1", "time=1999-01-01",
                  "time=2001-02-30", "lat=", "lon=1e400:2"],
        "--format": ["json", "text", "x"],
        "--threads": ["1", "2", "3", "0", "-1", "x"],
        "--memory-limit": ["1KiB", "512MiB", "none", "0", "x", "1e30"],
        "--out": [os.path.join(args.work, "r.npy"), os.path.join(args.work, "r.zarr"), "/nonexistent/dir/r.npy",
                  os.path.join(args.work, "r.txt"), args.work],
        "--device": ["cpu", "auto", "host:2", "host:0", "cuda", "x"],
    }
    switches = ["--keepdims", "--raw", "--explain"]
    stats, broken = {}, 0
    for case in range(args.cases):
        cmd = ["reduce", rng.choice(sources), "--op", rng.choice(ops)]
        for flag in rng.sample(sorted(flags), rng.randint(0, 4)):
            cmd += [flag, rng.choice(flags[flag])]
        cmd += [s for s in switches if rng.random() < 0.15]

        def keep(cmd=cmd, case=case):
            open(os.path.join(args.work, f"broken{case}.args"), "w").write(json.dumps(cmd))

        broken += run(args.bin, cmd, keep, "cli", stats)
    return broken, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("format", choices=["netcdf3", "zarr", "hdf5", "cli"])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/chunkwise"))
    ap.add_argument("--fixtures", default=os.environ.get("CHUNKWISE_FIXTURES", os.path.join(ROOT, "target/fixtures")))
    ap.add_argument("--work", default=os.path.join(ROOT, "target/fuzz"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = random.Random(args.seed)
    if args.format == "netcdf3":
        d = os.path.join(args.fixtures, "netcdf3")
        files = [os.path.join(d, f) for f in ["classic.nc", "offset64.nc", "cdf5.nc", "empty.nc", "cf/packed.nc"]]
        broken, stats = fuzz_files(args, rng, files, ".nc", lambda n: 600, ":")
    elif args.format == "hdf5":
        files = [os.path.join(args.fixtures, "hdf5", "cases.h5")]
        # Mostly past the superblock: damage to libhdf5's own structures is found by
        # libhdf5 (or not), damage to chunks and messages by chunkwise.
        broken, stats = fuzz_files(args, rng, files, ".h5", lambda n: n, ":")
    elif args.format == "cli":
        broken, stats = fuzz_cli(args, rng)
    else:
        broken, stats = fuzz_zarr(args, rng)
    print(f"{args.format}: {args.cases} cases, {broken} broke the contract; exit codes {sorted(stats.items())}")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
