#!/usr/bin/env bash
# The GPU speed figures in one go, each a JSON line (or a profile summary) in $OUT.
#   benchmarks/gpu_speed.sh speed    # train steps and the 339x510 x4 upscale, float32 and bf16, profiled;
#                                    # train.py's sec_per_step with 8 workers; the reference beside them
#   benchmarks/gpu_speed.sh quality  # stage 1 from scratch in float32 and in bf16, same steps and data,
#                                    # then Set5 x2-x4 of both (bf16 should end within 0.05 dB)
# Environment: OUT (default /tmp/gpu_speed), PYTHON (default python3), DATA (a folder holding SunHays80/
# and Set5/, default .gpu/data), REFERENCE (a checkout of novwaul/LIIFusion: its figures too),
# STEPS (quality mode's steps per run, default 3000), TINY=1 (CPU-sized shapes, to try the script here).
# Run from the repository root. A figure that fails is reported in $OUT/failures.txt and the rest go on.
set -uo pipefail
mode=${1:?usage: benchmarks/gpu_speed.sh speed|quality}
out=${OUT:-/tmp/gpu_speed}
python=${PYTHON:-python3}
data=${DATA:-.gpu/data}
mkdir -p "$out"

if [ "${TINY:-0}" = 1 ]; then
  batch=2 patch=16 lr_size=24x32 repeats=2 steps=${STEPS:-4} run_steps=4 workers=0 chunk=4096 bucket=16
  train_extra=(--config.batch_size=2 --config.data.patch=16 --config.data.sample_q=256 --config.val.crop=48)
else
  batch=16 patch=48 lr_size=339x510 repeats=20 steps=${STEPS:-3000} run_steps=600 workers=8 chunk=30000 bucket=96
  train_extra=()
fi

figure() {  # figure NAME COMMAND...: stdout to $out/NAME.json, stderr to $out/NAME.log
  local name=$1
  shift
  echo "== $name: $*" >&2
  if ! "$@" >"$out/$name.json" 2>"$out/$name.log"; then
    echo "$name failed (exit $?): $*" >>"$out/failures.txt"
    tail -n 5 "$out/$name.log" >&2
  fi
}

summarise() {  # summarise NAME CALLS: the op-by-op summary of $out/trace_NAME, then the trace goes
  "$python" benchmarks/profile_summary.py "$out/trace_$1" --calls "$2" >"$out/profile_$1.txt" 2>&1
  rm -rf "$out/trace_$1"
}

train_run() {  # train_run WORKDIR STEPS PRECISION: a stage-1 run of the bundled models' recipe
  "$python" train.py --config configs/pretrained.py:stage1 --workdir "$1" \
    --config.data.train_dir="$data/SunHays80" --config.precision="$3" --config.epochs=1 \
    --config.steps_per_epoch="$2" --config.optim.milestones="()" --config.val.every_epochs=1 \
    --config.data.num_workers="$workers" --config.data.bucket="$bucket" "${train_extra[@]}"
}

"$python" -c "import jax; print(jax.devices())" >"$out/devices.txt" 2>&1
if [ "$mode" = speed ]; then
  for precision in float32 bf16; do
    for stage in 1 2; do
      figure "train_stage${stage}_$precision" "$python" benchmarks/train_step.py --stage "$stage" \
        --batch "$batch" --patch "$patch" --scale 2.5 --bucket "$bucket" --repeats "$repeats" \
        --precision "$precision" --profile "$out/trace_train_stage${stage}_$precision"
      summarise "train_stage${stage}_$precision" 5
    done
    figure "infer_stage2_$precision" "$python" benchmarks/infer.py --stage 2 --lr-size "$lr_size" \
      --scale 4 --chunk "$chunk" --repeats "$repeats" --breakdown --precision "$precision" \
      --profile "$out/trace_infer_stage2_$precision"
    summarise "infer_stage2_$precision" 5
  done
  # The input pipeline alone, then inside train.py (bf16, the faster step: the harder one to keep up with).
  figure data_pipeline "$python" benchmarks/data_pipeline.py --stage 1 --batch "$batch" --patch "$patch" \
    --num-workers "$workers"
  figure train_py_bf16 train_run "$out/run_bf16" "$run_steps" bf16
  grep sec_per_step "$out/run_bf16/metrics.jsonl" >"$out/train_py_bf16_sec_per_step.jsonl"
  rm -rf "$out/run_bf16"
  if [ -n "${REFERENCE:-}" ]; then
    figure reference_stage1 "$python" benchmarks/reference_torch.py --reference "$REFERENCE" stage1 \
      --batch "$batch" --patch "$patch" --repeats "$repeats"
    figure reference_stage2 "$python" benchmarks/reference_torch.py --reference "$REFERENCE" stage2 \
      --lr-size "$lr_size" --scale 4 --chunk "$chunk" --repeats "$repeats"
  fi
elif [ "$mode" = quality ]; then
  for precision in float32 bf16; do
    figure "quality_train_$precision" train_run "$out/quality_$precision" "$steps" "$precision"
    figure "quality_eval_$precision" "$python" eval.py --checkpoint "$out/quality_$precision" \
      --scales 2,3,4 --data "$data/Set5" --json "$out/quality_set5_$precision.json"
    rm -rf "$out/quality_$precision/checkpoints"  # the figures stay, the weights need not travel back
  done
else
  echo "unknown mode $mode (speed or quality)" >&2
  exit 2
fi
ls -l "$out" >&2
