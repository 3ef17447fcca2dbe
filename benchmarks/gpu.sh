#!/usr/bin/env bash
# The GPU configuration, on the device machine (see benchmarks/README.md): gpu_setup.sh
# installs MLX's CUDA build and the hand-written packages, then the harness runs with strict
# float32 and leaves the results in $OUT. The bundle's benchmarks/generated/gpu/ must hold
# every anchor's NAME/ and, with fast options, NAME-fast/ (benchmarks.conversion).
set -euo pipefail
BUNDLE=${1:?bundle folder}
source "$BUNDLE"/benchmarks/gpu_setup.sh "$BUNDLE"
cd "$BUNDLE"
python3 -m benchmarks.run --config gpu --no-convert --json "$OUT/gpu.json" --out "$OUT/gpu.md" "${@:2}"
