"""Prior encoder (Eq. 1), also stage 2's condition encoder: an image to the prior vector z (256 long)."""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from liifusion_jax.models.init import Conv, Dense


class PriorEncoder(nn.Module):
  """The reference `gen_encoder`: conv in->C, seven C->C convs with no activation in between,
  conv C->2C, LReLU(0.1), 2C->2C, LReLU, 2C->D, LReLU, global average pool, 2 x [Dense D, LReLU],
  where D = `dim` is the prior's length (the reference's 4C = 256).

  `mask` (B, H, W, 1), 1 on valid pixels and 0 on padding, zeroes the input and every conv output
  outside the valid region and makes the pool a masked mean: a padded canvas then gives exactly the
  result of the valid region alone (zero 'same' padding is what each conv sees at the border). The
  valid region may sit anywhere on the canvas. Input channels follow the input (6 for the prior
  encoder, 3 for the condition encoder). `dtype` is the compute dtype of the layers; the pool sums in
  float32 and z is float32 whatever it is.
  """
  n_feats: int = 64
  dim: int = 256
  n_convs: int = 7
  n_fcns: int = 2
  dtype: Any = jnp.float32

  def setup(self):
    c = self.n_feats
    widths = [c] * (1 + self.n_convs) + [2 * c, 2 * c, self.dim]
    self.convs = [Conv(w, (3, 3), padding=1, dtype=self.dtype, name=f"conv_{i}")
                  for i, w in enumerate(widths)]
    self.fcs = [Dense(self.dim, dtype=self.dtype, name=f"fc_{i}") for i in range(self.n_fcns)]

  def activations(self, x, mask=None):
    """The last conv's activation map (B, H, W, D), before the pool."""
    n_plain = 1 + self.n_convs  # convs with no activation after them
    if mask is not None:
      mask = mask.astype(self.dtype)
      x = x * mask
    for i, conv in enumerate(self.convs):
      x = conv(x)
      if i >= n_plain:
        x = nn.leaky_relu(x, 0.1)
      if mask is not None:
        x = x * mask
    return x

  def head(self, pooled):
    """The layers after the pool: z (B, D) from the pooled activations (B, D)."""
    for fc in self.fcs:
      pooled = nn.leaky_relu(fc(pooled), 0.1)
    return pooled.astype(jnp.float32)

  def __call__(self, x, mask=None):
    act = self.activations(x, mask).astype(jnp.float32)
    if mask is None:
      return self.head(jnp.mean(act, axis=(1, 2)))
    return self.head(jnp.sum(act, axis=(1, 2)) / jnp.sum(mask.astype(jnp.float32), axis=(1, 2)))
