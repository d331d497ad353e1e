#!/usr/bin/env bash
# A package's denoising against its teacher's recipe at a Wan2.1 size — speed only: random weights, no training.
#   bash scripts/gpu-package-bench.sh PRESET RESULTS_DIR [DEVICE [BENCH OPTIONS...]]   (PRESET: tiny, 1.3b or 14b; DEVICE: cuda)
# $SCHEME picks the weight quantization (default: the converter's, int8-channel). $WORK keeps the synthesized model and
# the conversion in that folder (else a temporary one), so a large preset can take two runs: CONVERT_ONLY=1 converts
# (resuming what a previous run left), then a run without it finds the package done and benches it.
# e.g. `bash scripts/gpu-package-bench.sh 14b results cuda --resolution 720p --warmup 1 --repeats 2 --measured-steps 2`.
# Synthesizes a whole text-to-video folder of the preset (`synth --pipeline`), converts it with the recipe's sampler
# (rCM, 4 steps, no CFG), SLA top-k 0.1 run as SageSLA, and W8A8 — with 0 training steps, a speed preview — then
# times the package against UniPC × 50 × CFG on the same architecture with `turbo bench`.
# Programs run as `$TURBO_LAUNCHER dotnet $TURBO_APP/NAME.dll`: TURBO_APP defaults to runtime/cli/bin/Release/net10.0 (after `dotnet
# build -c Release`); TURBO_LAUNCHER, empty by default, can name a command that sets up the CUDA libtorch first
# (README, "CUDA").
set -euo pipefail
preset=${1:?preset: tiny, 1.3b or 14b}; out=${2:?results dir}; device=${3:-cuda}
app=${TURBO_APP:-runtime/cli/bin/Release/net10.0}; launcher=${TURBO_LAUNCHER:-}
run() { $launcher dotnet "$app/$1.dll" "${@:2}"; }
# Without the CUDA library every kernel falls back to TorchSharp's reference ops: slower by minutes, and not the runtime's speed.
if [ "$device" = cuda ] && [ ! -f "${TURBO_NATIVE_LIB:-runtime/native/build/libturbo_native.so}" ]; then
  echo "no CUDA library at ${TURBO_NATIVE_LIB:-runtime/native/build/libturbo_native.so}: build runtime/native first (see runtime/native/CMakeLists.txt)" >&2
  exit 2
fi
mkdir -p "$out"
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
printf '%s\n' "a small red circle moves left over a black background" "a large blue square moves up quickly over a gray background" >"$work/prompts.txt"
[ -f "$work/teacher/model_index.json" ] ||
  run turbo-convert synth --family wan2.1 --preset "$preset" --dtype bf16 --pipeline -o "$work/teacher" | tail -2
SECONDS=0
run turbo-convert run "$work/teacher" -o "$work/package" --resume --distill-steps 0 --sla-steps 0 --attention sage \
  ${SCHEME:+--scheme "$SCHEME"} --calib-prompts-file "$work/prompts.txt" --calib-samples 1 --eval-samples 1 --skip-validate --device "$device" 2>&1 |
  grep -v NNPACK | tee "$out/convert-$preset${SCHEME:+-$SCHEME}.log" | tail -25
echo "converted in $SECONDS s"
[ "${CONVERT_ONLY:-0}" = 1 ] && exit 0
bench_options=("${@:4}"); [ ${#bench_options[@]} -gt 0 ] || bench_options=(--measured-steps 3)
run turbo bench "$work/package" --device "$device" "${bench_options[@]}" --json "$out/package-bench-$preset${SCHEME:+-$SCHEME}.json" 2>&1 |
  grep -v NNPACK | tee "$out/package-bench-$preset${SCHEME:+-$SCHEME}.log" | tail -40
