"""A drop-in `lax.conv_general_dilated` whose kernel gradient is a matmul on XLA:CPU.

XLA:CPU computes the kernel gradient of a convolution (backprop-filter) as another convolution that
is several times slower than the forward pass when a layer widens on a large map: forward + backward
of a 128 -> 256 3x3 conv on 4 x 128 x 128 (the prior encoder's last layer) take 2.9x the time of this
version, single-threaded (benchmarks/README.md). The same sums, dW[dy, dx] = sum over pixels of
x_pad[p + (dy, dx)] dY[p]^T, are here a matmul per kernel row of the input's shifted copies (kernel
width of them stacked, channel-major) with the output gradient, one image at a time: equal up to
float summation order. The forward pass and the input gradient are lax's own, so outputs are
bit-identical.
Used only where it measured faster: on CPU, stride 1, no dilation or groups, NHWC / HWIO, at least as
many output as input channels, more than 64 x 64 of them, maps of 48 x 48 pixels or more; XLA's own
is faster on narrowing layers and small maps (the discriminator's), and everything else goes to lax.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_NHWC = lax.ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
_MIN_WIDTH = 64 * 64  # in x out channels: at 64 -> 64 XLA's own kernel gradient is the faster one
_MIN_PIXELS = 48 * 48  # output pixels per image: on 24 x 24 maps and below XLA's own is faster


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
  """`lax.conv_general_dilated`, same signature; see the module docstring for when it differs."""
  def is_ones(v):
    return v is None or all(int(s) == 1 for s in v)

  def out_pixels():
    return np.prod([size + lo + hi - k + 1 for size, (lo, hi), k in zip(lhs.shape[1:3], padding,
                                                                         rhs.shape[:2])])

  plain = (jax.default_backend() == "cpu" and rhs.ndim == 4 and lhs.ndim == 4
           and rhs.shape[2] * rhs.shape[3] > _MIN_WIDTH and rhs.shape[3] >= rhs.shape[2]
           and is_ones(window_strides) and is_ones(lhs_dilation) and is_ones(rhs_dilation)
           and feature_group_count == 1 and batch_group_count == 1 and preferred_element_type is None
           and not isinstance(padding, str) and all(lo >= 0 and hi >= 0 for lo, hi in padding)
           and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) == _NHWC
           and out_pixels() >= _MIN_PIXELS)
  if plain:
    return _conv(lhs, rhs, tuple((int(lo), int(hi)) for lo, hi in padding), precision)
  return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                  dimension_numbers, feature_group_count, batch_group_count,
                                  precision, preferred_element_type)


def _lax_conv(x, w, padding, precision):
  return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=_NHWC, precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(x, w, padding, precision):
  return _lax_conv(x, w, padding, precision)


def _conv_fwd(x, w, padding, precision):
  return _lax_conv(x, w, padding, precision), (x, w)


def _kernel_grad(x_pad, grad, kh, kw):
  """sum over pixels of the (kh, kw) shifted copies of one image x_pad (H', W', C_in) times its
  grad (H, W, C_out): (kh, kw, C_in, C_out). Channel-major copies make each kernel row a plain
  (kw C_in, H W) x (H W, C_out) matmul, which XLA:CPU runs faster than contracting both operands'
  leading axes."""
  out_h, out_w, cout = grad.shape
  x_cm = x_pad.transpose(2, 0, 1)
  grad_rows = grad.reshape(-1, cout)
  rows = []
  for dy in range(kh):
    shifted = jnp.stack([x_cm[:, dy:dy + out_h, dx:dx + out_w] for dx in range(kw)])
    rows.append(shifted.reshape(-1, out_h * out_w) @ grad_rows)
  return jnp.stack(rows).reshape(kh, kw, -1, cout)


def _conv_bwd(padding, precision, residuals, grad):
  x, w = residuals
  _, input_vjp = jax.vjp(lambda v: _lax_conv(v, w, padding, precision), x)
  (dx,) = input_vjp(grad)
  kh, kw = w.shape[:2]
  x_pad = jnp.pad(x, ((0, 0), *padding, (0, 0)))
  # One image at a time: the shifted copies of a whole batch would take several times its memory
  # (and the smaller matmuls are no slower).
  per_image = lax.map(lambda xg: _kernel_grad(xg[0], xg[1], kh, kw), (x_pad, grad))
  return dx, jnp.sum(per_image, axis=0).astype(w.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)
