"""One writer per workdir: an exclusive `flock` on `<workdir>/.lock`, held for the whole run.

The kernel drops the lock when the holder exits however it ends (even kill -9), so a stale `.lock`
file never blocks a later run; the file only records the holder's PID for the message.
"""
import contextlib
import fcntl
import os

from liifusion_jax.train.errors import TrainingError


@contextlib.contextmanager
def hold(workdir):
  """Holds the workdir's lock inside the block; raises TrainingError at once if another process has it."""
  with open(workdir / ".lock", "a+") as file:
    try:
      fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      file.seek(0)
      holder = file.read().strip() or "unknown"
      raise TrainingError(f"{workdir} is in use by another training process (PID {holder}); wait for it "
                          "to end or choose another --workdir") from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    try:
      yield
    finally:
      fcntl.flock(file, fcntl.LOCK_UN)


def holder(workdir):
  """The PID that holds `workdir`'s lock (a live training process), or None."""
  try:
    with open(workdir / ".lock") as file:
      try:
        fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
      except BlockingIOError:
        return file.read().strip() or "unknown"
      fcntl.flock(file, fcntl.LOCK_UN)
      return None
  except OSError:  # no lock file: never trained here, or not a workdir
    return None
