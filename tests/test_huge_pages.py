"""Training starts again with glibc's huge-page tunable where it helps (liifusion_jax/cli/huge_pages.py):
the same process, arguments and environment, memory that glibc maps then backed by huge pages."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from liifusion_jax.cli import huge_pages, launch

ON = "glibc.malloc.hugetlb=1"

# Prints what a process sees, re-executes, and prints again; then the kB of huge pages under 64 MiB
# that glibc's own malloc maps and that are touched (numpy would advise huge pages itself: not used).
PROBE = f"""
import ctypes, json, os, re, sys
from liifusion_jax.cli import huge_pages
print(json.dumps([os.getpid(), os.environ.get("GLIBC_TUNABLES"), sys.argv[1:]]), flush=True)
huge_pages.reexec()
def huge_kb():
  with open("/proc/self/smaps_rollup") as f:
    return int(re.search(r"AnonHugePages:\\s+(\\d+)", f.read()).group(1))
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
before, size = huge_kb(), 64 * 2 ** 20
ctypes.memset(libc.malloc(size), 1, size)
print(json.dumps([os.getpid(), os.environ.get("GLIBC_TUNABLES"), sys.argv[1:], huge_kb() - before]))
"""


def test_the_environment_adds_the_tunable_only_where_it_helps():
  env = {"PATH": "/bin"}
  assert huge_pages.environment(env, mode="madvise", libc=(2, 36)) == {"PATH": "/bin", "GLIBC_TUNABLES": ON}
  assert huge_pages.environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, "madvise", (2, 35)) == {
      "GLIBC_TUNABLES": f"glibc.malloc.arena_max=2:{ON}"}  # the user's tunables kept
  assert huge_pages.environment({"GLIBC_TUNABLES": ON}, "madvise", (2, 36)) is None  # started again already
  assert huge_pages.environment({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "madvise", (2, 36)) is None
  assert huge_pages.environment({huge_pages.OPT_OUT: "0"}, "madvise", (2, 36)) is None
  assert huge_pages.environment(env, "always", (2, 36)) is None  # huge pages already
  assert huge_pages.environment(env, "never", (2, 36)) is None
  assert huge_pages.environment(env, "madvise", (2, 34)) is None  # the tunable is glibc 2.35's


def test_thp_mode_reads_the_bracketed_choice(tmp_path):
  setting = tmp_path / "enabled"
  setting.write_text("always [madvise] never\n")
  assert huge_pages.thp_mode(setting) == "madvise"
  assert huge_pages.thp_mode(tmp_path / "absent") is None


def _probe(extra_env):
  env = {**os.environ, "PYTHONPATH": str(REPO), **extra_env}
  env.pop("GLIBC_TUNABLES", None)
  done = subprocess.run([sys.executable, "-c", PROBE, "--flag", "a b"], env=env, capture_output=True,
                        text=True, timeout=60, check=True)
  return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_process_starts_again_with_huge_pages():
  if huge_pages.environment({k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}) is None:
    pytest.skip("huge pages change nothing here (not Linux with glibc >= 2.35 and THP in madvise mode)")
  first, again, done = _probe({})
  assert first[1:] == [None, ["--flag", "a b"]]
  assert again[:3] == done[:3] == [first[0], ON, ["--flag", "a b"]]  # same process, same arguments
  assert done[3] >= 32 * 1024  # most of the 64 MiB on huge pages
  first, done = _probe({huge_pages.OPT_OUT: "0"})
  assert done[:3] == [first[0], None, ["--flag", "a b"]] and done[3] == 0  # 4 KiB pages, as before


def test_training_starts_again_before_its_command_and_the_one_shot_commands_do_not(monkeypatch):
  calls = []
  monkeypatch.setattr(huge_pages, "reexec", lambda: calls.append("reexec"))
  monkeypatch.setattr(launch, "command_main", lambda command: lambda argv: calls.append((command, argv)) or 0)
  monkeypatch.setattr(sys, "argv", ["liifusion-eval", "--scales", "2"])
  for entry, command, reexec in ((launch.train, "train", ["reexec"]), (launch.evaluate, "eval", []),
                                 (launch.upscale, "upscale", []), (launch.demo, "demo", [])):
    calls.clear()
    assert entry() == 0
    assert calls == [*reexec, (command, ["--scales", "2"])]


def test_python_m_starts_again_for_training_only():
  if huge_pages.environment({k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}) is None:
    pytest.skip("huge pages change nothing here (not Linux with glibc >= 2.35 and THP in madvise mode)")
  env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
  seen = {}
  for command in ("train", "eval"):  # --help: argparse prints and exits before any work
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "liifusion_jax", command, "--help"],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    seen[command] = len(re.findall(r"\|\s+liifusion_jax\.cli\.launch$", done.stderr, re.M))  # once a start
  assert seen == {"train": 2, "eval": 1}
