"""What the training loop asks of a stage (`Task`), and the stage of a config (`build_task`).

A stage is an object built once per run from its config: it owns its networks and optimisers, makes
fresh states and the jittable train step, and says what is special about it (a frozen params entry,
LPIPS in validation). `train/loop.py` does the rest the same way for every stage: data, resume,
sharding, logs, checkpoints, validation. A third stage is a class with these members in its own
`train/<stage>.py` and an entry in `TASKS` (and in `models.factory.MODELS`).
"""
from typing import Any, Protocol

import jax
import ml_collections

from liifusion_jax.train import stage1, stage2
from liifusion_jax.train.state import TrainState, TrainStep


class Task(Protocol):
  """A training stage as `train/loop.py` drives it (implemented by `stage1.Stage1`, `stage2.Stage2`)."""

  stage: str  # "stage1" / "stage2": the checkpoints', the inference files' and the upscaler's stage
  frozen: str | None  # a params entry no optimiser updates (kept replicated under shard_params)

  def init_state(self, rng: jax.Array, batch: dict[str, jax.Array]) -> TrainState:
    """A freshly initialised state at step 0, optimiser moments at zero. Pure: a resumed run takes its
    shapes from `jax.eval_shape` of it."""

  def load_init_from(self, state: TrainState) -> TrainState:
    """`state` with the params of `config.init_from` placed over its fresh ones (reads them from disk)."""

  def load_step_constants(self) -> tuple[Any, ...]:
    """The arrays the train step takes after (state, batch, rng), read from disk here (stage 2's VGG
    weights), so that the step factory does no I/O; the loop replicates them on the mesh."""

  def make_train_step(self) -> TrainStep:
    """The train step: `step(state, batch, rng, *constants) -> (state, metrics)`, pure, unjitted."""


TASKS = {"stage1": stage1.Stage1, "stage2": stage2.Stage2}


def build_task(config: ml_collections.ConfigDict, steps_per_epoch: int) -> Task:
  """The stage `config.stage` names (checked by `preflight.check_config`), its learning-rate schedule
  counted in epochs of `steps_per_epoch` steps."""
  return TASKS[config.stage](config, steps_per_epoch)
