"""Adversarial terms of stage 2 (paper eq. 9, lambda_GAN = 5e-2), as in the reference train.train_stage2.

The discriminator sees each image minus the *other* image's batch mean (a relativistic-style input that,
per the reference's comment, keeps it from overfitting to GT):
  generator:      w * BCE(D(pred - mean(gt)), 1) + w * BCE(D(gt - mean(pred)), 0)
  discriminator:      BCE(D(sg(pred) - mean(gt)), 0) + BCE(D(gt - mean(sg(pred))), 1)
Means are over the whole batch tensor; BCE is averaged over all logits. Inputs are [0, 1] images (the
reference clamps pred before). `d(x) -> logits` is any callable, so the caller decides how spectral-norm
state is threaded; it is called twice, fake input first, as in the reference.
"""
import jax
import jax.numpy as jnp
import optax

GAN_WEIGHT = 5e-2


def bce_with_logits(logits, label):
  """Mean binary cross-entropy of `logits` against a constant or broadcastable `label` (stable form)."""
  labels = jnp.broadcast_to(jnp.asarray(label, logits.dtype), logits.shape)
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))


def generator_gan_loss(d, pred, gt, weight=GAN_WEIGHT):
  """(fake term, real term), each already weighted: pred is pushed towards 'real', gt towards 'fake'."""
  fake = bce_with_logits(d(pred - jnp.mean(gt)), 1.0)
  real = bce_with_logits(d(gt - jnp.mean(pred)), 0.0)
  return weight * fake, weight * real


def discriminator_gan_loss(d, pred, gt):
  """(fake term, real term) for the discriminator; no gradient reaches pred."""
  pred = jax.lax.stop_gradient(pred)
  fake = bce_with_logits(d(pred - jnp.mean(gt)), 0.0)
  real = bce_with_logits(d(gt - jnp.mean(pred)), 1.0)
  return fake, real
