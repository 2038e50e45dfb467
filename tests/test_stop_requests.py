"""SIGTERM at awkward moments of training: during a step's logs it stops after that step, during a
validation it abandons the validation and saves the step (a scheduler's grace period is short)."""
import signal
import subprocess
import sys

import pytest

from conftest import REPO
from train_helpers import TINY, checkpoint_steps, records

SIGNAL_AT = """
import os, signal, sys
from liifusion_jax.evaluation import validation
from liifusion_jax.train import metrics_log

where = sys.argv.pop(1)
log, upscaled = metrics_log.Logger.__call__, validation.upscaled

def log_then_signal(self, record, *args, **kwargs):
  log(self, record, *args, **kwargs)
  if where == "log" and record["step"] == 3 and "loss" in record:
    os.kill(os.getpid(), signal.SIGTERM)  # while the step's logs are written

def upscaled_then_signal(*args, **kwargs):
  print("validating an image", flush=True)
  if where == "validation":
    os.kill(os.getpid(), signal.SIGTERM)
  return upscaled(*args, **kwargs)

metrics_log.Logger.__call__, validation.upscaled = log_then_signal, upscaled_then_signal
from liifusion_jax.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


def _train_with_a_signal(where, workdir, *overrides):
  command = [sys.executable, "-c", SIGNAL_AT, where, "--config", "configs/stage1.py:quick", "--workdir",
             str(workdir), *(f"--config.{o}" for o in (*TINY, *overrides))]
  stopped = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  assert stopped.returncode == 143 and "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
  return stopped


@pytest.mark.slow
def test_a_signal_during_a_steps_logs_stops_after_that_step(tmp_path):
  stopped = _train_with_a_signal("log", tmp_path / "run", "epochs=3")
  assert f"stopped on SIGTERM after step 3; saved {tmp_path / 'run' / 'checkpoints' / '3'}" in stopped.stderr
  assert checkpoint_steps(tmp_path / "run") == [2, 3]


@pytest.mark.slow
def test_a_signal_during_validation_abandons_it_and_saves_the_step(tmp_path):
  stopped = _train_with_a_signal("validation", tmp_path / "run", "epochs=3", "save_every_epochs=2",
                                 "val.every_epochs=1")
  assert f"stopped on SIGTERM after step 2; saved {tmp_path / 'run' / 'checkpoints' / '2'}" in stopped.stderr
  assert stopped.stdout.count("validating an image") == 1  # not the other images, nor another step
  assert checkpoint_steps(tmp_path / "run") == [2]
  assert [r["step"] for r in records(tmp_path / "run")] == [1, 2]  # no validation row
