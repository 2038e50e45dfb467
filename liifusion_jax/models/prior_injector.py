"""Prior injector: Eq. (2)-(3) inside shifted-window cross-attention (paper section III.1).

Each block maps the prior z to (z_b, z_a) = (p_u, p_s) with a Dense + GELU (Eq. 2), forms the
prior-injected map p = LN(x) * p_s + p_u (Eq. 3), and attends with queries from p to keys and
values from LN(x) (the reference and the paper's "Q prior"). `prior_to='qkv'` is the paper's
Table 7 ablation ("QKV prior"): p also feeds the keys and values, i.e. shifted-window self-attention
on the prior-injected map. Every module takes `dtype`, the compute dtype (params stay float32); the
layer norms' statistics and the attention's softmax are float32 whatever it is.
"""
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from liifusion_jax.models.init import Conv, Dense


def window_partition(x, window):
  """(B, H, W, C) -> (B, H/w * W/w, w*w, C): windows in row-major order, pixels row-major inside."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // window, window, w // window, window, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, -1, window * window, c)


def window_merge(windows, height, width):
  """Inverse of `window_partition`."""
  b, _, n, c = windows.shape
  window = int(round(n ** 0.5))
  x = windows.reshape(b, height // window, width // window, window, window, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, height, width, c)


def relative_position_index(window):
  """(N, N) index into the (2w-1)^2 bias table: (dy + w - 1) * (2w - 1) + (dx + w - 1), d = i - j."""
  ys, xs = np.meshgrid(np.arange(window), np.arange(window), indexing="ij")
  ys, xs = ys.ravel(), xs.ravel()
  dy = ys[:, None] - ys[None, :] + window - 1
  dx = xs[:, None] - xs[None, :] + window - 1
  return dy * (2 * window - 1) + dx


def _region_mask(ids):
  """(nW, N, N) additive mask from region ids (nW, N): -100 between different regions, 0 within."""
  return jnp.where(ids[:, :, None] == ids[:, None, :], 0.0, -100.0).astype(jnp.float32)


def shift_mask(height, width, window):
  """(nW, N, N) additive mask of a shifted block: -100 between pixels of different regions of
  Swin's 3 x 3 split (slices [0:-w], [-w:-w/2], [-w/2:]) of the rolled map, 0 within a region."""
  regions = np.zeros((1, height, width, 1), np.float32)
  cuts = [slice(0, -window), slice(-window, -window // 2), slice(-window // 2, None)]
  label = 0
  for hs in cuts:
    for ws in cuts:
      regions[:, hs, ws, :] = label
      label += 1
  return _region_mask(window_partition(regions, window)[0, :, :, 0])


def gather(x, index):
  """x (B, S, S, C) at rows index[0] and columns index[1] (a frame's index arrays)."""
  return jnp.take(jnp.take(x, index[0], axis=1), index[1], axis=2)


def shifted_windows(x, window, frame=None):
  """(the map rolled by half a window up and left, its (nW, N, N) shift mask, the inverse roll).

  Without a frame: `jnp.roll` over the whole map. On a canvas: gathers with the frame's index arrays
  (the roll over the image's padded map) and the mask from its region labels.
  """
  _, h, w, _ = x.shape
  if frame is None:
    s = window // 2
    return (lambda t: jnp.roll(t, (-s, -s), axis=(1, 2)), shift_mask(h, w, window),
            lambda t: jnp.roll(t, (s, s), axis=(1, 2)))
  labels = frame.shift_regions[0][:, None] * 4 + frame.shift_regions[1][None, :]
  ids = window_partition(labels[None, :, :, None], window)[0, :, :, 0]
  return (lambda t: gather(t, frame.roll)), _region_mask(ids), (lambda t: gather(t, frame.unroll))


def window_attention(q, k, v, bias, dtype):
  """One head in one window: softmax(q k^T / sqrt(d) + bias) v for q, k, v (N, d), bias (N, N).

  The scale goes on q (exact for d = 16, a power of 4) and the softmax's normalisation is applied
  after the product with v (on N x d values instead of N x N): equal up to float rounding. The
  logits and the softmax are float32 whatever `dtype` is.
  """
  logits = jnp.einsum("id,jd->ij", q * q.shape[-1] ** -0.5, k).astype(jnp.float32) + bias
  weights = jnp.exp(logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True)))
  total = jnp.sum(weights, axis=-1, keepdims=True)
  return jnp.einsum("ij,jd->id", weights.astype(dtype), v) / total.astype(dtype)


