#!/usr/bin/env bash
# The bundled teacher trained further (calibration-data/README.md), resumable within a time budget:
#   bash scripts/gpu-teacher.sh WORK RESULTS_DIR [DEVICE]     (DEVICE: cuda by default)
# From $SOURCE (default models/tiny-wan-t2v) it continues, side by side on one device, the VAE's decoder (WORK/vae:
# the encoder, and so the latent space the DiT learns, stays bit for bit) and the DiT (WORK/dit), each in a warm-up
# and cosine schedule of its own; then it puts the two together in WORK/model, evaluates that on all held-out
# prompts with its own sampler (the model card, quality.json and the grid) and measures the VAE's ceiling, into
# RESULTS_DIR. Both training stages stop, checkpointed, $MINUTES (default 9) after the script started, less the
# time a stage needs to start and to write its model; run the script again (same WORK) to go on where it stopped.
# Sizes: $DIT_STEPS (8000), $DIT_LR (3e-4), $DIT_BATCH (64), $VAE_STEPS (4000; 0 keeps the source's VAE), $VAE_LR
# (2e-4), $VAE_BATCH (16), $EVAL_PROMPTS (all); $DIT_POOL (32768) and $CHECK_CLIPS (256) can be made small for a check
# on a CPU.
# Programs run as `$TURBO_LAUNCHER dotnet $TURBO_APP/NAME.dll`: TURBO_APP defaults to calibration-data/cli/bin/Release/net10.0 (after `dotnet
# build -c Release`); TURBO_LAUNCHER, empty by default, can name a command that sets up the CUDA libtorch first
# (README, "CUDA").
set -euo pipefail
work=${1:?work folder}; out=${2:?results dir}; device=${3:-cuda}
source_model=${SOURCE:-models/tiny-wan-t2v}
app=${TURBO_APP:-calibration-data/cli/bin/Release/net10.0}; launcher=${TURBO_LAUNCHER:-}
deadline=$((SECONDS + $(awk -v m="${MINUTES:-9}" 'BEGIN { printf "%d", m * 60 }')))
shapes() { $launcher dotnet "$app/turbo-shapes.dll" "$@" --device "$device"; }

# Runs a training stage (name, steps, command) in WORK/<name> until its time limit; it is done when its run
# reached "step N/N", and WORK/<name>.done keeps a done stage from being loaded again.
train() {
  local name=$1 steps=$2; shift 2
  [ -f "$work/$name.done" ] && return 0
  shapes "$@" --from "$source_model" --work "$work/$name" --steps "$steps" --time-limit "$limit" > "$work/$name.log" 2>&1 || {
    tail -5 "$work/$name.log" >&2; return 1; }
  grep -v ETA "$work/$name.log" | tail -2 | tee -a "$out/teacher.log"
  if grep -q "step $steps/$steps " "$work/$name.log"; then touch "$work/$name.done"; fi
}

mkdir -p "$out" "$work"
# A stage needs up to two minutes to start (the DiT encodes its pool of latents, 32,768 clips in about a minute, and
# saves it in WORK/dit for the runs that resume it) and to write its model; one, once the pool is saved.
margin=120
[ -f "$work/dit/latent-pool.safetensors" ] && margin=60
s=$((deadline - SECONDS - margin))
if [ $s -lt 60 ]; then echo "time budget too short: give MINUTES more than 3" >&2; exit 1; fi
limit=$(awk -v s=$s 'BEGIN { printf "%.2f", s / 60 }')
vae_steps=${VAE_STEPS:-4000}
[ "$vae_steps" = 0 ] && touch "$work/vae.done"
train vae "$vae_steps" teacher-vae --decoder-only --lr "${VAE_LR:-2e-4}" --batch "${VAE_BATCH:-16}" --check-clips "${CHECK_CLIPS:-256}" &
vae=$!
train dit "${DIT_STEPS:-8000}" teacher-dit --lr "${DIT_LR:-3e-4}" --batch "${DIT_BATCH:-64}" --pool "${DIT_POOL:-32768}" &
dit=$!
failed=0
wait $vae || failed=1
wait $dit || failed=1 # both stages end before the script does, even when one fails
[ $failed = 0 ] || exit 1
if [ ! -f "$work/vae.done" ] || [ ! -f "$work/dit.done" ]; then echo "training stopped at its time limit: run again to go on" >&2; exit 0; fi

# The continued DiT with the continued decoder: the encoder is the source's, so the DiT's latents are the VAE's.
if [ ! -f "$work/model.done" ]; then
  rm -rf "$work/model" "$work/model.partial"
  cp -r "$work/dit/model" "$work/model.partial"
  if [ "$vae_steps" != 0 ]; then
    rm -rf "$work/model.partial/vae"
    cp -r "$work/vae/model/vae" "$work/model.partial/vae"
    cp "$work/vae/model/training-vae.json" "$work/model.partial/"
  fi
  mv "$work/model.partial" "$work/model"
  touch "$work/model.done"
fi
[ -f "$out/quality.json" ] || {
  shapes teacher-evaluate --model "$work/model" ${EVAL_PROMPTS:+--prompts $EVAL_PROMPTS} -o "$work/eval" | tail -3 | tee -a "$out/teacher.log"
  cp "$work/eval/quality.json" "$work/eval/generated.gif" "$out/"
}
[ -f "$out/vae-ceiling.json" ] || shapes teacher-vae-ceiling --model "$work/model" ${EVAL_PROMPTS:+--prompts $EVAL_PROMPTS} -o "$out/vae-ceiling.json" | tail -3 | tee -a "$out/teacher.log"
echo "done: the model is $work/model; results in $out"
