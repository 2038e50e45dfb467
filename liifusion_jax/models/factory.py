"""The networks as the rest of the code meets them: built from a stage name and a config's `model`
section (training, inference, conversion and benchmarks all build them here), fed [-1, 1] images."""
from liifusion_jax.models.stage1 import LIIFusionStage1
from liifusion_jax.models.stage2 import LIIFusionStage2

MODELS = {"stage1": LIIFusionStage1, "stage2": LIIFusionStage2}


def build_model(stage, model_config):
  """The network of a stage from a config's `model` section (a dict or ConfigDict)."""
  if stage not in MODELS:
    raise ValueError(f"unknown stage {stage!r} (expected stage1 or stage2)")
  return MODELS[stage](**dict(model_config))


def normalise(x):
  """[0, 1] images to the networks' [-1, 1] (the reference's data_norm: sub 0.5, div 0.5)."""
  return (x - 0.5) / 0.5
