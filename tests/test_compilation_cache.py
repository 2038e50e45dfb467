"""compilation_cache.enable: the folder comes from LIIFUSION_XLA_CACHE unless one is already chosen."""
import os
import subprocess
import sys
import textwrap

import jax
import pytest

from liifusion_jax import compilation_cache


OPTIONS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
           "jax_compilation_cache_max_size")


@pytest.fixture
def no_cache_dir():
  session = {name: jax.config.values[name] for name in OPTIONS}  # the test session's cache (conftest)
  jax.config.update("jax_compilation_cache_dir", None)
  yield
  for name, value in session.items():
    jax.config.update(name, value)


def test_folder_from_the_environment(no_cache_dir, monkeypatch, tmp_path):
  monkeypatch.setenv(compilation_cache.ENV, str(tmp_path / "xla"))
  assert compilation_cache.enable() == str(tmp_path / "xla")
  assert jax.config.jax_compilation_cache_dir == str(tmp_path / "xla")
  assert jax.config.jax_compilation_cache_max_size == compilation_cache.MAX_BYTES


def test_empty_variable_turns_it_off(no_cache_dir, monkeypatch):
  monkeypatch.setenv(compilation_cache.ENV, "")
  assert compilation_cache.enable() is None
  assert jax.config.jax_compilation_cache_dir is None


def test_default_folder_under_the_home(no_cache_dir, monkeypatch, tmp_path):
  monkeypatch.delenv(compilation_cache.ENV, raising=False)
  monkeypatch.setenv("HOME", str(tmp_path))
  assert compilation_cache.enable() == str(tmp_path / ".cache" / "liifusion_jax" / "xla")


def test_a_folder_already_chosen_is_kept(no_cache_dir, monkeypatch, tmp_path):
  jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
  monkeypatch.setenv(compilation_cache.ENV, str(tmp_path / "other"))
  assert compilation_cache.enable() == str(tmp_path / "mine")
  assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")


def test_programs_are_written_to_the_folder(tmp_path):
  """In a fresh process, as eval.py starts: a compiled program lands in the folder. Without the
  `filelock` package JAX warns at every cache access and writes nothing (a fresh install's default)."""
  script = textwrap.dedent("""
      import jax
      from liifusion_jax import compilation_cache
      compilation_cache.enable()
      jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
      jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
      jax.jit(lambda x: x * 2 + 1)(jax.numpy.ones(3)).block_until_ready()
  """)
  env = {**os.environ, compilation_cache.ENV: str(tmp_path / "xla"), "JAX_PLATFORMS": "cpu"}
  env.pop("JAX_COMPILATION_CACHE_DIR", None)
  done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                        timeout=120)
  assert done.returncode == 0, done.stderr
  assert "filelock" not in done.stderr
  assert any((tmp_path / "xla").iterdir())
