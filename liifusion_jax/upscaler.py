"""Arbitrary-scale upscaling of one image with a trained model, for validation, eval.py and upscale.py.

Stage 1 needs the HR image (its prior comes from it: the paper's stage-1 tables); stage 2 samples the
prior from noise with a seedable key and needs only the LR image.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from liifusion_jax import inference, tiled_pool
from liifusion_jax.checkpoints import PRETRAINED, load_params
from liifusion_jax.models.stage1 import LIIFusionStage1, make_prior_input
from liifusion_jax.models.stage2 import LIIFusionStage2
from liifusion_jax.train import sharding

PRIOR_DIM = 256
DEFAULT_CHUNK = 30000  # queries per decoder call: the reference's eval_bsize
PRIOR_TILE = 512  # HR pixels per tile side of the stage-1 prior encoder: ~0.5 GB of activations


def build_model(stage, model_config):
  """The network of a stage from a config's `model` section (a dict or ConfigDict)."""
  options = dict(model_config)
  if stage == "stage1":
    return LIIFusionStage1(**options)
  if stage == "stage2":
    return LIIFusionStage2(**options)
  raise ValueError(f"unknown stage {stage!r} (expected stage1 or stage2)")


def prior_noise(seed):
  """z_T (1, 256) of the stage-2 sampler for a seed: the same seed, the same sampled prior."""
  return jax.random.normal(jax.random.PRNGKey(seed), (1, PRIOR_DIM), jnp.float32)


def normalise(x):
  """[0, 1] images to the networks' [-1, 1]."""
  return (x - 0.5) / 0.5


class Upscaler:
  """`upscaler(lr01, (H, W), hr01=None, seed=0)` -> (H, W, 3) float32 in [0, 1].

  Uses every local device: the params are replicated on them and each chunk of queries is split
  across them (one device: the same path). Setting `params` accepts a training state's (possibly
  multi-process or sharded) params; with params split across processes every process must set them.
  """

  def __init__(self, stage, params, model_config, chunk=DEFAULT_CHUNK):
    self.stage = stage
    self.chunk = int(chunk)
    self.mesh = sharding.local_mesh()
    self.params = params
    self.model = build_model(stage, model_config)
    model = self.model
    if stage == "stage1":
      # The prior encoder runs on the HR image: tile by tile, its memory stays bounded at any scale.
      self._prior_input = jax.jit(make_prior_input)
      self._prior_sum = tiled_pool.activation_sum(model, "prior_encoder")
      self._encode = jax.jit(lambda p, lr, pooled, scale: model.apply(
          {"params": p}, lr, pooled, scale,
          method=lambda m, lr, pooled, scale: m.inject(m.features(lr), m.prior_from_pooled(pooled, scale))))
    else:
      self._encode = jax.jit(lambda p, lr, noise: model.apply({"params": p}, lr, noise,
                                                              method=model.encode))
    # The decoder's first layer on the features runs once per image, not once per chunk of queries.
    self._project = jax.jit(lambda p, feat: model.apply({"params": p}, feat,
                                                        method=lambda m, f: m.decoder.project(f)))
    query = lambda p, grid, coord, cell: model.apply(
        {"params": p}, grid, coord, cell, method=lambda m, g, c, s: m.decoder.query(g, c, s))
    # Queries are independent given the features: each device decodes its slice of the chunk.
    queries = P(None, sharding.AXIS)
    self._query = jax.jit(jax.shard_map(query, mesh=self.mesh, in_specs=(P(), P(), queries, queries),
                                        out_specs=queries))

  @classmethod
  def from_checkpoint(cls, path, chunk=None):
    """The upscaler of a run folder, checkpoint, inference file or `pretrained:NAME`; `chunk`
    defaults to the run's `eval_chunk`."""
    params, meta = load_params(path)
    config = meta.get("config", {})
    return cls(meta["stage"], params, config.get("model", {}),
               chunk=chunk or config.get("eval_chunk") or DEFAULT_CHUNK)

  @classmethod
  def pretrained(cls, name="stage2", chunk=None):
    """A bundled model: `Upscaler.pretrained()(lr01, (H, W), seed=0)` upscales with no checkpoint."""
    return cls.from_checkpoint(PRETRAINED + name, chunk)

  @property
  def params(self):
    return self._params

  @params.setter
  def params(self, params):
    self._params = sharding.to_local(params, self.mesh)

  def features(self, lr01, hr01=None, seed=0):
    lr = normalise(jnp.asarray(lr01, jnp.float32)[None])
    if self.stage == "stage1":
      if hr01 is None:
        raise ValueError("a stage-1 model needs the HR image for its prior; use a stage-2 checkpoint "
                         "to upscale images without HR")
      hr = normalise(jnp.asarray(hr01, jnp.float32)[None])
      prior_in = np.asarray(self._prior_input(lr, hr))
      pooled = tiled_pool.pooled_in_tiles(self._prior_sum, self.params, prior_in, PRIOR_TILE)
      scale = jnp.asarray([[hr.shape[1] / lr.shape[1], hr.shape[2] / lr.shape[2]]], jnp.float32)
      return self._encode(self.params, lr, pooled, scale)
    return self._encode(self.params, lr, prior_noise(seed))

  def __call__(self, lr01, out_hw, hr01=None, seed=0):
    height, width = (int(v) for v in out_hw)
    coord, cell = inference.query_grid(height, width)
    rgb = self.decode(self.features(lr01, hr01, seed), coord, cell)
    return inference.to_image(rgb, height, width)[0]

  def decode(self, feat, coord, cell, chunk=None):
    """The decoder's RGB in [-1, 1] (B, Q, 3) at coord / cell (B, Q, 2), `chunk` queries (default
    `self.chunk`, rounded up to whole per-device slices) per call, split across the local devices."""
    devices = self.mesh.size
    chunk = -(-min(chunk or self.chunk, coord.shape[1]) // devices) * devices
    query = lambda g, c, s: self._query(self.params, g, c, s)
    return inference.decode_in_chunks(query, self._project(self.params, feat), coord, cell, chunk)
