"""Huge pages for training's buffers: the process starts again with glibc's `glibc.malloc.hugetlb=1`.

XLA:CPU maps every execution's temporaries afresh (1.15 GB for a stage-1 step at batch 4), and where the
kernel gives transparent huge pages only to memory that asks for them (`madvise` mode) each 4 KiB page
of them faults on first touch: 296,000 page faults per step. glibc >= 2.35 advises huge pages on the
memory it maps when the tunable glibc.malloc.hugetlb=1 is set, a setting it reads only when a process
starts: `reexec` starts the same command line again in the same process (its id, arguments and
environment kept, the tunable added) before the command imports anything. Steps that follow each other
then fault 12x less and take 5-10% less time; numbers and outputs are unchanged.

Only training starts this way (cli/launch.py). On a virtual machine that hands free memory back to
its host (virtio-balloon free page reporting, as on the machines of these notes), a huge page that was
free for a few seconds is faulted in again from the host: touching 1.15 GB of such memory took 2-12 s
against 0.5 s with 4 KiB pages. A long run of like steps reuses its pages at once and gains; a process
that starts, computes once and exits pays: with them upscale.py 128 -> 512 took 9.8 s against 8.6 s
without, eval.py on Set5 20.7 against 19.2 s (benchmarks/README.md, "Huge pages for training only").

Nothing happens on other systems, where the kernel's mode is `always` (huge already) or `never`, where
the tunable is set already (by the first start or by the user), or with LIIFUSION_HUGE_PAGES=0. Only
entry points call `reexec` (cli/launch.py, benchmarks/); a command's `main` called from Python runs in
that process as it is.
"""
import os
import re
import sys

TUNABLE = "glibc.malloc.hugetlb"
OPT_OUT = "LIIFUSION_HUGE_PAGES"  # 0: no re-execution
THP_MODE_FILE = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_mode(path=THP_MODE_FILE):
  """The kernel's transparent-huge-page mode ('always', 'madvise' or 'never'), or None if unknown."""
  try:
    with open(path) as f:
      chosen = re.search(r"\[(\w+)\]", f.read())
  except OSError:
    return None
  return chosen.group(1) if chosen else None


def glibc_version():
  """(major, minor) of the C library this process runs on if it is glibc, else None."""
  try:
    name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
    return (int(version.split(".")[0]), int(version.split(".")[1])) if name == "glibc" else None
  except (AttributeError, ValueError, OSError, IndexError):
    return None


def environment(environ, mode=None, libc=None):
  """`environ` with the tunable added to GLIBC_TUNABLES, or None where it would change nothing.

  mode, libc: the kernel's THP mode and glibc's version (default: this machine's)."""
  tunables = environ.get("GLIBC_TUNABLES", "")
  if environ.get(OPT_OUT, "") == "0" or TUNABLE in tunables or not sys.platform.startswith("linux"):
    return None
  if (mode or thp_mode()) != "madvise" or (libc or glibc_version() or (0, 0)) < (2, 35):
    return None
  return {**environ, "GLIBC_TUNABLES": ":".join(filter(None, (tunables, f"{TUNABLE}=1")))}


def reexec():
  """Starts this process's command line again with huge pages where `environment` says they help;
  returns where it does not, or where the command cannot be started again (then it runs as it is)."""
  env = environment(os.environ)
  if env is None or not sys.executable or sys.argv[0] in ("", "-"):  # no interpreter, or a script on stdin
    return
  sys.stdout.flush()
  sys.stderr.flush()
  try:
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
  except OSError:
    pass
