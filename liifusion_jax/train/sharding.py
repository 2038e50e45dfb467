"""Data-parallel layout: a 1-D device mesh, the batch split along it, the train state replicated.

One device is the same code path as many.
"""
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def data_mesh(devices=None):
  return Mesh(np.asarray(devices if devices is not None else jax.devices()), ("data",))


def replicated(mesh):
  return NamedSharding(mesh, P())


def batch_sharding(mesh):
  return NamedSharding(mesh, P("data"))


def check_batch_size(batch_size, mesh):
  devices = mesh.devices.size
  if batch_size % devices:
    raise ValueError(f"the global batch size {batch_size} does not divide evenly over {devices} devices; "
                     f"choose a multiple of {devices}")


def shard_batch(batch, mesh):
  """Places this process's slice of the global batch on the mesh as one global array per entry."""
  sharding = batch_sharding(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)


def replicate(tree, mesh):
  return jax.device_put(tree, replicated(mesh))
