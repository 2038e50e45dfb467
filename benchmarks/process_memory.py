"""Peak memory of a command and its child processes (grain workers), and when its first step ran.

  python benchmarks/process_memory.py -- python train.py --config configs/stage1.py:quick ...

Memory is the summed PSS (proportional set size, /proc/<pid>/smaps_rollup) of the process and all
its descendants, sampled every --interval seconds: a page shared by k processes (a memory-mapped
file, copy-on-write pages after fork) counts 1/k in each, so the sum is what the tree costs the host,
where summed RSS would count a shared page k times. Linux only. Free of JAX, so it can watch anything.
Prints the command's output as it runs, then one JSON line: peak_pss_mb, the seconds until a line of
its stderr first matched --mark (default: train.py's progress bar past step 0), wall seconds, exit code.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time


def descendants(pid):
  """`pid` and every process below it (from each process's parent in /proc/<pid>/stat)."""
  children = {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat") as f:
        stat = f.read()
    except OSError:  # gone meanwhile
      continue
    parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
    children.setdefault(parent, []).append(int(entry))
  tree, todo = [], [pid]
  while todo:
    p = todo.pop()
    tree.append(p)
    todo.extend(children.get(p, ()))
  return tree


def pss_mb(pids):
  """Summed PSS of `pids` in MB (processes that ended meanwhile count 0)."""
  total_kb = 0
  for pid in pids:
    try:
      with open(f"/proc/{pid}/smaps_rollup") as f:
        total_kb += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except OSError:
      continue
  return total_kb * 1024 / 1e6


class PeakWatcher:
  """Samples the summed PSS of a process tree in a thread until stopped; `peak_mb` is the maximum."""

  def __init__(self, pid, interval=0.5):
    self.pid, self.interval, self.peak_mb = pid, interval, 0.0
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)

  def _sample(self):
    while not self._stop.is_set():
      self.peak_mb = max(self.peak_mb, pss_mb(descendants(self.pid)))
      self._stop.wait(self.interval)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
  parser.add_argument("--mark", default=r"train:\s+\d+%\|.*\|\s*[1-9]\d*/\d+",
                      help="regex: report when a stderr line (or tqdm update) first matches it")
  parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
  args = parser.parse_args()
  command = args.command[1:] if args.command[:1] == ["--"] else args.command
  if not command:
    parser.error("give the command to run after --")

  start = time.perf_counter()
  marked = None
  proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, bufsize=1)
  with PeakWatcher(proc.pid, args.interval) as watcher:
    for line in iter(proc.stderr.readline, ""):
      sys.stderr.write(line)
      # tqdm redraws with carriage returns: every redraw is a candidate.
      if marked is None and any(re.search(args.mark, part) for part in line.split("\r")):
        marked = time.perf_counter() - start
    code = proc.wait()
  print(json.dumps({"command": command, "peak_pss_mb": round(watcher.peak_mb, 1),
                    "mark_s": None if marked is None else round(marked, 1),
                    "wall_s": round(time.perf_counter() - start, 1), "exit_code": code,
                    "load_avg_1m": round(os.getloadavg()[0], 2)}))
  return code


if __name__ == "__main__":
  sys.exit(main())
