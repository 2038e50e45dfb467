"""Data-parallel layout: a 1-D device mesh ('data'), the batch split along it, the train state
replicated (or, with `shard_params`, each large array of it split along one axis between steps).

One device is the same code path as many: a 1-device mesh, the same shardings, the same jit.
With several processes the mesh spans every process's devices and each process feeds its slice of
the batch (`prefetch_to_device(..., sharding=batch_sharding(mesh))`).
"""
import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from liifusion_jax import xla_options
from liifusion_jax.config import ConfigError

AXIS = "data"
# Arrays smaller than this stay replicated under `shard_params`: splitting them saves little memory
# and costs a gather each.
MIN_SHARDED_SIZE = 2 ** 12


def data_mesh(devices=None):
  """A 1-D mesh over `devices` (default: every device of every process)."""
  return Mesh(np.asarray(devices if devices is not None else jax.devices()), (AXIS,))


def local_mesh():
  """A 1-D mesh over this process's devices (inference: no cross-process traffic)."""
  return data_mesh(jax.local_devices())


def replicated(mesh):
  return NamedSharding(mesh, P())


def batch_sharding(mesh):
  return NamedSharding(mesh, P(AXIS))


def check_batch_size(batch_size, mesh):
  devices = mesh.size
  if batch_size % devices:
    raise ConfigError(f"the global batch size {batch_size} does not divide evenly over {devices} devices; "
                     f"choose a multiple of {devices} (--config.batch_size=...)")


def param_spec(shape, devices):
  """The PartitionSpec splitting an array's largest axis divisible by `devices` (ties: the last),
  or replicating it when it is small or no axis divides."""
  if devices == 1 or int(np.prod(shape, dtype=np.int64)) < MIN_SHARDED_SIZE:
    return P()
  axes = [i for i, size in enumerate(shape) if size % devices == 0]
  if not axes:
    return P()
  axis = max(axes, key=lambda i: (shape[i], i))
  return P(*([None] * axis + [AXIS]))


def state_shardings(state, mesh, shard_params=False, frozen=None):
  """A NamedSharding per leaf of `state`: all replicated, or (`shard_params`) split by `param_spec`.

  frozen: the name of a params entry kept replicated even when sharding (stage 2's frozen prior
  encoder: read by every step, never updated, so splitting it would only add gathers).
  """
  if not shard_params:
    return jax.tree.map(lambda _: replicated(mesh), state)
  devices = mesh.size

  def leaf(path, x):
    if frozen is not None and any(getattr(k, "key", None) == frozen for k in path[:2]):
      return replicated(mesh)
    return NamedSharding(mesh, param_spec(np.shape(x), devices))

  return jax.tree_util.tree_map_with_path(leaf, state)


def place(tree, shardings):
  """`tree` laid out as `shardings` (a matching tree, or one sharding for every leaf)."""
  return jax.device_put(tree, shardings)


def replicate(tree, mesh):
  return jax.device_put(tree, replicated(mesh))


def jit_train_step(step, mesh, state_sharding, num_constants):
  """`step(state, batch, rng, *constants) -> (state, metrics)` under jit with explicit layouts: the
  state keeps `state_sharding` (donated), the batch is split along the mesh, the key, constants and
  metrics are replicated.

  Each device computes its slice of the batch; XLA sums the gradients across devices (the loss is a
  mean over the global batch), so the step is the same function on any number of devices. Split
  arrays (`shard_params`) of `state.params` and `state.discriminator` (stage 2's) are gathered
  at the start of the step, so the compute, and its rounding, is that of the replicated step (a
  forward pass on split kernels differs by float rounding, which Adam's first steps, dividing by
  |gradient| + 1e-8, blow up for near-zero gradients). What stays split is the storage between steps.
  """
  batch, rest = batch_sharding(mesh), replicated(mesh)

  def gathered_step(state, *args):
    state = state.replace(params=jax.lax.with_sharding_constraint(state.params, rest),
                          discriminator=jax.lax.with_sharding_constraint(state.discriminator, rest))
    return step(state, *args)

  return xla_options.jit(gathered_step,
                         in_shardings=(state_sharding, batch, rest) + (rest,) * num_constants,
                         out_shardings=(state_sharding, rest), donate_argnums=0)


def to_local(tree, mesh):
  """A (possibly multi-process, possibly sharded) tree replicated on this process's `mesh`.

  Every process must call this together when some array is split across processes: those are
  gathered (a collective); replicated ones are copied from a local replica.
  """
  def leaf(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      x = (x.addressable_data(0) if x.is_fully_replicated
           else multihost_utils.process_allgather(x, tiled=True))
    return jax.device_put(x, replicated(mesh))

  return jax.tree.map(leaf, tree)
