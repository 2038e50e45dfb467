"""The LR image in tiles with a halo: features of any image size in bounded memory and fixed shapes.

`Upscaler` encodes an LR image that fits one canvas of tile + 2 * FEATURE_HALO pixels a side (after
the injector's padding) on one canvas of a bucketed side; a larger one tile by tile, each
`tile`-pixel tile on a canvas of tile + 2 * FEATURE_HALO pixels reaching FEATURE_HALO pixels past it
(`tiled_pool.POOL_HALO` is the encoders' smaller halo). FEATURE_HALO covers the receptive
field of a tile's output (34 EDSR convs, six blocks of 8x8-window attention reaching at most 7 pixels
each, the injector's conv, the decoder's 3x3 projection and local ensemble), so a tile's features
are the whole image's to float rounding. Canvas offsets are multiples of the attention window, so a
canvas's windows are the whole image's; the frame (`canvas.Frame`) carries the image's padding, roll
and coordinates. Each tile decodes the output pixels whose LR positions fall in it.
"""
from liifusion_jax.inference import canvas, tiled_pool

WINDOW = canvas.WINDOW
FEATURE_HALO = 80  # >= 34 + 6 * 7 + 1 + 3: the LR pixels around a tile that its features depend on


def check_tile(tile):
  if tile is not None and (tile < WINDOW or tile % WINDOW):
    raise ValueError(f"tile ({tile}) must be a positive multiple of {WINDOW} (or None: no tiles)")


def feature_windows(lr_hw, tile):
  """`tiled_pool.windows` of the feature canvases of an LR image of `lr_hw` (one without tiles)."""
  check_tile(tile)
  return tiled_pool.windows(lr_hw, tile, FEATURE_HALO, canvas.padded_size, margin=WINDOW)


def feature_sides(tile):
  """The feature canvas sides an upscaler with this tile uses (None: unbounded)."""
  return None if tile is None else canvas.sides(tile + 2 * FEATURE_HALO, margin=WINDOW)
