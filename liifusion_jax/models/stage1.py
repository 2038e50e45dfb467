"""LIIFusion stage 1 (paper section III.1, Fig. 2): EDSR-baseline features M, prior z from
Concat(HR, LR-up) (Eq. 1), prior injection (Eq. 2-3), conditional LIIF decoding (Eq. 4-5)."""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from liifusion_jax.resize.torch_bicubic import resample, resize_bicubic_torch
from liifusion_jax.models.edsr import EDSRBaseline
from liifusion_jax.models.init import Dense
from liifusion_jax.models.liif import ConditionalLIIF
from liifusion_jax.models.prior_encoder import PriorEncoder
from liifusion_jax.models.prior_injector import PriorInjector


def make_prior_input(lr, hr, xp=jnp):
  """Concat(HR, bicubic LR-up to HR size) on channels, NHWC, HR first.

  The paper writes Concat(LR-up, HR) in Eq. (1); the reference model that made the golden outputs
  puts HR first (its stored source even feeds LR-up twice): the golden order is used. Where HR is
  padded to a bucket, use `padded_prior_input` instead. `xp`: numpy or jax.numpy.
  """
  return xp.concatenate([hr, resize_bicubic_torch(lr, hr.shape[1:3], xp=xp)], axis=-1)


def padded_prior_input(lr, hr, lr_to_hr_matrix):
  """(prior_in, mask) of Eq. (1) on a training batch's bucket canvas, in JAX (inside the train step).

  lr (B, h, h, C) the LR patch; hr (B, Hb, Hb, C) the HR crop, zero beyond it; lr_to_hr_matrix
  (B, Hb, h) per image the `bicubic_matrix(h, H)` of its crop size H, zero rows beyond it
  (`data.sampler.make_batch`).
  prior_in (B, Hb, Hb, 2C) = Concat(HR, LR-up) as `make_prior_input` on the crop, zero beyond it;
  mask (B, Hb, Hb, 1) 1 on the crop, for `prior`. LR-up is `resize_bicubic_torch`'s `resample` with
  each image's own matrix on both axes (the crop is square).
  """
  up = resample(lr, lr_to_hr_matrix, lr_to_hr_matrix)
  # A bicubic matrix's rows sum to 1, so its nonzero rows are exactly the crop's.
  on_crop = jnp.any(lr_to_hr_matrix != 0, axis=-1).astype(hr.dtype)
  mask = (on_crop[:, :, None] * on_crop[:, None, :])[..., None]
  return jnp.concatenate([hr, up], axis=-1), mask


def scale_from_cell(lr, cell):
  """(B, 2) per-axis scale factor HR / LR, from the first query's cell and the LR size."""
  return 2.0 / (cell[:, 0, :] * jnp.asarray(lr.shape[1:3], cell.dtype))


class LIIFusionStage1(nn.Module):
  """Stage-1 network. Submodules (checkpoint names): encoder, prior_encoder, prior_injector, decoder.

  prior_to: 'q' (reference, paper's "Q prior") or 'qkv' (paper Table 7 ablation), see PriorInjector.
  scale_aware_prior: paper Table 8 "w/ scale" variant, not in the reference and off by default. The
    paper does not say how the scale enters the prior; here the per-axis inverse scale
    (LR size / HR size, in (0, 1] for upsampling) goes through Dense(256)-LReLU(0.1)-Dense(256)
    (`scale_embed_0`, `scale_embed_1`) and is added to z, so z carries the scale wherever it is used.
  dtype: the compute dtype of every layer (`models.factory.PRECISIONS`); params stay float32, and
    the prior z and the decoded RGB are float32 whatever it is.
  The sizes (config keys `model.*`, the reference's values by default): n_feats, the width C of EDSR,
  the prior encoder and the injector; n_resblocks, EDSR's depth; prior_dim, the length of the prior z
  (and of stage 2's noise); decoder_hidden, the width of the decoder's MLP.
  """
  n_feats: int = 64
  n_resblocks: int = 16
  prior_dim: int = 256
  decoder_hidden: int = 256
  prior_to: str = "q"
  scale_aware_prior: bool = False
  dtype: Any = jnp.float32

  def setup(self):
    self.encoder = EDSRBaseline(n_resblocks=self.n_resblocks, n_feats=self.n_feats, dtype=self.dtype)
    self.prior_encoder = PriorEncoder(n_feats=self.n_feats, dim=self.prior_dim, dtype=self.dtype)
    self.prior_injector = PriorInjector(dim=self.n_feats, prior_dim=self.prior_dim,
                                        prior_to=self.prior_to, dtype=self.dtype)
    self.decoder = ConditionalLIIF(hidden=self.decoder_hidden, dtype=self.dtype)
    if self.scale_aware_prior:
      self.scale_embed_0 = Dense(self.prior_dim, dtype=self.dtype)
      self.scale_embed_1 = Dense(self.prior_dim, dtype=self.dtype)

  def prior_input(self, lr, hr):
    return make_prior_input(lr, hr)

  def features(self, lr, mask=None):
    """The EDSR feature map M (B, h, w, C) of the LR image (of a canvas, with its image `mask`)."""
    return self.encoder(lr, mask)

  def prior(self, prior_in, mask=None, scale=None):
    """z (B, prior_dim) from Concat(HR, LR-up) (Eq. 1); `scale` (B, 2) is needed iff scale_aware_prior."""
    return self._with_scale(self.prior_encoder(prior_in, mask), scale)

  def prior_from_pooled(self, pooled, scale=None):
    """z from the prior encoder's pooled last activation (B, prior_dim), e.g. pooled tile by tile."""
    return self._with_scale(self.prior_encoder.head(pooled), scale)

  def _with_scale(self, z, scale):
    if self.scale_aware_prior:
      if scale is None:
        raise ValueError("scale_aware_prior needs the scale factor")
      z = z + self.scale_embed_1(nn.leaky_relu(self.scale_embed_0(1.0 / scale), 0.1)).astype(z.dtype)
    return z

  def inject(self, feat, z, frame=None):
    """M' from M and a prior z (Eq. 2-3 inside window cross-attention); stage 2 passes sampled z.
    On a canvas, `frame` is its `canvas.Frame`."""
    return self.prior_injector(feat, z, frame)

  def encode(self, lr, prior_in, prior_mask=None, scale=None):
    return self.inject(self.features(lr), self.prior(prior_in, prior_mask, scale))

  def decode(self, feat, coord, cell):
    return self.decoder(feat, coord, cell)

  def __call__(self, lr, hr, coord, cell, prior_mask=None, scale=None):
    if self.scale_aware_prior and scale is None:
      scale = scale_from_cell(lr, cell)
    return self.decode(self.encode(lr, self.prior_input(lr, hr), prior_mask, scale), coord, cell)