class WindowAttention(nn.Module):
  """Multi-head attention inside 8x8 windows with a learned relative position bias."""
  dim: int = 64
  heads: int = 4
  window: int = 8
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, query_in, kv_in, mask=None):
    """query_in, kv_in: (B, nW, N, C) windows; mask: (nW, N, N) additive, or None.

    `window_attention` vmapped over heads, windows and the batch; the projections are per token.
    """
    b, nw, n, c = kv_in.shape
    hd = c // self.heads
    kv = Dense(2 * c, use_bias=False, dtype=self.dtype, name="kv")(kv_in)
    kv = kv.reshape(b, nw, n, 2, self.heads, hd)
    k, v = kv[..., 0, :, :], kv[..., 1, :, :]
    q = Dense(c, use_bias=False, dtype=self.dtype, name="q")(query_in).reshape(b, nw, n, self.heads, hd)
    table = self.param("rel_bias", nn.initializers.zeros, ((2 * self.window - 1) ** 2, self.heads))
    bias = table[relative_position_index(self.window)].transpose(2, 0, 1)  # (heads, N, N)
    if mask is not None:
      bias = bias + mask[:, None]  # (nW, heads, N, N)
    attend = partial(window_attention, dtype=self.dtype)
    over_heads = jax.vmap(attend, in_axes=(1, 1, 1, 0), out_axes=1)  # (N, heads, d)
    over_windows = jax.vmap(over_heads, in_axes=(0, 0, 0, None if mask is None else 0))
    out = jax.vmap(over_windows, in_axes=(0, 0, 0, None))(q, k, v, bias)  # (B, nW, N, heads, d)
    return Dense(c, dtype=self.dtype, name="proj")(out.reshape(b, nw, n, c))


class InjectorBlock(nn.Module):
  """One (shifted-)window cross-attention block with prior modulation, then LN + MLP."""
  dim: int = 64
  heads: int = 4
  window: int = 8
  shift: bool = False
  prior_to: str = "q"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, prior, frame=None):
    b, h, w, c = x.shape
    dense = lambda features, name, use_bias=True: Dense(features, use_bias=use_bias, dtype=self.dtype,
                                                        name=name)
    mod = nn.gelu(dense(2 * c, "kernel", use_bias=False)(prior), approximate=False)
    p_u, p_s = mod[:, None, None, :c], mod[:, None, None, c:]
    y = nn.LayerNorm(epsilon=1e-5, dtype=self.dtype, name="ln1")(x)
    p = y * p_s + p_u
    kv_in = p if self.prior_to == "qkv" else y
    mask = None
    if self.shift:
      roll, mask, unroll = shifted_windows(x, self.window, frame)
      p, kv_in = roll(p), roll(kv_in)
    att = WindowAttention(c, self.heads, self.window, self.dtype, name="attn")(
        window_partition(p, self.window), window_partition(kv_in, self.window), mask)
    att = window_merge(att, h, w)
    if self.shift:
      att = unroll(att)
    z = x + att
    y = nn.LayerNorm(epsilon=1e-5, dtype=self.dtype, name="ln2")(z)
    y = nn.gelu(dense(2 * c, "mlp_fc1")(y), approximate=False)
    return z + dense(c, "mlp_fc2")(y)


class PriorInjector(nn.Module):
  """Reflect-pad bottom/right to a multiple of the window (a whole extra window when already
  divisible, as the reference does), `depth` blocks (odd ones shifted), 3x3 conv, residual, crop.

  With a `canvas.Frame`, `feat` is a canvas: the padding and the shifts are the frame's gathers, and
  the output is zero outside the image (the decoder's zero padding at the true border)."""
  dim: int = 64
  prior_dim: int = 256
  depth: int = 6
  window: int = 8
  heads: int = 4
  prior_to: str = "q"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, feat, prior, frame=None):
    if self.prior_to not in ("q", "qkv"):
      raise ValueError(f"prior_to must be 'q' or 'qkv', got {self.prior_to!r}")
    if prior.shape[-1] != self.prior_dim:
      raise ValueError(f"prior has {prior.shape[-1]} channels, expected {self.prior_dim}")
    _, h, w, _ = feat.shape
    pad_h, pad_w = self.window - h % self.window, self.window - w % self.window
    if frame is None:
      raw = jnp.pad(feat, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    else:
      raw = gather(feat, frame.reflect)
    x = raw = raw.astype(self.dtype)
    for i in range(self.depth):
      x = InjectorBlock(self.dim, self.heads, self.window, shift=i % 2 == 1,
                        prior_to=self.prior_to, dtype=self.dtype, name=f"block_{i}")(x, prior, frame)
    conv = Conv(self.dim, (3, 3), padding=1, dtype=self.dtype, name="conv")
    if frame is None:
      return (raw + conv(x))[:, :h, :w]
    out = raw + conv(x * frame.map_mask.astype(self.dtype))  # zero padding off the map
    return out * frame.image_mask.astype(self.dtype)
