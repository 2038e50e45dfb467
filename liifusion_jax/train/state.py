"""The train state and the optimiser schedule shared by both stages."""
from typing import Any

import flax
import jax
import optax


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any
  extra: Any = None  # stage 2: discriminator params, its optimiser state and spectral-norm vectors


def adam(lr, milestones=(), gamma=0.5, steps_per_epoch=1):
  """Adam with the reference's MultiStepLR: lr times gamma at each milestone epoch."""
  boundaries = {int(m) * steps_per_epoch: gamma for m in milestones}
  return optax.adam(optax.piecewise_constant_schedule(lr, boundaries))
