#!/usr/bin/env bash
# Side-by-side runs of the in-memory workloads against dask and NumPy, interleaved run by
# run on the same machine (it is shared and noisy: compare ratios within one run).
#
#   bash benches/compare/issue2.sh [ROUNDS]
#
# Needs the Python side of ../shared/bench (a venv with numpy and dask at
# $ANCHORS_VENV, default /tmp/anchors-venv; created here if missing). Prints JSON lines:
# chunkwise's from `chunkwise bench --format json`, dask's/NumPy's from bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-3}"
VENV="${ANCHORS_VENV:-/tmp/anchors-venv}"
BENCH="$(cd .. && pwd)/shared/bench/bench.py"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy "dask[array]" psutil threadpoolctl
fi
cargo build --release -q
CW=./target/release/chunkwise
for _ in $(seq "$ROUNDS"); do
  $CW bench fused-sincos --size medium --repeat 1 --format json
  "$VENV/bin/python" "$BENCH" dask_sincos_random
  $CW bench scheduler-fanin --repeat 3 --format json
  "$VENV/bin/python" "$BENCH" dask_fanin_100k_rawgraph
  $CW bench nanmean-memory --size medium --repeat 5 --format json
  "$VENV/bin/python" "$BENCH" membw_np_sum_f32
done
