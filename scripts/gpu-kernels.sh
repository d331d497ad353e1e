#!/usr/bin/env bash
# The CUDA kernels against their references, then their timings at Wan shapes, on a CUDA machine:
#   bash scripts/gpu-kernels.sh RESULTS_DIR
# Programs run as `$TURBO_LAUNCHER dotnet $TURBO_APP/NAME.dll`: TURBO_APP defaults to runtime/cli/bin/Release/net10.0 (after `dotnet
# build -c Release`); TURBO_LAUNCHER, empty by default, can name a command that sets up the CUDA libtorch first
# (README, "CUDA").
# Builds runtime/native for Hopper (sm_90a) only, then runs check-native, check-int8 and check-attention; each writes
# its JSON to RESULTS_DIR, all output goes to RESULTS_DIR/kernels.log. Exit status: the number of failed checks.
set -uo pipefail
out=${1:?results dir}
app=${TURBO_APP:-runtime/cli/bin/Release/net10.0}; launcher=${TURBO_LAUNCHER:-}
mkdir -p "$out"
log="$out/kernels.log"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$log"
cmake -S runtime/native -B runtime/native/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real >"$out/cmake.log" 2>&1 &&
  cmake --build runtime/native/build -j 16 >>"$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
failed=0
for check in check-native check-int8 check-attention; do
  echo "== $(date +%T) $check" >>"$log"
  $launcher dotnet "$app/turbo.dll" "$check" --json "$out/$check.json" >>"$log" 2>&1
  rc=$?; echo "rc=$rc" >>"$log"; [ $rc -eq 0 ] || failed=$((failed + 1))
done
exit $failed
