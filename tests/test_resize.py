import numpy as np
import pytest
from PIL import Image

from liifusion_jax.resize.matlab_pil import imresize_matlab, resize_pil_bicubic, to_uint8

# Keys' cubic (a = -0.5) at the offsets that occur for x2 and x1/2 resizing, worked out by hand.
C25, C75, C125, C175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def test_downscale_by_two_matches_hand_computation():
  # MATLAB x1/2 on [1 2 3 4]: output 1 sits at u = 1.5; the kernel, stretched x2, has 8 taps at
  # source positions -2..5 with weights c(1.75), c(1.25), c(.75), c(.25), c(.25), c(.75), c(1.25),
  # c(1.75) / 2; positions -2, -1, 0, 5 mirror to 3, 2, 1, 4.
  v = np.array([1.0, 2.0, 3.0, 4.0])
  taps = np.array([C175, C125, C75, C25, C25, C75, C125, C175]) / 2
  src = np.array([3, 2, 1, 1, 2, 3, 4, 4]) - 1
  first = np.dot(taps, v[src])
  second = np.dot(taps, v[::-1][src])  # output 2 is the mirror image of output 1
  got = imresize_matlab(np.tile(v[:, None], (1, 3)), 0.5)
  assert got.shape == (2, 2)
  np.testing.assert_allclose(got[:, 0], [first, second], atol=1e-12)
  np.testing.assert_allclose(got, got[:, :1].repeat(2, axis=1), atol=1e-12)


def test_upscale_by_two_matches_hand_computation():
  # Output 1 of x2 sits at u = 0.75: taps at 0, 1, 2 (and -1 mirrored to 2) give
  # (c(.75) + c(.25)) v1 + (c(1.75) + c(1.25)) v2 = 1.09375 v1 - 0.09375 v2.
  v = np.array([[1.0, 2.0, 5.0, 4.0]])
  got = imresize_matlab(v, 2)
  assert got.shape == (2, 8)
  assert got[0, 0] == pytest.approx(1.09375 * 1 - 0.09375 * 2, abs=1e-12)
  # Output 2 at u = 1.25: c(1.25) v0(mirror = v1) + c(.25) v1 + c(.75) v2 + c(1.75) v3.
  assert got[0, 1] == pytest.approx(C125 * 1 + C25 * 1 + C75 * 2 + C175 * 5, abs=1e-12)


@pytest.mark.parametrize("kwargs", [dict(scale=0.5), dict(scale=0.25), dict(scale=2),
                                    dict(output_shape=(37, 43)), dict(output_shape=(150, 111))])
def test_interior_agrees_with_pil_float_bicubic(kwargs):
  # PIL's BICUBIC (mode F, double accumulation) is the same a = -0.5 antialiased filter with the
  # same pixel-centre mapping; only the border differs (PIL clips taps, MATLAB mirrors them).
  x = np.random.default_rng(0).random((80, 96)).astype(np.float32)
  got = imresize_matlab(x, **kwargs)
  pil = np.asarray(Image.fromarray(x).resize(got.shape[::-1], Image.BICUBIC))
  m = 6
  np.testing.assert_allclose(got[m:-m, m:-m], pil[m:-m, m:-m], atol=2e-6)
  assert np.abs(got - pil).max() > 1e-3  # the borders do differ


def test_constant_identity_and_sizes():
  c = np.full((33, 47, 3), 0.37)
  down = imresize_matlab(c, 0.3)
  assert down.shape == (10, 15, 3)  # ceil(0.3 * size)
  np.testing.assert_allclose(down, 0.37, atol=1e-12)
  np.testing.assert_allclose(imresize_matlab(c, output_shape=(70, 20)), 0.37, atol=1e-12)
  x = np.random.default_rng(1).random((13, 17, 3)).astype(np.float32)
  one = imresize_matlab(x, 1)
  assert one.dtype == np.float32
  np.testing.assert_array_equal(one, x)
  u8 = (x * 255).astype(np.uint8)
  np.testing.assert_array_equal(imresize_matlab(u8, 1), u8)
  with pytest.raises(ValueError):
    imresize_matlab(x)


def test_uint8_rounds_after_each_pass_in_matlab_axis_order():
  u8 = np.random.default_rng(2).integers(0, 256, (24, 36, 3), dtype=np.uint8)

  def rows(x, h):
    return imresize_matlab(x, output_shape=(h, x.shape[1]))

  def cols(x, w):
    return imresize_matlab(x, output_shape=(x.shape[0], w))

  got = imresize_matlab(u8, 0.5)
  assert got.dtype == np.uint8
  np.testing.assert_array_equal(got, cols(rows(u8, 12), 18))  # equal scales: rows first
  once = to_uint8(imresize_matlab(u8.astype(np.float64) / 255, 0.5))
  assert not np.array_equal(got, once)  # a single final rounding is a different result
  assert np.abs(got.astype(int) - once).max() <= 1
  # The axis with the smaller scale goes first.
  np.testing.assert_array_equal(imresize_matlab(u8, output_shape=(6, 30)), cols(rows(u8, 6), 30))
  np.testing.assert_array_equal(imresize_matlab(u8, output_shape=(20, 9)), rows(cols(u8, 9), 20))


def test_to_uint8_rounds_half_away_from_zero_and_saturates():
  x = np.array([2.5 / 255, 3.5 / 255, 0.2 / 255, -0.3, 1.4, 1.0])
  np.testing.assert_array_equal(to_uint8(x), [3, 4, 0, 0, 255, 255])


def test_resize_pil_bicubic_truncates_like_to_pil_image():
  img = np.full((20, 20, 3), 0.999, np.float32)  # 254.745 -> 254 (rounding would give 255)
  out = resize_pil_bicubic(img, (7, 9))
  assert out.shape == (7, 9, 3) and out.dtype == np.float32
  np.testing.assert_array_equal(out, np.float32(254) / np.float32(255))


def test_resize_pil_bicubic_is_pil_on_8bit_values():
  u8 = np.random.default_rng(3).integers(0, 256, (50, 40, 3), dtype=np.uint8)
  img = u8.astype(np.float32) / np.float32(255)
  want = np.asarray(Image.fromarray(u8).resize((16, 12), Image.BICUBIC)).astype(np.float32) / 255
  np.testing.assert_array_equal(resize_pil_bicubic(img, (12, 16)), want)
  assert not np.array_equal(resize_pil_bicubic(img, (12, 16)),
                            np.asarray(Image.fromarray(u8).resize((16, 12), Image.BILINEAR)) / 255)
