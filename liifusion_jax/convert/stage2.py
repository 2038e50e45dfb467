"""Reference (PyTorch) stage-2 state_dict -> LIIFusionStage2 params.

The stage-1 parts go through `convert.stage1`; the schedule buffers under `prior_generator.` are
checked against `make_schedule` (they are constants here, not params) and otherwise dropped.
"""
import numpy as np

from liifusion_jax.convert import torch_layout as tl
from liifusion_jax.convert.stage1 import check_keys, prior_encoder_params, stage1_params_from_state_dict
from liifusion_jax.models.diffusion import Schedule, make_schedule

_STAGE2_ONLY = ("condition_encoder", "prior_generator")


def _denoiser_layers(depth=5):
  """torch `resmlp.0` is the input Linear; `resmlp.{k}.resmlp.0` the blocks, k = 2 .. depth + 1."""
  return {"resmlp_0": "resmlp.0", **{f"resmlp_{k}": f"resmlp.{k}.resmlp.0" for k in range(2, depth + 2)}}


def denoiser_params(sd, prefix="prior_generator.model", depth=5):
  """Denoiser params, named after the torch indices."""
  layers = _denoiser_layers(depth)
  check_keys(sd, prefix, [f"{t}.{p}" for t in layers.values() for p in ("weight", "bias")])
  return {name: tl.dense(sd, f"{prefix}.{t}") for name, t in layers.items()}


def check_schedule(sd, prefix="prior_generator", schedule=None):
  """Raises if the checkpoint's diffusion buffers differ from the schedule the model computes."""
  schedule = schedule or make_schedule()
  for name in Schedule._fields:
    stored = np.asarray(sd[f"{prefix}.{name}"], np.float32)
    if not np.allclose(stored, getattr(schedule, name), rtol=0, atol=1e-6):
      raise ValueError(f"{prefix}.{name} = {stored} differs from the model's schedule")


def stage2_params_from_state_dict(sd):
  """The reference stage-2 state_dict (name -> array) as LIIFusionStage2 params (without the
  outer {'params': ...}); raises on missing or unknown entries."""
  params = stage1_params_from_state_dict(
      {k: v for k, v in sd.items() if k.split(".", 1)[0] not in _STAGE2_ONLY})
  params["condition_encoder"] = prior_encoder_params(sd, "condition_encoder")
  model_keys = [f"model.{t}.{p}" for t in _denoiser_layers().values() for p in ("weight", "bias")]
  check_keys(sd, "prior_generator", [*Schedule._fields, *model_keys])
  check_schedule(sd)
  params["prior_generator"] = {"model": denoiser_params(sd)}
  return params
