"""One-line errors for user mistakes (train.py, eval.py, upscale.py, the export script): the project's
typed errors end the program with `error: MESSAGE` and exit 1; anything else is a bug and keeps its
traceback."""
import contextlib
import sys

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


@contextlib.contextmanager
def user_errors(interrupted="error: interrupted"):
  """Ends the program on the user errors raised inside, with `error: MESSAGE` and exit 1, and on
  Ctrl-C, with the line `interrupted` and exit 130."""
  try:
    yield
  except USER_ERRORS as error:
    print(f"error: {one_line(error)}", file=sys.stderr)
    raise SystemExit(1)
  except KeyboardInterrupt:
    print(interrupted, file=sys.stderr)
    raise SystemExit(130)
