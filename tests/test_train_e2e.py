"""End to end: training on the built-in photographs, exact resume, stage 2 from stage 1, bad configs."""
import shutil

import jax
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import load_params
from liifusion_jax.cli import train as cli
from liifusion_jax.config import ConfigError, apply_overrides, load_config
from liifusion_jax.train import loop
from cli_helpers import exit_status
from conftest import REPO
from train_helpers import (assert_trees_equal, checkpoint_steps, losses, records, tensorboard_events,
                           tiny_config)


def test_stage1_run_leaves_checkpoint_sample_and_logs(stage1_runs):
  straight, _ = stage1_runs
  params, meta = load_params(straight, expected_stage="stage1")
  assert meta["stage"] == "stage1" and meta["config"]["batch_size"] == 2
  assert set(params) == {"encoder", "prior_encoder", "prior_injector", "decoder"}
  assert checkpoint_steps(straight) == [2, 4]
  for name in ("lr", "bicubic", "model", "hr"):
    assert (straight / "samples" / f"x2_{name}.png").is_file()
  rows = records(straight)
  assert any("val_psnr_x2" in r and np.isfinite(r["val_psnr_x2"]) for r in rows)
  assert "bicubic_psnr" in rows[-1]


def test_stage1_run_writes_tensorboard_curves_and_samples(stage1_runs):
  straight, resumed = stage1_runs
  rows = records(straight)
  scalars, images = tensorboard_events(straight / "tb")
  assert set(scalars) == {"train/loss", "train/epoch", "train/lr", "train/sec_per_step", "val/psnr_x2"}
  for key in ("loss", "epoch", "lr", "sec_per_step"):
    expected = {r["step"]: r[key] for r in rows if "loss" in r}
    assert scalars[f"train/{key}"] == pytest.approx(expected, rel=1e-6)  # float32 in the events
  val = next(r for r in rows if "val_psnr_x2" in r)
  assert scalars["val/psnr_x2"] == pytest.approx({4: val["val_psnr_x2"]}, rel=1e-6)
  bicubic = tensorboard_events(straight / "tb" / "bicubic")[0]
  assert bicubic == {"val/psnr_x2": pytest.approx({4: val["val_bicubic_psnr_x2"]}, rel=1e-6)}
  for name in ("lr", "bicubic", "model", "hr"):  # the last validation's sample is the final one
    png = np.asarray(Image.open(straight / "samples" / f"x2_{name}.png"))
    np.testing.assert_array_equal(images[f"val_sample_x2/{name}"][4], png)
  # The resumed run's second file hides the first one's steps past 2: the curve is drawn once.
  assert tensorboard_events(resumed / "tb")[0]["train/loss"] == scalars["train/loss"]


def test_stage1_resume_is_exact(stage1_runs):
  straight, resumed = stage1_runs
  assert_trees_equal(load_params(straight)[0], load_params(resumed)[0])
  assert losses(straight) == losses(resumed)  # same data order after the restart
  logged = [r["step"] for r in records(resumed) if "loss" in r]
  assert logged == [1, 2, 3, 4]  # no row twice


def test_stage1_steps_reduce_loss_on_a_batch():
  from liifusion_jax.data import defaults
  from liifusion_jax.data.sampler import make_batch
  from liifusion_jax.train.task import build_task

  config = tiny_config("stage1", 1, "optim.lr=2e-4")  # from scratch: the quick config fine-tunes at 2e-5
  batch = make_batch(defaults.train_source(), np.random.default_rng(0), batch_size=2, patch=16,
                     scale_max=2.0, sample_q=64)
  task = build_task(config, steps_per_epoch=1)
  state = task.init_state(jax.random.PRNGKey(0), batch)
  step = jax.jit(task.make_train_step())
  history = []
  for i in range(6):
    state, metrics = step(state, batch, jax.random.PRNGKey(i), *task.load_step_constants())
    history.append(float(metrics["loss"]))
  assert history[-1] < 0.7 * history[0], history


