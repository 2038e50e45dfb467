"""One-line errors for user mistakes (train.py, eval.py, upscale.py, the export script): the project's
typed errors end the program with `error: MESSAGE` and exit 1; anything else is a bug and keeps its
traceback. Ctrl-C and SIGTERM end it in one line too."""
import contextlib
import signal
import sys
import threading

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.config import ConfigError
from liifusion_jax.data.images import ImageError
from liifusion_jax.train.errors import TrainingError


class UsageError(ValueError):
  """A user mistake found after argument parsing (bad combination of options, a bad file, ...)."""


# The project's own errors, and the system's (a full disk, no memory).
USER_ERRORS = (ConfigError, CheckpointError, ImageError, TrainingError, UsageError, OSError, MemoryError)


def one_line(error):
  """An error's message on one line, or its type's name where it has none (a bare MemoryError)."""
  return " ".join(str(error).split()) or type(error).__name__


class Terminated(KeyboardInterrupt):
  """SIGTERM, raised wherever the program is, as Ctrl-C raises KeyboardInterrupt: the same clean-up
  runs (a partial output or cache file is removed)."""


def _terminate(signum, frame):
  del signum, frame
  raise Terminated


@contextlib.contextmanager
def user_errors(interrupted="error: interrupted"):
  """Ends the program on the user errors raised inside, with `error: MESSAGE` and exit 1, and on
  Ctrl-C or SIGTERM, with the line `interrupted` and exit 130 or 143. Training's own handler
  (`train.preemption`) takes SIGTERM over while it steps."""
  main_thread = threading.current_thread() is threading.main_thread()
  previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
  try:
    yield
  except USER_ERRORS as error:
    print(f"error: {one_line(error)}", file=sys.stderr)
    raise SystemExit(1)
  except KeyboardInterrupt as stop:
    terminated = isinstance(stop, Terminated)
    print(f"{interrupted} (SIGTERM)" if terminated else interrupted, file=sys.stderr)
    raise SystemExit(143 if terminated else 130)
  finally:
    if previous is not None:  # None: a handler not set from Python, which Python cannot restore
      signal.signal(signal.SIGTERM, previous)
