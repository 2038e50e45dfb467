"""The commands outside a checkout: bundled configs by name, `python -m liifusion_jax`, console scripts,
and (slow) a wheel installed into a fresh virtual environment."""
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
from liifusion_jax.config import ConfigError, load_config

COMMANDS = ("train", "eval", "upscale")


def test_bundled_config_by_name():
  by_name = load_config("stage2:quick")
  assert by_name.to_dict() == load_config(f"{REPO}/configs/stage2.py:quick").to_dict()
  assert by_name.stage == "stage2" and by_name.epochs == 6
  with pytest.raises(ConfigError, match=r"config file not found: stage3 \(or a bundled config: .*stage1"):
    load_config("stage3")
  with pytest.raises(ConfigError, match="config file not found: nowhere/stage1"):
    load_config("nowhere/stage1")  # a path is never a name


def test_console_scripts_are_the_cli_mains():
  scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
  assert sorted(scripts) == [f"liifusion-{c}" for c in sorted(COMMANDS)]
  for command in COMMANDS:
    module, _, function = scripts[f"liifusion-{command}"].partition(":")
    assert getattr(importlib.import_module(module), function) is importlib.import_module(
        f"liifusion_jax.cli.{command}").main
    assert f"from {module} import {function}" in (REPO / f"{command}.py").read_text()


def test_python_m_dispatches_to_the_commands(capsys, monkeypatch):
  monkeypatch.setattr(sys, "argv", list(sys.argv))  # the dispatch names the program in sys.argv[0]
  for command in COMMANDS:
    assert exit_status(module_main.main, [command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m liifusion_jax {command} ")
  assert exit_status(module_main.main, ["train", "--config", "stage3"]) == 1
  assert capsys.readouterr().err.startswith("error: config file not found: stage3")
  assert module_main.main([]) == 2 and "usage: python -m liifusion_jax {train,eval,upscale}" in capsys.readouterr().err
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
  installed commands there: an upscale with the bundled model, the config shipped by name, --help."""
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
  for command in ("liifusion-train", "liifusion-eval"):
    assert _run([command, "--help"], env, work).stdout.startswith(f"usage: {command} ")
  assert _run([python, "-m", "liifusion_jax", "upscale", "--help"], env, work).stdout.startswith(
      "usage: python -m liifusion_jax upscale ")
