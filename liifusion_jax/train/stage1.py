"""Stage 1: the prior encoder sees the HR image (Eq. 1); the model learns to reconstruct from it."""
import jax
import jax.numpy as jnp

from liifusion_jax.data.images import normalise
from liifusion_jax.losses.reconstruction import reconstruction_loss
from liifusion_jax.models.factory import build_model
from liifusion_jax.models.stage1 import padded_prior_input
from liifusion_jax.train.state import TrainState, adam, overlay_params


def prior_of_batch(batch):
  """The normalised prior input of Eq. (1) and its mask, built on the device from a training batch's
  LR patch, HR crop and LR-up matrix (`data.sampler.make_batch`)."""
  prior_in, prior_mask = padded_prior_input(batch["inp"], batch["hr"], batch["lr_to_hr_matrix"])
  return normalise(prior_in), prior_mask


def _forward(model, batch):
  scale = jnp.stack([batch["scale"]] * 2, axis=-1) if model.scale_aware_prior else None
  feat = model.encode(normalise(batch["inp"]), *prior_of_batch(batch), scale)
  return model.decode(feat, batch["coord"], batch["cell"])


def make_optimizer(config, steps_per_epoch):
  return adam(config.optim.lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)


def init_state(config, rng, batch, steps_per_epoch):
  """A fresh stage-1 state (torch-style initialisation, Adam moments at zero); pure, so a resumed run
  can take its shapes from `jax.eval_shape`."""
  model = build_model("stage1", config.model, config.precision)
  params = jax.jit(lambda r, b: model.init(r, b, method=_forward)["params"])(rng, batch)
  tx = make_optimizer(config, steps_per_epoch)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))


def load_init_from(config, state):
  """A fresh state fine-tuning `config.init_from` (a stage-1 run, checkpoint or pretrained:stage1),
  where set; Adam's moments start at zero whatever the params."""
  if not config.init_from:
    return state
  return state.replace(params=overlay_params(config.init_from, state.params))


def make_train_step(config, steps_per_epoch):
  """((state, batch, rng) -> (state, metrics), ()): one Adam step on the L1 (or MSE) loss."""
  model = build_model("stage1", config.model, config.precision)
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
