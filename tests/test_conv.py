"""models/conv.py: the networks' convolutions are lax's, with the kernel gradient computed another way on
CPU; values and both gradients agree with lax's (bit for bit here, within float rounding anywhere)."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from liifusion_jax.models import conv as conv_module
from liifusion_jax.models.init import Conv


def _lax_conv(x, kernel, strides, padding):
  return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=conv_module.NHWC)


def _value_and_grads(fn, x, kernel):
  loss = lambda x, kernel: jnp.sum(jnp.sin(fn(x, kernel).astype(jnp.float32)))
  return jax.jit(fn)(x, kernel), jax.jit(jax.grad(loss, (0, 1)))(x, kernel)


def _assert_close(ours, want, dtype):
  scale = float(jnp.max(jnp.abs(want.astype(jnp.float32))))
  tol = 1e-6 if dtype == jnp.float32 else 1e-2
  np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(want, np.float32), rtol=0,
                             atol=tol * scale)


@pytest.mark.parametrize("shape, kernel_size, padding, dtype", [
    ((2, 9, 7, 5, 6), 3, ((1, 1), (1, 1)), jnp.float32),  # the networks' 3x3 'same' layers
    ((1, 8, 12, 3, 4), 3, ((1, 2), (0, 1)), jnp.float32),  # uneven padding
    ((2, 11, 9, 3, 5), 4, ((2, 1), (1, 2)), jnp.float32),
    ((3, 6, 6, 4, 4), 1, ((0, 0), (0, 0)), jnp.float32),
    ((2, 10, 10, 8, 16), 3, ((1, 1), (1, 1)), jnp.bfloat16),  # mixed precision
])
def test_values_and_gradients_are_lax_s(shape, kernel_size, padding, dtype):
  b, h, w, cin, cout = shape
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((b, h, w, cin)), dtype)
  kernel = jnp.asarray(rng.standard_normal((kernel_size, kernel_size, cin, cout)), dtype)
  ours = _value_and_grads(lambda x, k: conv_module.conv(x, k, (1, 1), padding), x, kernel)
  want = _value_and_grads(lambda x, k: _lax_conv(x, k, (1, 1), padding), x, kernel)
  for got, expected in zip(jax.tree.leaves(ours), jax.tree.leaves(want)):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    _assert_close(got, expected, dtype)
  np.testing.assert_array_equal(np.asarray(ours[0], np.float32), np.asarray(want[0], np.float32))  # lax's own


def test_the_cpu_kernel_gradient_is_a_valid_convolution_of_the_padded_input():
  if jax.default_backend() != "cpu":
    pytest.skip("the padded kernel gradient is lowered on CPU only")
  x, kernel = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
  grad = jax.jit(jax.grad(lambda k: jnp.sum(conv_module.conv(x, k, (1, 1), ((1, 1), (1, 1))))))
  text = grad.lower(kernel).compile().as_text()
  assert "window={size=8x8}" in text  # VALID over the padded 10 x 10 input
  assert "window={size=8x8 pad=1_1x1_1}" not in text  # XLA's own transpose


def test_other_convolutions_are_lax_s_unchanged():
  x, kernel = jnp.ones((1, 8, 8, 3)), jnp.ones((4, 4, 3, 2))
  strided = jax.make_jaxpr(lambda x: conv_module.conv(x, kernel, (2, 2), ((1, 1), (1, 1))))(x)
  assert [e.primitive.name for e in strided.eqns] == ["conv_general_dilated"]
  oihw = jnp.ones((2, 3, 3, 3))
  nchw = jax.make_jaxpr(lambda x: conv_module.conv(x, oihw, (1, 1), ((1, 1), (1, 1)), dimension_numbers=None))
  assert [e.primitive.name for e in nchw(jnp.ones((1, 3, 8, 8))).eqns] == ["conv_general_dilated"]


def test_flax_conv_uses_it_with_the_same_params():
  x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 6, 6, 3)), jnp.float32)
  plain = functools.partial(nn.Conv, kernel_init=Conv.keywords["kernel_init"])
  for layer in (Conv(4, (3, 3), padding=1), plain(4, (3, 3), padding=1)):
    params = layer.init(jax.random.PRNGKey(0), x)
    assert jax.tree.map(jnp.shape, params) == {"params": {"kernel": (3, 3, 3, 4), "bias": (4,)}}
  ours, want = (jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x) ** 2))(params)
                for m in (Conv(4, (3, 3), padding=1), plain(4, (3, 3), padding=1)))
  for got, expected in zip(jax.tree.leaves(ours), jax.tree.leaves(want)):
    _assert_close(got, expected, jnp.float32)
