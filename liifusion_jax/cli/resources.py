"""The memory eval.py reports: peak host memory, and device memory where the backend says."""
import resource

import jax


def peak_host_mb():
  """Peak resident memory of this process so far, in MiB (ru_maxrss is in KiB on Linux)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_device_mb():
  """Peak memory of the first accelerator so far in MiB, or None where the backend does not say (CPU)."""
  stats = jax.local_devices()[0].memory_stats() or {}
  peak = stats.get("peak_bytes_in_use")
  return None if peak is None else peak / 2 ** 20
