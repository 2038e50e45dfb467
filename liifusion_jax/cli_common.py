"""What eval.py and upscale.py share: one-line errors for user mistakes, scale parsing, memory use."""
import argparse
import contextlib
import resource
import sys

import jax
from absl import logging as absl_logging

from liifusion_jax.checkpoints import CheckpointError
from liifusion_jax.data.images import ImageError


class UsageError(ValueError):
  """A user mistake found after argument parsing (bad combination of options, a bad file, ...)."""


# User errors: reported in one line with no traceback. Anything else is a bug and keeps its traceback.
USER_ERRORS = (UsageError, ImageError, CheckpointError, OSError)


class ArgumentParser(argparse.ArgumentParser):
  """argparse with one-line errors (argparse's own print the usage first)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(message, code=1):
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
  raise SystemExit(code)


@contextlib.contextmanager
def user_errors():
  """Turns the user errors and Ctrl-C raised inside into a one-line message and a nonzero exit."""
  try:
    yield
  except USER_ERRORS as error:
    fail(error)
  except KeyboardInterrupt:
    fail("interrupted", code=130)


def parse_scale(text):
  """A scale factor >= 1 ("3", "5.3") for argparse."""
  try:
    scale = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"invalid scale {text!r}: expected a number such as 4 or 5.3") from None
  if not 1 <= scale < float("inf"):
    raise argparse.ArgumentTypeError(
        f"invalid scale {text}: expected a number >= 1 (only upscaling is supported)")
  return scale


def parse_scales(text):
  """A comma-separated list of scales ("2,3,4,12,30")."""
  items = [t for t in text.split(",") if t.strip()]
  if not items:
    raise argparse.ArgumentTypeError("no scale given")
  return [parse_scale(t.strip()) for t in items]


def scale_name(scale):
  """x2, x5.3: the scale as people write it."""
  return f"x{scale:g}"


def peak_host_mb():
  """Peak resident memory of this process so far, in MiB (ru_maxrss is in KiB on Linux)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_device_mb():
  """Peak memory of the first accelerator so far in MiB, or None where the backend does not say (CPU)."""
  stats = jax.local_devices()[0].memory_stats() or {}
  peak = stats.get("peak_bytes_in_use")
  return None if peak is None else peak / 2 ** 20


def quiet_logs():
  """Keeps absl's info and warning lines (orbax opening a checkpoint read-only) off the console."""
  absl_logging.set_verbosity(absl_logging.ERROR)
