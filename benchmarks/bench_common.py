"""What every benchmark script shares: compile-time accounting, repeat timing, memory, one JSON line.

The line's `env` says whether the process runs with huge pages (cli/huge_pages.py): the benchmarks of
training steps start as train.py does (`launch.start("train")`, LIIFUSION_HUGE_PAGES=0 times them
without), the others as eval.py and upscale.py do, without."""
import collections
import json
import os
import platform
import resource
import statistics
import sys
import time

import jax

import repeat_timing
from liifusion_jax.cli import huge_pages

# Tracing, lowering and XLA compilation, as jax reports them; a jit's first call includes these.
_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")
_durations = collections.Counter()
jax.monitoring.register_event_duration_secs_listener(
    lambda event, seconds, **_: _durations.update({event: seconds}))


def compile_seconds():
  """Seconds spent tracing and compiling jitted functions in this process so far."""
  return sum(_durations[e] for e in _COMPILE_EVENTS)


def block(tree):
  return jax.block_until_ready(tree)


def time_calls(fn, repeats, warmup=1):
  """Calls `fn()` `warmup` times (compiling what it jits), then `repeats` timed times.

  `fn` must block until its work is done. Returns a dict: warm-up wall seconds and the compile
  seconds spent inside them, the median / min / max of the timed calls and every timed call, and the
  median process CPU seconds per call (all threads): on a shared machine wall time grows with the
  other processes' load, CPU time much less, and cpu_median_s / cores bounds an idle machine's wall time.
  """
  compiled_before, start = compile_seconds(), time.perf_counter()
  for _ in range(warmup):
    fn()
  warmup_s = time.perf_counter() - start
  compile_s = compile_seconds() - compiled_before
  times, cpu = repeat_timing.repeat(fn, repeats)
  recompiled = compile_seconds() - compiled_before - compile_s
  return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
          "times_s": [round(t, 4) for t in times], "cpu_median_s": statistics.median(cpu),
          "warmup_s": warmup_s, "compile_s": compile_s,
          "recompile_s_during_timing": recompiled}


def add_profile_flags(parser):
  parser.add_argument("--profile", metavar="DIR", default="",
                      help="after the timing, trace --profile-calls more calls into DIR "
                           "(summarise with benchmarks/profile_summary.py DIR --calls N)")
  parser.add_argument("--profile-calls", type=int, default=5)


def profile(fn, args):
  """Calls `fn()` args.profile_calls times under the JAX profiler, writing a trace to args.profile."""
  if not args.profile:
    return {}
  with jax.profiler.trace(args.profile, create_perfetto_trace=True):
    for _ in range(args.profile_calls):
      fn()
  return {"profile": args.profile, "profile_calls": args.profile_calls}


def peak_rss_mb():
  """Peak resident memory of this process (ru_maxrss is KiB on Linux) in MB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def device_memory_mb():
  """Peak / current bytes in use on the first device, in MB, where jax exposes them (GPU, not CPU)."""
  stats = jax.devices()[0].memory_stats()
  if not stats:
    return None
  return {k: stats[k] / 1e6 for k in ("peak_bytes_in_use", "bytes_in_use") if k in stats}


def environment():
  device = jax.devices()[0]
  return {"backend": jax.default_backend(), "device": device.device_kind, "jax": jax.__version__,
          "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
          "python": platform.python_version(),
          "huge_pages": huge_pages.TUNABLE in os.environ.get("GLIBC_TUNABLES", "")}


def emit(record):
  """Prints one JSON line to stdout (everything else goes to stderr)."""
  record = {**record, "peak_rss_mb": round(peak_rss_mb(), 1), "device_memory_mb": device_memory_mb(),
            "env": environment()}
  rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
  sys.stdout.write(json.dumps(rounded) + "\n")
  sys.stdout.flush()


def parse_hw(text):
  """'128x96' -> (128, 96) as (height, width)."""
  height, _, width = text.lower().partition("x")
  return int(height), int(width)
