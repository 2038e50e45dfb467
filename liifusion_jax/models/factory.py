"""The networks as the rest of the code meets them: built from a stage name, a config's `model`
section and a precision (training, inference, conversion and benchmarks all build them here), fed
[-1, 1] images (`data.images.normalise`)."""
import dataclasses

import jax.numpy as jnp

from liifusion_jax.models.discriminator import UNetDiscriminatorSN
from liifusion_jax.models.stage1 import LIIFusionStage1
from liifusion_jax.models.stage2 import LIIFusionStage2

MODELS = {"stage1": LIIFusionStage1, "stage2": LIIFusionStage2}
# Compute dtypes. With "bf16" every layer computes in bfloat16 while params, optimiser state, losses,
# the diffusion schedule, the prior z and the decoded RGB stay float32 (mixed precision).
PRECISIONS = {"float32": jnp.float32, "bf16": jnp.bfloat16}


def compute_dtype(precision):
  """The compute dtype of a precision name ('float32' or 'bf16')."""
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r} (expected {' or '.join(PRECISIONS)})")
  return PRECISIONS[precision]


def build_model(stage, model_config, precision="float32"):
  """The network of a stage from a config's `model` section (a dict or ConfigDict)."""
  if stage not in MODELS:
    raise ValueError(f"unknown stage {stage!r} (expected stage1 or stage2)")
  return MODELS[stage](**dict(model_config), dtype=compute_dtype(precision))


def complete_model_config(stage, model_config):
  """A `model` section (dict) with the settings it leaves out at the network's defaults: what
  `build_model` builds from it (a run saved before a setting was a config key holds fewer)."""
  defaults = {f.name: f.default for f in dataclasses.fields(MODELS[stage])
              if f.init and f.name not in ("parent", "name", "dtype")}
  return {**defaults, **dict(model_config)}


def build_discriminator(precision="float32"):
  """Stage 2's U-Net discriminator (Eq. 9's GAN term) computing in `precision`."""
  return UNetDiscriminatorSN(dtype=compute_dtype(precision))
