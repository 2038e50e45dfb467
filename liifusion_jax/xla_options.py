"""`jit` with this package's XLA options: the programs that do the work (training steps, upscaling,
LPIPS) are jitted through it.

On CPU, XLA's YNNPACK fusions (on in recent jaxlib) make our matmul- and conv-bound programs slower:
a decoder chunk takes 1.35x as long with them, a stage-1 training step 1.3-1.6x
(benchmarks/README.md, "CPU, 2026-11-30"). They are turned off per program, as a compiler option, so
other JAX code in the process keeps XLA's defaults (XLA_FLAGS would change them all); a jaxlib that
lacks the option gets none. Other backends get no options. Measured on one CPU only (a 2-core AMD
EPYC with AVX-512): `LIIFUSION_XLA_DEFAULTS=1` keeps XLA's defaults for ours too (to compare on
another CPU).
"""
import functools
import os

import jax
import jax.numpy as jnp

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}  # an empty list: no YNNPACK fusions
ENV = "LIIFUSION_XLA_DEFAULTS"


@functools.cache
def compiler_options():
  """The options of this process's default backend (None: XLA's defaults)."""
  if jax.default_backend() != "cpu" or os.environ.get(ENV, "") not in ("", "0"):
    return None
  try:  # an option this jaxlib does not know fails the compilation
    jax.jit(jnp.negative, compiler_options=CPU_OPTIONS).lower(jnp.zeros(2)).compile()
  except (TypeError, ValueError, jax.errors.JaxRuntimeError):
    return None
  return CPU_OPTIONS


def jit(fn, **kwargs):
  """`jax.jit(fn, **kwargs)` with `compiler_options()`. Call it after `jax.distributed.initialize`
  (it asks which backend is in use), not at import time."""
  return jax.jit(fn, compiler_options=compiler_options(), **kwargs)
