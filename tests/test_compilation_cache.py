"""compilation_cache.enable: the folder comes from LIIFUSION_XLA_CACHE unless one is already chosen."""
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
