"""Guards on what eval.py and upscale.py write, checked before any work: never an input, never an
existing file without --overwrite, never where no file can be made, never past the pixel budget
without --force, never a model output holding NaN or inf."""
import os
import sys
import tempfile

import numpy as np

from liifusion_jax.cli.errors import UsageError

# Output images past this many pixels need --force: each costs about 12 bytes a pixel as [0, 1]
# floats, plus the decoder's coordinates (0.8 GB and more at this size).
MAX_SIDE = 8192
MAX_PIXELS = MAX_SIDE * MAX_SIDE


def input_files(paths):
  """{(device, inode): real path} of every file named by `paths` or found under them: a file is
  known by its identity, whatever links name it."""
  found = {}
  for path in paths:
    if os.path.isdir(path):
      files = _files_under(path)
    else:
      files = [path]
    for file in files:
      identity = _identity(file)
      if identity is not None:
        found[identity] = os.path.realpath(file)
  return found


def _files_under(folder):
  """The files under `folder`, links followed, each folder walked once (known by device and inode):
  links back to a folder already walked (a loop) are skipped and reported in one line."""
  files, walked, repeats, pending = [], set(), [], [folder]
  while pending:
    current = pending.pop()
    identity = _identity(current)
    if identity in walked:
      repeats.append(current)
      continue
    walked.add(identity)
    try:
      entries = list(os.scandir(current))
    except OSError:  # unreadable: nothing there can be an input this run reads
      continue
    for entry in entries:
      (pending if entry.is_dir() else files).append(entry.path)
  if repeats:
    print(f"note: {len(repeats)} folder link(s) under {folder} lead to folders already walked (a link "
          f"loop, e.g. {repeats[0]}); each folder is walked once", file=sys.stderr)
  return files


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
                     f"{MAX_PIXELS / 1e6:.1f} ({MAX_SIDE}x{MAX_SIDE}); pass --force to make it anyway")


def check_image_finite(image, name):
  """Refuses a model output holding NaN or inf (the parameters of a diverged training run)."""
  if not np.isfinite(image).all():
    raise UsageError(f"the model's output for {name} holds NaN or inf: the checkpoint's parameters "
                     "are broken (diverged training?); try an earlier checkpoint")
