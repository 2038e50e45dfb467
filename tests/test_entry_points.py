"""The commands outside a checkout: bundled configs by name, `python -m liifusion_jax`, console scripts,
and (slow) a wheel installed into a fresh virtual environment."""
import ast
import importlib
import os
import pathlib
import shutil
import site
import subprocess
import sys
import tomllib
import venv

import numpy as np
import pytest
from PIL import Image

from cli_helpers import exit_status, smooth_photo
from conftest import REPO
from liifusion_jax import __main__ as module_main
from liifusion_jax.cli import launch
from liifusion_jax.config import ConfigError, default_workdir, load_config
from liifusion_jax.inference.upscaler import DEFAULT_CHUNK

COMMANDS = launch.COMMANDS


def test_bundled_config_by_name():
  by_name = load_config("stage2:quick")
  assert by_name.to_dict() == load_config(f"{REPO}/configs/stage2.py:quick").to_dict()
  assert by_name.stage == "stage2" and by_name.epochs == 6
  with pytest.raises(ConfigError, match=r"config file not found: stage3 \(or a bundled config: .*stage1"):
    load_config("stage3")
  with pytest.raises(ConfigError, match="config file not found: nowhere/stage1"):
    load_config("nowhere/stage1")  # a path is never a name


def test_configs_are_data_that_extend_their_siblings():
  """The bundled configs import ml_collections and each other, nothing of the package; stage 2 starts
  from the workdir train.py gives its stage-1 config; the evaluation chunk is the upscaler's default."""
  for file in (REPO / "configs").glob("*.py"):
    for node in ast.walk(ast.parse(file.read_text())):
      if isinstance(node, ast.Import):
        assert [a.name for a in node.names] == ["ml_collections"], file
      elif isinstance(node, ast.ImportFrom):
        assert node.level == 1 and node.module is None, file  # from . import stage1
  for variant in ("", ":quick"):
    assert load_config(f"stage2{variant}").init_from == default_workdir(f"configs/stage1.py{variant}")
  assert load_config("pretrained:stage2").init_from == default_workdir("pretrained:stage1")
  assert load_config("stage1").eval_chunk == DEFAULT_CHUNK


def test_a_config_extends_a_sibling_read_afresh(tmp_path):
  """A config of the user's own folder extends a sibling by a relative import; an edit is seen at the
  next load, and two folders' configs of the same name do not mix."""
  for folder, width in (("a", 32), ("b", 16)):
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "base.py").write_text(
        f"import ml_collections\n\ndef get_config(arg=None):\n  return ml_collections.ConfigDict("
        f"{{'width': {width}, 'init_from': 'workdir:base:' + str(arg)}})\n")
    (tmp_path / folder / "wide.py").write_text(
        "from . import base\n\ndef get_config(arg=None):\n  c = base.get_config(arg)\n  c.width *= 2\n"
        "  return c\n")
  assert load_config(tmp_path / "a" / "wide.py:x").to_dict() == {"width": 64, "init_from": "runs/base_x"}
  assert load_config(tmp_path / "b" / "wide.py").width == 32
  (tmp_path / "a" / "base.py").write_text(
      "import ml_collections\n\ndef get_config(arg=None):\n  return ml_collections.ConfigDict({'width': 8})\n")
  assert load_config(tmp_path / "a" / "wide.py").width == 16


def test_console_scripts_and_root_scripts_are_the_launchers():
  """The wheel's scripts and train.py, eval.py, ... call the same launcher (cli/launch.py), which runs
  the command's main."""
  scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
  assert sorted(scripts) == [f"liifusion-{c}" for c in sorted(COMMANDS)]
  for command in COMMANDS:
    module, _, function = scripts[f"liifusion-{command}"].partition(":")
    assert module == "liifusion_jax.cli.launch" and callable(getattr(launch, function))
    assert launch.command_main(command) is importlib.import_module(f"liifusion_jax.cli.{command}").main
    source = (REPO / f"{command}.py").read_text()
    assert f"from {module} import {function}" in source and f"sys.exit({function}())" in source


