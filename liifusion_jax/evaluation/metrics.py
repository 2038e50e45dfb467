"""PSNR under the reference's two evaluation protocols (reference utils.calc_psnr, test.eval_score).

- 'benchmark' (Set5, Set14, B100, Urban100): the difference is converted to luma with the BT.601 weights
  (65.738, 129.057, 25.064) / 256 of [0, 1] images, and ceil(scale) pixels are shaved from each border.
  The +16/255 offset of Y is left out, as in the reference: it cancels in a difference.
- 'div2k' (DIV2K validation): RGB, ceil(scale) + 6 pixels shaved.
- 'celeba' (CelebA-HQ100, the reference's test configs without an eval_type): RGB, nothing shaved.
"""
import math

import numpy as np

_Y_WEIGHTS = np.array([65.738, 129.057, 25.064]) / 256.0
_SHAVE_EXTRA = {"benchmark": 0, "div2k": 6, "celeba": None}  # None: no shave
PROTOCOLS = tuple(_SHAVE_EXTRA)


def shave_size(scale, protocol):
  """Border width excluded from the PSNR: ceil(scale), plus 6 under 'div2k', none under 'celeba'."""
  if protocol not in _SHAVE_EXTRA:
    raise ValueError(f"unknown PSNR protocol {protocol!r}; valid ones: {', '.join(PROTOCOLS)}")
  extra = _SHAVE_EXTRA[protocol]
  return 0 if extra is None else math.ceil(scale) + extra


def psnr(pred01, gt01, *, scale, protocol="benchmark"):
  """PSNR in dB of `pred01` against `gt01`, both (H, W, 3) or (N, H, W, 3) in [0, 1] (clipped here).

  As in the reference, one MSE is taken over the whole batch (not a mean of per-image PSNRs).
  Computed in float64 on the host.
  """
  shave = shave_size(scale, protocol)
  pred = np.clip(np.asarray(pred01, np.float64), 0.0, 1.0)
  gt = np.clip(np.asarray(gt01, np.float64), 0.0, 1.0)
  if pred.shape != gt.shape or pred.ndim not in (3, 4) or pred.shape[-1] != 3:
    raise ValueError(f"expected two equal (H, W, 3) or (N, H, W, 3) shapes, got {pred.shape} and {gt.shape}")
  h, w = pred.shape[-3:-1]
  if min(h, w) <= 2 * shave:
    raise ValueError(f"image {h}x{w} is too small for a {shave}-pixel shave")
  diff = (pred - gt)[..., shave:h - shave, shave:w - shave, :]
  if protocol == "benchmark":
    diff = diff @ _Y_WEIGHTS
  mse = np.mean(diff ** 2)
  return math.inf if mse == 0 else float(-10.0 * np.log10(mse))
