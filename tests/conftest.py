import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def golden_dir():
  return pathlib.Path(os.environ.get("LIIFUSION_GOLDEN_DIR", SHARED / "golden"))


@pytest.fixture(scope="session")
def golden():
  """Loads `<golden>/<name>.npz` as a dict, skipping where the golden files are absent."""
  cache = {}

  def load(name):
    path = golden_dir() / f"{name}.npz"
    if not path.exists():
      pytest.skip(f"golden file {path} absent (set LIIFUSION_GOLDEN_DIR)")
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
