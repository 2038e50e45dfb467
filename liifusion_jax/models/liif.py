"""Conditional LIIF decoder: Eq. (4)-(5), the local ensemble of LIIF over the injected feature map.

The imnet's first Linear acts on Concat(unfold3x3(feat) (channel-major c*9 + k), rel_coord, rel_cell).
Its unfolded-feature part is linear in the feature map, so it is evaluated once per feature pixel as a
3x3 conv with zero padding (`feat_proj`, which carries that Linear's bias) and gathered per query;
`geo_proj` holds the rel_coord / rel_cell columns. This is the same function with far less work
(4 x Q queries gather 256 values instead of 576, and the 576-wide matmul runs on h*w pixels).
"""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from liifusion_jax.coords import make_coord
from liifusion_jax.models.init import Conv, Dense

_EPS_SHIFT = 1e-6
_OFFSETS = ((-1, -1), (-1, 1), (1, -1), (1, 1))  # (vy, vx) in the reference's loop order


def nearest_index(c, size):
  """Pixel index of `grid_sample(mode='nearest', align_corners=False)` at normalised coordinate c:
  round(((c + 1) * size - 1) / 2), half to even, clamped to [0, size - 1]."""
  pos = ((c + 1.0) * size - 1.0) / 2.0
  return jnp.clip(jnp.round(pos), 0, size - 1).astype(jnp.int32)


def ensemble_shift(height, width):
  """(4, 2) float32: the offsets (vy / h + eps, vx / w + eps) from a query to its 4 neighbours."""
  return np.asarray([[vy / height + _EPS_SHIFT, vx / width + _EPS_SHIFT] for vy, vx in _OFFSETS],
                    np.float32)


def ensemble_queries(coord, height, width, frame=None):
  """The 4 local-ensemble neighbours of each query.

  coord: (B, Q, 2) as (y, x). Returns iy, ix (B, 4, Q) int32 and rel_coord (B, 4, Q, 2), the offset
  from each neighbour's centre to the query in units of feature pixels. With a `canvas.Frame` the
  feature map is a canvas of an image whose size is the frame's: coordinates are the image's, and
  iy, ix index the canvas.
  """
  if frame is None:
    size, shift, offset = jnp.asarray([height, width], coord.dtype), ensemble_shift(height, width), (0, 0)
    centres = [jnp.asarray(make_coord((n,))[:, 0]) for n in (height, width)]
  else:
    size, shift, offset, centres = frame.image_size, frame.ensemble_shift, frame.offset, frame.centres
  shifted = jnp.clip(coord[:, None] + shift[None, :, None], -1 + 1e-6, 1 - 1e-6)
  iy, ix = (jnp.clip(nearest_index(shifted[..., a], size[a]) - offset[a], 0, n - 1)
            for a, n in enumerate((height, width)))
  q_coord = jnp.stack([centres[0][iy], centres[1][ix]], axis=-1)
  return iy, ix, (coord[:, None] - q_coord) * size


def multiply_add_dot(x, kernel, dimension_numbers, precision=None, preferred_element_type=None):
  """`lax.dot_general` of a Dense whose kernel has a handful of rows, as broadcast multiply-adds.

  XLA:CPU runs a 4-deep matmul as a pass of its own over the 4 x Q x 256 output; multiply-adds fuse
  with the gather and the add next to them (the decoder's first layer in about 0.4x the time). Equal
  to the matmul up to float summation order.
  """
  del precision, preferred_element_type
  if dimension_numbers != (((x.ndim - 1,), (0,)), ((), ())):
    raise ValueError(f"multiply_add_dot contracts x's last axis with the kernel's first axis only, "
                     f"got {dimension_numbers}")
  out = x[..., :1] * kernel[0]
  for k in range(1, kernel.shape[0]):
    out = out + x[..., k:k + 1] * kernel[k]
  return out


def ensemble_weights(rel_coord):
  """(B, 4, Q) weights of Eq. (5): each neighbour gets the area of the rectangle spanned by the
  query and the diagonally opposite neighbour (reference: area + 1e-9, areas 0<->3 and 1<->2)."""
  area = jnp.abs(rel_coord[..., 0] * rel_coord[..., 1]) + 1e-9
  return area[:, ::-1] / jnp.sum(area, axis=1, keepdims=True)


class ConditionalLIIF(nn.Module):
  """feat (B, h, w, C), coord (B, Q, 2), cell (B, Q, 2) -> RGB (B, Q, out_dim).

  `project(feat)` then `query(grid, coord, cell)` is the same function in two parts: an image decoded
  in chunks of queries projects its features once, not once per chunk. `dtype` is the MLP's compute
  dtype; coordinates, ensemble weights and the output are float32 whatever it is.
  """
  hidden: int = 256
  n_hidden: int = 4
  out_dim: int = 3
  dtype: Any = jnp.float32

  def setup(self):
    self.feat_proj = Conv(self.hidden, (3, 3), padding=1, dtype=self.dtype)
    self.geo_proj = Dense(self.hidden, use_bias=False, dot_general=multiply_add_dot, dtype=self.dtype)
    for i in range(self.n_hidden - 1):  # checkpoint names hidden_0, hidden_1, ...
      setattr(self, f"hidden_{i}", Dense(self.hidden, dtype=self.dtype))
    self.out = Dense(self.out_dim, dtype=self.dtype)

  def project(self, feat):
    """(B, h, w, C) -> (B, h, w, hidden): the first Linear's feature part at every feature pixel."""
    return self.feat_proj(feat)

  def query(self, grid, coord, cell, frame=None):
    """RGB (B, Q, out_dim) at the queries, from `project`'s output (a canvas with its `frame`)."""
    b, h, w, _ = grid.shape
    iy, ix, rel_coord = ensemble_queries(coord, h, w, frame)
    size = jnp.asarray([h, w], cell.dtype) if frame is None else frame.image_size
    flat = (iy * w + ix).reshape(b, -1, 1)
    x = jnp.take_along_axis(grid.reshape(b, h * w, -1), flat, axis=1).reshape(b, 4, -1, self.hidden)
    rel_cell = jnp.broadcast_to((cell * size)[:, None], rel_coord.shape)
    geo = jnp.concatenate([rel_coord, rel_cell], axis=-1)
    x = nn.relu(x + self.geo_proj(geo))
    for i in range(self.n_hidden - 1):
      x = nn.relu(getattr(self, f"hidden_{i}")(x))
    pred = self.out(x).astype(jnp.float32)
    return jnp.sum(pred * ensemble_weights(rel_coord)[..., None], axis=1)

  def __call__(self, feat, coord, cell):
    return self.query(self.project(feat), coord, cell)
