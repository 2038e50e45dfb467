"""Latent diffusion over the prior vector z (Eq. 6-8): schedule, forward q, 4-step reverse sampler."""
from typing import Any, Callable, NamedTuple, Optional

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from liifusion_jax.models.denoiser import Denoiser


class Schedule(NamedTuple):
  """The reference's registered buffers (float32, one entry per 0-based step index t)."""
  betas: np.ndarray
  alphas: np.ndarray
  alphas_bar: np.ndarray
  sqrt_alphas_bar: np.ndarray
  sqrt_one_minus_alphas_bar: np.ndarray
  one_over_sqrt_alphas: np.ndarray
  betas_over_sqrt_one_minus_alphas_bar: np.ndarray
  sigmas: np.ndarray


def _linspace_float32(start, end, steps):
  """torch.linspace in float32: from `start` in the first half, back from `end` in the second."""
  start, end = np.float32(start), np.float32(end)
  step = (end - start) / np.float32(max(steps - 1, 1))
  i = np.arange(steps)
  return np.where(i < steps // 2, start + step * i.astype(np.float32),
                  end - step * (steps - 1 - i).astype(np.float32)).astype(np.float32)


def make_schedule(steps=4, beta_start=5e-4, beta_end=3e-3):
  """Linear beta schedule; every derived buffer as the reference registers it, in float32 arithmetic.

  Float32 matters: 1 - alphas_bar cancels, so buffers computed in float64 differ from the
  reference's by up to 2e-5 (relative) in beta / sqrt(1 - alphas_bar), which scales eps (|eps| ~ 25
  with fresh weights) in each of the 4 steps: 4e-5 in z_0 and 1% in its gradients. Here each buffer
  is within 1 ulp of the reference's (torch's float32 sqrt is not always correctly rounded).
  """
  one = np.float32(1)
  betas = _linspace_float32(beta_start, beta_end, steps)
  alphas = one - betas
  alphas_bar = np.cumprod(alphas, dtype=np.float32)
  return Schedule(
      betas=betas,
      alphas=alphas,
      alphas_bar=alphas_bar,
      sqrt_alphas_bar=np.sqrt(alphas_bar),
      sqrt_one_minus_alphas_bar=np.sqrt(one - alphas_bar),
      one_over_sqrt_alphas=np.sqrt(one / alphas),
      betas_over_sqrt_one_minus_alphas_bar=betas / np.sqrt(one - alphas_bar),
      sigmas=np.sqrt(betas))


def q_sample(z0, t, noise, schedule):
  """z_t ~ q(z_t | z_0) = N(sqrt(abar_t) z_0, (1 - abar_t) I) (Eq. 6); t is a Python int step index."""
  return schedule.sqrt_alphas_bar[t] * z0 + schedule.sqrt_one_minus_alphas_bar[t] * noise


def reverse_step(z_t, t, eps, schedule):
  """z_{t-1} = (z_t - beta_t / sqrt(1 - abar_t) * eps) / sqrt(alpha_t) (Eq. 7), no added noise."""
  return schedule.one_over_sqrt_alphas[t] * (
      z_t - schedule.betas_over_sqrt_one_minus_alphas_bar[t] * eps)


def reverse_sample(eps_fn: Callable, z_T, schedule):
  """Runs t = T-1, ..., 0 with `eps_fn(z_t, t)`; a Python loop, so jit unrolls the fixed steps."""
  z = z_T
  for t in reversed(range(len(schedule.betas))):
    z = reverse_step(z, t, eps_fn(z, t), schedule)
  return z


def diffusion_loss(z0_hat, z0):
  """L_Diff = mean_i |z0_hat^i - z0^i| (Eq. 8), averaged over the batch as the reference's `.mean()`."""
  return jnp.mean(jnp.abs(z0_hat - z0))


class PriorDiffusion(nn.Module):
  """Samples the prior z_0 from the condition z_c (the reference's `GaussianDiffusion`).

  The reference starts the reverse process from pure noise, z_T = noise, at training and test time
  (default). `start_from_q_sample=True` starts from q(z_T | z_0) instead, DiffIR's training variant;
  it then needs the target prior `z0`. `dtype` is the denoiser's compute dtype; the schedule and the
  chain of z_t stay float32.
  """
  dim: int = 256
  steps: int = 4
  beta_start: float = 5e-4
  beta_end: float = 3e-3
  start_from_q_sample: bool = False
  residual: bool = False
  dtype: Any = jnp.float32

  @property
  def schedule(self):
    return make_schedule(self.steps, self.beta_start, self.beta_end)

  @nn.compact
  def __call__(self, cond, noise, z0: Optional[jnp.ndarray] = None):
    """cond, noise (and z0): (B, dim). Returns the sampled prior z0_hat (B, dim)."""
    schedule = self.schedule
    model = Denoiser(self.dim, max_period=10.0 * self.steps, residual=self.residual, dtype=self.dtype,
                     name="model")
    if self.start_from_q_sample:
      if z0 is None:
        raise ValueError("start_from_q_sample=True needs the target prior z0")
      z_T = q_sample(z0, self.steps - 1, noise, schedule)
    else:
      z_T = noise
    return reverse_sample(lambda z, t: model(z, t, cond), z_T, schedule)
