"""A persistent XLA compilation cache for train.py, eval.py and upscale.py.

Every HR bucket of a training run, and every image size of an evaluation, compiles its programs (6-30 s
each for a training step on CPU, 1-2 s per image size for inference). Kept on disk, they are loaded
instead when a run resumes (a preempted Colab session) or a checkpoint is evaluated on the same data
again. `LIIFUSION_XLA_CACHE` names the folder (default ~/.cache/liifusion_jax/xla); set it empty to
turn the cache off. It keeps at most 2 GiB. A cache folder already chosen (JAX_COMPILATION_CACHE_DIR,
jax.config) is kept.
"""
import os

import jax

ENV = "LIIFUSION_XLA_CACHE"
DEFAULT = os.path.join("~", ".cache", "liifusion_jax", "xla")
MAX_BYTES = 2 * 1024 ** 3  # beyond this, the least recently used programs are dropped


def enable():
  """Turns the cache on before the first compilation; returns its folder, or None where it is off."""
  chosen = jax.config.jax_compilation_cache_dir
  if chosen:
    return chosen
  path = os.path.expanduser(os.environ.get(ENV, DEFAULT))
  if not path:
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)  # small programs: not worth a file
  jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
  return path
