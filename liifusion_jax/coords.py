"""Pixel-centre coordinates and cells in [-1, 1] (LIIF's `make_coord`)."""
import numpy as np


def make_coord(shape, ranges=None, flatten=True):
  """Coordinates of the pixel centres of a grid of `shape`, one axis per entry of `shape`.

  Returns float32 (*shape, len(shape)), or (prod(shape), len(shape)) when `flatten`. The arithmetic
  is done in float32 as in the reference (bit-identical to its torch version), since LIIF's nearest
  sampling rounds these values.
  """
  seqs = []
  for i, n in enumerate(shape):
    v0, v1 = (-1.0, 1.0) if ranges is None else ranges[i]
    r = (v1 - v0) / (2 * n)
    seqs.append(np.float32(v0 + r) + np.float32(2 * r) * np.arange(n, dtype=np.float32))
  ret = np.stack(np.meshgrid(*seqs, indexing="ij"), axis=-1)
  if flatten:
    ret = ret.reshape(-1, ret.shape[-1])
  return ret


def make_cell(coord, hr_shape):
  """The cell (2/H, 2/W) of an HR pixel, one per coordinate in `coord` (..., 2)."""
  cell = np.asarray([2.0 / hr_shape[0], 2.0 / hr_shape[1]], np.float32)
  return np.broadcast_to(cell, np.shape(coord)).copy()
