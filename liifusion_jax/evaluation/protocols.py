"""The evaluation protocols: how an LR image is made from an HR one, and how SR is scored.

As the reference's configs/test/*.yaml: at x2-x4 the data sets' provided LR images (`datasets`), made
by MATLAB bicubic; beyond, LR made by its `sr-implicit-downsampled` wrapper: h_lr = floor(H / s + 1e-9),
HR cropped to round(h_lr * s), LR = PIL bicubic of the truncated-uint8 HR (`resize_pil_bicubic`).
- 'benchmark' (Set5, Set14, B100, Urban100): made LR at integer scales up to 4 (no provided file) is
  MATLAB `imresize` of the uint8 HR, rounded to uint8, as the provided files are; beyond x4 the
  wrapper's. Y-channel PSNR shaving ceil(s). Its bicubic baseline upscales with MATLAB `imresize`.
- 'div2k' (DIV2K validation, and training's validation): made LR is the wrapper's at every scale (as
  training makes it); RGB PSNR shaving ceil(s) + 6. Its bicubic baseline is PyTorch-style bicubic
  interpolation (the model's LR-up).
- 'celeba' (CelebA-HQ100, Table 5): the wrapper with the reference's inp_size 16: an HR square of
  round(16 s) pixels at a random position (here seeded by the image index), LR 16 x 16 by the same
  resize; RGB PSNR over the whole image. Bicubic baseline as 'div2k'.
"""
import math

import numpy as np

from liifusion_jax.evaluation import metrics
from liifusion_jax.resize.matlab_pil import imresize_matlab, resize_pil_bicubic, to_uint8
from liifusion_jax.resize.torch_bicubic import resize_bicubic_torch

PROTOCOLS = metrics.PROTOCOLS
MATLAB_SCALES = (1, 2, 3, 4)  # benchmark scales whose LR is MATLAB bicubic (the provided files' way)
CELEBA_LR = 16  # the reference's inp_size for CelebA-HQ


def check_scale(scale):
  if not scale >= 1:
    raise ValueError(f"scale must be >= 1, got {scale}")


def lr_size(hr_hw, scale):
  return tuple(math.floor(v / scale + 1e-9) for v in hr_hw)


def make_pair(hr01, scale, protocol, index=0):
  """(lr01, hr01 cropped) for an HR image (H, W, 3) in [0, 1] under `protocol`; `index` (the image's
  index in its data set) seeds the 'celeba' crop."""
  check_scale(scale)
  metrics.shave_size(scale, protocol)  # rejects an unknown protocol
  if protocol == "celeba":
    return _celeba_pair(hr01, scale, index)
  h_lr, w_lr = lr_size(hr01.shape[:2], scale)
  if min(h_lr, w_lr) < 1:
    raise ValueError(f"image {hr01.shape[1]}x{hr01.shape[0]} is too small for scale {scale}")
  hr = hr01[:round(h_lr * scale), :round(w_lr * scale)]
  if protocol == "benchmark" and scale in MATLAB_SCALES:
    lr = imresize_matlab(to_uint8(hr), output_shape=(h_lr, w_lr)).astype(np.float32) / 255.0
  else:
    lr = resize_pil_bicubic(hr, (h_lr, w_lr))
  return lr, hr


def _celeba_pair(hr01, scale, index):
  """The reference wrapper's inp_size crop: HR round(16 s) square, LR 16 x 16 resized from it."""
  size = round(CELEBA_LR * scale)
  h, w = hr01.shape[:2]
  if min(h, w) < size:
    raise ValueError(f"image {w}x{h} is too small for a {size}-pixel crop (scale {scale})")
  rng = np.random.default_rng(index)
  y0, x0 = (int(rng.integers(0, n - size + 1)) for n in (h, w))
  hr = hr01[y0:y0 + size, x0:x0 + size]
  return resize_pil_bicubic(hr, (CELEBA_LR, CELEBA_LR)), hr


def bicubic_upscale(lr01, out_hw, protocol):
  """The protocol's bicubic baseline (the paper's "Bicubic" rows), clamped to [0, 1]."""
  if protocol == "benchmark":
    up = imresize_matlab(lr01.astype(np.float64), output_shape=tuple(out_hw))
  else:
    up = resize_bicubic_torch(lr01[None].astype(np.float32), tuple(out_hw), xp=np)[0]
  return np.clip(up, 0.0, 1.0).astype(np.float32)


def score(sr01, hr01, scale, protocol):
  return metrics.psnr(sr01, hr01, scale=scale, protocol=protocol)
