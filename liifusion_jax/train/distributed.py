"""Multi-host start-up: `jax.distributed.initialize()` when the environment describes several processes."""
import os

import jax


def _multi_process():
  if os.environ.get("JAX_COORDINATOR_ADDRESS"):
    return True
  return any(int(os.environ.get(name, "1")) > 1 for name in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"))


def initialize():
  """Joins the multi-host job (coordinator, process count and index from the environment)."""
  if _multi_process():
    jax.distributed.initialize()