@pytest.fixture(scope="module")
def stage2_run(stage1_runs, tmp_path_factory):
  stage1_dir, _ = stage1_runs
  workdir = tmp_path_factory.mktemp("stage2")
  loop.train(tiny_config("stage2", 1, f"init_from={stage1_dir}"), workdir)
  return stage1_dir, workdir


def test_stage2_freezes_prior_encoder_and_trains_the_rest(stage2_run):
  stage1_dir, stage2_dir = stage2_run
  before, _ = load_params(stage1_dir, expected_stage="stage1")
  after, meta = load_params(stage2_dir, expected_stage="stage2")
  assert meta["stage"] == "stage2"
  assert_trees_equal(before["prior_encoder"], after["prior_encoder"])
  for name in ("encoder", "prior_injector", "decoder"):
    changed = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before[name]),
                                                       jax.tree.leaves(after[name]))]
    assert all(changed), f"{name}: some params did not change"
  assert {"condition_encoder", "prior_generator"} <= set(after)
  val = next(r for r in records(stage2_dir) if "val_psnr_x2" in r)
  assert all(np.isfinite(val[key]) for key in ("val_lpips_x2", "val_bicubic_lpips_x2"))  # val.lpips


def test_stage2_resume_is_exact_without_its_init_from_run(stage2_run, tmp_path):
  stage1_dir, straight = stage2_run
  init_from = shutil.copytree(stage1_dir, tmp_path / "stage1")
  overrides = (f"init_from={init_from}", "steps_per_epoch=1")
  loop.train(tiny_config("stage2", 2, *overrides), straight_two := tmp_path / "straight")
  resumed = tmp_path / "resumed"
  loop.train(tiny_config("stage2", 1, *overrides, "log.tensorboard=False"), resumed)
  assert (resumed / "metrics.jsonl").is_file() and not (resumed / "tb").exists()
  shutil.rmtree(init_from)  # a resumed run takes everything from its own checkpoint
  loop.train(tiny_config("stage2", 2, *overrides), resumed)
  assert_trees_equal(load_params(straight_two)[0], load_params(resumed)[0])


def test_wrong_stage_checkpoints_are_refused(stage2_run, tmp_path):
  stage1_dir, stage2_dir = stage2_run
  with pytest.raises(CheckpointError, match="is a stage2 checkpoint, but a stage1"):
    loop.train(tiny_config("stage1", 1), stage2_dir)
  with pytest.raises(CheckpointError, match="is a stage2 checkpoint, but a stage1"):
    loop.train(tiny_config("stage2", 1, f"init_from={stage2_dir}"), tmp_path / "fresh")
  with pytest.raises(CheckpointError, match="init_from"):
    loop.train(tiny_config("stage2", 1, "init_from="), tmp_path / "none")


def test_unknown_config_key_lists_valid_ones():
  config = load_config(f"{REPO}/configs/stage1.py")
  with pytest.raises(ConfigError, match=r"unknown config key 'optim.lrr'; valid keys: .*optim\.lr"):
    apply_overrides(config, ["optim.lrr=1"])
  with pytest.raises(ConfigError, match="expects float"):
    apply_overrides(config, ["optim.lr=fast"])
  assert apply_overrides(config, ["optim.lr=2e-4", "val.scales=(2, 3)"]).optim.lr == 2e-4


def test_cli_errors_are_one_line(tmp_path, capsys):
  assert exit_status(cli.main, ["--config", f"{REPO}/configs/stage1.py", "--workdir", str(tmp_path),
                                "--config.optim.lrr=1"]) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith("error: unknown config key 'optim.lrr'") and "\n" not in err
  assert exit_status(cli.main, ["--config", f"{REPO}/configs/nope.py", "--workdir", str(tmp_path)]) == 1
  assert "config file not found" in capsys.readouterr().err
  assert exit_status(cli.main, ["--config", f"{REPO}/configs/stage1.py", "--workdir", str(tmp_path),
                                "--config.data.train_dir=/no/such/folder"]) == 1
  assert "/no/such/folder" in capsys.readouterr().err
