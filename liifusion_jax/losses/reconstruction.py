"""Reconstruction loss: L1 in the reference code (train.py, nn.L1Loss), MSE in the paper's text (eq. 9)."""
import jax.numpy as jnp

KINDS = ("l1", "mse")


def reconstruction_loss(pred, gt, kind="l1"):
  """Mean absolute ('l1', reference default) or squared ('mse', paper) error over all elements."""
  if kind == "l1":
    return jnp.mean(jnp.abs(pred - gt))
  if kind == "mse":
    return jnp.mean((pred - gt) ** 2)
  raise ValueError(f"unknown reconstruction loss {kind!r}; valid ones: {', '.join(KINDS)}")
