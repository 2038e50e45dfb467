"""Images larger than one feature canvas, tile by tile: the unpadded model's output to float rounding."""
import numpy as np
import pytest

from liifusion_jax.inference import tiled_upscale
from liifusion_jax.inference.upscaler import Upscaler
from random_checkpoints import random_params
from test_shape_stable import _image, _unpadded


def _tiled_error(lr_hw, out_hw, tile, gain=1.0):
  params = random_params("stage2", gain)
  lr = _image(lr_hw, 0)
  upscaler = Upscaler("stage2", params, {}, chunk=2048, tile=tile)
  assert len(tiled_upscale.feature_windows(lr_hw, tile)) > 1
  want, _ = _unpadded("stage2", params, lr, out_hw, seed=2)
  return np.abs(upscaler(lr, out_hw, seed=2) - want).max()


def test_tiles_equal_the_unpadded_model():
  """256 x 12 LR pixels with 88-pixel tiles: three canvases of 88 + 2 * FEATURE_HALO."""
  assert _tiled_error((256, 12), (333, 16), tile=88) < 1e-5


@pytest.mark.slow
def test_halo_short_of_the_receptive_field_shows(monkeypatch):
  monkeypatch.setattr(tiled_upscale, "FEATURE_HALO", 16)
  # Wider kernels (gain 2): far pixels then weigh enough for a short halo to show.
  assert _tiled_error((120, 12), (150, 16), tile=24, gain=2.0) > 1e-3
