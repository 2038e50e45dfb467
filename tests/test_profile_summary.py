"""benchmarks/profile_summary.py: op times per process and per kind of op from a perfetto trace."""
import gzip
import importlib.util
import json

from conftest import REPO

_spec = importlib.util.spec_from_file_location("profile_summary", REPO / "benchmarks" / "profile_summary.py")
profile_summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(profile_summary)


def _trace(folder):
  events = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "/device:GPU:0"}},
            {"ph": "M", "pid": 2, "name": "process_name", "args": {"name": "/host:CPU"}}]
  for step in range(2):  # two calls of one program
    events += [{"ph": "X", "pid": 1, "name": "fusion.12", "dur": 300.0, "ts": step * 1000},
               {"ph": "X", "pid": 1, "name": "sm90_xmma_gemm_bf16", "dur": 600.0,
                "args": {"hlo_op": "convolution.3"}},
               {"ph": "X", "pid": 1, "name": "gather.7", "dur": 100.0},
               {"ph": "X", "pid": 2, "name": "PjitFunction(step)", "dur": 50.0}]
  path = folder / "plugins" / "profile" / "run" / "perfetto_trace.json.gz"
  path.parent.mkdir(parents=True)
  with gzip.open(path, "wt") as f:
    json.dump({"traceEvents": events}, f)


def test_ops_and_kinds_per_call(tmp_path):
  _trace(tmp_path)
  with gzip.open(profile_summary.newest_trace(tmp_path), "rt") as f:
    events = json.load(f)["traceEvents"]
  report = {r["process"]: r for r in profile_summary.summarise(profile_summary.op_times(events), 2, 10)}
  gpu = report["/device:GPU:0"]
  assert gpu["busy_ms_per_call"] == 1.0
  assert gpu["top_ops"] == [("convolution.3", 0.6, 0.6), ("fusion.12", 0.3, 0.3), ("gather.7", 0.1, 0.1)]
  assert dict((k, ms) for k, ms, _ in gpu["kinds"]) == {"convolution": 0.6, "fusion": 0.3,
                                                         "gather / scatter": 0.1}
  assert report["/host:CPU"]["top_ops"] == [("PjitFunction(step)", 0.05, 1.0)]
