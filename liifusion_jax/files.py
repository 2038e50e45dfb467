"""Outputs written whole: a failed write (a full disk, Ctrl-C) leaves the earlier file, or none."""
import contextlib
import os
import uuid


@contextlib.contextmanager
def written_whole(path, mode="wb"):
  """Opens a new hidden file beside `path` (so the rename stays on one file system), renamed onto
  `path` when the block ends; on an error it is removed and `path` stays as it was. Creates the
  parent folder."""
  path = os.fspath(path)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  # Hidden, so that folder listings (`images.list_images`) skip one a kill -9 left behind.
  partial = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.partial")
  try:
    with open(partial, mode.replace("w", "x")) as file:
      yield file
    os.replace(partial, path)
  except BaseException as error:
    with contextlib.suppress(FileNotFoundError):
      os.remove(partial)
    if isinstance(error, OSError) and error.errno is not None:  # named by the output, not the partial
      raise type(error)(error.errno, error.strerror, path) from None
    raise


def first_unused(candidate):
  """The first of `candidate(1)`, `candidate(2)`, ... (paths) that does not exist: where a file set
  aside goes without replacing one set aside before."""
  number = 1
  while candidate(number).exists():
    number += 1
  return candidate(number)
