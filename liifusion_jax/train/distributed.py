"""Multi-host start-up: `jax.distributed.initialize()` when the environment describes several processes.

Recognised (first match wins):
- `JAX_COORDINATOR_ADDRESS=host:port` with `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`: any cluster,
  e.g. two GPU machines started by hand;
- SLURM (`srun`, `SLURM_NTASKS` > 1), Open MPI (`mpirun`, `OMPI_COMM_WORLD_SIZE` > 1) and multi-host
  Cloud TPU VMs (`TPU_WORKER_HOSTNAMES` lists several hosts): JAX reads the rest itself.
Anything else is a single-process run: no initialisation, the same code path.
"""
import os

import jax

from liifusion_jax.config import ConfigError

_CLUSTER_SIZES = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


def settings(environ=None):
  """Keyword arguments for `jax.distributed.initialize`, or None for a single-process run."""
  environ = os.environ if environ is None else environ
  if environ.get("JAX_COORDINATOR_ADDRESS"):
    kwargs = {"coordinator_address": environ["JAX_COORDINATOR_ADDRESS"]}
    for key, name in (("num_processes", "JAX_NUM_PROCESSES"), ("process_id", "JAX_PROCESS_ID")):
      if environ.get(name):
        kwargs[key] = int(environ[name])
      elif not _in_cluster(environ):
        raise ConfigError(f"JAX_COORDINATOR_ADDRESS is set, so {name} must be set too (JAX_NUM_PROCESSES: "
                         "the number of processes; JAX_PROCESS_ID: this one's index, from 0)")
    return kwargs
  return {} if _in_cluster(environ) else None


def _in_cluster(environ):
  if any(int(environ.get(name) or 1) > 1 for name in _CLUSTER_SIZES):
    return True
  return "," in environ.get("TPU_WORKER_HOSTNAMES", "")


def initialize(environ=None):
  """Joins the multi-host job the environment describes; returns whether there is one.

  Call it once, before anything touches a device (even importing modules that build jnp constants).
  """
  kwargs = settings(environ)
  if kwargs is None:
    return False
  jax.distributed.initialize(**kwargs)
  print(f"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local "
        f"devices, {jax.device_count()} in all")
  return True
