"""A run's metric writers, read back: metrics.jsonl and the TensorBoard event files beside it."""
import itertools
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from tensorboardX import event_file_writer

from liifusion_jax.resize.matlab_pil import to_uint8
from liifusion_jax.train.metrics_log import Logger, read_rows
from liifusion_jax.train.state import adam, learning_rates
from liifusion_jax.train import tensorboard_log
from liifusion_jax.train.tensorboard_log import run_and_tag
from train_helpers import tensorboard_events


def test_keys_become_tags_with_bicubic_in_its_own_run():
  assert run_and_tag("loss") == ("", "train/loss")
  assert run_and_tag("val_psnr_x2") == ("", "val/psnr_x2")
  assert run_and_tag("val_bicubic_lpips_x3.5") == ("bicubic", "val/lpips_x3.5")


def test_records_become_curves_and_a_resumed_run_hides_the_steps_it_replays(tmp_path):
  image = np.linspace(0, 1, 5 * 6 * 3, dtype=np.float32).reshape(5, 6, 3)
  log = Logger(tmp_path)
  log.begin(0)
  for step in (1, 2, 3, 4):
    log({"step": step, "epoch": step / 2, "loss": step / 4})
  log({"step": 4, "val_psnr_x2": 30.25, "val_bicubic_psnr_x2": 28.5})
  log.images(4, {"val_sample_x2/model": image})
  log({"step": 4, "sample": "samples", "scale": 2.0, "psnr": 30.5}, curves=False)
  log.close()
  scalars, images = tensorboard_events(tmp_path / "tb")
  assert scalars == {"train/epoch": {1: 0.5, 2: 1.0, 3: 1.5, 4: 2.0},
                     "train/loss": {1: 0.25, 2: 0.5, 3: 0.75, 4: 1.0}, "val/psnr_x2": {4: 30.25}}
  assert tensorboard_events(tmp_path / "tb" / "bicubic")[0] == {"val/psnr_x2": {4: 28.5}}
  np.testing.assert_array_equal(images["val_sample_x2/model"][4], to_uint8(image))

  resumed = Logger(tmp_path)  # killed after step 4's rows, resumed from step 2's checkpoint
  resumed.begin(2)
  resumed({"step": 3, "loss": 0.125})
  resumed.close()
  assert [row["step"] for row in read_rows(tmp_path / "metrics.jsonl")] == [1, 2, 3]
  scalars, images = tensorboard_events(tmp_path / "tb")
  assert scalars == {"train/epoch": {1: 0.5, 2: 1.0}, "train/loss": {1: 0.25, 2: 0.5, 3: 0.125}}
  assert images == {} and tensorboard_events(tmp_path / "tb" / "bicubic") == ({}, {})


def test_a_resumed_run_hides_the_replayed_steps_when_its_files_open_across_a_second_boundary(
    tmp_path, monkeypatch):
  # The first file's suffix is taken 2 ms before a second ends, its bicubic file named after it, in the
  # second that the resumed run's files are named in.
  ticks = itertools.count(1_700_000_000_998_000_000, 1_000_000)
  clock = types.SimpleNamespace(time_ns=lambda: next(ticks), time=lambda: next(ticks) / 1e9)
  monkeypatch.setattr(tensorboard_log, "time", clock)
  monkeypatch.setattr(event_file_writer, "time", clock)
  for start, step, value in ((0, 4, 0.25), (2, 3, 0.5)):
    events = tensorboard_log.EventWriter(tmp_path, start=start)
    events.scalars(step, {"loss": value, "val_bicubic_psnr": value})
    events.close()
  assert tensorboard_events(tmp_path)[0] == {"train/loss": {3: 0.5}}
  assert tensorboard_events(tmp_path / "bicubic")[0] == {"val/psnr": {3: 0.5}}


def test_tensorboard_off_or_another_process_writes_no_events(tmp_path, monkeypatch):
  (tmp_path / "off").mkdir()
  log = Logger(tmp_path / "off", tensorboard=False)
  log.begin(0)
  log({"step": 1, "loss": 0.5})
  log.close()
  assert [p.name for p in (tmp_path / "off").iterdir()] == ["metrics.jsonl"]
  monkeypatch.setattr(jax, "process_index", lambda: 1)
  (tmp_path / "other").mkdir()
  log = Logger(tmp_path / "other")
  log.begin(0)
  log({"step": 1, "loss": 0.5})
  log.images(1, {"val_sample_x2/model": np.zeros((2, 2, 3))})
  log.close()
  assert not any((tmp_path / "other").iterdir())


def test_logged_learning_rates_are_the_ones_adam_applies():
  optim = ml_collections.ConfigDict(dict(lr=1e-3, d_lr=4e-3, milestones=(1, 2), gamma=0.5))
  rates = [learning_rates(optim, 2, step) for step in range(6)]
  assert [r["lr"] for r in rates] == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])
  assert [r["d_lr"] for r in rates] == pytest.approx([4e-3, 4e-3, 2e-3, 2e-3, 1e-3, 1e-3])
  tx = adam(optim.lr, optim.milestones, optim.gamma, steps_per_epoch=2)
  params = jnp.zeros(3)
  opt_state = tx.init(params)
  for rate in rates:  # a constant gradient: each Adam update is the rate itself
    updates, opt_state = tx.update(jnp.ones(3), opt_state, params)
    np.testing.assert_allclose(-updates, rate["lr"], rtol=1e-4)  # Adam's bias correction in float32
  stage1_optim = ml_collections.ConfigDict(dict(lr=1e-3, milestones=(), gamma=0.5))
  assert learning_rates(stage1_optim, 1, 0) == {"lr": pytest.approx(1e-3)}
