"""Stage 1: the prior encoder sees the HR image (Eq. 1); the model learns to reconstruct from it."""
import jax
import jax.numpy as jnp
import ml_collections
import optax

from liifusion_jax.data.images import normalise
from liifusion_jax.losses.reconstruction import reconstruction_loss
from liifusion_jax.models.factory import build_model
from liifusion_jax.train.batch_inputs import prior_of_batch
from liifusion_jax.train.state import TrainState, TrainStep, adam, overlay_params


def _forward(model, batch):
  scale = jnp.stack([batch["scale"]] * 2, axis=-1) if model.scale_aware_prior else None
  feat = model.encode(normalise(batch["inp"]), *prior_of_batch(batch), scale)
  return model.decode(feat, batch["coord"], batch["cell"])


class Stage1:
  """Stage 1 as the loop drives it (`train.task.Task`): one model, one Adam on all of its params.

  Args:
    config: a stage-1 config (configs/stage1.py).
    steps_per_epoch: steps per epoch, which turn the learning rate's milestone epochs into steps.
  """

  stage = "stage1"
  frozen = None

  def __init__(self, config: ml_collections.ConfigDict, steps_per_epoch: int):
    self.config = config
    self.model = build_model("stage1", config.model, config.precision)
    self.tx = adam(config.optim.lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)

  def init_state(self, rng: jax.Array, batch: dict[str, jax.Array]) -> TrainState:
    """A fresh stage-1 state (torch-style initialisation, Adam moments at zero); pure, so a resumed run
    can take its shapes from `jax.eval_shape`."""
    params = jax.jit(lambda r, b: self.model.init(r, b, method=_forward)["params"])(rng, batch)
    return self.state_of_weights(params)

  def state_of_weights(self, params) -> TrainState:
    """A stage-1 state at step 0 holding `params` (fresh or converted), Adam's moments at zero."""
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=self.tx.init(params))

  def load_init_from(self, state: TrainState) -> TrainState:
    """A fresh state fine-tuning `config.init_from` (a stage-1 run, checkpoint or pretrained:stage1),
    where set; Adam's moments start at zero whatever the params."""
    if not self.config.init_from:
      return state
    return state.replace(params=overlay_params(self.config.init_from, state.params))

  def load_step_constants(self) -> tuple[()]:
    """Nothing: the stage-1 step needs no arrays beside the state and the batch."""
    return ()

  def make_train_step(self, return_grads: bool = False) -> TrainStep:
    """The step `(state, batch, rng) -> (state, {"loss"})`: one Adam step on the L1 (or MSE) loss.

    Args:
      return_grads: also return the step's gradients, `(state, metrics, grads)` (the training-parity
        test compares them with the reference's; the loop does not ask for them).

    Returns:
      The unjitted step function; `rng` is unused (stage 1 is deterministic given the batch).
    """
    model, tx, loss_kind = self.model, self.tx, self.config.loss

    def loss_fn(params, batch):
      pred = model.apply({"params": params}, batch, method=_forward)
      return reconstruction_loss(pred, normalise(batch["gt"]), loss_kind)

    def step(state, batch, rng):
      del rng
      loss, grads = jax.value_and_grad(loss_fn)(state.params, batch)
      updates, opt_state = tx.update(grads, state.opt_state, state.params)
      params = optax.apply_updates(state.params, updates)
      state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
      return (state, {"loss": loss}, grads) if return_grads else (state, {"loss": loss})

    return step
