#!/usr/bin/env bash
# The distilled students of the bundled teacher (docs/distillation.md), stage by stage, resumable within a time budget:
#   bash scripts/gpu-students.sh WORK RESULTS_DIR [DEVICE]     (DEVICE: cuda by default)
# Runs, in WORK (the teacher is copied to WORK/model first): the teacher's samples, rCM student A, its SLA fine-tune
# with 64 × 64 blocks, then rCM continued from that SLA-tuned student (sCM + DMD against the dense teacher), and
# evaluates each student on all held-out prompts at 4, 2 and 1 steps into RESULTS_DIR/<student>-<steps>.json.
# Every training stage stops at $MINUTES (default 9) after the script started, checkpointed; run the script again
# (same WORK) to go on where it stopped. Sizes can be made small for a check on a CPU: $PROMPTS (4096), $RCM_STEPS
# (3000), $SLA_STEPS (2000), $CONTINUE_STEPS (1000), $BATCH (16), $EVAL_PROMPTS (all), $SAMPLE_BATCH (128).
# $CONTINUE_LR (2e-6) and $CONTINUE_CRITIC_LR (4e-7) are the continued run's rates: rCM's own, small next to run A's.
# Programs run as `$TURBO_LAUNCHER dotnet $TURBO_APP/NAME.dll`: TURBO_APP defaults to calibration-data/cli/bin/Release/net10.0 (after `dotnet
# build -c Release`); TURBO_LAUNCHER, empty by default, can name a command that sets up the CUDA libtorch first
# (README, "CUDA").
set -euo pipefail
work=${1:?work folder}; out=${2:?results dir}; device=${3:-cuda}
app=${TURBO_APP:-calibration-data/cli/bin/Release/net10.0}; launcher=${TURBO_LAUNCHER:-}
deadline=$((SECONDS + $(awk -v m="${MINUTES:-9}" 'BEGIN { printf "%d", m * 60 }')))
shapes() { $launcher dotnet "$app/turbo-shapes.dll" "$@" --device "$device"; }
# Sets $limit to the minutes left for a training stage; ends the script (0) when less than one is left.
minutes_left() {
  local s=$((deadline - SECONDS))
  if [ $s -lt 60 ]; then echo "time budget spent: run again to go on" >&2; exit 0; fi
  limit=$(awk -v s=$s 'BEGIN { printf "%.2f", s / 60 }')
}
# Runs a training stage (name, steps, command) with the time left; the stage is done when its run's line
# "<stage>: step N" reaches its steps, and WORK/<name>.done keeps a done stage from being loaded again.
train() {
  local name=$1 steps=$2; shift 2
  [ -f "$work/$name.done" ] && return
  minutes_left
  local last; last=$(shapes "$@" --work "$work" --steps "$steps" --time-limit "$limit" | grep -v ETA | tail -3)
  echo "$last" | tee -a "$out/students.log"
  grep -q "step $steps," <<<"$last" || { echo "$name stopped before step $steps: run again to go on" >&2; exit 0; }
  touch "$work/$name.done"
}
evaluate() { # name, transformer checkpoint (or "" for the rCM student's own folder)
  for n in 4 2 1; do
    [ -f "$out/$1-$n.json" ] && continue
    if [ -n "$2" ]; then shapes teacher-evaluate --model "$work/model" --transformer "$2" --sampler rcm --steps $n ${EVAL_PROMPTS:+--prompts $EVAL_PROMPTS} -o "$work/eval/$1-$n"
    else shapes teacher-evaluate --model "$work/student-rcm/model" --steps $n ${EVAL_PROMPTS:+--prompts $EVAL_PROMPTS} -o "$work/eval/$1-$n"; fi | tail -2
    cp "$work/eval/$1-$n/quality.json" "$out/$1-$n.json"
  done
}

mkdir -p "$out" "$work"
[ -f "$work/model/model_index.json" ] || cp -r models/tiny-wan-t2v "$work/model"
[ -f "$work/teacher-samples.done" ] || {
  shapes student-data --work "$work" --prompts "${PROMPTS:-4096}" --batch "${SAMPLE_BATCH:-128}" | tail -1
  touch "$work/teacher-samples.done"
}
train rcm "${RCM_STEPS:-3000}" student-rcm --batch "${BATCH:-16}"
evaluate rcm ""
train rcm-sla "${SLA_STEPS:-2000}" student-sla --tune student --block-q 64 --batch "${BATCH:-16}"
evaluate rcm-sla "$work/student-rcm-sla/transformer.safetensors"
train rcm-sla-continued "${CONTINUE_STEPS:-1000}" student-rcm --from "$work/student-rcm-sla/transformer.safetensors" --warmup 0 \
  --lr "${CONTINUE_LR:-2e-6}" --critic-lr "${CONTINUE_CRITIC_LR:-4e-7}" --batch "${BATCH:-16}"
evaluate rcm-sla-continued "$work/student-rcm-from/transformer.safetensors"
echo "all stages done; results in $out"
