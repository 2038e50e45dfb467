"""Memory-bounded arbitrary-scale decoding: features once, queries in fixed-size chunks.

Every chunk has the same shape (the last one is padded), so the decoder compiles once per
(feature canvas, chunk size) however large the output is.
"""
import collections

import numpy as np

from liifusion_jax.coords import make_cell, make_coord


def query_grid(height, width, rows=slice(None), cols=slice(None)):
  """Pixel-centre coordinates (1, Q, 2) and cells (1, Q, 2) of an H x W output, at all its pixels
  (Q = H*W) or at `rows` x `cols` of it."""
  ys, xs = make_coord((height,))[rows, 0], make_coord((width,))[cols, 0]
  coord = np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(-1, 2)
  return coord[None], make_cell(coord, (height, width))[None]


def decode_in_chunks(decode, feat, coord, cell, chunk, step=None):
  """Runs `decode(feat, coord, cell) -> (B, q, 3)` over `chunk` queries at a time, calling `step()`
  (where given) as each chunk comes back."""
  total = coord.shape[1]
  pad = (-total) % chunk
  if pad:
    coord = np.concatenate([coord, np.repeat(coord[:, -1:], pad, axis=1)], axis=1)
    cell = np.concatenate([cell, np.repeat(cell[:, -1:], pad, axis=1)], axis=1)
  # The next chunk is dispatched before the previous one is read back, so the device does not wait
  # on the host between chunks; no more than two are in flight, so memory stays that of two chunks.
  outputs, in_flight = [], collections.deque()
  for i in range(0, total + pad, chunk):
    in_flight.append(decode(feat, coord[:, i:i + chunk], cell[:, i:i + chunk]))
    if len(in_flight) > 1:
      outputs.append(np.asarray(in_flight.popleft()))
      if step is not None:
        step()
  while in_flight:
    outputs.append(np.asarray(in_flight.popleft()))
    if step is not None:
      step()
  return np.concatenate(outputs, axis=1)[:, :total]


def to_image(rgb_normalised, height, width):
  """Decoder output in [-1, 1] (B, H*W, 3) as images in [0, 1] (B, H, W, 3), clamped."""
  image = rgb_normalised.reshape(rgb_normalised.shape[0], height, width, 3) * 0.5 + 0.5
  return np.clip(image, 0.0, 1.0)
