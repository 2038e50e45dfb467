"""Images upscaled in their own mode: grey stays grey, alpha is kept, 16 bits stay 16 bits.

The networks see RGB in [0, 1]: grey is repeated to three channels and the output taken back to grey
(ITU-R 601 luma, as PIL's convert("L")); an alpha channel is upscaled apart (`ALPHA_METHODS`); uint8
and uint16 values are divided by 255 or 65535 and the output rounded back to the same depth.
"""
import numpy as np
from PIL import Image

from liifusion_jax.data.images import native_array, to_pil
from liifusion_jax.progress import reporter
from liifusion_jax.resize.torch_bicubic import resize_bicubic_torch

# model: the model on the alpha as a grey image (twice the time; 1.2 dB above bicubic on soft masks
# and 3.3 dB on cut-out mattes, Set5 x4: benchmarks/alpha_upscale.py); bicubic: PyTorch's bicubic.
ALPHA_METHODS = ("model", "bicubic")
LUMA = np.asarray([0.299, 0.587, 0.114], np.float32)
_DEPTH = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def upscale_image(upscale, image, out_hw, alpha="model", progress=None):
  """`image` upscaled to `out_hw` (H, W), in its own mode and depth.

  Args:
    upscale: `upscale(rgb01 (h, w, 3), (H, W), progress=None) -> (H, W, 3)` floats in [0, 1]: an
      `Upscaler` (`functools.partial(upscaler, seed=1)` for another seed), or any such function.
    image: a PIL image, or an array as `data.images.native_array` gives: (h, w) grey, (h, w, 2) grey +
      alpha, (h, w, 3) RGB or (h, w, 4) RGBA; uint8, uint16, or floats in [0, 1].
    out_hw: the output's (height, width).
    alpha: how an alpha channel is upscaled, one of ALPHA_METHODS (the model's call reports progress).
    progress: as `Upscaler`'s (True, or `progress(done, total)`), over all the calls of `upscale`.

  Returns:
    The upscaled image: a PIL image for a PIL image (palette and other modes come back as `native_array`
    makes them: RGB, RGBA or grey; floating-point grey as 8-bit grey), else an array of the input's
    channels and dtype.
  """
  if alpha not in ALPHA_METHODS:
    raise ValueError(f"alpha must be one of {', '.join(ALPHA_METHODS)}, got {alpha!r}")
  if isinstance(image, Image.Image):
    return to_pil(upscale_image(upscale, native_array(image), out_hw, alpha, progress))
  image = np.asarray(image)
  depth = _DEPTH.get(image.dtype)
  values = image.astype(np.float32) / depth if depth else image.astype(np.float32)
  values = values.reshape(*values.shape[:2], -1)
  colour, opacity = (values[..., :-1], values[..., -1:]) if values.shape[-1] in (2, 4) else (values, None)
  calls = 2 if opacity is not None and alpha == "model" else 1
  report = reporter(progress, "upscaling", "query chunks")

  def model(planes, call):
    """(h, w, 1) grey or (h, w, 3) RGB planes through `upscale`, as the same planes."""
    part = None if report is None else lambda done, total: report(call * total + done, calls * total)
    rgb = upscale(np.repeat(planes, 3 // planes.shape[-1], axis=-1), out_hw, progress=part)
    return rgb @ LUMA[:, None] if planes.shape[-1] == 1 else rgb

  planes = [model(colour, 0)]
  if opacity is not None:
    planes.append(model(opacity, 1) if alpha == "model" else
                  resize_bicubic_torch(opacity[None], tuple(out_hw), xp=np)[0])
  out = np.clip(np.concatenate(planes, axis=-1), 0, 1).reshape(*out_hw, *image.shape[2:])
  if not depth:
    return out.astype(image.dtype)
  return np.floor(out.astype(np.float64) * depth + 0.5).astype(image.dtype)  # half away, as to_uint8
