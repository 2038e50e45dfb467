import numpy as np
import pytest
from PIL import Image

from liifusion_jax.inference import query_grid
from liifusion_jax.tiled_upscale import HALO, TiledUpscaler, local_queries
from liifusion_jax.upscaler import Upscaler
from random_checkpoints import random_params


def _lr(h, w, seed=0):
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (h // 4 + 2, w // 4 + 2, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.float32) / 255


def test_local_queries_of_the_whole_image_are_the_query_grid():
  coord, cell = local_queries(np.arange(37), np.arange(50), (0, 15), (0, 20), (15, 20), (37, 50))
  want_coord, want_cell = query_grid(37, 50)
  np.testing.assert_allclose(coord, want_coord, atol=1e-7)
  np.testing.assert_allclose(cell, want_cell, rtol=1e-6)


def test_local_queries_keep_lr_positions_and_cell_sizes():
  lr_hw, out_hw, crop_y, crop_x = (30, 40), (71, 93), (6, 19), (17, 40)
  coord, cell = local_queries(np.arange(20, 40), np.arange(50, 93), crop_y, crop_x, lr_hw, out_hw)
  full_coord, full_cell = query_grid(*out_hw)
  full_coord = full_coord.reshape(*out_hw, 2)[20:40, 50:93].reshape(1, -1, 2)
  for axis, (a, b), n in zip((0, 1), (crop_y, crop_x), lr_hw):
    # LR pixel positions ((c + 1) * size - 1) / 2, in crop pixels plus the crop's offset.
    local = ((coord[..., axis].astype(np.float64) + 1) * (b - a) - 1) / 2 + a
    np.testing.assert_allclose(local, ((full_coord[..., axis] + 1) * n - 1) / 2, atol=2e-5)
    np.testing.assert_allclose(cell[..., axis] * (b - a), full_cell[0, 0, axis] * n, rtol=1e-6)


# With these widened random weights, moving every query coordinate by one float32 ulp already changes
# the output by ~2.6e-4: the tiles' own coordinate frames cost that much, no more.
ROUNDING = 1e-3


def _compare(lr, scale, tile, halo, chunk):
  """(max |tiled - whole|, max |tiled - whole with another seed|)."""
  upscaler = Upscaler("stage2", random_params("stage2", gain=2.0), {}, chunk=chunk)
  out_hw = (round(lr.shape[0] * scale), round(lr.shape[1] * scale))
  whole = upscaler(lr, out_hw, seed=4)
  tiled = TiledUpscaler(upscaler, tile=tile, halo=halo).upscale_tiles(lr, out_hw, seed=4)
  return np.abs(tiled - whole).max(), np.abs(tiled - upscaler(lr, out_hw, seed=5)).max()


def test_tiles_decode_like_the_whole_image():
  # The halo spans the image, so this checks the prior pooled over tiles, the feature crops, the
  # sub-tile coordinates and the stitching; the next test checks that HALO is wide enough.
  diff, other_seed = _compare(_lr(16, 24), 2.3, tile=8, halo=HALO, chunk=256)
  assert diff < ROUNDING
  assert other_seed > 0.1  # the comparison tells two priors apart


@pytest.mark.slow
def test_default_halo_covers_the_receptive_field():
  diff, _ = _compare(_lr(200, 48), 1.7, tile=24, halo=HALO, chunk=2048)
  narrow, _ = _compare(_lr(200, 48), 1.7, tile=24, halo=16, chunk=2048)
  assert diff < ROUNDING
  assert narrow > 0.05  # a halo short of the receptive field shows
