"""The deep-zoom view's tile pyramid, as OpenSeadragon lays it out: level L of an image of `top_hw`
(its size at the top level, the largest zoom) is top_hw / 2^(max_level - L), rounded up, in tiles of
TILE pixels. Levels below the LR image's own size are not served: the viewer shrinks the lowest one.
"""
import math

TILE = 256  # output pixels per tile side
MAX_ZOOM = 30  # the top level's scale against the LR image


def top_size(lr_hw, zoom=MAX_ZOOM):
  """(H, W) of the top level: the LR image at `zoom`."""
  return tuple(max(1, round(n * zoom)) for n in lr_hw)


def max_level(top_hw):
  """OpenSeadragon's top level: ceil(log2(the longer side))."""
  return math.ceil(math.log2(max(top_hw)))


def level_size(top_hw, level):
  """(H, W) of `level`: OpenSeadragon's top size times 2^(level - max_level), rounded up."""
  scale = 2.0 ** (level - max_level(top_hw))
  return tuple(max(1, math.ceil(n * scale)) for n in top_hw)


def min_level(lr_hw, top_hw):
  """The lowest level served: the first at least the LR image's size (scale >= 1)."""
  level = max_level(top_hw)
  while level > 0 and all(a >= b for a, b in zip(level_size(top_hw, level - 1), lr_hw)):
    level -= 1
  return level


def tile_window(top_hw, level, col, row):
  """((top, left), (bottom, right)) of tile (col, row) of `level`; ValueError where there is none."""
  h, w = level_size(top_hw, level)
  if not (0 <= level <= max_level(top_hw) and 0 <= row * TILE < h and 0 <= col * TILE < w):
    raise ValueError(f"no tile {col}_{row} at level {level} of a {top_hw[1]}x{top_hw[0]} pyramid")
  return (row * TILE, col * TILE), (min(h, (row + 1) * TILE), min(w, (col + 1) * TILE))
