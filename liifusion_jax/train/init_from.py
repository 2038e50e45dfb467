"""`init_from` checked before any work of a fresh run: it exists and holds a stage-1 model, and where a
live training process is still writing it, a warning names the step this run starts from."""
import json

import numpy as np

from liifusion_jax.checkpoints import run
from liifusion_jax.checkpoints.errors import CheckpointError, check_stage
from liifusion_jax.checkpoints.inference_file import is_inference_file, resolve_inference_file
from liifusion_jax.train import workdir_lock

HINT = "set --config.init_from to a stage-1 run folder, one of its checkpoints, or pretrained:stage1"


def check(config, workdir):
  """Raises CheckpointError (naming `init_from`) where the run in `workdir` would start from a missing
  or wrong `config.init_from`; nothing to check where the workdir holds a checkpoint (a resume)."""
  spec = str(config.get("init_from", ""))
  checkpoints = workdir / "checkpoints"
  if checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir()):
    return
  if not spec:
    if config.stage == "stage2":
      raise CheckpointError(f"stage 2 starts from a stage-1 run: {HINT}")
    return
  try:
    meta = _inference_meta(spec) if is_inference_file(spec) else _run_meta(spec)
    check_stage(meta, "stage1", spec)
  except CheckpointError as error:
    raise CheckpointError(f"init_from: {error}; {HINT}") from None


def _inference_meta(spec):
  path = resolve_inference_file(spec)
  try:
    with np.load(path) as data:
      return json.loads(str(data["meta.json"]))
  except (OSError, ValueError, KeyError) as error:
    raise CheckpointError(f"{spec} is not a readable inference file ({error})") from None


def _run_meta(spec):
  """The meta of the newest step of a run (a live training process holding it: said in a warning)."""
  directory, step = run.locate(spec)
  holder = workdir_lock.holder(directory.parent)
  if holder is not None:
    print(f"warning: init_from {spec} is in use by a training process (PID {holder}); this run starts "
          f"from its newest saved step, {step}")
  return run.read_meta(directory, step)
