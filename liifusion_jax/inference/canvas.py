"""Fixed-size square canvases, so that images of any size run through a few compiled programs.

An image (or a window of it) is placed on a canvas whose side is one of `BUCKETS` (feature canvases:
plus a window, for the injector's padding); everything that depends on the image's true size enters
the networks as arrays (a `Frame`), never as a shape:
- `image_mask`: 1 on the image's pixels; the convolutions zero everything outside it after every
  layer, so each one sees the zero 'same' padding of the true border (`map_mask`: the same for the
  injector's padded map, before its last conv);
- the prior injector's reflect padding to a multiple of the window (a whole window when already a
  multiple, as the reference), the shifted blocks' roll by half a window over that padded map and
  the region labels of Swin's shift mask: index arrays into the canvas;
- the decoder's geometry (Eq. 4-5): the true size in feature pixels, the canvas offset, the
  local-ensemble shifts and the feature pixels' centres, all in the whole image's coordinates.
On the image's pixels the canvas then computes what the unpadded image computes, to float rounding.
Shapes depend on the canvas side only.
"""
import flax.struct
import numpy as np

from liifusion_jax.coords import make_coord
from liifusion_jax.models.liif import ensemble_shift

# Canvas sides: each at most 1.5x the one before, multiples of the attention window.
BUCKETS = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
WINDOW = 8  # the prior injector's attention window
_LARGE_STEP = 1024  # sides beyond BUCKETS: multiples of this (plus the margin)


def sides(cap=None, margin=0):
  """The canvas sides in use up to `cap`: each bucket plus `margin` (the pixels a canvas needs beyond
  the image's side, e.g. the injector's padding: a 128-pixel image then fits 136, not 192), those at
  least 1.25x smaller than `cap`, and `cap` itself (a side just below the cap would cost a program
  and save little): one compiled shape each."""
  buckets = tuple(b + margin for b in BUCKETS)
  if cap is None:
    return buckets
  return tuple(b for b in buckets if 1.25 * b < cap) + (cap,)


def side(n, cap=None, margin=0):
  """The smallest canvas side of `sides(cap, margin)` holding n pixels (without a cap, beyond the
  largest bucket: multiples of 1024 plus `margin`)."""
  for s in sides(cap, margin):
    if s >= n:
      return s
  if cap is not None:
    raise ValueError(f"{n} pixels do not fit a canvas of at most {cap}")
  return -(-(n - margin) // _LARGE_STEP) * _LARGE_STEP + margin


def padded_size(n, window=WINDOW):
  """The injector's map size: n reflect-padded to the next multiple of the window (n + window when
  n is one already, as the reference pads)."""
  return n + window - n % window


def crop(image, offset, size):
  """(1, size, size, C) canvas holding image (1, H, W, C) shifted by -offset (y, x), zeros elsewhere."""
  _, h, w, c = image.shape
  out = np.zeros((1, size, size, c), np.float32)
  (y0, x0) = (max(0, o) for o in offset)
  y1, x1 = min(h, offset[0] + size), min(w, offset[1] + size)
  if y1 > y0 and x1 > x0:
    out[:, y0 - offset[0]:y1 - offset[0], x0 - offset[1]:x1 - offset[1]] = image[:, y0:y1, x0:x1]
  return out


def region_mask(offset, size, start, stop):
  """(1, size, size, 1) float32: 1 on the canvas pixels of image rows/cols [start, stop) (y, x)."""
  axes = [(o + np.arange(size) >= a) & (o + np.arange(size) < b)
          for o, a, b in zip(offset, start, stop)]
  return (axes[0][:, None] & axes[1][None, :]).astype(np.float32)[None, :, :, None]


def _reflect(i, n):
  """Source index of position i of numpy's 'reflect' padding of n samples."""
  if n == 1:
    return np.zeros_like(i)
  period = 2 * (n - 1)
  m = np.mod(i, period)
  return np.where(m < n, m, period - m)


def _axis(n, offset, size, window):
  """One axis of a frame: image position i = offset + canvas index; index arrays into the canvas.

  The shifted blocks' roll wraps the image's first half window around to the padded map's end, where
  it attends only to itself (Swin's mask). A canvas that starts before the image holds those rows
  in the half window just before it instead (same window rows, same region), so a tile at the
  image's start need not reach its end.
  """
  i = offset + np.arange(size)
  n_pad = padded_size(n, window)
  half = window // 2
  in_map = (i >= 0) & (i < n_pad)
  to_canvas = lambda src, where: np.clip(np.where(where, src, i) - offset, 0, size - 1).astype(np.int32)
  before = (i >= -half) & (i < 0)  # the wrapped rows, placed before the image
  back = i - half
  back = np.where(back >= offset, back, np.mod(back, n_pad))
  labels = np.select([i < -half, i < 0, i < n_pad - window, i < n_pad - half, i < n_pad], [3, 2, 0, 1, 2], 3)
  return {
      "reflect": to_canvas(_reflect(i, n), in_map),
      "roll": to_canvas(np.where(before, i + half, np.mod(i + half, n_pad)), in_map | before),
      "unroll": to_canvas(back, in_map),
      "shift_regions": labels.astype(np.int32),  # Swin's 3 regions per axis, 3 = off the map
      "centres": make_coord((n,))[np.clip(i, 0, n - 1), 0],
  }


@flax.struct.dataclass
class Frame:
  """What makes a canvas of S pixels a side compute the features and decoding of the image it holds
  (see the module docstring); a pytree of arrays, so it passes through `jax.jit`. Per-axis index
  arrays are (2, S), rows then columns; they index canvas positions.

  image_mask: (1, S, S, 1) float32, 1 on the image's pixels: the convolutions zero the rest.
  map_mask: (1, S, S, 1) float32, 1 on the injector's reflect-padded map, zeroed before its last conv.
  reflect: the injector's reflect padding to a multiple of the window.
  roll: the shifted blocks' roll by half a window over that padded map; unroll: its inverse.
  shift_regions: (2, S) int32, Swin's 3 regions of the shift mask per axis (3: off the map).
  centres: (2, S) float32, the image's feature pixel centres (`make_coord`) at each canvas position.
  image_size: (2,) float32, the image's size (h, w) in feature pixels.
  offset: (2,) int32, the image position (y, x) of the canvas's first pixel.
  ensemble_shift: (4, 2) float32, the local ensemble's offsets to the 4 neighbours (`ensemble_shift`).
  """
  image_mask: np.ndarray
  map_mask: np.ndarray
  reflect: np.ndarray
  roll: np.ndarray
  unroll: np.ndarray
  shift_regions: np.ndarray
  centres: np.ndarray
  image_size: np.ndarray
  offset: np.ndarray
  ensemble_shift: np.ndarray


def frame(image_hw, offset, size, window=WINDOW):
  """The `Frame` of a `size`-pixel canvas at `offset` (y, x) of an image of `image_hw`."""
  ys, xs = (_axis(n, o, size, window) for n, o in zip(image_hw, offset))
  return Frame(
      image_mask=region_mask(offset, size, (0, 0), image_hw),
      map_mask=region_mask(offset, size, (0, 0), [padded_size(n, window) for n in image_hw]),
      **{key: np.stack([ys[key], xs[key]])
         for key in ("reflect", "roll", "unroll", "shift_regions", "centres")},
      image_size=np.asarray(image_hw, np.float32),
      offset=np.asarray(offset, np.int32),
      ensemble_shift=ensemble_shift(*image_hw),
  )
