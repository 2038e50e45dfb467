import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.losses.gan import GAN_WEIGHT, bce_with_logits, discriminator_gan_loss, generator_gan_loss
from liifusion_jax.losses.reconstruction import reconstruction_loss


def softplus(z):
  return math.log1p(math.exp(z))


def _linear_d(a=3.0):
  return lambda x: a * jnp.mean(x, axis=(1, 2, 3))[:, None]


def _images():
  pred = jnp.full((2, 4, 4, 3), 0.2)
  gt = jnp.concatenate([jnp.full((1, 4, 4, 3), 0.4), jnp.full((1, 4, 4, 3), 0.8)])  # mean 0.6
  return pred, gt


def test_bce_with_logits_values_and_stability():
  z = jnp.array([-1.2, 0.0, 2.5])
  assert float(bce_with_logits(z, 1.0)) == pytest.approx(np.mean([softplus(1.2), softplus(0.0), softplus(-2.5)]),
                                                         rel=1e-6)
  assert float(bce_with_logits(z, 0.0)) == pytest.approx(np.mean([softplus(-1.2), softplus(0.0), softplus(2.5)]),
                                                         rel=1e-6)
  assert float(bce_with_logits(jnp.array([100.0]), 0.0)) == pytest.approx(100.0)
  assert float(bce_with_logits(jnp.array([-100.0]), 1.0)) == pytest.approx(100.0)


def test_generator_terms_by_hand():
  pred, gt = _images()
  calls = []

  def d(x):
    calls.append(float(jnp.mean(x)))
    return _linear_d()(x)

  fake, real = generator_gan_loss(d, pred, gt)
  # D(pred - 0.6): logits -1.2 for both images, labelled real.
  assert float(fake) == pytest.approx(GAN_WEIGHT * softplus(1.2), rel=1e-6)
  # D(gt - 0.2): logits 0.6 and 1.8, labelled fake.
  assert float(real) == pytest.approx(GAN_WEIGHT * (softplus(0.6) + softplus(1.8)) / 2, rel=1e-6)
  assert calls == pytest.approx([-0.4, 0.4])  # fake input first, as the reference
  fake2, _ = generator_gan_loss(_linear_d(), pred, gt, weight=1.0)
  assert float(fake2) == pytest.approx(softplus(1.2), rel=1e-6)


def test_discriminator_terms_by_hand():
  pred, gt = _images()
  fake, real = discriminator_gan_loss(_linear_d(), pred, gt)
  assert float(fake) == pytest.approx(softplus(-1.2), rel=1e-6)
  assert float(real) == pytest.approx((softplus(-0.6) + softplus(-1.8)) / 2, rel=1e-6)


def test_gradients_reach_pred_only_in_the_generator_loss():
  pred, gt = _images()
  d = _linear_d()
  g_real = jax.grad(lambda p: generator_gan_loss(d, p, gt)[1])(pred)
  assert np.all(np.asarray(g_real) != 0)  # through mean(pred) in the 'real' input
  g_disc = jax.grad(lambda p: sum(discriminator_gan_loss(d, p, gt)))(pred)
  np.testing.assert_array_equal(np.asarray(g_disc), 0.0)
  g_a = jax.grad(lambda a: sum(discriminator_gan_loss(_linear_d(a), pred, gt)))(3.0)
  # d/da of softplus(-0.4 a) + mean(softplus(-0.2 a), softplus(-0.6 a)) at a = 3.
  sig = lambda z: 1 / (1 + math.exp(-z))
  expected = -0.4 * sig(-1.2) - (0.2 * sig(-0.6) + 0.6 * sig(-1.8)) / 2
  assert float(g_a) == pytest.approx(expected, rel=1e-5)


def test_reconstruction_losses():
  pred = jnp.array([[0.0, 1.0], [2.0, -1.0]])
  gt = jnp.zeros((2, 2))
  assert float(reconstruction_loss(pred, gt)) == pytest.approx(1.0)
  assert float(reconstruction_loss(pred, gt, "mse")) == pytest.approx(1.5)
  with pytest.raises(ValueError, match="l1, mse"):
    reconstruction_loss(pred, gt, "huber")
