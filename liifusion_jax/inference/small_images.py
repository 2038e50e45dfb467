"""Images too small for the model's borders, upscaled as the middle of mirrored copies of themselves.

The networks zero-pad every convolution ('same', as the reference's), so the pixels near an image's
border see grey beyond it; an image of a few pixels is all border and comes out grey (a 1x1 red image
at x4: mean (125, 120, 121); 4x4: max error 48 levels). An image with a side under MIN_SIDE is
upscaled as the middle of an odd number of mirrored copies on each axis (3 at least, and enough for
MIN_SIDE pixels), and the output cut to the middle copy: the scale is exactly the one asked for, and
the border the networks see is the image's own mirror. Upscaling such an image costs up to
(MIN_SIDE + 1)^2 times its own size (a sliver 4000 pixels long: 9 times).
"""
import numpy as np

MIN_SIDE = 16  # from 16 pixels a side a flat image comes out flat within 4 levels


def copies(side):
  """The odd number of copies of an axis of `side` pixels: at least 3, at least MIN_SIDE pixels."""
  return max(3, 1 + 2 * -(-max(0, MIN_SIDE - side) // (2 * side)))


def mirrored(upscale):
  """`upscale(lr01, (H, W), **kwargs)` that upscales images with a side under MIN_SIDE among mirrored
  copies (the keyword arguments, e.g. `progress`, passed on)."""

  def upscale_small(lr01, out_hw, **kwargs):
    if min(lr01.shape[:2]) >= MIN_SIDE:
      return upscale(lr01, out_hw, **kwargs)
    middles = [copies(n) // 2 for n in lr01.shape[:2]]
    big = np.pad(lr01, [(m * n, m * n) for m, n in zip(middles, lr01.shape[:2])] + [(0, 0)],
                 mode="symmetric")
    (h, w), (my, mx) = out_hw, middles
    out = upscale(big, ((2 * my + 1) * h, (2 * mx + 1) * w), **kwargs)
    return out[my * h:(my + 1) * h, mx * w:(mx + 1) * w]

  return upscale_small
