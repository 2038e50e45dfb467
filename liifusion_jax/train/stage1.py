"""Stage 1: the prior encoder sees the HR image (Eq. 1); the model learns to reconstruct from it."""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from liifusion_jax.losses.reconstruction import reconstruction_loss
from liifusion_jax.models.stage1 import LIIFusionStage1
from liifusion_jax.train.state import TrainState, adam, overlay_params


def normalise(x):
  """[0, 1] -> [-1, 1], the reference's data_norm (sub 0.5, div 0.5)."""
  return (x - 0.5) / 0.5


def build_model(config):
  return LIIFusionStage1(prior_to=config.model.prior_to,
                         scale_aware_prior=config.model.scale_aware_prior)


def _forward(model, batch):
  scale = jnp.stack([batch["scale"]] * 2, axis=-1) if model.scale_aware_prior else None
  feat = model.encode(normalise(batch["inp"]), normalise(batch["prior_in"]), batch["prior_mask"], scale)
  return model.decode(feat, batch["coord"], batch["cell"])


def make_optimizer(config, steps_per_epoch):
  return adam(config.optim.lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)


def init_state(config, rng, batch, steps_per_epoch):
  """A fresh stage-1 state (torch-style initialisation, or `config.init_from`'s params to fine-tune;
  Adam moments at zero)."""
  model = build_model(config)
  params = jax.jit(lambda r, b: model.init(r, b, method=_forward)["params"])(rng, batch)
  if config.init_from:
    params = overlay_params(config.init_from, params)
  tx = make_optimizer(config, steps_per_epoch)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))


def make_train_step(config, steps_per_epoch):
  """((state, batch, rng) -> (state, metrics), ()): one Adam step on the L1 (or MSE) loss."""
  model = build_model(config)
  tx = make_optimizer(config, steps_per_epoch)

  def loss_fn(params, batch):
    pred = model.apply({"params": params}, batch, method=_forward)
    return reconstruction_loss(pred, normalise(batch["gt"]), config.loss)

  def step(state, batch, rng):
    del rng  # stage 1 is deterministic given the batch
    loss, grads = jax.value_and_grad(loss_fn)(state.params, batch)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = jax.tree.map(jnp.add, state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), {"loss": loss}

  return step, ()
