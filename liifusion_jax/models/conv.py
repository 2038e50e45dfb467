"""Convolutions whose kernel gradient XLA:CPU computes faster, with the same values bit for bit.

XLA differentiates a convolution's kernel as the same convolution with its zero padding inside the
window, and Eigen packs image patches that reach into padding more slowly. Padding the input
beforehand and convolving VALID gives the same sums in the same order, up to 1.7x faster for our 3x3
layers (a stage-1 step 7-10% faster; benchmarks/README.md, "The training step on CPU, 2026-12-06").
Only the kernel gradient of stride-1 convolutions changes, and only on CPU (`lax.platform_dependent`:
other backends lower XLA's own); the forward pass and the input gradient are lax's own. `conv` serves
the networks' Flax convolutions (`Conv` in models/init.py) and the discriminator's spectral-norm ones.
"""
import functools

import jax
import jax.numpy as jnp
from jax import lax

NHWC = ("NHWC", "HWIO", "NHWC")
# The kernel gradient as a convolution: the input's channels are its batch, the images its input
# features, and the output gradient is its kernel (images in, output channels out).
_KERNEL_GRADIENT = ("CHWN", "IHWO", "NHWC")


def _conv(x, kernel, padding):
  return lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=NHWC)


def _kernel_gradient_padded(x, g, padding):
  padded = jnp.pad(x, ((0, 0), *padding, (0, 0)))
  grad = lax.conv_general_dilated(padded, g, (1, 1), "VALID", dimension_numbers=_KERNEL_GRADIENT)
  return grad.transpose(1, 2, 0, 3)  # (in, kh, kw, out) -> HWIO


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_stride1(x, kernel, padding):
  """`lax.conv_general_dilated(x, kernel, (1, 1), padding)`, NHWC / HWIO; padding ((top, bottom),
  (left, right)) as a tuple of tuples."""
  return _conv(x, kernel, padding)


def _conv_stride1_forward(x, kernel, padding):
  return _conv(x, kernel, padding), (x, kernel)


def _conv_stride1_backward(padding, residuals, g):
  x, kernel = residuals
  (dx,) = jax.linear_transpose(lambda t: _conv(t, kernel, padding), x)(g)
  xla_gradient = lambda x, g: jax.linear_transpose(lambda k: _conv(x, k, padding), kernel)(g)[0]
  dk = lax.platform_dependent(x, g, cpu=functools.partial(_kernel_gradient_padded, padding=padding),
                              default=xla_gradient)
  return dx, dk.astype(kernel.dtype)


conv_stride1.defvjp(_conv_stride1_forward, _conv_stride1_backward)


def conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None, dimension_numbers=NHWC,
         feature_group_count=1, precision=None):
  """`lax.conv_general_dilated` with the same arguments; a plain stride-1 NHWC convolution with explicit
  padding goes through `conv_stride1`."""
  undilated = all(d == 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
  plain = (lhs.ndim == 4 and tuple(window_strides) == (1, 1) and undilated and feature_group_count == 1
           and precision is None and not isinstance(padding, str)
           and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
           == lax.conv_dimension_numbers(lhs.shape, rhs.shape, NHWC))
  if plain:
    return conv_stride1(lhs, rhs, tuple(tuple(pair) for pair in padding))
  return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                  dimension_numbers, feature_group_count, precision=precision)


class FlaxConvFunction:
  """Flax `nn.Conv`'s `conv_general_dilated_cls`: an instance is Flax's convolution function."""

  def __call__(self, *args, **kwargs):
    return conv(*args, **kwargs)
