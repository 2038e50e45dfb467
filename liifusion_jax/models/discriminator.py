"""U-Net discriminator with spectral normalisation (Real-ESRGAN's UNetDiscriminatorSN), for the GAN term of Eq. 9."""
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from liifusion_jax.models.conv import conv
from liifusion_jax.models.init import Conv, torch_kernel_init

SPECTRAL = "spectral"  # variable collection holding the power-iteration vectors u, v


def l2_normalize(x, eps=1e-12):
  """torch.nn.functional.normalize: x / max(||x||, eps)."""
  return x / jnp.maximum(jnp.linalg.norm(x), eps)


def power_iteration(w_mat, u):
  """One step as torch.nn.utils.spectral_norm does it: v = n(W^T u), then u = n(W v)."""
  v = l2_normalize(w_mat.T @ u)
  return l2_normalize(w_mat @ v), v


class SNConv(nn.Module):
  """Bias-free Conv2d under torch.nn.utils.spectral_norm: kernel / sigma, sigma = u . (W v).

  W is the kernel flattened as torch does, (out, in * kh * kw) in OIHW order, so u (out,) and v
  (in * kh * kw,) are torch's `weight_u` / `weight_v`. With `update_stats` (torch's training mode)
  one power iteration updates u, v before sigma is taken (the `spectral` collection must then be
  mutable); otherwise the stored u, v are used as they are. No gradient flows through u, v.
  """
  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, update_stats: bool):
    k = self.kernel_size
    kernel = self.param("kernel", torch_kernel_init, (k, k, x.shape[-1], self.features))
    w_mat = jnp.transpose(kernel, (3, 2, 0, 1)).reshape(self.features, -1)
    u = self.variable(SPECTRAL, "u", lambda: l2_normalize(
        jax.random.normal(self.make_rng("params"), (w_mat.shape[0],))))
    v = self.variable(SPECTRAL, "v", lambda: l2_normalize(
        jax.random.normal(self.make_rng("params"), (w_mat.shape[1],))))
    if update_stats and not self.is_initializing():
      u.value, v.value = power_iteration(jax.lax.stop_gradient(w_mat), u.value)
    sigma = u.value @ (w_mat @ v.value)
    return conv(x.astype(self.dtype), (kernel / sigma).astype(self.dtype), (self.stride, self.stride),
                [(self.padding, self.padding)] * 2)


def upsample2x(x):
  """Bilinear x2, align_corners=False (half-pixel centres, edge-clamped), as the reference's F.interpolate."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), "bilinear")


class UNetDiscriminatorSN(nn.Module):
  """Per-pixel real/fake logits for an NHWC image (B, H, W, 3) -> (B, H, W, 1); H, W divisible by 8.

  `update_stats=True` is torch's `discriminator.train()`: every call runs one power iteration per
  spectral-norm conv, so apply with `mutable=[SPECTRAL]` and keep the returned u, v. `dtype` is the
  convolutions' compute dtype (the power iteration and the logits are float32 whatever it is).
  """
  num_feat: int = 64
  skip_connection: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, update_stats: bool = False):
    f = self.num_feat
    act = lambda y: nn.leaky_relu(y, 0.2)
    sn = lambda feats, k, s, name, y: SNConv(feats, k, s, 1, self.dtype, name=name)(y, update_stats)

    x0 = act(Conv(f, (3, 3), padding=1, dtype=self.dtype, name="conv0")(x))
    x1 = act(sn(2 * f, 4, 2, "conv1", x0))
    x2 = act(sn(4 * f, 4, 2, "conv2", x1))
    x3 = act(sn(8 * f, 4, 2, "conv3", x2))

    x4 = act(sn(4 * f, 3, 1, "conv4", upsample2x(x3)))
    if self.skip_connection:
      x4 = x4 + x2
    x5 = act(sn(2 * f, 3, 1, "conv5", upsample2x(x4)))
    if self.skip_connection:
      x5 = x5 + x1
    x6 = act(sn(f, 3, 1, "conv6", upsample2x(x5)))
    if self.skip_connection:
      x6 = x6 + x0

    out = act(sn(f, 3, 1, "conv7", x6))
    out = act(sn(f, 3, 1, "conv8", out))
    return Conv(1, (3, 3), padding=1, dtype=self.dtype, name="conv9")(out).astype(jnp.float32)
