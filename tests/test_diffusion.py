"""Latent diffusion: sampler algebra (Eq. 6-7), denoiser wiring, and L_Diff training (Eq. 8)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax

from liifusion_jax.models.denoiser import Denoiser
from liifusion_jax.models.diffusion import (PriorDiffusion, diffusion_loss, make_schedule, q_sample,
                                            reverse_sample, reverse_step)

SCHED = make_schedule()


def _rand(seed, shape=(3, 8)):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_last_reverse_step_inverts_the_first_forward_step():
  """At t = 0, q(z_0 | x) is one noising step, and Eq. 7 with the true noise recovers x exactly."""
  x, eps = _rand(0), _rand(1)
  z = q_sample(x, 0, eps, SCHED)
  np.testing.assert_allclose(reverse_step(z, 0, eps, SCHED), x, atol=1e-5)


def test_reverse_step_is_the_posterior_mean_given_the_true_noise():
  """With eps = the noise that made z_t from x, Eq. 7 equals the mean of q(z_{t-1} | z_t, x)."""
  b = np.linspace(5e-4, 3e-3, 4)
  a = 1 - b
  ab = np.cumprod(a)
  x, eps = _rand(2).astype(np.float64), _rand(3).astype(np.float64)
  for t in range(1, 4):
    z_t = np.sqrt(ab[t]) * x + np.sqrt(1 - ab[t]) * eps
    mean = (np.sqrt(ab[t - 1]) * b[t] * x + np.sqrt(a[t]) * (1 - ab[t - 1]) * z_t) / (1 - ab[t])
    got = reverse_step(z_t.astype(np.float32), t, eps.astype(np.float32), SCHED)
    np.testing.assert_allclose(got, mean, atol=2e-5)


def test_reverse_sample_runs_steps_3_to_0():
  seen = []

  def eps_fn(z, t):
    seen.append(t)
    return jnp.full_like(z, t + 1.0)

  z = _rand(4)
  out = reverse_sample(eps_fn, z, SCHED)
  expected = z.astype(np.float64)
  for t in (3, 2, 1, 0):
    expected = (expected - SCHED.betas[t] / np.sqrt(1 - SCHED.alphas_bar[t]) * (t + 1.0)) / np.sqrt(
        SCHED.alphas[t])
  assert seen == [3, 2, 1, 0]
  np.testing.assert_allclose(out, expected, atol=1e-5)


def _zero(tree):
  return jax.tree_util.tree_map(jnp.zeros_like, tree)


def test_start_points_noise_and_q_sample():
  """With eps_theta = 0 the sampler only rescales z_T, which exposes where it starts."""
  cond, noise, z0 = _rand(5), _rand(6), _rand(7)
  scale = np.prod(SCHED.one_over_sqrt_alphas)
  from_noise = PriorDiffusion(dim=8)
  params = _zero(from_noise.init(jax.random.PRNGKey(0), cond, noise))
  np.testing.assert_allclose(from_noise.apply(params, cond, noise), scale * noise, rtol=1e-6)
  from_q = PriorDiffusion(dim=8, start_from_q_sample=True)
  np.testing.assert_allclose(from_q.apply(params, cond, noise, z0),
                             scale * q_sample(z0, 3, noise, SCHED), rtol=1e-5, atol=1e-6)


def test_denoiser_input_order_and_residual_flag():
  """Input is Concat(z_c, t / 40, z_t); blocks add no skip unless residual=True."""
  z_t, cond = _rand(8, (2, 4)), _rand(9, (2, 4))
  den = Denoiser(dim=4, depth=2)
  params = _zero(den.init(jax.random.PRNGKey(0), z_t, 0, cond))["params"]
  w_in = np.zeros((9, 4), np.float32)
  w_in[:4, 0] = 1.0   # z_c
  w_in[4, 1] = 1.0    # t / max_period
  w_in[5:, 2] = 1.0   # z_t
  params["resmlp_0"]["kernel"] = jnp.asarray(w_in)
  first = np.stack([cond.sum(1), np.full(2, 3 / 40), z_t.sum(1), np.zeros(2)], 1)
  first = np.where(first > 0, first, 0.1 * first)
  np.testing.assert_allclose(Denoiser(4, 2, residual=True).apply({"params": params}, z_t, 3, cond),
                             first, rtol=1e-6)
  assert not np.any(Denoiser(4, 2).apply({"params": params}, z_t, 3, cond))


def test_diffusion_loss_falls_when_training_the_denoiser_alone():
  """Gradients of L_Diff reach the denoiser through all four unrolled reverse steps.

  The noise is fixed too: the small betas give each step little leverage (z0_hat ~ z_T - 0.13 eps),
  so learning a noise-dependent map takes far more than a test's few dozen steps.
  """
  model = PriorDiffusion(dim=16)
  cond, z0, noise = (jnp.asarray(_rand(seed, (4, 16))) for seed in (10, 11, 12))
  params = model.init(jax.random.PRNGKey(0), cond, noise)
  opt = optax.adam(3e-2)
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(lambda p: diffusion_loss(model.apply(p, cond, noise), z0))(params)
    updates, state = opt.update(grads, state)
    return optax.apply_updates(params, updates), state, loss

  losses = []
  for _ in range(60):
    params, state, loss = step(params, state)
    losses.append(float(loss))
  assert losses[-1] < 0.4 * losses[0], losses
