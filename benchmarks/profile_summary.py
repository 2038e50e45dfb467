"""Where a profiled program spends its time, op by op, from a JAX profiler trace.

  python benchmarks/train_step.py --stage 1 --batch 16 --profile /tmp/trace
  python benchmarks/profile_summary.py /tmp/trace --calls 5

Reads the newest `perfetto_trace.json.gz` under the folder (`jax.profiler.trace(...,
create_perfetto_trace=True)`, as `--profile` writes it), sums the durations of the complete events
of each process (one per GPU, `/device:GPU:0`, and the host, `/host:CPU`) by name, and prints the
top ones per process as milliseconds per call (`--calls`: how many steps the trace holds) with
their share of the process's busy time, and the same totals grouped into kinds of op (convolution,
matmul / dot, fusion, gather / scatter, copy / transpose, reduce, memory transfers, other). XLA names
GPU kernels after the HLO op they run (`fusion.123`, `convolution.4`, `cutlass_...`), and where the
event carries `hlo_op` / `long_name` arguments those are shown. Prints JSON lines (one per process)
with `--json`. On the host, events nest (a Python call holds the executions it starts), so its shares
overlap; the device's kernels do not. Needs nothing beyond the standard library.
"""
import argparse
import collections
import gzip
import json
import pathlib
import re

KINDS = (("convolution", r"conv|cudnn|implicit_gemm|xmma_fprop|dgrad|wgrad|fprop"),
         ("matmul / dot", r"gemm|dot|cublas|matmul|cutlass|sm90_xmma"),
         ("gather / scatter", r"gather|scatter|dynamic.slice|dynamic.update"),
         ("copy / transpose", r"copy|transpose|memcpy.*DtoD"),
         ("memory transfer", r"memcpy|memset|HtoD|DtoH"),
         ("reduce", r"reduce|reduction"),
         ("fusion", r"fusion|loop_|input_"))


def kind_of(name):
  lower = name.lower()
  for kind, pattern in KINDS:
    if re.search(pattern, lower):
      return kind
  return "other"


def newest_trace(folder):
  traces = sorted(pathlib.Path(folder).rglob("perfetto_trace.json.gz"), key=lambda p: p.stat().st_mtime)
  if not traces:
    raise SystemExit(f"error: no perfetto_trace.json.gz under {folder}")
  return traces[-1]


def op_times(events):
  """{process name: Counter(op label: total microseconds)} of the complete ('X') events."""
  names = {e["pid"]: e["args"]["name"] for e in events
           if e.get("ph") == "M" and e.get("name") == "process_name"}
  totals = collections.defaultdict(collections.Counter)
  for e in events:
    if e.get("ph") != "X":
      continue
    args = e.get("args") or {}
    label = args.get("hlo_op") or e.get("name", "?")
    totals[names.get(e.get("pid"), str(e.get("pid")))][label] += float(e.get("dur", 0.0))
  return totals


def summarise(totals, calls, top):
  """Per process: busy ms per call, the top ops and the kinds, each (ms per call, share)."""
  report = []
  for process, ops in sorted(totals.items()):
    busy = sum(ops.values())
    kinds = collections.Counter()
    for label, us in ops.items():
      kinds[kind_of(label)] += us
    row = lambda items: [(label, round(us / 1e3 / calls, 3), round(us / busy, 4)) for label, us in items]
    report.append({"process": process, "busy_ms_per_call": round(busy / 1e3 / calls, 3),
                   "top_ops": row(ops.most_common(top)), "kinds": row(kinds.most_common())})
  return report


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("folder", help="the folder given to --profile (or jax.profiler.trace)")
  parser.add_argument("--calls", type=int, default=1, help="steps / calls the trace holds")
  parser.add_argument("--top", type=int, default=25)
  parser.add_argument("--json", action="store_true", help="one JSON line per process")
  args = parser.parse_args()
  with gzip.open(newest_trace(args.folder), "rt") as f:
    trace = json.load(f)
  events = trace["traceEvents"] if isinstance(trace, dict) else trace
  for entry in summarise(op_times(events), args.calls, args.top):
    if args.json:
      print(json.dumps(entry))
      continue
    print(f"# {entry['process']}: {entry['busy_ms_per_call']} ms busy per call")
    for title, rows in (("op", entry["top_ops"]), ("kind", entry["kinds"])):
      print(f"{'ms/call':>9} {'share':>6}  {title}")
      for label, ms, share in rows:
        print(f"{ms:9.3f} {share:6.1%}  {label[:110]}")


if __name__ == "__main__":
  main()