def test_python_m_dispatches_to_the_commands(capsys, monkeypatch):
  monkeypatch.setattr(sys, "argv", list(sys.argv))  # the dispatch names the program in sys.argv[0]
  for command in COMMANDS:
    assert exit_status(module_main.main, [command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m liifusion_jax {command} ")
  assert exit_status(module_main.main, ["train", "--config", "stage3"]) == 1
  assert capsys.readouterr().err.startswith("error: config file not found: stage3")
  assert module_main.main([]) == 2 and "usage: python -m liifusion_jax {train,eval,upscale,demo}" in capsys.readouterr().err
  assert module_main.main(["fit"]) == 2 and "unknown command 'fit'" in capsys.readouterr().err
  assert module_main.main(["--help"]) == 0 and capsys.readouterr().out.startswith("usage:")


def _run(argv, env, cwd):
  done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, f"{argv}: {done.stderr}"
  return done


@pytest.mark.slow
def test_wheel_installs_commands_that_upscale_with_the_bundled_model(tmp_path):
  """Builds the wheel from a copy of what it is made of, installs it into a fresh virtual environment
  outside the checkout (dependencies from this interpreter's site-packages: no download), and runs the
  installed commands there: an upscale with the bundled model, the config shipped by name, --help; the
  demo's viewer files are in it."""
  source = tmp_path / "source"
  source.mkdir()
  for name in ("pyproject.toml", "setup.py", "README.md"):
    shutil.copy2(REPO / name, source / name)
  for name in ("liifusion_jax", "configs"):
    shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
  _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(tmp_path / "dist"), str(source)], os.environ, tmp_path)
  (wheel,) = (tmp_path / "dist").glob("liifusion_jax-*.whl")

  env_dir = tmp_path / "venv"
  venv.create(env_dir, system_site_packages=True, with_pip=False)
  python = env_dir / "bin" / "python"
  purelib = pathlib.Path(subprocess.check_output(
      [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
  # Where this interpreter is itself a virtual environment, its packages are not "system" ones.
  (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
  _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
        str(wheel)], os.environ, tmp_path)

  work = tmp_path / "work"
  work.mkdir()
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}", LIIFUSION_XLA_CACHE=str(tmp_path / "xla"))
  installed = _run([python, "-c", "import liifusion_jax; print(liifusion_jax.__file__)"], env, work).stdout
  assert installed.startswith(str(purelib)), installed

  Image.fromarray(smooth_photo(24, 32)).save(work / "in.png")
  upscaled = _run(["liifusion-upscale", "in.png", "-o", "out.png", "--scale", "2"], env, work)
  assert "warning" not in upscaled.stderr.lower(), upscaled.stderr
  with Image.open(work / "out.png") as out:
    assert out.size == (64, 48) and out.mode == "RGB"
    assert np.asarray(out).std() > 10  # an image, not a constant
  loaded = _run([python, "-c", "from liifusion_jax.config import load_config; c = load_config('stage2:quick');"
                 " print(c.stage, c.init_from)"], env, work).stdout
  assert loaded.split() == ["stage2", "runs/stage1_quick"]
  for command in ("liifusion-train", "liifusion-eval", "liifusion-demo"):
    assert _run([command, "--help"], env, work).stdout.startswith(f"usage: {command} ")
  for asset in ("viewer.html", "openseadragon.min.js", "openseadragon.LICENSE.txt", "images/zoomin_rest.png"):
    assert (purelib / "liifusion_jax" / "demo" / "static" / asset).is_file(), asset  # the deep-zoom viewer
  assert _run([python, "-m", "liifusion_jax", "upscale", "--help"], env, work).stdout.startswith(
      "usage: python -m liifusion_jax upscale ")
