"""The evaluation protocols: how an LR image is made from an HR one, and how SR is scored.

- 'benchmark' (Set5, Set14, B100, ...): LR = MATLAB `imresize` bicubic of the uint8 HR, rounded to
  uint8; HR cropped to a multiple of the scale first (h_lr = floor(H / s)); Y-channel PSNR shaving
  ceil(s). Its bicubic baseline upscales with MATLAB `imresize` too.
- 'div2k' (the reference's out-of-distribution test): h_lr = floor(H / s + 1e-9), HR cropped to
  round(h_lr * s); LR = the reference's PIL-style bicubic (as in training); RGB PSNR shaving
  ceil(s) + 6. Its bicubic baseline is PyTorch-style bicubic interpolation (the model's LR-up).
"""
import math

import numpy as np

from liifusion_jax import metrics
from liifusion_jax.data.resize import imresize_matlab, resize_pil_bicubic, to_uint8
from liifusion_jax.models.bicubic import resize_bicubic_torch

PROTOCOLS = metrics.PROTOCOLS


def check_scale(scale):
  if not scale >= 1:
    raise ValueError(f"scale must be >= 1, got {scale}")


def lr_size(hr_hw, scale):
  return tuple(math.floor(v / scale + 1e-9) for v in hr_hw)


def make_pair(hr01, scale, protocol):
  """(lr01, hr01 cropped) for an HR image (H, W, 3) in [0, 1] under `protocol`."""
  check_scale(scale)
  metrics.shave_size(scale, protocol)  # rejects an unknown protocol
  h_lr, w_lr = lr_size(hr01.shape[:2], scale)
  if min(h_lr, w_lr) < 1:
    raise ValueError(f"image {hr01.shape[1]}x{hr01.shape[0]} is too small for scale {scale}")
  hr = hr01[:round(h_lr * scale), :round(w_lr * scale)]
  if protocol == "benchmark":
    lr = imresize_matlab(to_uint8(hr), output_shape=(h_lr, w_lr)).astype(np.float32) / 255.0
  else:
    lr = resize_pil_bicubic(hr, (h_lr, w_lr))
  return lr, hr


def bicubic_upscale(lr01, out_hw, protocol):
  """The protocol's bicubic baseline (the paper's "Bicubic" rows), clamped to [0, 1]."""
  if protocol == "benchmark":
    up = imresize_matlab(lr01.astype(np.float64), output_shape=tuple(out_hw))
  else:
    up = resize_bicubic_torch(lr01[None].astype(np.float32), tuple(out_hw), xp=np)[0]
  return np.clip(up, 0.0, 1.0).astype(np.float32)


def score(sr01, hr01, scale, protocol):
  return metrics.psnr(sr01, hr01, scale=scale, protocol=protocol)
