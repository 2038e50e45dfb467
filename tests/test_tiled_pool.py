"""tiled_pool: an encoder's global average pool built from tiles is the whole image's; stage-1
upscaling, whose HR prior is pooled that way, gives what the model gives applied at once."""
import jax.numpy as jnp
import numpy as np

from liifusion_jax import xla_options
from liifusion_jax.data.images import normalise
from liifusion_jax.inference import tiled_pool
from liifusion_jax.inference import upscaler as upscaler_module
from liifusion_jax.inference.chunked_decode import query_grid, to_image
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.models.factory import build_model
from random_checkpoints import random_params


def _relative_error(a, b):
  return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b)))


def test_tiles_pool_like_the_whole_image(monkeypatch):
  model, params = build_model("stage1", {}), random_params("stage1", gain=2.0)
  image = np.random.default_rng(0).uniform(-1, 1, (1, 70, 53, 6)).astype(np.float32)
  act = model.apply({"params": params}, image, method=lambda m, x: m.prior_encoder.activations(x))
  whole = jnp.mean(act, axis=(1, 2))
  total = tiled_pool.activation_sum(model, "prior_encoder")
  assert _relative_error(tiled_pool.pooled_in_tiles(total, params, image, tile=8), whole) < 1e-5
  monkeypatch.setattr(tiled_pool, "POOL_HALO", 4)  # short of the eleven convs' reach: the tiles show
  assert _relative_error(tiled_pool.pooled_in_tiles(total, params, image, tile=8), whole) > 1e-3


def test_stage1_upscaler_with_a_tiled_prior_is_the_model(monkeypatch):
  monkeypatch.setattr(upscaler_module, "PRIOR_TILE", 8)  # 48 x 40 HR: tiles in both directions
  params = random_params("stage1", gain=2.0)
  rng = np.random.default_rng(1)
  lr, hr = (rng.uniform(0, 1, (*hw, 3)).astype(np.float32) for hw in ((12, 10), (48, 40)))
  upscaler = Upscaler("stage1", params, {}, chunk=1000)
  coord, cell = query_grid(48, 40)
  model = build_model("stage1", {})
  # Compiled as the upscaler's programs are (xla_options), so the two differ by the tiling alone.
  pred = xla_options.jit(model.apply)({"params": params}, normalise(lr[None]), normalise(hr[None]), coord, cell)
  want = to_image(np.asarray(pred), 48, 40)[0]
  assert np.max(np.abs(upscaler(lr, (48, 40), hr01=hr) - want)) < 1e-4
  assert np.max(np.abs(upscaler(lr, (48, 40), hr01=hr[::-1]) - want)) > 1e-3  # the prior matters
