"""`init_from` checked before any work: missing or of the wrong stage is one error naming init_from,
with no workdir left behind; a run still training there is named in a warning with the step used."""
import os

import pytest

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.train import init_from, loop, workdir_lock
from train_helpers import tiny_config


@pytest.mark.parametrize("spec, words", [
    ("{tmp}/no_such_run", "init_from: checkpoint path not found: {tmp}/no_such_run; set --config.init_from"),
    ("pretrained:stage2", "init_from: pretrained:stage2 is a stage2 checkpoint, but a stage1 checkpoint"),
    ("{tmp}/nothing.npz", "init_from: {tmp}/nothing.npz is not a readable inference file"),
])
def test_a_bad_init_from_is_refused_before_the_workdir_is_made(spec, words, tmp_path):
  config = tiny_config("stage2", 1, f"init_from={spec.format(tmp=tmp_path)}")
  with pytest.raises(CheckpointError, match="^" + words.format(tmp=tmp_path)):
    loop.train(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


def test_a_stage2_checkpoint_is_no_init_from(stage2_ckpt, tmp_path):
  with pytest.raises(CheckpointError, match=r"^init_from: .* is a stage2 checkpoint, but a stage1"):
    init_from.check(tiny_config("stage2", 1, f"init_from={stage2_ckpt}"), tmp_path)


def test_an_init_from_still_training_is_named_with_its_step(stage1_runs, tmp_path, capsys):
  run = stage1_runs[0]
  with workdir_lock.hold(run):  # a live training process on it
    init_from.check(tiny_config("stage2", 1, f"init_from={run}"), tmp_path)
  assert capsys.readouterr().out == (f"warning: init_from {run} is in use by a training process (PID "
                                     f"{os.getpid()}); this run starts from its newest saved step, 4\n")
  init_from.check(tiny_config("stage2", 1, f"init_from={run}"), tmp_path)
  assert capsys.readouterr().out == ""  # no longer in use: nothing to say
