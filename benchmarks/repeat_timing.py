"""The timed loop every benchmark uses, free of JAX so that reference_torch.py can use it beside PyTorch."""
import time


def repeat(fn, repeats):
  """Calls `fn()` `repeats` times: (wall seconds, process CPU seconds of all threads) of each call."""
  times, cpu = [], []
  for _ in range(repeats):
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
  return times, cpu
