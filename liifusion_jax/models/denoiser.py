"""Noise-estimation MLP eps_theta(z_t, t, z_c) of the latent diffusion (Eq. 7)."""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from liifusion_jax.models.init import Dense


class Denoiser(nn.Module):
  """Dense(2*dim+1 -> dim) + LReLU(0.1), then `depth` x [Dense(dim -> dim) + LReLU(0.1)].

  The input is Concat(z_c, t / max_period, z_t), as in the reference (max_period = 10 * steps).
  The reference's `ResMLP` blocks add no skip connection despite their name (default);
  `residual=True` adds the block input back, as the name suggests (and DiffIR does).
  The output keeps the final LeakyReLU, as the reference does.
  Layer names mirror the torch indices: `resmlp_0` is `resmlp.0`, `resmlp_{k}` is `resmlp.{k}.resmlp.0`.
  `dtype` is the layers' compute dtype; eps is float32 whatever it is.
  """
  dim: int = 256
  depth: int = 5
  max_period: float = 40.0
  residual: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z_t, t, cond):
    """z_t, cond: (B, dim); t: int step index, scalar or (B,). Returns eps (B, dim)."""
    t = jnp.broadcast_to(jnp.asarray(t, z_t.dtype) / self.max_period, z_t.shape[:1])
    x = jnp.concatenate([cond, t[:, None], z_t], axis=-1)
    x = nn.leaky_relu(Dense(self.dim, dtype=self.dtype, name="resmlp_0")(x), 0.1)
    for k in range(2, 2 + self.depth):
      y = nn.leaky_relu(Dense(self.dim, dtype=self.dtype, name=f"resmlp_{k}")(x), 0.1)
      x = x + y if self.residual else y
    return x.astype(jnp.float32)
