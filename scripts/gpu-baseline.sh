#!/usr/bin/env bash
# The bf16 baseline of docs/PERF.md, on a CUDA machine with the program published into .gpu/ (dotnet publish of
# runtime/cli) and run through .gpu/on-device.sh (which points TorchSharp at PyTorch's CUDA libtorch):
#   bash scripts/gpu-baseline.sh RESULTS_DIR [SCRATCH_DIR]
# Builds the CUDA library, checks its kernels, synthesizes Wan2.1 1.3B and 14B checkpoints (bf16, exact layout,
# random values) and benchmarks them at 480p and 720p. Each step writes its JSON to RESULTS_DIR; all logs go to
# RESULTS_DIR/bench.log.
set -uo pipefail
out=${1:?results dir}; scratch=${2:-/tmp/turbo-bench}
mkdir -p "$out" "$scratch"
log="$out/bench.log"
run() { echo "== $(date +%T) $*" >>"$log"; bash .gpu/on-device.sh dotnet "$@" >>"$log" 2>&1; echo "rc=$?" >>"$log"; }
cmake -S runtime/native -B runtime/native/build -DCMAKE_BUILD_TYPE=Release >"$out/cmake.log" 2>&1 &&
  cmake --build runtime/native/build -j >>"$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$log"
run .gpu/app/turbo.dll check-native --json "$out/check-native.json"
run .gpu/app/turbo-convert.dll synth --family wan2.1 --preset 1.3b --dtype bf16 -o "$scratch/wan-1.3b"
run .gpu/app/turbo.dll bench "$scratch/wan-1.3b" --resolution 480p --json "$out/bench-1.3b-480p.json"
run .gpu/app/turbo.dll bench "$scratch/wan-1.3b" --resolution 480p --reference-ops --no-ceilings --measured-steps 2 \
  --json "$out/bench-1.3b-480p-reference-ops.json"
rm -rf "$scratch/wan-1.3b"
run .gpu/app/turbo-convert.dll synth --family wan2.1 --preset 14b --dtype bf16 -o "$scratch/wan-14b"
run .gpu/app/turbo.dll bench "$scratch/wan-14b" --resolution 480p --measured-steps 3 --json "$out/bench-14b-480p.json"
run .gpu/app/turbo.dll bench "$scratch/wan-14b" --resolution 720p --warmup 1 --repeats 3 --measured-steps 2 \
  --json "$out/bench-14b-720p.json"
grep -v "step [0-9]*/" "$log" | tail -150
