"""The train state, the train step's type and the optimiser schedule shared by both stages."""
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import load_params


@flax.struct.dataclass
class DiscriminatorState:
  """Stage 2's discriminator between steps: its params, its optimiser state and the u, v vectors of its
  spectral norms' power iteration (`models.discriminator.SPECTRAL`)."""
  params: Any
  opt_state: Any
  spectral: Any


@flax.struct.dataclass
class TrainState:
  """What a run checkpoints: the step, the model's params, the optimiser state of its trained params,
  and stage 2's discriminator (None in stage 1). Arrays only: the optimisers that update them are built
  once per run by the stage's task (`train.task`)."""
  step: jax.Array
  params: Any
  opt_state: Any
  discriminator: DiscriminatorState | None = None


# step(state, batch, rng, *constants) -> (state, {name: scalar}), jitted by the loop (state donated).
TrainStep = Callable[..., tuple[TrainState, dict[str, jax.Array]]]


def lr_schedule(lr, milestones=(), gamma=0.5, steps_per_epoch=1):
  """The reference's MultiStepLR: lr times gamma at each milestone epoch, as a function of the step."""
  return optax.piecewise_constant_schedule(lr, {int(m) * steps_per_epoch: gamma for m in milestones})


def adam(lr, milestones=(), gamma=0.5, steps_per_epoch=1):
  """Adam with the reference's MultiStepLR (`lr_schedule`)."""
  return optax.adam(lr_schedule(lr, milestones, gamma, steps_per_epoch))


def learning_rates(optim, steps_per_epoch, step):
  """The rates that step `step` (counted from 0) applies: `lr`, and stage 2's discriminator `d_lr`."""
  return {name: float(lr_schedule(optim[name], optim.milestones, optim.gamma, steps_per_epoch)(step))
          for name in ("lr", "d_lr") if name in optim}


def overlay_params(path, fresh):
  """A stage-1 model's params (run, checkpoint, inference file or pretrained:stage1) placed over
  freshly initialised ones: stage 2 starts from them, or stage 1 is fine-tuned."""
  loaded, _ = load_params(path, expected_stage="stage1")
  missing = [k for k in loaded if k not in fresh]
  if missing:
    raise CheckpointError(f"{path}: modules {missing} are not part of this model")
  for name, tree in loaded.items():
    if jax.tree.structure(tree) != jax.tree.structure(fresh[name]) or any(
        a.shape != b.shape for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(fresh[name]))):
      raise CheckpointError(f"{path}: module {name} has other shapes than this config's")
  return {**fresh, **jax.tree.map(jnp.asarray, loaded)}
