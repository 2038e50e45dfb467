"""A whole evaluation (eval.py) timed: total seconds, compile seconds and the number of programs compiled.

  python benchmarks/eval_compiles.py --checkpoint RUN --scales 2,3,4,6,8,12 \
    --data DIR/Set5 DIR/Set14 DIR/BSD68

Every argument goes to eval.py unchanged; eval.py prints its table as usual, then this script prints one
JSON line. The persistent compilation cache is off (LIIFUSION_XLA_CACHE=) unless `--keep-cache` is
given, so every program is compiled in this process and counted: `programs` is the number of XLA
backend compilations, `compile_s` the seconds spent tracing, lowering and compiling them.
"""
import collections
import json
import os
import sys
import time

import jax

_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")
_PROGRAM_EVENT = "/jax/core/compile/backend_compile_duration"


def main(argv):
  if "--keep-cache" in argv:
    argv = [a for a in argv if a != "--keep-cache"]
  else:
    os.environ["LIIFUSION_XLA_CACHE"] = ""
  durations, counts = collections.Counter(), collections.Counter()

  def listen(event, seconds, **_):
    durations[event] += seconds
    counts[event] += 1

  jax.monitoring.register_event_duration_secs_listener(listen)
  from liifusion_jax.cli import eval as eval_cli  # after the cache setting: eval.py reads it at start
  start = time.perf_counter()
  code = eval_cli.main(argv)
  print(json.dumps({
      "benchmark": "eval_compiles", "argv": argv, "backend": jax.default_backend(),
      "device": jax.devices()[0].device_kind, "total_s": round(time.perf_counter() - start, 2),
      "compile_s": round(sum(durations[e] for e in _COMPILE_EVENTS), 2),
      "programs": counts[_PROGRAM_EVENT]}), flush=True)
  return code


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
