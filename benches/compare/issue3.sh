#!/usr/bin/env bash
# chunkwise vs dask on the shared ERA5-like field (../shared/bench/gen_data.py): for each
# format, interleaved run by run, chunkwise `reduce --op nanmean --axis 0` (peak RSS from
# /usr/bin/time -v), dask's nanmean(axis=0) (../shared/bench/bench.py), and chunkwise's
# read-and-decode-only pass over the same file (`bench decode-source`: the floor).
#
#   bash benches/compare/issue3.sh [ROUNDS]
#
# Needs $ANCHORS_VENV (numpy, dask, zarr, h5py) and the data in $ANCHORS_DATA.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-3}"
VENV="${ANCHORS_VENV:-/tmp/anchors-venv}"
DATA="${ANCHORS_DATA:-/tmp/anchors-data}"
BENCH="$(cd .. && pwd)/shared/bench/bench.py"
cargo build --release -q --features hdf5
CW=./target/release/chunkwise
run_cw() { # name source op
  local t; t=$(mktemp)
  /usr/bin/time -v "$CW" reduce "$2" --op "$3" --axis 0 --format json --out "$t.npy" 2>"$t" | tr -d '\n' | sed 's/}$//'
  echo ",\"bench\":\"$1\",\"peak_rss_mb\":$(awk '/Maximum resident/ {print $6/1000}' "$t")}" ; rm -f "$t" "$t.npy"
}
floor() { # name source
  "$CW" bench decode-source --source "$2" --repeat 1 --format json | sed "s/}\$/,\"bench\":\"$1\"}/"
}
for _ in $(seq "$ROUNDS"); do
  run_cw cw_nanmean0_zarr3 "$DATA/t2m_zarr3.zarr" nanmean
  "$VENV/bin/python" "$BENCH" dask_nanmean0_zarr3
  floor cw_decode_zarr3 "$DATA/t2m_zarr3.zarr"
  run_cw cw_nanmean0_zarr2 "$DATA/t2m_zarr2.zarr" nanmean
  "$VENV/bin/python" "$BENCH" dask_nanmean0_zarr2
  floor cw_decode_zarr2 "$DATA/t2m_zarr2.zarr"
  run_cw cw_nanmean0_h5 "$DATA/t2m.h5:/t2m" nanmean
  "$VENV/bin/python" "$BENCH" dask_nanmean0_h5
  floor cw_decode_h5 "$DATA/t2m.h5:/t2m"
done
