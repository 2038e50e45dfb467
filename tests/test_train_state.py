"""Run checkpoints of the train state: the current layout, and the earlier one (`extra`) read into it."""
import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
import pytest

from liifusion_jax.checkpoints.run import RunCheckpoints
from liifusion_jax.train.state import DiscriminatorState, TrainState, adam
from train_helpers import assert_trees_equal


def _state(with_discriminator):
  """A small train state with distinct values in every array, Adam's state included."""
  tx = adam(1e-3)
  params = {"decoder": {"kernel": jnp.arange(6.0).reshape(2, 3)}, "prior_encoder": {"bias": jnp.ones(2)}}
  opt_state = jax.tree.map(lambda x: x + 0.5, tx.init(params))
  disc = None
  if with_discriminator:
    d_params = {"conv": {"kernel": jnp.arange(4.0) - 9}}
    disc = DiscriminatorState(params=d_params, opt_state=jax.tree.map(lambda x: x + 2, tx.init(d_params)),
                              spectral={"conv": {"u": jnp.full((3,), 7.0)}})
  return TrainState(step=jnp.int32(5), params=params, opt_state=opt_state, discriminator=disc)


def _legacy(state):
  """`state` as versions before the named discriminator saved it: a dict with `extra`."""
  disc = state.discriminator
  extra = None if disc is None else {"d_params": disc.params, "d_opt_state": disc.opt_state,
                                     "spectral": disc.spectral}
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state, "extra": extra}


def _saved_tree(workdir, step):
  return ocp.StandardCheckpointHandler().metadata(workdir / "checkpoints" / str(step) / "state").tree


@pytest.mark.parametrize("stage, with_discriminator", [("stage1", False), ("stage2", True)])
def test_legacy_checkpoint_restores_into_the_named_state(stage, with_discriminator, tmp_path):
  state = _state(with_discriminator)
  checkpoints = RunCheckpoints(tmp_path)
  checkpoints.save(3, _legacy(state), {"stage": stage})
  checkpoints.save(4, state, {"stage": stage})
  checkpoints.wait()
  assert "extra" in _saved_tree(tmp_path, 3)
  assert "extra" not in _saved_tree(tmp_path, 4) and "discriminator" in _saved_tree(tmp_path, 4)
  abstract = jax.eval_shape(lambda: _state(with_discriminator))
  for step in (3, 4):
    restored = checkpoints.restore(step, abstract, stage)
    assert isinstance(restored, TrainState)
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    assert_trees_equal(restored, state)
  assert (restored.discriminator is None) == (not with_discriminator)
  checkpoints.close()

