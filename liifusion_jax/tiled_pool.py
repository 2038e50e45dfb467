"""Global average pools of conv activations over images of any size, tile by tile, in bounded memory.

The prior encoder (Eq. 1) and stage 2's condition encoder end in a global average pool of their last
conv activation (B, H, W, 4C): on a 2040 x 1350 image that map alone is 2.8 GB. Its pool is the sum
of per-tile sums divided by H * W, each tile's conv stack run on a canvas reaching HALO pixels past
the tile (more than the encoder's eleven 3x3 convs see), so every summed pixel is the whole image's
to float rounding. The tiling helpers also place `tiled_upscale`'s feature canvases.
"""
import jax
import jax.numpy as jnp
import numpy as np

HALO = 16  # >= the encoders' 11 convs


def spans(size, tile):
  """[start, end) of consecutive `tile`-pixel spans covering [0, size)."""
  return [(start, min(start + tile, size)) for start in range(0, size, tile)]


def window_size(total, inner, pad, align=1):
  """The side of one fixed-size window for every `inner`-pixel span plus `pad` pixels each side, with
  `total - size` a multiple of `align` (so a window pushed against the image's end stays on the grid).
  One size per image: one compiled program, however many tiles."""
  size = inner + 2 * pad
  return total if size >= total else size + (total - size) % align


def place(span, pad, size, total):
  """[s, s + size): the window starting `pad` before `span`, moved inside [0, total)."""
  start = min(max(0, span[0] - pad), total - size)
  return start, start + size


def activation_sum(model, encoder):
  """jitted (params, canvas (1, h, w, C), inside (1, h, w, 1)) -> sum of the `encoder` submodule's
  last activation over the pixels where `inside` is 1, (1, 4C)."""
  def total(params, canvas, inside):
    act = model.apply({"params": params}, canvas,
                      method=lambda m, x: getattr(m, encoder).activations(x))
    return jnp.sum(act * inside, axis=(1, 2))
  return jax.jit(total)


def pooled_in_tiles(sum_fn, params, image, tile):
  """The global average pool (1, 4C) of an encoder's last activation over `image` (1, H, W, C, host
  array), from `sum_fn = activation_sum(...)` on canvases of about tile + 2 * HALO pixels a side."""
  _, h, w, _ = image.shape
  size = [window_size(n, tile, HALO) for n in (h, w)]
  total = 0.0
  for ys in spans(h, tile):
    for xs in spans(w, tile):
      (cy0, cy1), (cx0, cx1) = place(ys, HALO, size[0], h), place(xs, HALO, size[1], w)
      inside = np.zeros((1, cy1 - cy0, cx1 - cx0, 1), np.float32)
      inside[:, ys[0] - cy0:ys[1] - cy0, xs[0] - cx0:xs[1] - cx0] = 1.0
      canvas = jnp.asarray(image[:, cy0:cy1, cx0:cx1], jnp.float32)
      total = total + np.asarray(sum_fn(params, canvas, inside), np.float64)
  return jnp.asarray(total / (h * w), jnp.float32)
