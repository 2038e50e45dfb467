import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def golden_dir():
  return pathlib.Path(os.environ.get("LIIFUSION_GOLDEN_DIR", SHARED / "golden"))


@pytest.fixture(scope="session")
def golden_path():
  """The path of `<golden>/<name>.npz`, skipping where the golden files are absent."""

  def locate(name):
    path = golden_dir() / f"{name}.npz"
    if not path.exists():
      pytest.skip(f"golden file {path} absent (set LIIFUSION_GOLDEN_DIR)")
    return path

  return locate


@pytest.fixture(scope="session")
def golden(golden_path):
  """Loads `<golden>/<name>.npz` as a dict, skipping where the golden files are absent."""
  cache = {}

  def load(name):
    path = golden_path(name)
    if name not in cache:
      with np.load(path) as data:
        cache[name] = {k: data[k] for k in data.files}
    return cache[name]

  return load


@pytest.fixture(scope="session")
def shared_data():
  """Path of ../shared/data, skipping where it is absent."""
  path = SHARED / "data"
  if not path.exists():
    pytest.skip(f"{path} absent: the shared photographs are not available here")
  return path


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
  """One persistent XLA cache for the session: the same train step compiled by several runs compiles once."""
  import jax

  jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla_cache")))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  yield


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory):
  """A checkpoint of a random stage-1 model (for the command-line tests)."""
  from random_checkpoints import write_checkpoint

  return write_checkpoint(tmp_path_factory.mktemp("stage1"), "stage1")


@pytest.fixture(scope="module")
def stage2_ckpt(tmp_path_factory):
  """A checkpoint of a random stage-2 model (for the command-line tests)."""
  from random_checkpoints import write_checkpoint

  return write_checkpoint(tmp_path_factory.mktemp("stage2"), "stage2")


@pytest.fixture(scope="session")
def stage1_runs(tmp_path_factory):
  """A straight 4-step stage-1 run (checkpoints 2 and 4), and a 2-step run resumed to 4 steps in a
  second call. Tests that change a run work on a copy."""
  from liifusion_jax.train import loop
  from train_helpers import tiny_config

  straight = tmp_path_factory.mktemp("straight")
  loop.train(tiny_config("stage1", 2), straight)
  resumed = tmp_path_factory.mktemp("resumed")
  loop.train(tiny_config("stage1", 1), resumed)
  loop.train(tiny_config("stage1", 2), resumed)
  return straight, resumed


@pytest.fixture(autouse=True)
def no_progress_lines(monkeypatch):
  """In-process commands print no progress bar unless a test asks for one (test_progress sets
  DELAY): on a slow machine work that passes DELAY would add lines where a test counts stderr's."""
  from liifusion_jax import progress

  monkeypatch.setattr(progress, "DELAY", float("inf"))
