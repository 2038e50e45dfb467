"""Bicubic resampling with PyTorch `F.interpolate(mode='bicubic', align_corners=False)` semantics.

Used for LR-up in the prior input (Eq. 1). Cubic convolution with a = -0.75, source coordinate
(dst + 0.5) * in / out - 0.5, neighbours clamped at the border, no antialiasing (also when shrinking).
Separable, so it is two small matrices applied in turn; numpy and jax give the same numbers to
float rounding.
"""
import jax.numpy as jnp
import numpy as np

_A = -0.75


def _cubic_weights(t):
  """Weights of the 4 neighbours floor(x) - 1 .. floor(x) + 2 at fractional offset t."""
  def near(d):  # |d| <= 1
    return ((_A + 2) * d - (_A + 3)) * d * d + 1

  def far(d):  # 1 < |d| < 2
    return ((_A * d - 5 * _A) * d + 8 * _A) * d - 4 * _A

  return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def bicubic_matrix(in_size, out_size):
  """The (out_size, in_size) float32 matrix resampling one axis as torch's bicubic does."""
  dst = np.arange(out_size, dtype=np.float64)
  src = (dst + 0.5) * (in_size / out_size) - 0.5
  base = np.floor(src)
  weights = _cubic_weights(src - base)
  idx = np.clip(base[:, None].astype(np.int64) + np.arange(-1, 3), 0, in_size - 1)
  mat = np.zeros((out_size, in_size), np.float64)
  np.add.at(mat, (np.repeat(np.arange(out_size), 4), idx.ravel()), weights.ravel())
  return mat.astype(np.float32)


def resize_bicubic_torch(x, out_hw, xp=jnp):
  """Resizes NHWC `x` to `out_hw` = (H, W); `xp` is numpy or jax.numpy."""
  mh, mw = bicubic_matrix(x.shape[1], out_hw[0]), bicubic_matrix(x.shape[2], out_hw[1])
  if xp is np:
    return _resize_numpy(x, mh, mw)
  batch = lambda m: jnp.broadcast_to(m, (x.shape[0], *m.shape))
  return resample(x, batch(mh), batch(mw))


def resample(x, rows, cols):
  """NHWC `x` (B, h, w, C) through per-image resampling matrices, rows (B, H, h) and cols (B, W, w),
  in JAX at full float32 precision: (B, H, W, C)."""
  y = jnp.einsum("boh,bhwc->bowc", rows, x, precision="highest")
  return jnp.einsum("bpw,bowc->bopc", cols, y, precision="highest")


def _resize_numpy(x, mh, mw):
  """The two matrices applied one image at a time as plain matmuls: 40x faster than numpy's einsum
  loops on 16 x 48 x 48 -> 190 x 190, and each image's numbers do not depend on the batch (a batch
  split over processes gives the same bits, which one matmul over the whole batch does not promise)."""
  b, h, w, c = x.shape
  out = np.empty((b, mh.shape[0], mw.shape[0], c), np.result_type(mh, x))
  for i, image in enumerate(x):
    rows = (mh @ image.reshape(h, w * c)).reshape(-1, w, c)  # (H, w, c)
    out[i] = (mw @ rows.transpose(1, 0, 2).reshape(w, -1)).reshape(mw.shape[0], -1, c).transpose(1, 0, 2)
  return out
