"""models/conv.py: the matmul kernel gradient equals the convolution's, and applies only where meant."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from liifusion_jax.models import conv


def _has_matmul(fn, *args):
  return "dot_general" in str(jax.make_jaxpr(fn)(*args))  # nested jaxprs (lax.map) included


def test_wide_conv_gradients_match_lax():
  kx, kw = jax.random.split(jax.random.PRNGKey(0))
  x = jax.random.normal(kx, (2, 50, 49, 40))
  w = jax.random.normal(kw, (3, 3, 40, 130)) * 0.1  # 40 -> 130 channels on 50 x 48: the matmul path
  padding = ((1, 1), (1, 0))  # uneven, so a wrong shift or slice would show

  def value_and_grads(conv_fn):
    def loss(x, w):
      y = conv_fn(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
      return jnp.sum(jnp.sin(y)), y
    return jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)

  assert _has_matmul(value_and_grads(conv.conv_general_dilated), x, w)
  (_, y_ref), (dx_ref, dw_ref) = jax.jit(value_and_grads(lax.conv_general_dilated))(x, w)
  (_, y), (dx, dw) = jax.jit(value_and_grads(conv.conv_general_dilated))(x, w)
  np.testing.assert_array_equal(y, y_ref)  # lax's forward pass and input gradient, untouched
  np.testing.assert_array_equal(dx, dx_ref)
  # The exact sums in float64, from the same output gradient cos(y): both float32 results must be
  # as close to them as float32 summation allows (about 1e-6 of the largest entry here).
  g = np.cos(np.asarray(y_ref, np.float64))
  x_pad = np.pad(np.asarray(x, np.float64), ((0, 0), *padding, (0, 0)))
  exact = np.stack([np.stack([np.einsum("bhwc,bhwo->co", x_pad[:, i:i + g.shape[1], j:j + g.shape[2]], g)
                              for j in range(3)]) for i in range(3)])
  scale = np.max(np.abs(exact))
  assert scale > 10.0
  for result in (dw, dw_ref):
    assert np.max(np.abs(np.asarray(result, np.float64) - exact)) < 1e-5 * scale


def test_flax_conv_keeps_params_and_falls_back_where_it_does_not_apply():
  big, small = (jax.ShapeDtypeStruct((1, n, n, 65), jnp.float32) for n in (48, 24))
  for x, strides, features, matmul in ((big, 1, 70, True), (big, 2, 70, False), (big, 1, 63, False),
                                       (small, 1, 70, False)):
    layer = nn.Conv(features, (3, 3), strides=strides, padding=1,
                    conv_general_dilated=conv.conv_general_dilated)
    params = jax.eval_shape(layer.init, jax.random.PRNGKey(0), x)  # shapes only: nothing compiles
    plain = nn.Conv(features, (3, 3), strides=strides, padding=1)
    assert params == jax.eval_shape(plain.init, jax.random.PRNGKey(0), x)
    grad = jax.grad(lambda p, x: jnp.sum(layer.apply(p, x) ** 2))
    assert _has_matmul(grad, params, x) == matmul
