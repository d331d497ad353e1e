#!/usr/bin/env bash
# The bf16 baseline of docs/PERF.md, on a CUDA machine:
#   bash scripts/gpu-baseline.sh RESULTS_DIR [SCRATCH_DIR]
# Programs run as `$TURBO_LAUNCHER dotnet $TURBO_APP/NAME.dll`: TURBO_APP defaults to runtime/cli/bin/Release/net10.0 (after `dotnet
# build -c Release`); TURBO_LAUNCHER, empty by default, can name a command that sets up the CUDA libtorch first
# (README, "CUDA").
# Builds the CUDA library, checks its kernels, synthesizes Wan2.1 1.3B and 14B checkpoints (bf16, exact layout,
# random values) and benchmarks them at 480p and 720p. Each step writes its JSON to RESULTS_DIR; all logs go to
# RESULTS_DIR/bench.log.
set -uo pipefail
out=${1:?results dir}; scratch=${2:-/tmp/turbo-bench}
mkdir -p "$out" "$scratch"
log="$out/bench.log"
app=${TURBO_APP:-runtime/cli/bin/Release/net10.0}; launcher=${TURBO_LAUNCHER:-}
run() { echo "== $(date +%T) $*" >>"$log"; $launcher dotnet "$app/$1" "${@:2}" >>"$log" 2>&1; echo "rc=$?" >>"$log"; }
cmake -S runtime/native -B runtime/native/build -DCMAKE_BUILD_TYPE=Release >"$out/cmake.log" 2>&1 &&
  cmake --build runtime/native/build -j >>"$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$log"
run turbo.dll check-native --json "$out/check-native.json"
run turbo-convert.dll synth --family wan2.1 --preset 1.3b --dtype bf16 -o "$scratch/wan-1.3b"
run turbo.dll bench "$scratch/wan-1.3b" --resolution 480p --json "$out/bench-1.3b-480p.json"
run turbo.dll bench "$scratch/wan-1.3b" --resolution 480p --reference-ops --no-ceilings --measured-steps 2 \
  --json "$out/bench-1.3b-480p-reference-ops.json"
rm -rf "$scratch/wan-1.3b"
run turbo-convert.dll synth --family wan2.1 --preset 14b --dtype bf16 -o "$scratch/wan-14b"
run turbo.dll bench "$scratch/wan-14b" --resolution 480p --measured-steps 3 --json "$out/bench-14b-480p.json"
run turbo.dll bench "$scratch/wan-14b" --resolution 720p --warmup 1 --repeats 3 --measured-steps 2 \
  --json "$out/bench-14b-720p.json"
grep -v "step [0-9]*/" "$log" | tail -150
