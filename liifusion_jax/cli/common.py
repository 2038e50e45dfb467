"""What the command lines share: one-line errors for user mistakes (train.py, eval.py, upscale.py); for
eval.py and upscale.py also scale parsing, memory use, guards on outputs (never an input, never an
existing file without --overwrite, never past the pixel budget without --force)."""
import argparse
import contextlib
import os
import resource
import sys
import tempfile

import jax
import numpy as np
from absl import logging as absl_logging

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.config import ConfigError
from liifusion_jax.data.images import ImageError
from liifusion_jax.models.factory import PRECISIONS
from liifusion_jax.train.errors import TrainingError


class UsageError(ValueError):
  """A user mistake found after argument parsing (bad combination of options, a bad file, ...)."""


# The project's own errors (and the system's: a full disk, no memory) end in one line and exit 1;
# anything else is a bug and keeps its traceback.
USER_ERRORS = (ConfigError, CheckpointError, ImageError, TrainingError, UsageError, OSError, MemoryError)
# Output images past this many pixels need --force: each costs about 12 bytes a pixel as [0, 1]
# floats, plus the decoder's coordinates (0.8 GB and more at this size).
MAX_PIXELS = 8192 * 8192


class ArgumentParser(argparse.ArgumentParser):
  """argparse with one-line errors (argparse's own print the usage first)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


def add_output_flags(parser):
  """--overwrite and --force, the two ways past the output guards."""
  parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
  parser.add_argument("--force", action="store_true",
                      help=f"make outputs over {MAX_PIXELS / 1e6:.1f} megapixels ({_side(MAX_PIXELS)}x"
                           f"{_side(MAX_PIXELS)}) too")


def add_model_flags(parser, default_chunk):
  """--seed, --chunk and --precision: how a model upscales (eval.py and upscale.py)."""
  parser.add_argument("--seed", type=int, default=0,
                      help="noise seed of the stage-2 sampled prior (default 0)")
  parser.add_argument("--chunk", type=_positive_int, default=None,
                      help=f"queries per decoder call (default: the checkpoint's eval_chunk, else "
                           f"{default_chunk})")
  parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                      help="compute dtype (default float32); bf16 is faster on GPUs and TPUs, its "
                           "images differ from float32's by well under one 8-bit level on average")


def _positive_int(text):
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
  return value


def _side(pixels):
  return int(pixels ** 0.5)


def input_files(paths):
  """{(device, inode): real path} of every file named by `paths` or found under them: a file is
  known by its identity, whatever links name it."""
  found = {}
  for path in paths:
    if os.path.isdir(path):
      files = [os.path.join(root, n) for root, _, names in os.walk(path, followlinks=True) for n in names]
    else:
      files = [path]
    for file in files:
      identity = _identity(file)
      if identity is not None:
        found[identity] = os.path.realpath(file)
  return found


def _identity(path):
  """(device, inode) of the file at `path` (links followed), or None where there is none."""
  try:
    info = os.stat(path)
  except OSError:
    return None
  return info.st_dev, info.st_ino


def check_outputs(paths, inputs, overwrite):
  """Refuses, before any work, to write any of `paths` where it is one of `inputs` (`input_files`:
  a hard or symbolic link to an input too), a folder, an existing file without `overwrite`, or in a
  folder where no file can be made (read-only, no permission)."""
  for path in paths:
    identity = _identity(path)
    if identity in inputs:
      raise UsageError(f"the output {path} is one of the inputs ({inputs[identity]}); choose another "
                       "output")
    if os.path.isdir(path):
      raise UsageError(f"the output {path} is a folder; name a file")
    if os.path.lexists(path) and not overwrite:
      raise UsageError(f"the output {path} exists already; pass --overwrite to replace it")
  for folder in {_nearest_existing(os.path.dirname(os.path.abspath(p))) for p in paths}:
    _check_can_create_files(folder)


def _nearest_existing(folder):
  """`folder`, or the nearest folder above it that exists (where the missing ones will be made)."""
  while not os.path.lexists(folder):
    folder = os.path.dirname(folder)
  return folder


def _check_can_create_files(folder):
  """Makes (and at once removes) a file in `folder`: the only test that holds for every reason a
  write can be refused (permissions, a read-only file system, a file where a folder should be)."""
  try:
    with tempfile.TemporaryFile(dir=folder):
      pass
  except OSError as error:
    what = "it is not a folder" if os.path.exists(folder) and not os.path.isdir(folder) else (
        error.strerror or type(error).__name__)
    raise UsageError(f"cannot write outputs in {folder}: {what}") from None


def check_pixels(hw, force):
  """Refuses an output image of more than MAX_PIXELS pixels unless `force`."""
  h, w = hw
  if h * w > MAX_PIXELS and not force:
    raise UsageError(f"the output would be {w}x{h} ({h * w / 1e6:.1f} megapixels), over the budget of "
                     f"{MAX_PIXELS / 1e6:.1f} ({_side(MAX_PIXELS)}x{_side(MAX_PIXELS)}); pass --force to "
                     "make it anyway")


def check_image_finite(image, name):
  """Refuses a model output holding NaN or inf (the parameters of a diverged training run)."""
  if not np.isfinite(image).all():
    raise UsageError(f"the model's output for {name} holds NaN or inf: the checkpoint's parameters "
                     "are broken (diverged training?); try an earlier checkpoint")


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
