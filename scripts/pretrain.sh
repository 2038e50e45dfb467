#!/usr/bin/env bash
# The bundled models' recipe: stage 1, stage 2 from it, each exported as an inference file.
#   scripts/pretrain.sh OUT_DIR [--config.KEY=VALUE ...]   (the overrides apply to both stages)
# Writes OUT_DIR/stage1.npz and OUT_DIR/stage2.npz; copy them to liifusion_jax/pretrained/ to bundle them.
# STAGE_SECONDS=N stops each stage's training after N seconds (a lease that must not be overrun); the
# latest checkpoint is then exported, and its provenance records the step it reached.
set -euo pipefail
out=${1:?usage: scripts/pretrain.sh OUT_DIR [--config.KEY=VALUE ...]}
shift
python=${PYTHON:-python}
commit=${LIIFUSION_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
for stage in stage1 stage2; do
  start=$SECONDS
  status=0
  ${STAGE_SECONDS:+timeout --signal=INT "$STAGE_SECONDS"} \
    "$python" train.py --config "configs/pretrained.py:$stage" --workdir "runs/pretrained_$stage" "$@" \
    || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 130 ]; then exit "$status"; fi
  "$python" -m liifusion_jax.pretrained.export "runs/pretrained_$stage" "$out/$stage.npz" \
    --recipe "configs/pretrained.py:$stage" --commit "$commit" --wall-seconds $((SECONDS - start)) \
    --overwrite
done
