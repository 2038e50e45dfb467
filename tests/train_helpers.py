"""Tiny training runs for the tests: configs that train in seconds, and comparisons of their results."""
import json

import jax
import numpy as np

from conftest import REPO
from liifusion_jax.config import apply_overrides, load_config

TINY = ["data.patch=16", "batch_size=2", "data.sample_q=64", "data.scale_max=2.0", "steps_per_epoch=2",
        "val_crop=48", "val_scales=(2.0,)", "save_every_epochs=1", "val_every_epochs=2",
        "log_every_steps=1", "data.num_workers=0"]


def tiny_config(stage, epochs, *extra):
  config = load_config(f"{REPO}/configs/{stage}.py:quick")
  return apply_overrides(config, [*TINY, f"epochs={epochs}", *extra])


def records(workdir):
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def losses(workdir):
  return {r["step"]: r.get("loss", r.get("g_loss")) for r in records(workdir)
          if "loss" in r or "g_loss" in r}


def checkpoint_steps(workdir):
  return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


def assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
