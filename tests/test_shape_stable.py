"""Shape-stable inference: images of any size run on a few canvas sides, give the unpadded model's
output to float rounding, and compile a bounded number of programs however many sizes come."""
import collections

import jax
import numpy as np
import pytest

from liifusion_jax.data.images import normalise
from liifusion_jax.inference import canvas, tiled_upscale
from liifusion_jax.inference.chunked_decode import query_grid, to_image
from liifusion_jax.inference.upscaler import Upscaler, prior_noise
from liifusion_jax.models.factory import build_model
from random_checkpoints import random_params

# Every new program is lowered once, whether XLA then compiles it or loads it from the disk cache.
_LOWERED = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_events = collections.Counter()
jax.monitoring.register_event_duration_secs_listener(lambda event, _, **__: _events.update([event]))


def _image(hw, seed):
  return np.random.default_rng(seed).uniform(0, 1, (*hw, 3)).astype(np.float32)


def _unpadded(stage, params, lr, out_hw, seed):
  """The model applied at once to the image at its own size (the reference's computation)."""
  model = build_model(stage, {})
  coord, cell = query_grid(*out_hw)
  if stage == "stage1":
    hr = _image(out_hw, seed)
    pred = model.apply({"params": params}, normalise(lr[None]), normalise(hr[None]), coord, cell)
  else:
    hr = None
    pred = model.apply({"params": params}, normalise(lr[None]), coord, cell, prior_noise(seed, model.prior_dim))
  return to_image(np.asarray(pred), *out_hw)[0], hr


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 16, 21])
@pytest.mark.parametrize("offset", [0, -16, 8])
def test_frame_indexes_the_padded_and_rolled_map(n, offset):
  """On a canvas at `offset`, the frame's gathers give numpy's reflect padding and jnp.roll's shift."""
  side = 48
  positions = offset + np.arange(side)  # the image position held at each canvas index
  axis = canvas.frame((n, n), (offset, offset), side)
  n_pad = canvas.padded_size(n)
  in_map = (positions >= 0) & (positions < n_pad)
  padded = np.pad(np.arange(n), (0, n_pad - n), mode="reflect")
  rolled = np.roll(np.arange(n_pad), -4)
  for key, source in (("reflect", padded), ("roll", rolled)):
    src = source[np.clip(positions, 0, n_pad - 1)]
    check = in_map & (src >= offset) & (src < offset + side)  # sources held by the canvas
    np.testing.assert_array_equal(positions[getattr(axis, key)[0]][check], src[check])
  assert canvas.side(n_pad) % canvas.WINDOW == 0 and canvas.side(n_pad) >= n_pad


def test_a_feature_canvas_holds_a_bucket_sized_image_and_its_padding():
  """The injector pads a side of 128 to 136: the canvas is 136 a side, not the next bucket (192,
  2.25x the pixels), and every feature canvas side is whole windows."""
  sides = tiled_upscale.feature_sides(384)
  assert all(s % canvas.WINDOW == 0 for s in sides)
  for n in (b for b in canvas.BUCKETS if b <= 384):
    [(_, side, _, _)] = tiled_upscale.feature_windows((n, n // 2 + 3), 384)
    assert side == n + canvas.WINDOW and side in sides
  [(_, side, _, _)] = tiled_upscale.feature_windows((136, 20), 384)  # padded to 144
  assert side == 200


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_canvas_equals_the_unpadded_model(stage):
  # 16 x 11: a height already a multiple of the window (the reference pads a whole window).
  params = random_params(stage)
  upscaler = Upscaler(stage, params, {}, chunk=700)
  for i, (lr_hw, scale) in enumerate((((16, 11), 2.5), ((13, 30), 3.0))):
    lr = _image(lr_hw, i)
    out_hw = tuple(round(v * scale) for v in lr_hw)
    want, hr = _unpadded(stage, params, lr, out_hw, seed=i)
    got = upscaler(lr, out_hw, hr01=hr, seed=i)
    assert np.abs(got - want).max() < 1e-5
    assert np.abs(upscaler(lr[::-1], out_hw, hr01=hr, seed=i) - want).max() > 1e-3  # a telling comparison


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_programs_compiled_are_bounded(stage):
  """8 LR sizes x 3 scales compile at most `max_programs`; 8 more sizes on the same canvas sides
  compile nothing."""
  upscaler = Upscaler(stage, random_params(stage), {}, chunk=512)

  def run(sizes):
    before = _events[_LOWERED]
    for i, lr_hw in enumerate(sizes):
      for scale in (2.0, 3.3, 4.0):
        out_hw = tuple(round(v * scale) for v in lr_hw)
        upscaler(_image(lr_hw, i), out_hw, hr01=_image(out_hw, i) if stage == "stage1" else None, seed=i)
    return _events[_LOWERED] - before

  first = run([(9, 9), (10, 17), (23, 12), (16, 16), (5, 21), (19, 22), (12, 7), (24, 20)])
  assert 0 < first <= upscaler.max_programs()
  assert run([(11, 9), (10, 15), (21, 12), (16, 8), (5, 20), (19, 23), (12, 6), (20, 20)]) == 0


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_self_ensemble_adds_no_programs_and_is_equivariant(stage):
  """The 8 flipped and turned images (a turn swaps H and W) run on the square canvases of the image
  itself: after plain upscalings the ensemble compiles nothing. The ensemble of a turned image is the
  ensemble turned (each transform's stage-2 noise is the same), which the model alone is not."""
  upscaler = Upscaler(stage, random_params(stage), {}, chunk=512)
  cases = [((10, 17), (20, 34), 0), ((23, 12), (76, 40), 1)]
  hr = lambda out_hw, i: _image(out_hw, i) if stage == "stage1" else None
  before = _events[_LOWERED]
  plain = [upscaler(_image(lr_hw, i), out_hw, hr(out_hw, i), seed=i) for lr_hw, out_hw, i in cases]
  assert 0 < _events[_LOWERED] - before <= upscaler.max_programs()
  before = _events[_LOWERED]
  lr_hw, out_hw, i = cases[0]
  lr, hr_image = _image(lr_hw, i), hr(out_hw, i)
  turn = lambda image: None if image is None else np.ascontiguousarray(np.rot90(image))
  ensemble = upscaler(lr, out_hw, hr_image, seed=i, self_ensemble=True)
  turned = upscaler(turn(lr), out_hw[::-1], turn(hr_image), seed=i, self_ensemble=True)
  upscaler(_image(cases[1][0], 1), cases[1][1], hr(cases[1][1], 1), seed=1, self_ensemble=True)
  assert _events[_LOWERED] == before
  assert np.abs(turned - np.rot90(ensemble)).max() < 1e-5
  model_turned = upscaler(turn(lr), out_hw[::-1], turn(hr_image), seed=i)
  assert np.abs(model_turned - np.rot90(plain[0])).max() > 1e-3  # a telling comparison
  assert np.abs(ensemble - plain[0]).max() > 1e-3
