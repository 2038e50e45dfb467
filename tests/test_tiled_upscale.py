import numpy as np
import pytest
from PIL import Image

from liifusion_jax.inference import query_grid
from liifusion_jax.tiled_upscale import TiledUpscaler, local_queries
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


def _compare(lr, scale, tile, halo, chunk):
  upscaler = Upscaler("stage2", random_params("stage2"), {}, chunk=chunk)
  out_hw = (round(lr.shape[0] * scale), round(lr.shape[1] * scale))
  whole = upscaler(lr, out_hw, seed=4)
  tiled = TiledUpscaler(upscaler, tile=tile, halo=halo)(lr, out_hw, seed=4)
  return np.abs(tiled - whole).max(), np.abs(tiled - upscaler(lr, out_hw, seed=5)).max()


def test_tiles_decode_like_the_whole_image():
  # The halo spans the image, so this checks the prior pooled over tiles, the feature crops, the
  # sub-tile coordinates and the stitching; the next test checks that HALO is wide enough.
  diff, other_seed = _compare(_lr(20, 28), 2.3, tile=16, halo=80, chunk=256)
  assert diff < 1e-4
  assert other_seed > 1e-3  # the comparison can tell two priors apart


@pytest.mark.slow
def test_default_halo_covers_the_receptive_field():
  diff, _ = _compare(_lr(200, 48), 1.7, tile=24, halo=80, chunk=2048)
  narrow, _ = _compare(_lr(200, 48), 1.7, tile=24, halo=16, chunk=2048)
  print(diff, narrow)
  assert diff < 1e-4
  assert narrow > 1e-3  # a halo short of the receptive field shows
