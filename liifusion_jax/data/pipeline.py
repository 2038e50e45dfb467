"""The training input pipeline: grain over step indices, so that batch k is a pure function of (seed, k).

Batch k takes the global sample positions k*B .. k*B + B - 1; position p is image perm_e[p % N] of
epoch e = p // N, perm_e a permutation of the N source items drawn from (seed, e). Its other draws
(scale, crops, flips, queries) come from a generator seeded with (seed, k). Resuming at step k therefore
gives exactly the batches a fresh run gives from step k on, whatever the worker count.
(The reference instead shuffles fixed groups of `batch_size` consecutive images; an epoch here is
likewise one pass over the source, `repeat` included.)
"""
import collections
import functools
import itertools
import signal

import grain
from absl import flags
import jax
import numpy as np

from liifusion_jax.data.sampler import check_sampler_args, make_batch

# Separate seed namespaces for the per-epoch permutations and the per-step draws.
_PERM, _STEP = 0, 1


def _rng(seed, kind, i):
  return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(kind, i)))


@functools.lru_cache(maxsize=4)
def _permutation(seed, epoch, n):
  return _rng(seed, _PERM, epoch).permutation(n)


def _own_arrays(batch):
  """Copies of a batch from grain's workers, whose shared-memory blocks are unlinked at once.

  grain unlinks a block when the array it came in is collected, and the last batches of a pipeline stay
  referenced from its threads' stopped frames until the garbage collector or the interpreter's exit
  gets to them, too late for the unlink: Python's resource tracker then warns of "leaked
  shared_memory objects". The blocks' memory goes once their last mapping is closed, as before."""
  owned = {k: np.array(v) for k, v in batch.items()}
  for v in batch.values():
    if getattr(v, "_unlink_on_del", False):  # grain's SharedMemoryArray that this process must unlink
      v.shm.unlink()
      v._unlink_on_del = False  # its collection now only closes the mapping
  return owned


class BatchAtStep:
  """step -> this shard's part of the global batch of that step (picklable, for grain workers)."""

  def __init__(self, source, *, seed, batch_size, shard_index=0, shard_count=1, **sampler_kwargs):
    self.source = source
    self.seed = int(seed)
    self.batch_size = batch_size
    self.shard = {"shard_index": shard_index, "shard_count": shard_count}
    self.sampler_kwargs = sampler_kwargs

  def image_indices(self, step):
    """Source indices of the `batch_size` slots of `step` (all shards)."""
    n = len(self.source)
    pos = step * self.batch_size + np.arange(self.batch_size)
    return np.array([_permutation(self.seed, int(p // n), n)[p % n] for p in pos])

  def __call__(self, step):
    step = int(step)
    return make_batch(self.source, _rng(self.seed, _STEP, step), batch_size=self.batch_size,
                      indices=self.image_indices(step), **self.shard, **self.sampler_kwargs)


def _leave_signals_to_the_trainer(worker_index, worker_count):
  """Workers ignore Ctrl-C and SIGTERM, which a terminal or a scheduler sends to the whole process
  group: the training process finishes its step, saves, and then closes them (train/preemption.py)."""
  del worker_index, worker_count
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  signal.signal(signal.SIGTERM, signal.SIG_IGN)


def train_batches(source, *, seed, batch_size, start_step=0, num_steps=None, patch=48, scale_min=1,
                  scale_max=4, sample_q=2304, sample_patch=False, augment=True, bucket=32,
                  shard_index=0, shard_count=1, num_workers=0, num_threads=2, prefetch=2):
  """An iterator over the batches of steps start_step, start_step + 1, ... (up to num_steps, if given).

  Sampler options as in `sampler.make_batch`. shard_index / shard_count: this process's slice of the
  global batch (use jax.process_index() / jax.process_count()); batch_size is the global one.
  num_workers > 0 makes the batches in that many processes (grain `mp_prefetch`, each keeping `prefetch`
  ready); 0 makes them in `num_threads` threads of this process with `prefetch` batches read ahead.
  Either way the order and the content of the batches are the same.
  """
  sampler_kwargs = dict(patch=patch, scale_min=scale_min, scale_max=scale_max, sample_q=sample_q,
                        sample_patch=sample_patch, augment=augment, bucket=bucket)
  check_sampler_args(source, patch=patch, scale_min=scale_min, scale_max=scale_max,
                     sample_q=sample_q, sample_patch=sample_patch)
  fn = BatchAtStep(source, seed=seed, batch_size=batch_size, shard_index=shard_index,
                   shard_count=shard_count, **sampler_kwargs)
  stop = start_step + num_steps if num_steps is not None else 2 ** 62
  ds = grain.MapDataset.range(start_step, stop).map(fn)
  ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch))
  if num_workers > 0:
    # grain's worker start reads an absl flag; programs that are not absl apps never parse flags.
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers,
                                                     per_worker_buffer_size=prefetch),
                        worker_init_fn=_leave_signals_to_the_trainer)
    # Workers hand over shared-memory arrays; plain copies free those blocks now, not at exit.
    ds = ds.map(_own_arrays)
  return iter(ds)


def prefetch_to_device(iterator, size=2, sharding=None):
  """Yields the batches of `iterator` on device, keeping `size` transfers in flight.

  Transfers are asynchronous, so the next batches are copying while the current step runs.
  sharding: None puts every array on the default device; a jax Sharding makes global arrays from
  this process's shard of the batch (`jax.make_array_from_process_local_data`), so with several
  processes each passes its own `train_batches(shard_index=jax.process_index(), ...)`.
  Closing this generator closes `iterator` (grain's worker processes and their shared memory).
  """
  iterator = iter(iterator)
  queue = collections.deque()

  def put(batch):
    if sharding is None:
      return jax.tree.map(jax.device_put, batch)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)

  try:
    for batch in itertools.islice(iterator, size):
      queue.append(put(batch))
    while queue:
      yield queue.popleft()
      for batch in itertools.islice(iterator, 1):
        queue.append(put(batch))
  finally:
    if hasattr(iterator, "close"):
      iterator.close()
