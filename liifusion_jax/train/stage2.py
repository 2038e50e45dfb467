"""Stage 2 (Eq. 6-9): the diffusion prior replaces the HR prior, trained jointly with the SR network
under L1 (or MSE) + perceptual + GAN + diffusion losses, with a spectral-norm U-Net discriminator.

The prior encoder is frozen: it is split off the trainable params, gets no gradient, is outside both
optimisers, and its arrays are carried through each step untouched (bit-identical).
"""
import logging

import jax
import jax.numpy as jnp
import optax

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.data.images import normalise
from liifusion_jax.losses import gan
from liifusion_jax.losses.perceptual import describe, load_vgg_params, perceptual_loss
from liifusion_jax.losses.reconstruction import reconstruction_loss
from liifusion_jax.models.diffusion import diffusion_loss
from liifusion_jax.models.discriminator import SPECTRAL
from liifusion_jax.models.factory import build_discriminator, build_model, compute_dtype
from liifusion_jax.train.stage1 import prior_of_batch
from liifusion_jax.train.state import TrainState, adam, overlay_params

FROZEN = "prior_encoder"
log = logging.getLogger(__name__)


def split_frozen(params):
  """(trainable, frozen) halves of the stage-2 params."""
  trainable = {k: v for k, v in params.items() if k != FROZEN}
  return trainable, {FROZEN: params[FROZEN]}


def _train_forward(model, batch, noise):
  prior_in, prior_mask = prior_of_batch(batch)
  return model.train_forward(normalise(batch["inp"]), prior_in, batch["coord"], batch["cell"], noise,
                             prior_mask)


def _as_images(rgb, patch):
  """(B, patch*patch, 3) queries of a contiguous HR window as (B, patch, patch, 3) images."""
  return rgb.reshape(rgb.shape[0], patch, patch, 3)


def _stage1_params(config, fresh):
  """The stage-1 checkpoint's params placed over freshly initialised stage-2 params."""
  if not config.init_from:
    raise CheckpointError("stage 2 starts from a stage-1 run: set --config.init_from=STAGE1_WORKDIR")
  return overlay_params(config.init_from, fresh)


def _optimisers(config, steps_per_epoch):
  generator = adam(config.optim.lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)
  discriminator = adam(config.optim.d_lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)
  return generator, discriminator


def init_state(config, rng, batch, steps_per_epoch):
  """A freshly initialised stage-2 state (pure, so a resumed run can take its shapes from
  `jax.eval_shape`); `load_init_from` then puts the stage-1 weights in."""
  model = build_model("stage2", config.model, config.precision)
  disc = build_discriminator(config.precision)
  model_rng, disc_rng = jax.random.split(rng)
  noise = jnp.zeros((batch["inp"].shape[0], model.prior_dim), jnp.float32)
  params = jax.jit(lambda r: model.init(r, batch, noise, method=_train_forward)["params"])(model_rng)
  image = _as_images(batch["gt"], config.data.patch)
  disc_vars = jax.jit(lambda r: disc.init(r, image))(disc_rng)
  return state_of_weights(config, params, disc_vars, steps_per_epoch)


def state_of_weights(config, params, disc_vars, steps_per_epoch=1):
  """A stage-2 state at step 0 holding generator `params` and discriminator variables `disc_vars`
  ({'params', SPECTRAL}), both optimisers' moments at zero (fresh or converted weights alike)."""
  g_tx, d_tx = _optimisers(config, steps_per_epoch)
  extra = {"d_params": disc_vars["params"], "d_opt_state": d_tx.init(disc_vars["params"]),
           "spectral": disc_vars[SPECTRAL]}
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=g_tx.init(split_frozen(params)[0]), extra=extra)


def load_init_from(config, state):
  """A fresh state with the stage-1 run's (`config.init_from`) params; Adam's moments start at zero
  whatever the params, so the optimiser state stays valid."""
  return state.replace(params=_stage1_params(config, state.params))


def _discriminator(disc, d_params, spectral):
  """A training-mode discriminator callable (one power iteration per call, as torch's .train());
  `state[SPECTRAL]` holds the u, v vectors after the calls made so far."""
  state = {SPECTRAL: spectral}

  def d(x):
    logits, updated = disc.apply({"params": d_params, SPECTRAL: state[SPECTRAL]}, x,
                                 update_stats=True, mutable=[SPECTRAL])
    state[SPECTRAL] = updated[SPECTRAL]
    return logits

  return d, state


def make_train_step(config, steps_per_epoch):
  """((state, batch, rng, vgg_params) -> (state, metrics), (vgg_params,)): one generator and one
  discriminator Adam step, each loss term logged separately."""
  model = build_model("stage2", config.model, config.precision)
  disc = build_discriminator(config.precision)
  g_tx, d_tx = _optimisers(config, steps_per_epoch)
  weights = config.loss_weights
  patch = config.data.patch
  log.warning(describe(config.perceptual.kind, config.perceptual.path or None))
  vgg_params = load_vgg_params(config.perceptual.kind, config.perceptual.path or None)

  def generator_loss(trainable, frozen, spectral, d_params, batch, noise, vgg):
    pred, z0_hat, z0 = model.apply({"params": {**trainable, **frozen}}, batch, noise,
                                   method=_train_forward)
    rec = reconstruction_loss(pred, normalise(batch["gt"]), config.loss)
    pred01 = jnp.clip(_as_images(pred, patch) * 0.5 + 0.5, 0.0, 1.0)
    gt01 = _as_images(batch["gt"], patch)
    d, d_state = _discriminator(disc, d_params, spectral)
    fake, real = gan.generator_gan_loss(d, pred01, gt01, weights.gan)
    percept = weights.perceptual * perceptual_loss(vgg, pred01, gt01, compute_dtype(config.precision))
    diff = weights.diffusion * diffusion_loss(z0_hat, z0)
    total = rec + percept + fake + real + diff
    terms = {"g_loss": total, "rec": rec, "perceptual": percept, "gan_fake": fake, "gan_real": real,
             "diffusion": diff}
    return total, (terms, pred01, gt01, d_state[SPECTRAL])

  def discriminator_loss(d_params, spectral, pred01, gt01):
    d, d_state = _discriminator(disc, d_params, spectral)
    fake, real = gan.discriminator_gan_loss(d, pred01, gt01)
    return fake + real, ({"d_loss": fake + real, "d_fake": fake, "d_real": real}, d_state[SPECTRAL])

  def step(state, batch, rng, vgg):
    trainable, frozen = split_frozen(state.params)
    extra = state.extra
    noise = jax.random.normal(rng, (batch["inp"].shape[0], model.prior_dim), jnp.float32)
    grads, (g_terms, pred01, gt01, spectral) = jax.grad(generator_loss, has_aux=True)(
        trainable, frozen, extra["spectral"], extra["d_params"], batch, noise, vgg)
    updates, opt_state = g_tx.update(grads, state.opt_state, trainable)
    trainable = optax.apply_updates(trainable, updates)

    d_grads, (d_terms, spectral) = jax.grad(discriminator_loss, has_aux=True)(
        extra["d_params"], spectral, pred01, gt01)
    d_updates, d_opt_state = d_tx.update(d_grads, extra["d_opt_state"], extra["d_params"])
    extra = {"d_params": optax.apply_updates(extra["d_params"], d_updates), "d_opt_state": d_opt_state,
             "spectral": spectral}
    state = state.replace(step=state.step + 1, params={**trainable, **frozen}, opt_state=opt_state,
                          extra=extra)
    return state, {**g_terms, **d_terms}

  return step, (vgg_params,)
