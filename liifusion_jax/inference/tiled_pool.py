"""Global average pools of conv activations over images of any size, tile by tile, in bounded memory.

The prior encoder (Eq. 1) and stage 2's condition encoder end in a global average pool of their last
conv activation (B, H, W, D), D the prior's length: on a 2040 x 1350 image that map alone is 2.8 GB.
Its pool is the sum of per-tile sums divided by H * W, each tile's conv stack run on a canvas reaching
POOL_HALO pixels past the tile (more than the encoder's eleven 3x3 convs see), so every summed pixel is
the whole image's to float rounding. Canvases have fixed sides (`canvas.BUCKETS`, or tile + 2 *
POOL_HALO), the image's mask zeroing every conv output off the image, so a folder of images of many
sizes compiles a few programs. `windows` also places the upscaler's feature canvases.
"""
import jax.numpy as jnp
import numpy as np

from liifusion_jax import xla_options
from liifusion_jax.inference import canvas

POOL_HALO = 16  # >= the encoders' 11 convs


def spans(size, tile):
  """[start, end) of consecutive `tile`-pixel spans covering [0, size)."""
  return [(start, min(start + tile, size)) for start in range(0, size, tile)]


def windows(hw, tile, halo, need=lambda n: n, margin=0):
  """[(canvas offset (y, x), canvas side, tile start (y, x), tile stop (y, x))] covering an image of
  `hw`: one canvas of a bucketed side (`canvas.side` with `margin`) for the whole image where `need(n)`
  pixels fit in tile + 2 * halo (or always, when `tile` is None), else a canvas of that side per
  `tile`-pixel tile, `halo` before it."""
  h, w = hw
  cap = None if tile is None else tile + 2 * halo
  n = max(need(h), need(w))
  if cap is None or n <= cap:
    return [((0, 0), canvas.side(n, cap, margin), (0, 0), (h, w))]
  return [((ys[0] - halo, xs[0] - halo), cap, (ys[0], xs[0]), (ys[1], xs[1]))
          for ys in spans(h, tile) for xs in spans(w, tile)]


def activation_sum(model, encoder):
  """jitted (params, canvas (1, s, s, C), image mask (1, s, s, 1), inside (1, s, s, 1)) -> sum of the
  `encoder` submodule's last activation over the pixels where `inside` is 1, (1, D)."""
  def total(params, image, mask, inside):
    act = model.apply({"params": params}, image, mask,
                      method=lambda m, x, mask: getattr(m, encoder).activations(x, mask))
    return jnp.sum(act * inside, axis=(1, 2))
  return xla_options.jit(total)


def pooled_in_tiles(sum_fn, params, image, tile, halo=None):
  """The global average pool (1, D) of an encoder's last activation over `image` (1, H, W, C, host
  array), from `sum_fn = activation_sum(...)` on canvases of at most tile + 2 * halo pixels a side."""
  halo = POOL_HALO if halo is None else halo
  _, h, w, _ = image.shape
  total = 0.0
  for offset, side, start, stop in windows((h, w), tile, halo):
    inside = canvas.region_mask(offset, side, start, stop)
    mask = canvas.region_mask(offset, side, (0, 0), (h, w))
    total = total + np.asarray(sum_fn(params, canvas.crop(image, offset, side), mask, inside), np.float64)
  return jnp.asarray(total / (h * w), jnp.float32)
