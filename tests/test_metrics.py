import math

import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.evaluation.metrics import psnr, shave_size

Y_SUM = (65.738 + 129.057 + 25.064) / 256


def _image(h=24, w=20, n=None, seed=0):
  shape = (h, w, 3) if n is None else (n, h, w, 3)
  return np.random.default_rng(seed).uniform(0.2, 0.8, shape)


def test_constant_offset_div2k_is_rgb():
  gt = _image()
  assert psnr(gt + 0.1, gt, scale=2, protocol="div2k") == pytest.approx(20.0, abs=1e-9)


def test_constant_offset_benchmark_is_luma():
  gt = _image(n=2)
  expected = -20 * math.log10(0.1 * Y_SUM)
  assert psnr(gt + 0.1, gt, scale=4) == pytest.approx(expected, abs=1e-9)


def test_luma_of_an_offset_that_cancels_in_y():
  # An offset orthogonal to the Y weights leaves the benchmark PSNR infinite but not the RGB one.
  gt = _image()
  direction = np.array([129.057, -65.738, 0.0]) * 1e-4
  assert psnr(gt + direction, gt, scale=2, protocol="benchmark") > 150
  assert psnr(gt + direction, gt, scale=2, protocol="div2k") < 100


def test_known_mse_value():
  gt = np.full((1, 10, 10, 3), 0.5)
  pred = gt.copy()
  pred[0, 4, 5, :] = 0.5 + 0.25  # one pixel off by 0.25 in RGB; shave 1 leaves 8x8 pixels
  mse = (0.25 * Y_SUM) ** 2 / 64
  assert psnr(pred, gt, scale=1) == pytest.approx(-10 * math.log10(mse), abs=1e-9)


@pytest.mark.parametrize("protocol,scale,shave", [("benchmark", 2, 2), ("benchmark", 2.5, 3),
                                                 ("div2k", 3, 9), ("div2k", 1.2, 8)])
def test_shave_excludes_corrupted_border(protocol, scale, shave):
  assert shave_size(scale, protocol) == shave
  gt = _image(h=40, w=36)
  pred = gt + 0.05
  clean = psnr(pred, gt, scale=scale, protocol=protocol)
  bad = pred.copy()
  bad[:shave] = bad[-shave:] = 1.0
  bad[:, :shave] = bad[:, -shave:] = 0.0
  assert psnr(bad, gt, scale=scale, protocol=protocol) == pytest.approx(clean, abs=1e-9)
  bad[shave, shave] = 1.0  # first pixel inside the border counts
  assert psnr(bad, gt, scale=scale, protocol=protocol) < clean - 0.01


def test_inputs_are_clipped_and_jax_arrays_accepted():
  gt = np.zeros((20, 20, 3))
  pred = np.full((20, 20, 3), 2.0)  # clipped to 1 -> difference 1 -> 0 dB in RGB
  assert psnr(jnp.asarray(pred), jnp.asarray(gt), scale=1, protocol="div2k") == pytest.approx(0.0, abs=1e-9)


def test_batch_uses_one_mse():
  gt = _image(n=2)
  pred = gt.copy()
  pred[0] += 0.1
  expected = -10 * math.log10((0.1 ** 2) / 2)
  assert psnr(pred, gt, scale=2, protocol="div2k") == pytest.approx(expected, abs=1e-9)


def test_identical_is_infinite():
  gt = _image()
  assert psnr(gt, gt, scale=2) == math.inf


def test_unknown_protocol_lists_valid_ones():
  with pytest.raises(ValueError, match="benchmark, div2k"):
    psnr(_image(), _image(), scale=2, protocol="set5")


def test_bad_shapes_raise():
  with pytest.raises(ValueError):
    psnr(_image(), _image(h=12), scale=2)
  with pytest.raises(ValueError):
    psnr(_image(h=8, w=8), _image(h=8, w=8), scale=2, protocol="div2k")
