"""Region decode: an image encoded once, then any window of an upscaling of any size decoded alone.

`encode` keeps what the decoder reads, per feature canvas (`Upscaler.projected`): it depends on the
LR image and the prior (stage 2's seed; stage 1's HR image), not on the output size. `decode` runs
the queries of one output window through the tiled path's own loop and programs
(`Upscaler.decode_window`), so a window equals the same crop of the full upscaling, and windows of
any size at any output size compile nothing beyond the canvas sides' programs (`max_programs`).
"""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Encoded:
  """An LR image of `lr_hw` encoded: (frame, projected features, tile start, tile stop) per canvas."""
  lr_hw: tuple[int, int]
  canvases: tuple

  @property
  def nbytes(self) -> int:
    """Bytes held by the projected features."""
    return sum(grid.nbytes for _, grid, _, _ in self.canvases)


def output_block(start, stop, lr_hw, out_hw, window):
  """((r0, r1), (c0, c1)): the output pixels of `window` ((top, left), (bottom, right)) of an
  `out_hw` output whose LR positions fall in the LR tile [start, stop) (y, x) of an `lr_hw` image."""
  return tuple((max(round(a * o / n), w0), min(round(b * o / n), w1))
               for a, b, o, n, w0, w1 in zip(start, stop, out_hw, lr_hw, *window))


def check_window(out_hw, window):
  """Raises ValueError unless `window` is a non-empty part of an `out_hw` output."""
  (top, left), (bottom, right) = window
  if not (0 <= top < bottom <= out_hw[0] and 0 <= left < right <= out_hw[1]):
    raise ValueError(f"window rows {top}:{bottom}, cols {left}:{right} is not a non-empty part of a "
                     f"{out_hw[1]}x{out_hw[0]} output")


def encode(upscaler, lr01: np.ndarray, hr01: np.ndarray | None = None, seed: int = 0) -> Encoded:
  """`lr01` (h, w, 3) in [0, 1] encoded by `upscaler` (stage 1: with its HR image; stage 2: `seed`)."""
  return Encoded(tuple(lr01.shape[:2]), tuple(upscaler.projected(lr01, hr01, seed)))


def decode(upscaler, encoded: Encoded, out_hw: tuple[int, int], window) -> np.ndarray:
  """Pixels [top:bottom, left:right] (bottom - top, right - left, 3) in [0, 1] of the `out_hw`
  upscaling of the encoded image; window = ((top, left), (bottom, right))."""
  out_hw = tuple(int(v) for v in out_hw)
  check_window(out_hw, window)
  return upscaler.decode_window(encoded.canvases, encoded.lr_hw, out_hw, window)
