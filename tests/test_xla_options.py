"""Our programs compile without XLA:CPU's YNNPACK fusions (slower here: liifusion_jax/xla_options.py)
and compute the same function."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax import xla_options


def _mlp(x, kernels):
  for kernel in kernels:
    x = jax.nn.relu(x @ kernel)
  return x


def test_jitted_programs_skip_ynnpack_fusions_and_agree():
  if jax.default_backend() != "cpu":
    pytest.skip("the options are XLA:CPU's")
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((512, 64), np.float32))
  kernels = [jnp.asarray(rng.standard_normal((64, 64), np.float32) / 8) for _ in range(3)]
  plain = jax.jit(_mlp).lower(x, kernels).compile()
  ours = xla_options.jit(_mlp).lower(x, kernels).compile()
  if "__ynn_fusion" not in plain.as_text():
    pytest.skip("this jaxlib fuses nothing with YNNPACK")
  assert xla_options.compiler_options() == xla_options.CPU_OPTIONS
  assert "__ynn_fusion" not in ours.as_text()
  want = np.asarray(plain(x, kernels))
  np.testing.assert_allclose(np.asarray(ours(x, kernels)), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_the_environment_keeps_xla_defaults(monkeypatch):
  xla_options.compiler_options.cache_clear()
  monkeypatch.setenv(xla_options.ENV, "1")
  try:
    assert xla_options.compiler_options() is None
  finally:
    xla_options.compiler_options.cache_clear()
