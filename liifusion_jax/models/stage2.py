"""LIIFusion stage 2 (paper section III.2, Fig. 1, 4): the stage-1 network with its prior replaced
by a 4-step latent diffusion (Eq. 6-7) conditioned on z_c = condition_encoder(LR)."""
from typing import Optional

import jax
import jax.numpy as jnp

from liifusion_jax.models.diffusion import PriorDiffusion
from liifusion_jax.models.prior_encoder import PriorEncoder
from liifusion_jax.models.stage1 import LIIFusionStage1


class LIIFusionStage2(LIIFusionStage1):
  """Stage-2 network. Submodules: the stage-1 ones (encoder, prior_encoder, prior_injector,
  decoder; a stage-1 checkpoint's params drop in) + condition_encoder + prior_generator.

  As in the reference, the prior injected at training and test time is the sampled z0_hat, never
  the HR prior z0, which only serves as the diffusion target (Eq. 8; the training code freezes
  prior_encoder). The reverse process starts from pure noise; `start_from_q_sample=True` starts it
  from q(z_T | z0) instead (DiffIR's training variant; inference then still starts from noise).
  `residual_denoiser=True` adds the skip connections the reference's ResMLP blocks lack.
  """
  steps: int = 4
  start_from_q_sample: bool = False
  residual_denoiser: bool = False

  def setup(self):
    if self.scale_aware_prior:
      raise ValueError("stage 2 has no scale-aware prior: the condition z_c sees only the LR image")
    super().setup()
    self.condition_encoder = PriorEncoder(n_feats=self.n_feats, dim=self.prior_dim, dtype=self.dtype)
    self.prior_generator = PriorDiffusion(dim=self.prior_dim, steps=self.steps,
                                          start_from_q_sample=self.start_from_q_sample,
                                          residual=self.residual_denoiser, dtype=self.dtype)

  def condition(self, lr):
    """z_c (B, prior_dim) from the LR image alone."""
    return self.condition_encoder(lr)

  def hr_prior(self, prior_in, mask=None):
    """The pseudo-HR prior z0 (B, prior_dim) from Concat(HR, LR-up) (Eq. 1), the diffusion target."""
    return self.prior(prior_in, mask)

  def sample_prior(self, lr, noise, z0: Optional[jnp.ndarray] = None):
    """z0_hat (B, prior_dim) by the 4 reverse steps from z_T = noise (B, prior_dim); z0 only with start_from_q_sample."""
    return self.prior_generator(self.condition(lr), noise, z0)

  def encode(self, lr, noise):
    """The prior-injected feature map (B, h, w, C), with the sampled prior."""
    return self.inject(self.features(lr), self.sample_prior(lr, noise))

  def train_forward(self, lr, prior_in, coord, cell, noise, prior_mask=None):
    """(pred, z0_hat, z0) for Eq. 9: pred decodes the features injected with z0_hat, and z0 carries
    no gradient. L_Diff = diffusion_loss(z0_hat, z0)."""
    z0 = jax.lax.stop_gradient(self.hr_prior(prior_in, prior_mask))
    z0_hat = self.sample_prior(lr, noise, z0 if self.start_from_q_sample else None)
    pred = self.decode(self.inject(self.features(lr), z0_hat), coord, cell)
    return pred, z0_hat, z0

  def __call__(self, lr, coord, cell, noise):
    """Inference: RGB (B, Q, 3) at the queries from the LR image and noise (B, prior_dim) alone."""
    return self.decode(self.encode(lr, noise), coord, cell)
