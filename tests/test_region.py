"""Region decode: windows of an image encoded once equal the same crops of the full upscaling, at any
output size, and compile nothing beyond the full upscaling's programs."""
import numpy as np
import pytest

from liifusion_jax.inference import region, tiled_upscale
from liifusion_jax.inference.upscaler import Upscaler
from test_shape_stable import _LOWERED, _events, _image

# (output size, windows ((top, left), (bottom, right))) per stage: windows across tile edges, at the
# borders, of one pixel, the whole output.
CASES = {
    "stage1": [((30, 40), [((3, 5), (17, 33)), ((0, 0), (30, 40)), ((29, 39), (30, 40))]),
               ((37, 50), [((0, 20), (37, 23)), ((10, 0), (25, 50))])],
    "stage2": [((30, 600), [((3, 190), (17, 410)), ((0, 0), (30, 600)), ((29, 599), (30, 600))]),
               ((37, 739), [((0, 398), (37, 402)), ((10, 0), (25, 300))])],
}


@pytest.mark.parametrize("stage, lr_hw, tile", [("stage1", (13, 17), None), ("stage2", (12, 240), 80)])
def test_windows_equal_crops_of_the_full_upscaling(stage, lr_hw, tile):
  """The bundled models. Stage 2 on three 80-pixel tiles (windows across their edges); stage 1 on one
  canvas, its prior from an HR image whose size is not the output's (the encoding does not depend
  on that size)."""
  upscaler = Upscaler.pretrained(stage, chunk=256, tile=tile)
  lr = _image(lr_hw, 0)
  hr = _image((26, 34), 1) if stage == "stage1" else None
  assert len(tiled_upscale.feature_windows(lr_hw, tile)) == (3 if tile else 1)
  encoded = region.encode(upscaler, lr, hr, seed=3)
  full = {out_hw: upscaler(lr, out_hw, hr01=hr, seed=3) for out_hw, _ in CASES[stage]}
  before = _events[_LOWERED]
  for out_hw, windows in CASES[stage]:
    for (top, left), (bottom, right) in windows:
      got = region.decode(upscaler, encoded, out_hw, ((top, left), (bottom, right)))
      want = full[out_hw][top:bottom, left:right]
      assert got.shape == want.shape
      assert np.abs(got - want).max() <= 1e-6
  assert _events[_LOWERED] == before  # no program per window or output size
  assert full[CASES[stage][0][0]].std() > 0.05  # a telling comparison: the output is not flat


def test_the_encoding_depends_on_the_seed():
  upscaler = Upscaler.pretrained("stage2", chunk=256, tile=None)
  lr = _image((9, 11), 0)
  window = ((2, 3), (9, 20))
  a, b = (region.decode(upscaler, region.encode(upscaler, lr, seed=s), (18, 22), window) for s in (0, 1))
  assert np.abs(a - b).max() > 1e-3
  assert region.encode(upscaler, lr).nbytes == 40 * 40 * 256 * 4  # one 40-pixel canvas of 256 channels


@pytest.mark.parametrize("window", [((0, 0), (0, 5)), ((3, 4), (2, 9)), ((-1, 0), (4, 4)), ((0, 0), (5, 23))])
def test_a_window_outside_the_output_is_refused(window):
  with pytest.raises(ValueError, match="is not a non-empty part of a 22x18 output"):
    region.check_window((18, 22), window)
