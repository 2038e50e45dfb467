"""Image resizers: MATLAB `imresize` bicubic (benchmark LR) and the reference's PIL `resize_fn` (training LR).

Both work on HWC (or HW) numpy arrays; nothing here touches JAX.
"""
import math

import numpy as np
from PIL import Image


def _cubic(x):
  """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`)."""
  ax = np.abs(x)
  ax2, ax3 = ax * ax, ax * ax * ax
  return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
          + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def _contributions(in_len, out_len, scale):
  """MATLAB's `contributions`: (out_len, P) weights and 0-based source indices along one axis.

  Downscaling stretches the kernel by 1/scale (antialiasing); out-of-range taps mirror symmetrically
  (MATLAB's `aux = [1:n, n:-1:1]`, i.e. the edge pixel is repeated).
  """
  width = 4.0
  if scale < 1:
    kernel = lambda x: scale * _cubic(scale * x)
    width /= scale
  else:
    kernel = _cubic
  u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
  left = np.floor(u - width / 2)
  taps = int(math.ceil(width)) + 2
  idx = left[:, None] + np.arange(taps)[None, :]
  weights = kernel(u[:, None] - idx)
  weights /= weights.sum(axis=1, keepdims=True)
  mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
  idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
  keep = np.any(weights != 0, axis=0)
  return weights[:, keep], idx[:, keep]


def _resize_axis(x, axis, out_len, scale):
  weights, idx = _contributions(x.shape[axis], out_len, scale)
  w_shape = [1] * x.ndim
  w_shape[axis] = out_len
  out = 0.0
  for t in range(weights.shape[1]):  # tap by tap, in MATLAB's summation order
    out = out + np.take(x, idx[:, t], axis=axis) * weights[:, t].reshape(w_shape)
  return out


def _round_uint8(x):
  """MATLAB's float -> uint8: round half away from zero, saturate."""
  return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def imresize_matlab(img, scale=None, output_shape=None):
  """MATLAB `imresize(img, scale)` / `imresize(img, [h w])` with the default bicubic method.

  img: (H, W) or (H, W, C), uint8 or float. A uint8 image gives a uint8 result and, as in MATLAB
  (`imresizemex` keeps the input class), is rounded to uint8 after each of the two 1-D passes; a float
  image is computed in float64 and returned in its own float dtype, values not clipped.
  `scale` (scalar) gives an output of ceil(scale * size) and keeps `scale` itself for the kernel, as
  MATLAB does; `output_shape` (h, w) uses scale = out / in per axis. Axes are resized in order of
  increasing scale (MATLAB's `dimensionOrder`, rows first on ties).
  """
  img = np.asarray(img)
  if (scale is None) == (output_shape is None):
    raise ValueError("imresize_matlab: give exactly one of scale and output_shape")
  in_hw = img.shape[:2]
  if scale is not None:
    scales = (float(scale), float(scale))
    out_hw = tuple(int(math.ceil(scale * n)) for n in in_hw)
  else:
    out_hw = tuple(int(n) for n in output_shape)
    scales = tuple(o / i for o, i in zip(out_hw, in_hw))
  is_uint8 = img.dtype == np.uint8
  out_dtype = img.dtype if np.issubdtype(img.dtype, np.floating) else np.float64
  x = img.astype(np.float64)
  for axis in sorted((0, 1), key=lambda a: scales[a]):
    x = _resize_axis(x, axis, out_hw[axis], scales[axis])
    if is_uint8:
      x = _round_uint8(x).astype(np.float64)
  return x.astype(np.uint8) if is_uint8 else x.astype(out_dtype)


def to_uint8(img01):
  """A [0, 1] float image as uint8 the way MATLAB's `im2uint8` does: x * 255 rounded half away, saturated."""
  return _round_uint8(np.asarray(img01, np.float64) * 255.0)


def resize_pil_bicubic(img01, size_hw):
  """The reference's training `resize_fn`: ToPILImage -> PIL bicubic `resize` -> ToTensor, on HWC [0, 1].

  ToPILImage quantises with `pic.mul(255).byte()`: a float32 product, then TRUNCATION (not rounding).
  PIL's BICUBIC is a = -0.5 cubic convolution, antialiased when downscaling, taps clipped at the border.
  Returns float32 HWC in [0, 1] (k / 255).
  """
  img01 = np.asarray(img01, np.float32)
  q = np.clip(img01 * np.float32(255), 0, 255).astype(np.uint8)
  out = Image.fromarray(q).resize((int(size_hw[1]), int(size_hw[0])), Image.BICUBIC)
  out = np.asarray(out)
  return out.astype(np.float32) / np.float32(255)
