"""EDSR-baseline feature encoder (the LR feature map M of section III), without upsampling."""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from liifusion_jax.models.init import Conv


class EDSRBaseline(nn.Module):
  """head conv, `n_resblocks` x (conv-ReLU-conv + skip), body conv, global skip.

  `mask` (B, H, W, 1), 1 on the image and 0 on the rest of a canvas, zeroes the input and every conv
  output outside the image: each conv then sees the zero padding of the true border.
  The reference keeps `sub_mean` / `add_mean` layers but does not call them in forward: neither
  exists here (the converter drops their weights). `dtype`: the compute dtype (params stay float32).
  """
  n_resblocks: int = 16
  n_feats: int = 64
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask=None):
    def conv(name):
      layer = Conv(self.n_feats, (3, 3), padding=1, dtype=self.dtype, name=name)
      return layer if mask is None else lambda t: layer(t) * mask

    if mask is not None:
      mask = mask.astype(self.dtype)
      x = x * mask
    x = conv("head")(x)
    res = x
    for i in range(self.n_resblocks):
      y = nn.relu(conv(f"block_{i}_conv_0")(res))
      res = res + conv(f"block_{i}_conv_1")(y)
    return x + conv("body_conv")(res)
