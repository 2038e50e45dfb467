"""Checkpoints of random models for the command-line tests (no training needed).

Parameter shapes come from `jax.eval_shape` of the model's init (a compiled init takes 10-25 s on CPU);
values follow PyTorch's default init: kernels U(+-1/sqrt(fan_in)), biases 0, LayerNorm scales 1.
Stage 2's tree also holds the HR prior encoder stage 1 needs; a stage-1 tree is the subset a stage-1
model declares.
"""
import functools

import jax
import numpy as np

from liifusion_jax.checkpoints.run import save_params
from liifusion_jax.convert import model_param_shapes as _shapes

CHUNK = 4096


def _fill(path, leaf, rng, gain):
  name = path[-1].key
  if name == "scale":
    return np.ones(leaf.shape, np.float32)
  if len(leaf.shape) < 2:
    return np.zeros(leaf.shape, np.float32)
  bound = gain / np.sqrt(np.prod(leaf.shape[:-1]))
  return rng.uniform(-bound, bound, leaf.shape).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _stage2_params(gain):
  rng = np.random.default_rng(0)
  return jax.tree_util.tree_map_with_path(lambda p, leaf: _fill(p, leaf, rng, gain), _shapes("stage2"))


def random_params(stage, gain=1.0):
  """A fresh copy (callers may change it; the cached values stay as made). gain > 1 widens the
  kernels: the output then depends more strongly on far pixels and the prior."""
  params = jax.tree.map(np.copy, _stage2_params(gain))
  return params if stage == "stage2" else {k: params[k] for k in _shapes("stage1")}


def write_checkpoint(directory, stage):
  """A run folder holding one checkpoint of a random `stage` model; returns its path as str."""
  save_params(directory, random_params(stage),
              {"stage": stage, "config": {"model": {}, "eval_chunk": CHUNK}})
  return str(directory)
