"""notebooks/colab.ipynb: generated from notebooks/make_colab.py, and it runs end to end on CPU."""
import ast
import importlib.util
import json
import math
import pathlib
import shutil
import subprocess
import sys

import pytest
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = ["--config.epochs=1", "--config.steps_per_epoch=1", "--config.batch_size=2",
        "--config.data.patch=16", "--config.data.sample_q=64", "--config.data.scale_max=2.0",
        "--config.val.crop=48", "--config.val.scales=(2.0,)", "--config.data.num_workers=0"]


def make_colab():
  spec = importlib.util.spec_from_file_location("make_colab", REPO / "notebooks" / "make_colab.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def python_source(cell):
  """A code cell without its shell and magic lines (`!pip ...`, `%cd ...`): those only install."""
  lines = "".join(cell["source"]).splitlines()
  return "\n".join(line for line in lines if not line.lstrip().startswith(("!", "%")))


def code_cells():
  notebook = json.loads((REPO / "notebooks" / "colab.ipynb").read_text())
  return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def test_notebook_is_generated_from_its_script():
  module = make_colab()
  assert module.NOTEBOOK.read_text() == module.render(), "run python notebooks/make_colab.py"
  assert module.main(["--check"]) == 0
  notebook = json.loads(module.render())
  assert notebook["nbformat"] == 4 and notebook["metadata"]["accelerator"] == "GPU"
  for cell in code_cells():
    ast.parse(python_source(cell))  # valid Python once the shell lines are gone


def test_install_cell_needs_a_source_and_unpacks_an_archive(tmp_path, monkeypatch):
  """An empty form stops with a message naming both fields; an archive holding one top folder (as
  GitHub's) unpacks to that folder. A checkout already importable is entered, not installed again."""
  monkeypatch.chdir(tmp_path)
  namespace = {}
  for cell in code_cells()[:2]:
    exec(compile(python_source(cell), "<colab cell>", "exec"), namespace)
  assert pathlib.Path.cwd() == REPO
  with pytest.raises(ValueError, match="REPO_URL.*SOURCE_PATH"):
    namespace["repository_folder"]("", "")
  (tmp_path / "tree" / "liifusion-jax-main").mkdir(parents=True)
  (tmp_path / "tree" / "liifusion-jax-main" / "pyproject.toml").write_text("")
  archive = shutil.make_archive(str(tmp_path / "repo"), "zip", tmp_path / "tree")
  folder = namespace["repository_folder"]("", archive, target=str(tmp_path / "unpacked"))
  assert folder == tmp_path / "unpacked" / "liifusion-jax-main"


def test_install_cell_installs_a_wheel_as_it_is(tmp_path, monkeypatch):
  """A wheel in SOURCE_PATH is pip-installed with JAX, not unpacked, and no folder is entered."""
  monkeypatch.chdir(tmp_path)
  namespace = {}
  for cell in code_cells()[:2]:
    exec(compile(python_source(cell), "<colab cell>", "exec"), namespace)
  wheel = tmp_path / "liifusion_jax-0.1.0-py3-none-any.whl"
  wheel.write_bytes(b"a wheel")
  monkeypatch.chdir(tmp_path)
  commands = []
  monkeypatch.setattr(namespace["importlib"].util, "find_spec", lambda name: None)  # not installed yet
  monkeypatch.setattr(subprocess, "run", lambda command, check: commands.append(command))
  namespace["install"]("", str(wheel), "jax[cuda12]")
  assert commands == [[sys.executable, "-m", "pip", "install", "-q", str(wheel), "jax[cuda12]"]]
  assert pathlib.Path.cwd() == tmp_path
  with pytest.raises(FileNotFoundError, match="SOURCE_PATH .*missing.whl does not exist"):
    namespace["install"]("", str(tmp_path / "missing.whl"), "jax")


def test_the_upscale_cells_use_the_bundled_model_without_training(tmp_path, monkeypatch):
  """Install, settings, then straight to the upscale cells: the bundled stage-2 model upscales."""
  monkeypatch.chdir(REPO)
  namespace = {}
  for cell in code_cells():
    source = python_source(cell)
    if "train(" in source or "evaluate(" in source or "show_run" in source:
      continue
    exec(compile(source, "<colab cell>", "exec"), namespace)
    if "QUICK_OVERRIDES =" in source:
      namespace.update(RUNS=str(tmp_path / "runs"), UPSCALE=2.0,
                       stage2_dir=str(tmp_path / "runs" / "stage2_quick"))
      (tmp_path / "runs").mkdir()
      assert namespace["stage2_model"]() == "pretrained:stage2"
  lr, sr = Image.open(namespace["image_path"]), Image.open(tmp_path / "runs" / "upscaled.png")
  assert sr.size == (2 * lr.width, 2 * lr.height)


@pytest.mark.slow
def test_notebook_runs_on_cpu_with_tiny_settings(tmp_path, monkeypatch):
  """Executes every code cell in order in one namespace, as Colab would, with tiny run settings."""
  monkeypatch.chdir(REPO)
  data = tmp_path / "eval_data"
  data.mkdir()
  import skimage.data
  Image.fromarray(skimage.data.astronaut()[100:164, 200:264]).save(data / "crop.png")
  namespace = {}
  for cell in code_cells():
    source = python_source(cell)
    exec(compile(source, "<colab cell>", "exec"), namespace)
    if "QUICK_OVERRIDES =" in source:
      runs = tmp_path / "runs"
      namespace.update(RUNS=str(runs), QUICK_OVERRIDES=TINY, EVAL_SCALES="2", EVAL_DATA=[str(data)],
                       UPSCALE=2.0, stage1_dir=str(runs / "stage1_quick"), stage2_dir=str(runs / "stage2_quick"))
  for stage in ("stage1_quick", "stage2_quick"):
    assert (runs / stage / "checkpoints" / "1").is_dir()
  results = json.loads((runs / "eval_stage2.json").read_text())["results"]
  assert [r["scale"] for r in results] == [2.0] and math.isfinite(results[0]["psnr"])
  assert namespace["stage2_model"]() == str(runs / "stage2_quick")  # the run trained, not the bundled one
  lr, sr = Image.open(namespace["image_path"]), Image.open(runs / "upscaled.png")
  assert sr.size == (2 * lr.width, 2 * lr.height)
  assert namespace["side_by_side"].size == (2 * sr.width, sr.height)
