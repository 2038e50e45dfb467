"""Stage 2 (Eq. 6-9): the diffusion prior replaces the HR prior, trained jointly with the SR network
under L1 (or MSE) + perceptual + GAN + diffusion losses, with a spectral-norm U-Net discriminator.

The prior encoder is frozen: it is split off the trainable params, gets no gradient, is outside both
optimisers, and its arrays are carried through each step untouched (bit-identical).
"""
import logging

import jax
import jax.numpy as jnp
import ml_collections
import optax

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.data.images import normalise
from liifusion_jax.losses import gan
from liifusion_jax.losses.perceptual import describe, load_vgg_params, perceptual_loss
from liifusion_jax.losses.reconstruction import reconstruction_loss
from liifusion_jax.models.diffusion import diffusion_loss
from liifusion_jax.models.discriminator import SPECTRAL
from liifusion_jax.models.factory import build_discriminator, build_model, compute_dtype
from liifusion_jax.train.batch_inputs import prior_of_batch
from liifusion_jax.train.state import DiscriminatorState, TrainState, TrainStep, adam, overlay_params

FROZEN = "prior_encoder"
# The reference's names of the loss terms (what its train_stage2 returns, in that order) -> our metrics.
REFERENCE_TERMS = {"m_loss": "g_loss", "rec": "rec", "diff": "diffusion", "real": "gan_real",
                   "fake": "gan_fake", "percept": "perceptual", "d_loss": "d_loss", "d_real": "d_real",
                   "d_fake": "d_fake"}
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


class Stage2:
  """Stage 2 as the loop drives it (`train.task.Task`): the generator (less its frozen prior encoder)
  under one Adam, the discriminator under another, each built once here.

  Args:
    config: a stage-2 config (configs/stage2.py).
    steps_per_epoch: steps per epoch, which turn the learning rates' milestone epochs into steps.
  """

  stage = "stage2"
  frozen = FROZEN

  def __init__(self, config: ml_collections.ConfigDict, steps_per_epoch: int):
    self.config = config
    self.model = build_model("stage2", config.model, config.precision)
    self.disc = build_discriminator(config.precision)
    optim = config.optim
    self.tx = adam(optim.lr, optim.milestones, optim.gamma, steps_per_epoch)
    self.d_tx = adam(optim.d_lr, optim.milestones, optim.gamma, steps_per_epoch)

  def init_state(self, rng: jax.Array, batch: dict[str, jax.Array]) -> TrainState:
    """A freshly initialised stage-2 state (pure, so a resumed run can take its shapes from
    `jax.eval_shape`); `load_init_from` then puts the stage-1 weights in."""
    model_rng, disc_rng = jax.random.split(rng)
    noise = jnp.zeros((batch["inp"].shape[0], self.model.prior_dim), jnp.float32)
    params = jax.jit(lambda r: self.model.init(r, batch, noise, method=_train_forward)["params"])(model_rng)
    image = _as_images(batch["gt"], self.config.data.patch)
    disc_vars = jax.jit(lambda r: self.disc.init(r, image))(disc_rng)
    return self.state_of_weights(params, disc_vars)

  def state_of_weights(self, params, disc_vars) -> TrainState:
    """A stage-2 state at step 0 holding generator `params` and discriminator variables `disc_vars`
    ({'params', SPECTRAL}), both optimisers' moments at zero (fresh or converted weights alike)."""
    d_params = disc_vars["params"]
    discriminator = DiscriminatorState(params=d_params, opt_state=self.d_tx.init(d_params),
                                       spectral=disc_vars[SPECTRAL])
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state=self.tx.init(split_frozen(params)[0]), discriminator=discriminator)

  def load_init_from(self, state: TrainState) -> TrainState:
    """A fresh state with the stage-1 run's (`config.init_from`) params; Adam's moments start at zero
    whatever the params, so the optimiser state stays valid."""
    if not self.config.init_from:
      raise CheckpointError("stage 2 starts from a stage-1 run: set --config.init_from=STAGE1_WORKDIR")
    return state.replace(params=overlay_params(self.config.init_from, state.params))

  def load_step_constants(self) -> tuple:
    """(VGG params,) of the perceptual loss, read from `config.perceptual` (which weights it says in a
    warning)."""
    perceptual = self.config.perceptual
    log.warning(describe(perceptual.kind, perceptual.path or None))
    return (load_vgg_params(perceptual.kind, perceptual.path or None),)

  def make_train_step(self) -> TrainStep:
    """The step `(state, batch, rng, vgg_params) -> (state, metrics)`: `rng` draws the diffusion's
    noise z_T, then `make_step_on_noise`'s step; `vgg_params` are `load_step_constants()`'s."""
    step_on_noise, noise_dim = self.make_step_on_noise(), self.model.prior_dim

    def step(state, batch, rng, vgg):
      noise = jax.random.normal(rng, (batch["inp"].shape[0], noise_dim), jnp.float32)
      return step_on_noise(state, batch, noise, vgg)

    return step

  def make_step_on_noise(self, return_grads: bool = False):
    """The step `(state, batch, noise, vgg_params) -> (state, metrics)` given z_T, as the reference's
    `train_stage2` does it: the generator's Adam step on all its terms (its gradients reach the
    discriminator's params but are not applied), then the discriminator's on the detached prediction;
    each discriminator call is one power iteration (two per half). Every loss term is a metric.

    Args:
      return_grads: also return `(generator grads, discriminator grads)` (the training-parity test
        compares them with the reference's; the loop does not ask for them).
    """
    generator_loss, discriminator_loss = self._losses()
    tx, d_tx = self.tx, self.d_tx

    def step(state, batch, noise, vgg):
      trainable, frozen = split_frozen(state.params)
      disc = state.discriminator
      grads, (g_terms, pred01, gt01, spectral) = jax.grad(generator_loss, has_aux=True)(
          trainable, frozen, disc.spectral, disc.params, batch, noise, vgg)
      updates, opt_state = tx.update(grads, state.opt_state, trainable)
      trainable = optax.apply_updates(trainable, updates)

      d_grads, (d_terms, spectral) = jax.grad(discriminator_loss, has_aux=True)(
          disc.params, spectral, pred01, gt01)
      d_updates, d_opt_state = d_tx.update(d_grads, disc.opt_state, disc.params)
      disc = DiscriminatorState(params=optax.apply_updates(disc.params, d_updates), opt_state=d_opt_state,
                                spectral=spectral)
      state = state.replace(step=state.step + 1, params={**trainable, **frozen}, opt_state=opt_state,
                            discriminator=disc)
      metrics = {**g_terms, **d_terms}
      return (state, metrics, (grads, d_grads)) if return_grads else (state, metrics)

    return step

  def _losses(self):
    """(generator loss, discriminator loss) of the step, each `(...) -> (loss, (terms, ...))`."""
    model, disc, config = self.model, self.disc, self.config
    weights, patch = config.loss_weights, config.data.patch

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

    return generator_loss, discriminator_loss
