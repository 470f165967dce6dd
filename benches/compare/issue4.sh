#!/usr/bin/env bash
# The memory budget (issue 4), side by side with dask on the shared data
# (../shared/bench/gen_data.py, with --big for the 6 GB field), interleaved run by run:
#   - nanmean(axis=0) of the (1460, 721, 1440) f32 Zarr v3 field: chunkwise with
#     --memory-limit 256MiB, chunkwise unlimited, dask (bench.py dask_nanmean0_big);
#   - the anomaly nanstd(x - nanmean(x, axis=0), axis=(1,2)) of the 1.5 GB Zarr v3 field:
#     chunkwise with the default budget, with --memory-limit 512MiB, dask
#     (bench.py dask_anom_std12_zarr3).
# Peak RSS of each chunkwise process from /usr/bin/time -v; time from its own JSON.
#
#   bash benches/compare/issue4.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-2}"
VENV="${ANCHORS_VENV:-/tmp/anchors-venv}"
DATA="${ANCHORS_DATA:-/tmp/anchors-data}"
BENCH="$(cd .. && pwd)/shared/bench/bench.py"
cargo build --release -q --features hdf5
CW=./target/release/chunkwise
rss() { awk '/Maximum resident/ {print $6/1000}' "$1"; }
big() { # name limit
  local t; t=$(mktemp)
  /usr/bin/time -v "$CW" reduce "$DATA/t2m_big_zarr3.zarr" --op nanmean --axis 0 --format json \
    --memory-limit "$2" 2>"$t" | tr -d '\n' | sed 's/}$//'
  echo ",\"bench\":\"$1\",\"peak_rss_mb\":$(rss "$t")}"; rm -f "$t"
}
anomaly() { # name limit (the process runs a warm-up and one timed run)
  local t out; t=$(mktemp)
  out=$(/usr/bin/time -v "$CW" bench anomaly-source --source "$DATA/t2m_zarr3.zarr" --repeat 1 \
    --format json --memory-limit "$2" 2>"$t")
  echo "${out%\}},\"bench\":\"$1\",\"peak_rss_mb\":$(rss "$t")}"; rm -f "$t"
}
for _ in $(seq "$ROUNDS"); do
  big cw_nanmean0_big_256MiB 256MiB
  big cw_nanmean0_big_unlimited none
  "$VENV/bin/python" "$BENCH" dask_nanmean0_big
  anomaly cw_anomaly_default "$(awk '/MemTotal/ {printf "%dKiB", $2/4}' /proc/meminfo)"
  anomaly cw_anomaly_512MiB 512MiB
  "$VENV/bin/python" "$BENCH" dask_anom_std12_zarr3
done
